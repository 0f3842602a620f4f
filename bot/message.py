"""The normalised messages every adapter produces and consumes.

`Inbound` is what a person said, wherever they said it; `Outgoing` is what the bot says,
read back from the outbox; `Target` is a durable place to answer (kept on records so the
scheduler can post days later, when a platform's reply handle has expired).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.assurance import Assurance


class ChatType(StrEnum):
    GROUP = "group"
    DIRECT = "direct"


@dataclass(frozen=True)
class Mention:
    """Someone @-mentioned in a message: their id on the channel and the name shown."""

    external_id: str
    name: str = ""
    is_bot: bool = False


class Placed(Protocol):
    """A record that keeps where to post about it: the channel and chat it came from."""

    channel: str
    chat_id: str


@dataclass(frozen=True)
class Target:
    """Where to post: a chat on a channel (replying to the message `reply_to` there, if set),
    or, with `person` (their key), a person directly, `chat_id` then being their id on the
    channel."""

    channel: str
    chat_id: str
    reply_to: str = ""
    person: str = ""

    @classmethod
    def direct(cls, channel: str, address: str, person: str) -> Target:
        return cls(channel, address, person=person)

    @classmethod
    def of(cls, record: Placed) -> Target | None:
        """The chat `record` keeps (its `channel` and `chat_id` columns, set from the message
        that made it); None if it keeps none."""
        return cls(record.channel, record.chat_id) if record.chat_id else None

    @property
    def recipient_type(self) -> str:
        return "person" if self.person else "chat"

    @property
    def recipient(self) -> str:
        """The person's key, or the chat id."""
        return self.person or self.chat_id


@dataclass(frozen=True)
class Inbound:
    """One message from a person, normalised.

    `event_id` is the platform's dedupe key (event id, or the message id where the
    platform has no event id). `text` keeps @-mentions as `@name` tokens; `mentions`
    says who they are.
    """

    channel: str
    chat_id: str
    chat_type: ChatType
    sender_id: str
    text: str
    event_id: str
    received_at: datetime
    sender_name: str = ""
    sender_alt_ids: tuple[str, ...] = ()
    mentions: tuple[Mention, ...] = ()
    message_id: str = ""
    reply_to: str = ""
    # How sure the channel is of the sender (see bot.assurance); set by the adapter.
    assurance: Assurance = Assurance.PLATFORM
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def target(self) -> Target:
        return Target(self.channel, self.chat_id, self.message_id)


@dataclass(frozen=True)
class Outgoing:
    """One outbox row on its way to a channel."""

    id: int
    channel: str
    recipient_type: str  # "chat" | "person"
    address: str  # the chat id, or the person's id on this channel
    kind: str
    ref: str
    text: str
    reply_to: str = ""
    dedupe_key: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    locale: str = "zh-CN"
