"""The WeCom channel as the framework sees it (`bot.channels.ChannelAdapter`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response

from adapters.wecom.client import WecomClient, WecomSender
from adapters.wecom.parse import CHANNEL
from adapters.wecom.webhook import PATH, CallbackReceiver

if TYPE_CHECKING:
    from bot.channels import Inlet, Sender
    from config.settings import Settings


class WecomAdapter:
    """The callback routes at `/webhooks/wecom`; sends through the app (and group robots)."""

    name = CHANNEL

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.wecom
        self.receiver = CallbackReceiver(self.settings)
        self.client = WecomClient(self.settings)

    def sender(self) -> Sender:
        return WecomSender(self.client, self.settings.agent_id)

    def install(self, app: FastAPI, inlet: Inlet) -> None:
        receiver = self.receiver

        @app.get(PATH)
        async def wecom_verify(request: Request) -> Response:
            return receiver.verify_url(dict(request.query_params)).response()

        @app.post(PATH)
        async def wecom_callback(request: Request) -> Response:
            answer = await receiver.receive(dict(request.query_params), await request.body(),
                                            inlet)  # fmt: skip
            return answer.response()

    async def start(self, inlet: Inlet) -> None:
        """Nothing to open: WeCom calls us."""

    async def stop(self) -> None:
        """Nothing to close."""
