"""From a platform SDK's own thread to the event loop the bus runs on, and back.

Feishu's SDK verifies callbacks and keeps its long connection in threads of its own; DingTalk's
stream client runs on an event loop of its own in a thread. Their callbacks hand each message
to the main loop through a `LoopBridge` and wait for it to be accepted into the inbox (or, for
a card click, handled) before they acknowledge it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from bot.message import Inbound

T = TypeVar("T")


class LoopBridge(Generic[T]):
    """Runs `handle` (an `Accept` or a `Handle` of bot.channels) on `loop`, the main one, for
    callers on other threads."""

    def __init__(
        self, handle: Callable[[Inbound], Awaitable[T]], loop: asyncio.AbstractEventLoop
    ) -> None:
        self.handle = handle
        self.loop = loop

    def submit(self, inbound: Inbound) -> Future[T]:
        """Schedule the message on the main loop; the future resolves after the commit."""
        return asyncio.run_coroutine_threadsafe(self._handle(inbound), self.loop)

    def wait(self, inbound: Inbound, timeout: float) -> T:
        """From a plain thread: block until it committed; `TimeoutError` after `timeout`
        seconds (the platform then delivers the message again, and it is deduped)."""
        return self.submit(inbound).result(timeout)

    async def wait_async(self, inbound: Inbound) -> T:
        """From another thread's event loop: wait for the commit without blocking that loop."""
        return await asyncio.wrap_future(self.submit(inbound))

    async def _handle(self, inbound: Inbound) -> T:
        """A coroutine, as `run_coroutine_threadsafe` requires (`handle` returns any awaitable)."""
        return await self.handle(inbound)


def cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    """End every task still on a thread's own loop, before the loop is closed (one more turn
    of the loop even when none is left: closed sockets finish their callbacks)."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    loop.run_until_complete(_settle(tasks))


async def _settle(tasks: set[asyncio.Task[Any]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)
