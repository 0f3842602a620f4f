"""The Feishu channel as the framework sees it (`bot.channels.ChannelAdapter`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response

from adapters.feishu.client import FeishuSender, client
from adapters.feishu.longconn import LongConnection
from adapters.feishu.parse import CHANNEL
from adapters.feishu.webhook import PATH, WebhookReceiver, tame_sdk_logger

if TYPE_CHECKING:
    from bot.channels import Inlet, Sender
    from config.settings import Settings


class FeishuAdapter:
    """Callbacks at `POST /webhooks/feishu`, or the long connection in `longconn` mode; sends
    through the app's client."""

    name = CHANNEL

    def __init__(self, settings: Settings) -> None:
        section = settings.feishu
        bot_names = frozenset(n.lower() for n in settings.bot.names)
        self.settings = section
        self.receiver = WebhookReceiver(section, bot_names)
        self.connection = LongConnection(section, bot_names) if section.mode == "longconn" else None
        self.client = client(section)
        tame_sdk_logger()

    def sender(self) -> Sender:
        return FeishuSender(self.client)

    def install(self, app: FastAPI, inlet: Inlet) -> None:
        receiver = self.receiver

        @app.post(PATH)
        async def feishu_webhook(request: Request) -> Response:
            answer = await receiver.receive(dict(request.headers), await request.body(), inlet)
            return answer.response()

    async def start(self, inlet: Inlet) -> None:
        """Open the long connection in `longconn` mode; webhook mode has nothing to open."""
        if self.connection is not None:
            await self.connection.start(inlet)

    async def stop(self) -> None:
        if self.connection is not None:
            await self.connection.stop()
