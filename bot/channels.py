"""The contract between the framework and a platform adapter.

The app loads each enabled channel's adapter (`app.channels.load`); the framework only knows
this protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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

# Runs one inbound message through the bus (in a worker thread) once it is verified and
# normalised; resolves after the transaction committed, so an adapter acks only then.
Handle = Callable[[Inbound], Awaitable["Outcome"]]


class Sender(Protocol):
    """What a channel adapter offers the dispatcher."""

    async def send(self, message: Outgoing) -> None: ...


class ChannelAdapter(Protocol):
    """One platform: inbound (webhook routes and/or a long connection) and outbound sends."""

    name: str

    def sender(self) -> Sender:
        """What the dispatcher calls to deliver an outbox row on this channel."""
        ...

    def install(self, app: FastAPI, handle: Handle) -> None:
        """Add this channel's HTTP routes (e.g. POST /webhooks/feishu) to the app."""
        ...

    async def start(self, handle: Handle) -> None:
        """Open long connections or mailbox watchers; return once they are running."""
        ...

    async def stop(self) -> None:
        """Close them; unsent work stays in the outbox."""
        ...
