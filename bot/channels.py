"""The contract between the framework and a platform adapter.

The app loads each enabled channel's adapter (`app.channels.load`); the framework only knows
this protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.message import Inbound, Outgoing

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.outcome import Outcome

# Channels whose sends may be repeated without a second message arriving: Feishu drops a send
# whose `uuid` (the outbox row's key) it has seen; the console only prints. A row of another
# channel whose sender died during the send may have arrived: it is marked `unknown`, never
# sent again by itself (storage.outbox.claim). DingTalk's robot API, WeCom's message API
# and SMTP take no idempotency key.
IDEMPOTENT_SENDS: frozenset[str] = frozenset({"console", "feishu"})

# Writes a verified, normalised message into the inbox (bot.inbox); resolves once it is durably
# there, so the adapter may acknowledge it then. False: it was waiting there already.
Accept = Callable[[Inbound], Awaitable[bool]]
# Runs one message through the bus now (in a worker thread); resolves after its transaction
# committed, with what it caused: for an answer that must carry the outcome (a card click).
Handle = Callable[[Inbound], Awaitable["Outcome"]]


@dataclass(frozen=True)
class Inlet:
    """How an adapter hands a message over. `accept` for every message a person sent: the
    platform is answered at once and the inbox workers handle it, in order per chat. `handle`
    only where the platform's answer must say what the message did (a Feishu card click
    answers with a toast and the updated card), and for channels whose reader waits anyway
    (mail, the console)."""

    accept: Accept
    handle: Handle


class Sender(Protocol):
    """What a channel adapter offers the dispatcher."""

    async def send(self, message: Outgoing) -> None: ...


class ChannelAdapter(Protocol):
    """One platform: inbound (webhook routes and/or a long connection) and outbound sends."""

    name: str

    def sender(self) -> Sender:
        """What the dispatcher calls to deliver an outbox row on this channel."""
        ...

    def install(self, app: FastAPI, inlet: Inlet) -> None:
        """Add this channel's HTTP routes (e.g. POST /webhooks/feishu) to the app."""
        ...

    async def start(self, inlet: Inlet) -> None:
        """Open long connections or mailbox watchers; return once they are running."""
        ...

    async def stop(self) -> None:
        """Close them; unsent work stays in the outbox."""
        ...
