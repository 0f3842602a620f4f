"""What one inbound message caused, as the bus returns it to the channel that brought it."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.message import Outgoing


@dataclass(frozen=True)
class Reply:
    """What the bot answered in the chat: outbox id, machine kind, reference, text."""

    id: int
    kind: str
    ref: str
    text: str


@dataclass
class Outcome:
    """What one message caused: the replies in its chat and, when the caller delivers its own
    channel's messages (`deliver=True`), the other messages on that channel (`notices`).
    `failed`: its transaction failed and was rolled back; the event is recorded as failed and
    answered with `error.internal` if that answer could be written."""

    duplicate: bool = False
    failed: bool = False
    replies: list[Reply] = field(default_factory=list)
    notices: list[Outgoing] = field(default_factory=list)
