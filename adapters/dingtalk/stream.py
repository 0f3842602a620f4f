"""`mode = "stream"` (the default): robot messages over DingTalk's stream gateway.

`PLATFORM` assurance, as DingTalk authenticates the connection we open with the app's
credentials. The SDK's `DingTalkStreamClient` with our `ChatbotHandler`, on its own event loop
in a dedicated thread. We replace two parts of the client: `open_connection` (the SDK reads
DINGTALK_OPENAPI_ENDPOINT once at import and calls `requests` with no timeout; ours posts to
`api_base` with a timeout) and the connection loop (the SDK's `start()` sleeps 10 s after a
drop, swallows a cancel and never stops; ours reconnects after `RECONNECT_SECONDS` and ends on
`stop()`). Frames are still routed and acked by the SDK. `process` hands the message to the
main loop's `accept` and acks once the inbox holds it; a failure answers 500 so DingTalk
delivers it again (the inbox and the bus dedupe).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import dingtalk_stream
import requests
import websockets
from dingtalk_stream import AckMessage, CallbackMessage, ChatbotHandler, ChatbotMessage

from adapters.bridge import LoopBridge, cancel_all
from adapters.dingtalk.parse import parse
from bot import clock

if TYPE_CHECKING:
    from config.settings import DingtalkSettings

GATEWAY_PATH = "/v1.0/gateway/connections/open"
RECONNECT_SECONDS = 2.0
STOP_SECONDS = 5.0

log = logging.getLogger("rentian.dingtalk")
sdk_log = logging.getLogger("rentian.dingtalk.sdk")  # the SDK warns on every SYSTEM ping
sdk_log.setLevel(logging.ERROR)


class RobotHandler(ChatbotHandler):  # type: ignore[misc]
    """Robot messages from the stream: into the inbox on the main loop; ack once there."""

    def __init__(self, bridge: LoopBridge[bool]) -> None:
        super().__init__()
        self.logger = sdk_log
        self.bridge = bridge

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        inbound = parse(callback.data, now=clock.now())
        if inbound is None:
            return AckMessage.STATUS_OK, "ignored"
        try:
            fresh = await self.bridge.wait_async(inbound)
        except Exception:
            log.exception("dingtalk stream: message %s not accepted", inbound.event_id)
            return AckMessage.STATUS_SYSTEM_EXCEPTION, "not handled"
        if not fresh:
            log.info("dingtalk stream: event %s already in the inbox", inbound.event_id)
        return AckMessage.STATUS_OK, "OK"


class StreamClient(dingtalk_stream.DingTalkStreamClient):  # type: ignore[misc]
    """The SDK's client with our gateway call and connection loop (see the module doc)."""

    def __init__(self, settings: DingtalkSettings) -> None:
        credential = dingtalk_stream.Credential(settings.client_id, settings.client_secret)
        super().__init__(credential, logger=sdk_log)
        self.gateway = settings.api_base.rstrip("/") + GATEWAY_PATH
        self.connections = 0
        self.frames: set[asyncio.Task[None]] = set()

    def open_connection(self) -> dict[str, Any] | None:
        body = {"clientId": self.credential.client_id,
                "clientSecret": self.credential.client_secret,
                "subscriptions": [{"type": "CALLBACK", "topic": t}
                                  for t in self.callback_handler_map],
                "ua": "rentian", "localIp": ""}  # fmt: skip
        try:
            response = requests.post(self.gateway, json=body, timeout=10)
            response.raise_for_status()
            answer = response.json()
        except (requests.RequestException, ValueError) as error:
            log.warning("dingtalk stream: gateway refused: %s", error)
            return None
        if not isinstance(answer, dict) or not answer.get("endpoint") or not answer.get("ticket"):
            log.warning("dingtalk stream: gateway answered without an endpoint")
            return None
        return answer

    async def run(self) -> None:
        """Connect, route frames, reconnect after a drop; until cancelled."""
        self.pre_start()
        while True:
            connection = await asyncio.to_thread(self.open_connection)
            if connection is not None:
                await self._session(connection)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _session(self, connection: dict[str, Any]) -> None:
        uri = f"{connection['endpoint']}?ticket={quote_plus(str(connection['ticket']))}"
        try:
            async with websockets.connect(uri) as websocket:
                self.websocket = websocket
                self.connections += 1
                log.info("dingtalk stream: connected")
                async for raw in websocket:
                    task = asyncio.create_task(self._frame(raw))
                    self.frames.add(task)  # frames are handled concurrently, as the SDK does
                    task.add_done_callback(self.frames.discard)
        except (OSError, websockets.exceptions.WebSocketException) as error:
            log.warning("dingtalk stream: connection lost: %s", error)

    async def _frame(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            log.warning("dingtalk stream: unreadable frame")
            return
        if isinstance(frame, dict):
            await self.background_task(frame)


class StreamRunner:
    """Runs a `StreamClient` on its own event loop in a daemon thread; `stop()` ends it."""

    def __init__(self, settings: DingtalkSettings, bridge: LoopBridge[bool]) -> None:
        self.client = StreamClient(settings)
        self.client.register_callback_handler(ChatbotMessage.TOPIC, RobotHandler(bridge))
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task[None] | None = None
        self.thread = threading.Thread(target=self._main, name="dingtalk-stream", daemon=True)
        self.ready = threading.Event()

    def start(self) -> None:
        self.thread.start()
        self.ready.wait(STOP_SECONDS)

    def stop(self) -> None:
        if self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(STOP_SECONDS)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.task = self.loop.create_task(self.client.run())
        self.ready.set()
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass
        finally:
            cancel_all(self.loop)
            self.loop.close()
