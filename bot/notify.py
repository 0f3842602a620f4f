"""Where a message for a person or an engagement's chats goes, written into the outbox.

Used by handlers (through the context) and by scheduler jobs alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from storage import outbox
from storage.models import ChatBinding, Engagement, Identity, Person


def bound_chats(session: Session, engagement_id: int) -> list[ChatBinding]:
    query = select(ChatBinding).where(ChatBinding.engagement_id == engagement_id)
    return list(session.execute(query.order_by(ChatBinding.id)).scalars())  # type: ignore[arg-type]


def people_with_roles(session: Session, engagement_id: int, roles: set[str]) -> list[Person]:
    query = select(Person).where(Person.engagement_id == engagement_id, Person.active)
    people = session.execute(query.order_by(Person.id)).scalars()  # type: ignore[arg-type]
    return [p for p in people if roles.intersection(p.roles)]


def direct_address(
    session: Session, person: Person, preferred: Sequence[str]
) -> tuple[str, str] | None:
    """(channel, id) to reach `person` directly: the channels in `preferred` first (the
    engagement's own chat channels, then every channel in the app's order), else any."""
    query = select(Identity).where(Identity.person_id == person.id)
    identities = {i.channel: i.external_id for i in session.execute(query).scalars()}
    for channel in [*preferred, *sorted(identities)]:
        if channel in identities:
            return channel, identities[channel]
    return None


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
    channel, external_id = address
    return outbox.enqueue(
        session, now=now, channel=channel, recipient_type="person", recipient=person.key,
        address=external_id, kind=kind, text=text, ref=ref, engagement_id=engagement.id,
        dedupe_key=f"{dedupe_key}:{person.key}" if dedupe_key else None, payload=payload,
    )  # fmt: skip


def to_chat(
    session: Session,
    chat: ChatBinding,
    *,
    now: datetime,
    kind: str,
    text: str,
    ref: str = "",
    reply_to: str = "",
    dedupe_key: str | None = None,
    payload: dict[str, Any] | None = None,
) -> int | None:
    return outbox.enqueue(
        session, now=now, channel=chat.channel, recipient_type="chat", recipient=chat.chat_id,
        address=chat.chat_id, kind=kind, text=text, ref=ref, engagement_id=chat.engagement_id,
        reply_to=reply_to,
        dedupe_key=f"{dedupe_key}:{chat.channel}:{chat.chat_id}" if dedupe_key else None,
        payload=payload,
    )  # fmt: skip
