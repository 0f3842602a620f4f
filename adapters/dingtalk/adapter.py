"""The DingTalk channel as the framework sees it (`bot.channels.ChannelAdapter`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response

from adapters.bridge import LoopBridge
from adapters.dingtalk.client import DingtalkSender
from adapters.dingtalk.parse import CHANNEL
from adapters.dingtalk.stream import StreamRunner
from adapters.dingtalk.webhook import PATH, SPENT_CHANNEL, CallbackReceiver
from adapters.replay import SpentKeys

if TYPE_CHECKING:
    from bot.channels import Inlet, Sender
    from config.settings import Settings


class DingtalkAdapter:
    """The stream connection (`mode = "stream"`) or the callback route (`mode = "http"`);
    sends through the robot APIs either way."""

    name = CHANNEL

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.dingtalk
        self.db = settings.db
        self.spent: SpentKeys | None = None
        self.stream: StreamRunner | None = None

    def sender(self) -> Sender:
        return DingtalkSender(self.settings)

    def install(self, app: FastAPI, inlet: Inlet) -> None:
        """In HTTP mode, the callback route; stream mode has none (nothing to forge there)."""
        if self.settings.mode != "http":
            return
        if self.spent is None:
            self.spent = SpentKeys(self.db, SPENT_CHANNEL)
        receiver = CallbackReceiver(self.settings, self.spent)

        @app.post(PATH)
        async def dingtalk_callback(request: Request) -> Response:
            headers = {k.lower(): v for k, v in request.headers.items()}
            answer = await receiver.receive(headers, await request.body(), inlet)
            return answer.response()

    async def start(self, inlet: Inlet) -> None:
        """In stream mode, connect to DingTalk's stream gateway (in a thread of its own)."""
        if self.settings.mode == "stream" and self.stream is None:
            self.stream = StreamRunner(
                self.settings, LoopBridge(inlet.accept, asyncio.get_running_loop())
            )
            self.stream.start()

    async def stop(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            await asyncio.to_thread(stream.stop)
        if self.spent is not None:
            self.spent.close()  # its connections only: a later callback opens new ones
