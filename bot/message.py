"""The normalised messages every adapter produces and consumes.

`Inbound` is what a person said, wherever they said it; `Outgoing` is what the bot says,
read back from the outbox; `Target` is a durable place to answer (kept on records so the
scheduler can post days later, when a platform's reply handle has expired).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

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


@dataclass(frozen=True)
class Target:
    """Where to post: a chat (optionally a thread / message to reply to) on a channel."""

    channel: str
    chat_id: str
    reply_to: str = ""


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
