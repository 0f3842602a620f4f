"""Where a message for a person or a chat goes, written into the outbox.

Handlers and scheduler jobs reach it through their context (`bot.context.Context`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from bot.message import Target
from storage import outbox
from storage.models import ChatBinding, Engagement, Identity, Person


def bound_chats(session: Session, engagement_id: int) -> list[ChatBinding]:
    query = select(ChatBinding).where(col(ChatBinding.engagement_id) == engagement_id)
    return list(session.execute(query.order_by(col(ChatBinding.id))).scalars())


def people_with_roles(session: Session, engagement_id: int, roles: set[str]) -> list[Person]:
    query = select(Person).where(col(Person.engagement_id) == engagement_id, col(Person.active))
    people = session.execute(query.order_by(col(Person.id))).scalars()
    return [p for p in people if roles.intersection(p.roles)]


def direct_address(
    session: Session, person: Person, preferred: Sequence[str]
) -> tuple[str, str] | None:
    """(channel, id) to reach `person` directly: the channels in `preferred` first (the
    engagement's own chat channels, then every channel in the app's order), else any."""
    query = select(Identity).where(col(Identity.person_id) == person.id)
    identities = {i.channel: i.external_id for i in session.execute(query).scalars()}
    for channel in [*preferred, *sorted(identities)]:
        if channel in identities:
            return channel, identities[channel]
    return None


def to_target(
    session: Session,
    target: Target,
    *,
    engagement_id: int | None,
    now: datetime,
    kind: str,
    text: str,
    ref: str = "",
    dedupe_key: str | None = None,
    payload: dict[str, Any] | None = None,
) -> int | None:
    """A message to a chat or a person; None when it was already sent. `dedupe_key` is
    extended per recipient (`:<person>` or `:<channel>:<chat>`), so one notice reaches each
    recipient once (invariant 6)."""
    if dedupe_key is not None:
        where = target.person or f"{target.channel}:{target.chat_id}"
        dedupe_key = f"{dedupe_key}:{where}"
    return outbox.enqueue(
        session, now=now, channel=target.channel, recipient_type=target.recipient_type,
        recipient=target.recipient, address=target.chat_id, kind=kind, text=text, ref=ref,
        engagement_id=engagement_id, reply_to=target.reply_to, dedupe_key=dedupe_key,
        payload=payload,
    )  # fmt: skip


def to_person(
    session: Session,
    engagement: Engagement,
    person: Person,
    *,
    now: datetime,
    kind: str,
    text: str,
    ref: str = "",
    dedupe_key: str | None = None,
    payload: dict[str, Any] | None = None,
    channels: Sequence[str] = (),
) -> int | None:
    """A direct message; None when the person has no identity or it was already sent.
    `channels`: the app's order of preference after the engagement's chat channels."""
    preferred = [chat.channel for chat in bound_chats(session, engagement.id or 0)]
    preferred += channels
    address = direct_address(session, person, preferred)
    if address is None:
        return None
    target = Target.direct(*address, person=person.key)
    return to_target(session, target, engagement_id=engagement.id, now=now, kind=kind, text=text,
                     ref=ref, dedupe_key=dedupe_key, payload=payload)  # fmt: skip
