"""Signing in to the web console, and the read API's tokens.

Every secret here is a random token handed out once; only its SHA-256 is stored, so the
database (a backup, a dump) never holds anything that signs anyone in. A link signs in the
account it was sent to — a (channel, id) pair — once, before it expires; a session lasts a
working day; an API token reads one engagement until it is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from storage.models import ApiToken, ConsoleLink, ConsoleSession
from storage.models_alerts import AlertToken

API_TOKEN_PREFIX = "rt_"
# A token's last use is written at most this often: reading the API is not a write each time.
LAST_USE_RESOLUTION = timedelta(minutes=1)
LinkState = Literal["valid", "used", "expired", "unknown"]


@dataclass(frozen=True)
class Account:
    """Who a link or session is for: an id on a channel (a console name, a Feishu open_id…)."""

    channel: str
    external_id: str


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def links_allowed(issued_last_hour: int, per_hour: int) -> bool:
    """Whether one more link may be issued to an account (a chat flood cannot mint links)."""
    return issued_last_hour < per_hour


def link_state(used_at: datetime | None, expires_at: datetime, now: datetime) -> LinkState:
    """What a known link is worth now: once used, it is spent; past its time, expired."""
    if used_at is not None:
        return "used"
    return "valid" if now < expires_at else "expired"


def issue_link(
    session: Session, account: Account, *, now: datetime, minutes: int, per_hour: int
) -> str | None:
    """A new one-time link token for `account`, or None when it had `per_hour` in the last
    hour."""
    issued = session.execute(
        select(func.count()).select_from(ConsoleLink).where(
            col(ConsoleLink.channel) == account.channel,
            col(ConsoleLink.external_id) == account.external_id,
            col(ConsoleLink.created_at) > now - timedelta(hours=1),
        )
    ).scalar_one()  # fmt: skip
    if not links_allowed(int(issued), per_hour):
        return None
    token = new_token()
    session.add(ConsoleLink(
        token_hash=digest(token), channel=account.channel, external_id=account.external_id,
        created_at=now, expires_at=now + timedelta(minutes=minutes),
    ))  # fmt: skip
    return token


def redeem_link(session: Session, token: str, now: datetime) -> tuple[LinkState, Account | None]:
    """Spend a link: ("valid", its account) the first time within its time, else why not. The
    update is conditional, so two browsers racing with one link cannot both sign in."""
    hashed = digest(token)
    spent = session.execute(
        update(ConsoleLink)
        .where(col(ConsoleLink.token_hash) == hashed, col(ConsoleLink.used_at).is_(None),
               col(ConsoleLink.expires_at) > now)
        .values(used_at=now)
    )  # fmt: skip
    row = session.execute(select(ConsoleLink).where(col(ConsoleLink.token_hash) == hashed)).scalar()
    if row is None:
        return "unknown", None
    if spent.rowcount == 1:  # type: ignore[attr-defined]
        return "valid", Account(row.channel, row.external_id)
    return link_state(row.used_at, row.expires_at, now), None


def start_session(session: Session, account: Account, *, now: datetime, hours: int) -> str:
    token = new_token()
    session.add(ConsoleSession(
        token_hash=digest(token), channel=account.channel, external_id=account.external_id,
        created_at=now, expires_at=now + timedelta(hours=hours),
    ))  # fmt: skip
    return token


def session_account(session: Session, token: str, now: datetime) -> Account | None:
    """The account a session cookie is, while the session lasts."""
    row = session.execute(
        select(ConsoleSession).where(col(ConsoleSession.token_hash) == digest(token))
    ).scalar()
    if row is None or row.ended_at is not None or now >= row.expires_at:
        return None
    return Account(row.channel, row.external_id)


def end_session(session: Session, token: str, now: datetime) -> None:
    session.execute(
        update(ConsoleSession)
        .where(col(ConsoleSession.token_hash) == digest(token), col(ConsoleSession.ended_at).is_(None))
        .values(ended_at=now)
    )  # fmt: skip


# The read API's tokens and the monitoring webhooks' share one life: issued once, kept as a
# hash, live until revoked, their last use noted.
Token = TypeVar("Token", ApiToken, AlertToken)


def issue_token(
    session: Session, model: type[Token], engagement_id: int, name: str, now: datetime,
    prefix: str,
) -> str:  # fmt: skip
    token = new_token(prefix)
    session.add(model(token_hash=digest(token), engagement_id=engagement_id, name=name,
                      created_at=now))  # fmt: skip
    return token


def live_token(
    session: Session, model: type[Token], token: str, now: datetime, prefix: str
) -> Token | None:
    """The live token `token` is, its last use noted (at most once a minute); None if it is
    unknown or revoked."""
    if not token.startswith(prefix):
        return None
    row: Token | None = session.execute(
        select(model).where(col(model.token_hash) == digest(token))
    ).scalar()
    if row is None or row.revoked_at is not None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USE_RESOLUTION:
        row.last_used_at = now
    return row


def listed_tokens(
    session: Session, model: type[Token], engagement_id: int | None = None
) -> list[Token]:
    query = select(model).order_by(col(model.id))
    if engagement_id is not None:
        query = query.where(col(model.engagement_id) == engagement_id)
    return list(session.execute(query).scalars())


def revoke_token(session: Session, model: type[Token], token_id: int, now: datetime) -> bool:
    """Revoke token `token_id`; False if there is no such live token."""
    done = session.execute(
        update(model).where(col(model.id) == token_id, col(model.revoked_at).is_(None))
        .values(revoked_at=now)
    )  # fmt: skip
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def create_api_token(session: Session, engagement_id: int, name: str, now: datetime) -> str:
    return issue_token(session, ApiToken, engagement_id, name, now, API_TOKEN_PREFIX)


def api_token(session: Session, token: str, now: datetime) -> ApiToken | None:
    return live_token(session, ApiToken, token, now, API_TOKEN_PREFIX)


def api_tokens(session: Session, engagement_id: int | None = None) -> list[ApiToken]:
    return listed_tokens(session, ApiToken, engagement_id)


def revoke_api_token(session: Session, token_id: int, now: datetime) -> bool:
    return revoke_token(session, ApiToken, token_id, now)
