"""`mode = "longconn"`: Feishu's events over the SDK's websocket client, no public URL needed.

Feishu delivers each event to one of the connected clients, so several instances may connect;
the inbox and the bus dedupe on `header.event_id` as for callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from typing import TYPE_CHECKING, Any

import lark_oapi as lark
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1

from adapters.bridge import LoopBridge, cancel_all
from adapters.feishu.parse import parse
from adapters.feishu.webhook import HANDLE_TIMEOUT_SECONDS
from bot import clock

if TYPE_CHECKING:
    from bot.channels import Inlet
    from config.settings import FeishuSettings

STOP_TIMEOUT_SECONDS = 5.0

log = logging.getLogger("rentian.feishu")


class LongConnection:
    """`lark.ws.Client` in a daemon thread with its own event loop (the SDK's `start()` blocks
    forever on a module-global loop and has no `stop()`). Each event goes into the inbox through
    `accept` on the main loop; the SDK acks the frame when our callback returns, i.e. once the
    inbox holds it."""

    def __init__(self, settings: FeishuSettings, bot_names: frozenset[str]) -> None:
        self.settings = settings
        self.bot_names = bot_names
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._closing: asyncio.Future[None] | None = None

    async def start(self, inlet: Inlet) -> None:
        bridge = LoopBridge(inlet.accept, asyncio.get_running_loop())
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(bridge, ready), name="feishu-longconn", daemon=True
        )
        self._thread.start()
        await asyncio.to_thread(ready.wait, STOP_TIMEOUT_SECONDS)

    async def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended (the SDK gave up)
            loop.call_soon_threadsafe(self._cancel_everything)
        await asyncio.to_thread(thread.join, STOP_TIMEOUT_SECONDS)
        if thread.is_alive():
            log.warning("feishu long connection did not stop in time")
        self._loop = self._thread = None

    def _run(self, bridge: LoopBridge[bool], ready: threading.Event) -> None:
        import lark_oapi.ws.client as sdk_ws

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # the SDK's cache schedules its cleanup on "the" loop
        import_loop, sdk_ws.loop = sdk_ws.loop, loop  # and its client runs on a module global
        self._loop = loop
        handler = (
            lark.EventDispatcherHandler.builder("", "")
            .register_p2_im_message_receive_v1(lambda event: self._deliver(event, bridge))
            .build()
        )
        self._client = lark.ws.Client(
            self.settings.app_id, self.settings.app_secret, event_handler=handler,
            domain=self.settings.domain.rstrip("/"), log_level=lark.LogLevel.WARNING,
        )  # fmt: skip
        ready.set()
        try:
            self._client.start()
        except (asyncio.CancelledError, RuntimeError):
            pass  # stop() cancelled the SDK's tasks
        except Exception:
            log.exception("feishu long connection ended")
        finally:
            cancel_all(loop)
            loop.close()
            sdk_ws.loop = import_loop

    def _cancel_everything(self) -> None:
        """On the connection's loop: no reconnect, close the socket, end every task."""
        self._client._auto_reconnect = False
        self._closing = asyncio.ensure_future(self._close_then_cancel())

    async def _close_then_cancel(self) -> None:
        try:
            await self._client._disconnect()
        finally:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

    def _deliver(self, event: P2ImMessageReceiveV1, bridge: LoopBridge[bool]) -> None:
        """On the connection's thread: hand the event to the main loop and wait until the
        inbox holds it; an exception here makes the SDK answer 500, and Feishu delivers it
        again."""
        payload = json.loads(lark.JSON.marshal(event) or "{}")
        inbound = parse(payload, now=clock.now(), bot_names=self.bot_names)
        if inbound is None:
            return
        bridge.wait(inbound, HANDLE_TIMEOUT_SECONDS)
