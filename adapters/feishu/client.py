"""Sending outbox rows to Feishu with the SDK's client.

A row answering a message is a reply to it (posted to the chat instead when that message is
gone); any other is a new message to a chat or a person. The row's key goes as Feishu's `uuid`,
so a resend is dropped by Feishu.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import lark_oapi as lark
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)

from adapters.feishu.render import render, send_uuid
from adapters.plumbing import in_thread, refused, unreachable
from base.errors import NetworkError, PlatformRefused
from bot.message import Outgoing

if TYPE_CHECKING:
    from config.settings import FeishuSettings

SEND_TIMEOUT_SECONDS = 10.0
# Codes worth another try later: rate limits and Feishu's own internal errors.
RETRYABLE_CODES = frozenset({99991400, 230020, 1000004, 1000005, 99991401})
# The message to reply to is gone (withdrawn or deleted): post to the chat instead.
REPLY_TARGET_GONE = frozenset({230011, 231003})

log = logging.getLogger("rentian.feishu")


def client(settings: FeishuSettings) -> lark.Client:
    """The SDK's client for the app; it fetches and caches the tenant token itself."""
    return (
        lark.Client.builder().app_id(settings.app_id).app_secret(settings.app_secret)
        .domain(settings.domain.rstrip("/")).timeout(5)
        .build()
    )  # fmt: skip


def refusal(code: int, msg: str, status: int | None) -> PlatformRefused:
    retryable = code in RETRYABLE_CODES or (status or 0) >= 500
    return refused("feishu", code, msg, retryable=retryable)


class FeishuSender:
    """Sends outbox rows with the SDK's synchronous client, in a worker thread with a timeout
    (the SDK's async calls fetch the token synchronously on the loop)."""

    def __init__(self, client: lark.Client) -> None:
        self.client = client

    async def send(self, message: Outgoing) -> None:
        await in_thread("feishu", self._send, message, SEND_TIMEOUT_SECONDS)

    def _send(self, message: Outgoing) -> None:
        if message.reply_to:
            try:
                self._call(self._reply_request(message), self.client.im.v1.message.reply)
                return
            except PlatformRefused as error:
                if (
                    int(error.code or 0) not in REPLY_TARGET_GONE
                    or message.recipient_type != "chat"
                ):
                    raise
                log.info("feishu: message %s is gone; posting to the chat", message.reply_to)
        self._call(self._create_request(message), self.client.im.v1.message.create)

    @staticmethod
    def _create_request(message: Outgoing) -> CreateMessageRequest:
        msg_type, content = render(message)
        id_type = "chat_id" if message.recipient_type == "chat" else "open_id"
        body = (
            CreateMessageRequestBody.builder().receive_id(message.address).msg_type(msg_type)
            .content(content).uuid(send_uuid(message.dedupe_key)).build()
        )  # fmt: skip
        return CreateMessageRequest.builder().receive_id_type(id_type).request_body(body).build()

    @staticmethod
    def _reply_request(message: Outgoing) -> ReplyMessageRequest:
        msg_type, content = render(message)
        body = (
            ReplyMessageRequestBody.builder().msg_type(msg_type).content(content)
            .uuid(send_uuid(message.dedupe_key)).build()
        )  # fmt: skip
        return ReplyMessageRequest.builder().message_id(message.reply_to).request_body(body).build()

    @staticmethod
    def _call(request: Any, method: Callable[[Any], Any]) -> None:
        try:
            response = method(request)
        except Exception as error:  # requests' connection errors, a non-JSON answer
            raise unreachable("feishu", error) from error
        if response.code is None:
            raise NetworkError("feishu: unreadable answer")
        if response.code != 0:
            status = response.raw.status_code if response.raw else None
            raise refusal(int(response.code), str(response.msg or ""), status)
