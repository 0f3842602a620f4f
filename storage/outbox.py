"""The transactional outbox (invariant 1): write in the caller's transaction, claim, settle.

Claiming takes a lease (`next_attempt_at` moves into the future) in a short transaction,
so a sender never holds a database lock while it talks to a platform, several dispatchers
never send one row at once (`FOR UPDATE SKIP LOCKED` on PostgreSQL), and a claimed row
whose sender died before it began is picked up again when its lease runs out.

Right before the send, `begin` marks the row `sending` with a lease of its own; `mark_sent`
or `mark_retry` settles it. A row still `sending` after that lease — its sender died during
the send, which may or may not have arrived — is sent again only on a channel whose sends
are idempotent; elsewhere it becomes `unknown`, and stays so until an operator `requeue`s it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlmodel import Session, col

from storage.db import insert_ignore, transaction
from storage.models import DEFAULT_LOCALE, Engagement, OutboxMessage

PENDING, SENDING, SENT, FAILED, UNKNOWN = "pending", "sending", "sent", "failed", "unknown"
_CAUSED = "rentian.outbox.caused"  # session.info: ids of the rows this transaction added
_INTERRUPTED = (
    "outcome unknown: the sender stopped during the send, which may have arrived; not sent "
    "again by itself. Check with the recipient, then `rentian outbox --requeue {id}` if needed"
)

_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]
# Built once, its values bound at execution: building a statement per row costs more than
# the database takes to run it.
_INSERT = insert(_TABLE).returning(_TABLE.c.id)

log = logging.getLogger("rentian.outbox")

# Messages that carry a one-time secret (a console sign-in link): once sent, or given up, the
# row keeps the text with the secret cut out, so the database does not hold it for longer
# than it takes to deliver.
SECRET_KINDS = frozenset({"console.link"})
_SECRET = re.compile(r"(/signin/)[A-Za-z0-9_-]{16,}")


def scrub(text: str) -> str:
    """`text` with every sign-in token replaced by "…"."""
    return _SECRET.sub(r"\1…", text)


def _scrub_secrets(session: Session, row_ids: Sequence[int]) -> None:
    rows = session.execute(
        select(col(OutboxMessage.id), col(OutboxMessage.text)).where(
            col(OutboxMessage.id).in_(row_ids), col(OutboxMessage.kind).in_(SECRET_KINDS)
        )
    ).all()  # fmt: skip
    for row_id, text in rows:
        session.execute(
            update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(text=scrub(text))
        )


def enqueue(
    session: Session,
    *,
    now: datetime,
    channel: str,
    recipient_type: str,
    recipient: str,
    address: str,
    kind: str,
    text: str,
    ref: str = "",
    engagement_id: int | None = None,
    reply_to: str = "",
    dedupe_key: str | None = None,
    payload: dict[str, Any] | None = None,
    not_before: datetime | None = None,
    locale: str | None = None,
) -> int | None:
    """Add a message; returns its id, or None when `dedupe_key` was already used (invariant 6).

    The row speaks its engagement's locale unless `locale` says otherwise.
    """
    values = dict(
        engagement_id=engagement_id, channel=channel, recipient_type=recipient_type,
        recipient=recipient, address=address, reply_to=reply_to, kind=kind, ref=ref,
        text=text, payload=payload or {}, locale=locale or _locale(session, engagement_id),
        dedupe_key=dedupe_key, status=PENDING, attempts=0, next_attempt_at=not_before or now,
        last_error="", created_at=now,
    )  # fmt: skip
    if dedupe_key is not None:
        if not insert_ignore(session, OutboxMessage, **values):
            return None
        row_id = session.execute(
            select(col(OutboxMessage.id)).where(col(OutboxMessage.dedupe_key) == dedupe_key)
        ).scalar_one()
        return _caused(session, int(row_id))
    # A Core INSERT … RETURNING: no instance to build and flush for a row written once here.
    row_id = session.execute(_INSERT, values).scalar_one()
    return _caused(session, int(row_id))


def _caused(session: Session, row_id: int) -> int:
    session.info.setdefault(_CAUSED, []).append(row_id)
    return row_id


def caused(session: Session) -> list[int]:
    """The ids of the rows enqueued in this session's transaction (one session, one
    transaction: see `storage.db.transaction`); rows of a rolled-back savepoint may be listed."""
    return list(session.info.get(_CAUSED, ()))


def _locale(session: Session, engagement_id: int | None) -> str:
    """The engagement's locale (from the identity map once loaded), else the default."""
    engagement = session.get(Engagement, engagement_id) if engagement_id is not None else None
    return engagement.locale if engagement is not None else DEFAULT_LOCALE


def claim(
    engine: Engine,
    channels: Sequence[str],
    now: datetime,
    lease: timedelta,
    limit: int,
    idempotent: Collection[str] = (),
) -> list[OutboxMessage]:
    """Lease up to `limit` due rows of these channels to the caller: pending ones, and ones
    left `sending` past their lease on an `idempotent` channel. Those left `sending` on any
    other channel become `unknown` and are not returned."""
    resend = list(idempotent)
    interrupted = and_(
        col(OutboxMessage.status) == SENDING,
        col(OutboxMessage.next_attempt_at) <= now,
    )
    with transaction(engine) as session:
        lost = select(OutboxMessage).where(
            interrupted,
            col(OutboxMessage.channel).in_(channels),
            col(OutboxMessage.channel).not_in(resend),
        )
        for row in session.execute(lost.with_for_update(skip_locked=True)).scalars():
            row.status, row.last_error = UNKNOWN, _INTERRUPTED.format(id=row.id)
            log.warning("outbox %s to %s: its sender stopped during the send; outcome "
                        "unknown, not sent again", row.id, row.channel)  # fmt: skip
        due = or_(
            and_(col(OutboxMessage.status) == PENDING, col(OutboxMessage.next_attempt_at) <= now),
            and_(interrupted, col(OutboxMessage.channel).in_(resend)),
        )
        query = (
            select(OutboxMessage)
            .where(due, col(OutboxMessage.channel).in_(channels))
            .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list(session.execute(query).scalars())
        for row in rows:
            row.status = PENDING
            row.attempts += 1
            row.next_attempt_at = now + lease
        return rows


def begin(engine: Engine, row: OutboxMessage, now: datetime, lease: timedelta) -> bool:
    """Mark a claimed row in flight, just before its send; False when it is no longer the
    caller's (its claim ran out and another dispatcher claimed it: `attempts` moved on)."""
    with transaction(engine) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == row.id,
                col(OutboxMessage.status) == PENDING,
                col(OutboxMessage.attempts) == row.attempts,
            )
            .values(status=SENDING, next_attempt_at=now + lease)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(engine: Engine, row_id: int, now: datetime) -> None:
    """The platform took it (also when the row was given up as `unknown` meanwhile)."""
    with transaction(engine) as session:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row_id)
            .values(status=SENT, sent_at=now, last_error="")
        )
        _scrub_secrets(session, [row_id])


def mark_retry(engine: Engine, row_id: int, error: str, retry_at: datetime | None) -> None:
    """Schedule another attempt at `retry_at`, or mark the row failed when it is None; a row
    sent meanwhile (by another dispatcher) stays sent."""
    values: dict[str, Any] = {"last_error": error[:1000]}
    if retry_at is None:
        values["status"] = FAILED
    else:
        values.update(status=PENDING, next_attempt_at=retry_at)
    with transaction(engine) as session:
        session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == row_id,
                col(OutboxMessage.status).in_((SENDING, UNKNOWN)),
            )
            .values(**values)
        )
        if retry_at is None:
            _scrub_secrets(session, [row_id])


def requeue(engine: Engine, row_id: int, now: datetime) -> str | None:
    """An operator's decision: send an `unknown` or `failed` row again from now, with its
    attempts counted afresh. Returns the row's status before (None: no such row); only those
    two statuses are changed."""
    with transaction(engine) as session:
        row = session.get(OutboxMessage, row_id, with_for_update=True)
        if row is None:
            return None
        before = row.status
        if before in (UNKNOWN, FAILED):
            row.status, row.attempts, row.next_attempt_at = PENDING, 0, now
        return before


def mark_delivered(session: Session, row_ids: Sequence[int], now: datetime) -> None:
    """For channels that deliver in-process (the console): sent as soon as shown."""
    if row_ids:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(row_ids))
            .values(status=SENT, sent_at=now, attempts=col(OutboxMessage.attempts) + 1)
        )
        _scrub_secrets(session, row_ids)


def listing(session: Session, status: str | None = None, limit: int = 200) -> list[OutboxMessage]:
    """The newest rows first (optionally of one status), oldest of those first."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit)
    if status:
        query = query.where(col(OutboxMessage.status) == status)
    return list(reversed(session.execute(query).scalars().all()))


def count_pending(session: Session) -> int:
    """Rows still to deliver: pending or in flight (not `unknown`: those wait for a person)."""
    query = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.status).in_((PENDING, SENDING)))
    )
    return int(session.execute(query).scalar_one())
