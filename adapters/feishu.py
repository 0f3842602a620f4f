"""The Feishu / Lark channel: signed, encrypted callbacks or the long connection in, messages
and interactive cards out.

Inbound: `POST /webhooks/feishu` goes through the SDK's `EventDispatcherHandler` (decryption,
token, signature, the URL-verification challenge), then through what the SDK lacks: a
5-minute timestamp window and a dedupe on `header.event_id` (the bus's intake key). Card
button clicks run the command the button carries, as the person who clicked. In `longconn`
mode the same events arrive over the SDK's websocket client, run in a thread of its own.
Outbound: replies to the originating message, or a new message to a chat or a person, with
the outbox row's key as Feishu's `uuid` so a resend is dropped by Feishu.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import lark_oapi as lark
from fastapi import FastAPI, Request, Response
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    P2ImMessageReceiveV1,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)
from lark_oapi.core.model import RawRequest
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)

from bot import clock
from bot.errors import NetworkError, PlatformRefused
from bot.lexer import normalise
from bot.message import ChatType, Inbound, Mention, Outgoing
from bot.redact import redact

if TYPE_CHECKING:
    from bot.channels import Handle
    from bot.dispatcher import Sender
    from config.settings import FeishuSettings, Settings

CHANNEL = "feishu"
MAX_CLOCK_SKEW = timedelta(minutes=5)
SEND_TIMEOUT_SECONDS = 10.0
HANDLE_TIMEOUT_SECONDS = 30.0  # for the bus, from the SDK's threads; then Feishu redelivers
STOP_TIMEOUT_SECONDS = 5.0
UUID_MAX_LENGTH = 50  # Feishu's limit on the dedupe `uuid` of a send
# Codes worth another try later: rate limits and Feishu's own internal errors.
RETRYABLE_CODES = frozenset({99991400, 230020, 1000004, 1000005, 99991401})
# The message to reply to is gone (withdrawn or deleted): post to the chat instead.
REPLY_TARGET_GONE = frozenset({230011, 231003})

log = logging.getLogger("rentian.feishu")
_MENTION_KEY = re.compile(r"@_user_\d+")


# -- inbound: pure ---------------------------------------------------------------------


def parse(payload: dict[str, Any], *, now: datetime, bot_names: frozenset[str]) -> Inbound | None:
    """A verified `im.message.receive_v1` event (schema 2.0) as an `Inbound`; None when it is
    not a person's text or rich-text message."""
    header, event = payload.get("header") or {}, payload.get("event") or {}
    message, sender = event.get("message") or {}, event.get("sender") or {}
    ids = sender.get("sender_id") or {}
    if sender.get("sender_type", "user") != "user" or not ids.get("open_id"):
        return None  # other bots and the app itself
    mentions = {m.get("key", ""): _mention(m, bot_names) for m in message.get("mentions") or []}
    text = message_text(message.get("message_type", ""), message.get("content", ""), mentions)
    event_id = header.get("event_id") or message.get("message_id")
    if text is None or not event_id or not message.get("chat_id"):
        return None
    chat_type = ChatType.DIRECT if message.get("chat_type") == "p2p" else ChatType.GROUP
    alt_ids = tuple(ids[k] for k in ("user_id", "union_id") if ids.get(k))
    return Inbound(
        channel=CHANNEL, chat_id=message["chat_id"], chat_type=chat_type,
        sender_id=ids["open_id"], sender_alt_ids=alt_ids, text=text, event_id=event_id,
        received_at=now, mentions=tuple(mentions.values()),
        message_id=message.get("message_id", ""), reply_to=message.get("parent_id") or "",
        raw=payload,
    )  # fmt: skip


def message_text(message_type: str, content: str, mentions: dict[str, Mention]) -> str | None:
    """The words of a `text` or `post` message, with `@_user_n` keys as `@name` tokens."""
    try:
        body = json.loads(content) if content else {}
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if message_type == "text":
        raw = str(body.get("text", ""))
    elif message_type == "post":
        raw = _post_text(body, mentions)
    else:
        return None
    return _MENTION_KEY.sub(lambda m: _token(mentions.get(m.group(0)), m.group(0)), raw).strip()


def _post_text(body: dict[str, Any], mentions: dict[str, Mention]) -> str:
    """Rich text as plain lines; the title only when the body says nothing (a title before a
    command would hide the command)."""
    if "content" not in body and len(body) == 1:  # {"zh_cn": {...}}: one language wrapped
        body = next(iter(body.values())) or {}
    lines = []
    for paragraph in body.get("content") or []:
        lines.append("".join(_post_element(e, mentions) for e in paragraph or []))
    text = "\n".join(line for line in lines if line.strip())
    return text or str(body.get("title") or "")


def _post_element(element: dict[str, Any], mentions: dict[str, Mention]) -> str:
    tag = element.get("tag")
    if tag in ("text", "a"):
        return str(element.get("text", ""))
    if tag == "at":
        key = str(element.get("user_id", ""))
        found = mentions.get(key)
        return _token(found, key) if found else f"@{_compact(element.get('user_name') or key)}"
    return ""  # images, media, emoji: nothing a command reads


def _mention(raw: dict[str, Any], bot_names: frozenset[str]) -> Mention:
    ids = raw.get("id") or {}
    name = _compact(raw.get("name") or "")
    external_id = ids.get("open_id") or ids.get("user_id") or name
    return Mention(external_id=external_id, name=name or external_id,
                   is_bot=bool(name) and normalise(name).lower() in bot_names)  # fmt: skip


def _token(mention: Mention | None, fallback: str) -> str:
    return f"@{mention.name}" if mention else fallback


def _compact(name: str) -> str:
    """A display name as one token: `@John Smith` would otherwise end at the space."""
    return "".join(str(name).split())


def parse_card_action(payload: dict[str, Any], *, now: datetime) -> Inbound | None:
    """A button click (`card.action.trigger`) as the command its value carries, said by the
    person who clicked, in the chat where the card is."""
    event = payload.get("event") or {}
    operator, context = event.get("operator") or {}, event.get("context") or {}
    value = (event.get("action") or {}).get("value") or {}
    command, chat_id = value.get("command"), context.get("open_chat_id")
    open_id = operator.get("open_id")
    if not isinstance(command, str) or not command or not chat_id or not open_id:
        return None
    message_id = context.get("open_message_id") or ""
    event_id = (payload.get("header") or {}).get("event_id")
    event_id = event_id or f"card:{message_id}:{open_id}:{command}"
    chat_type = ChatType.DIRECT if value.get("chat_type") == "direct" else ChatType.GROUP
    alt_ids = tuple(operator[k] for k in ("user_id", "union_id") if operator.get(k))
    return Inbound(
        channel=CHANNEL, chat_id=chat_id, chat_type=chat_type, sender_id=open_id,
        sender_alt_ids=alt_ids, text=command, event_id=event_id, received_at=now,
        message_id=message_id, raw=payload,
    )  # fmt: skip


# -- outbound: pure --------------------------------------------------------------------


# Rows that ask someone to decide get buttons; each button carries the command it runs.
# (label zh, label en, command zh, command en, button style)
_REJECT = (
    "驳回",
    "Reject",
    "/驳回 {ref} 卡片驳回",
    "/reject {ref} rejected from the card",
    "danger",
)
_BUTTONS: dict[str, tuple[tuple[str, str, str, str, str], ...]] = {
    "cr.estimated": (("签署", "Sign", "/签署 {ref}", "/sign {ref}", "primary"), _REJECT),
    "delivery.submitted": (("验收", "Accept", "/验收 {ref}", "/accept {ref}", "primary"), _REJECT),
    "sla.breach": (("响应", "Acknowledge", "/响应 {ref}", "/ack {ref}", "primary"),),
}
_CARD_TITLES = {
    "cr.estimated": ("变更单待签署", "Change request to sign"),
    "delivery.submitted": ("交付物待验收", "Deliverable to accept"),
    "sla.breach": ("SLA 超时", "SLA breach"),
}


def render(message: Outgoing) -> tuple[str, str]:
    """(msg_type, content) of the Feishu message for an outbox row: an interactive card with
    buttons for rows that ask for a decision, plain text otherwise."""
    if message.kind in _BUTTONS and message.ref:
        return "interactive", json.dumps(render_card(message), ensure_ascii=False)
    return "text", json.dumps({"text": message.text}, ensure_ascii=False)


def render_card(message: Outgoing) -> dict[str, Any]:
    """The card for a decision: the row's text and one button per possible answer."""
    en = message.locale == "en"
    title = f"{_CARD_TITLES[message.kind][en]} {message.ref}"
    chat_type = "group" if message.recipient_type == "chat" else "direct"
    buttons = [
        {
            "tag": "button", "type": style,
            "text": {"tag": "plain_text", "content": en_label if en else zh_label},
            "value": {"command": (en_cmd if en else zh_cmd).format(ref=message.ref),
                      "chat_type": chat_type, "title": title, "text": message.text},
        }
        for zh_label, en_label, zh_cmd, en_cmd, style in _BUTTONS[message.kind]
    ]  # fmt: skip
    return _card(title, [message.text], buttons)


def answer_card(value: dict[str, Any], operator: str, replies: list[str]) -> dict[str, Any]:
    """The card after a click: what it said, then who clicked and the bot's answer."""
    said = [f"<at id={operator}></at>: {reply}" for reply in replies]
    return _card(str(value.get("title", "")), [str(value.get("text", "")), *said], [])


def _card(title: str, paragraphs: list[str], buttons: list[dict[str, Any]]) -> dict[str, Any]:
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "lark_md", "content": p}} for p in paragraphs if p
    ]
    if buttons:
        elements.append({"tag": "action", "actions": buttons})
    return {
        "config": {"wide_screen_mode": True, "update_multi": True},
        "header": {"title": {"tag": "plain_text", "content": title}, "template": "blue"},
        "elements": elements,
    }


def send_uuid(dedupe_key: str) -> str:
    """Feishu's dedupe `uuid`: the outbox key, hashed when longer than Feishu allows."""
    if len(dedupe_key) <= UUID_MAX_LENGTH:
        return dedupe_key
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:UUID_MAX_LENGTH]


def refusal(code: int, msg: str, status: int | None) -> PlatformRefused:
    retryable = code in RETRYABLE_CODES or (status or 0) >= 500
    return PlatformRefused(f"feishu {code}: {msg}", retryable=retryable, code=str(code))


# -- outbound: the client ----------------------------------------------------------------


class FeishuSender:
    """Sends outbox rows with the SDK's synchronous client, in a worker thread with a timeout
    (the SDK's async calls fetch the token synchronously on the loop)."""

    def __init__(self, client: lark.Client) -> None:
        self.client = client

    async def send(self, message: Outgoing) -> None:
        try:
            await asyncio.wait_for(asyncio.to_thread(self._send, message), SEND_TIMEOUT_SECONDS)
        except TimeoutError as error:
            raise NetworkError(f"feishu: no answer in {SEND_TIMEOUT_SECONDS:.0f} s") from error

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
            raise NetworkError(redact(f"feishu: {type(error).__name__}: {error}")) from error
        if response.code is None:
            raise NetworkError("feishu: unreadable answer")
        if response.code != 0:
            status = response.raw.status_code if response.raw else None
            raise refusal(int(response.code), str(response.msg or ""), status)


# -- inbound: the webhook --------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a callback."""

    status: int
    body: bytes


class WebhookReceiver:
    """Verifies a callback with the SDK, then checks freshness and hands the message on."""

    def __init__(self, settings: FeishuSettings, bot_names: frozenset[str]) -> None:
        self.settings = settings
        self.bot_names = bot_names

    async def receive(self, headers: dict[str, str], body: bytes, handle: Handle) -> Answer:
        try:
            if not isinstance(json.loads(body), dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            log.warning("feishu callback: malformed body: %s", error)
            return _answer(400, "malformed body")
        headers = {_title_case(name): value for name, value in headers.items()}
        if not self._fresh(headers.get("X-Lark-Request-Timestamp")):
            log.warning("feishu callback: stale timestamp; rejected")
            return _answer(401, "stale timestamp")
        events: list[P2ImMessageReceiveV1] = []
        failures: list[Exception] = []
        main = asyncio.get_running_loop()

        def on_click(trigger: P2CardActionTrigger) -> P2CardActionTriggerResponse:
            try:
                return self._card_action(trigger, handle, main)
            except Exception as error:  # ours, not a rejection: answer 500 so Feishu retries
                log.exception("feishu card action failed")
                failures.append(error)
                raise

        response = await asyncio.to_thread(self._verify, headers, body, events, on_click)
        if failures:
            return _answer(500, "internal error")
        if response.status_code != 200:
            return _rejected(response.content or b"")
        if not events:  # the challenge, a card click answered in `on_click`, or ignored
            return Answer(200, response.content or b"{}")
        payload = json.loads(lark.JSON.marshal(events[0]) or "{}")
        inbound = parse(payload, now=clock.now(), bot_names=self.bot_names)
        if inbound is not None:
            outcome = await handle(inbound)
            if outcome.duplicate:
                log.info("feishu callback: event %s already handled", inbound.event_id)
        return _answer(200, "success")

    def _verify(
        self,
        headers: dict[str, str],
        body: bytes,
        events: list[P2ImMessageReceiveV1],
        on_click: Callable[[P2CardActionTrigger], P2CardActionTriggerResponse],
    ) -> lark.RawResponse:
        """Run the SDK's checks (synchronous); a verified message event lands in `events`, a
        verified card click runs `on_click` (whose answer is the HTTP answer)."""
        handler = (
            lark.EventDispatcherHandler.builder(
                self.settings.encrypt_key, self.settings.verification_token
            )
            .register_p2_im_message_receive_v1(events.append)
            .register_p2_card_action_trigger(on_click)
            .build()
        )
        request = RawRequest()
        request.uri, request.headers, request.body = "/webhooks/feishu", headers, body
        return handler.do(request)

    def _card_action(
        self, trigger: P2CardActionTrigger, handle: Handle, main: asyncio.AbstractEventLoop
    ) -> P2CardActionTriggerResponse:
        """In the SDK's thread: run the button's command as the person who clicked, on the main
        loop, and answer with the card updated to say who did it or why it was refused."""
        payload = json.loads(lark.JSON.marshal(trigger) or "{}")
        inbound = parse_card_action(payload, now=clock.now())
        if inbound is None:
            return P2CardActionTriggerResponse({"toast": {"type": "error", "content": "?"}})
        outcome = asyncio.run_coroutine_threadsafe(handle(inbound), main).result(
            HANDLE_TIMEOUT_SECONDS
        )
        if outcome.duplicate:
            return P2CardActionTriggerResponse({"toast": {"type": "info", "content": "OK"}})
        refused = any(reply.kind.startswith("error.") for reply in outcome.replies)
        texts = [reply.text for reply in outcome.replies]
        value = payload["event"]["action"]["value"]
        return P2CardActionTriggerResponse({
            "toast": {"type": "error" if refused else "success", "content": texts[0] if texts else "OK"},
            "card": {"type": "raw", "data": answer_card(value, inbound.sender_id, texts)},
        })  # fmt: skip

    def _fresh(self, timestamp: str | None) -> bool:
        if not self.settings.encrypt_key or timestamp is None:
            return True  # unsigned mode proves nothing; a missing header fails the signature
        try:
            sent = datetime.fromtimestamp(int(timestamp), tz=clock.now().tzinfo)
        except (ValueError, OverflowError, OSError):
            return False
        return abs(clock.now() - sent) <= MAX_CLOCK_SKEW


def _title_case(name: str) -> str:
    """`x-lark-signature` -> `X-Lark-Signature`: the SDK looks headers up case-sensitively."""
    return "-".join(part.capitalize() for part in name.split("-"))


def _rejected(content: bytes) -> Answer:
    """The SDK answers every failure with 500: say which 4xx it was."""
    try:
        reason = str(json.loads(content).get("msg", ""))
    except (ValueError, AttributeError):
        reason = content.decode(errors="replace")
    if "processor not found" in reason:
        return _answer(200, "ignored")  # authentic, but an event type we do not subscribe to
    forged = any(word in reason.lower() for word in _NOT_AUTHENTIC)
    log.warning("feishu callback rejected: %s", reason)
    return _answer(401, "unauthorized") if forged else _answer(400, "bad request")


# What the SDK's failures say when the sender is not Feishu with our keys: a bad signature or
# token, missing signature headers (a TypeError on None), or a body our key cannot decrypt.
_NOT_AUTHENTIC = ("signature", "token", "encrypt", "nonetype", "padding", "ciphertext", "codec")


def _answer(status: int, msg: str) -> Answer:
    return Answer(status, json.dumps({"msg": msg}).encode())


class _DropHandledRejections(logging.Filter):
    """The SDK logs every rejected callback with a traceback; we log one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("handle event failed")


def _tame_sdk_logger() -> None:
    """The SDK prints to stdout with a handler of its own: send its records through ours."""
    from lark_oapi.core.log import handler as sdk_stdout

    sdk = logging.getLogger("Lark")
    sdk.removeHandler(sdk_stdout)
    if not any(isinstance(f, _DropHandledRejections) for f in sdk.filters):
        sdk.addFilter(_DropHandledRejections())


# -- inbound: the long connection ---------------------------------------------------------


class LongConnection:
    """`lark.ws.Client` in a daemon thread with its own event loop (the SDK's `start()` blocks
    forever on a module-global loop and has no `stop()`). Each event runs through `handle` on
    the main loop; the SDK acks the frame when our callback returns, i.e. after the commit."""

    def __init__(self, settings: FeishuSettings, bot_names: frozenset[str]) -> None:
        self.settings = settings
        self.bot_names = bot_names
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._closing: asyncio.Future[None] | None = None

    async def start(self, handle: Handle) -> None:
        main = asyncio.get_running_loop()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(handle, main, ready), name="feishu-longconn", daemon=True
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

    def _run(self, handle: Handle, main: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        import lark_oapi.ws.client as sdk_ws

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # the SDK's cache schedules its cleanup on "the" loop
        import_loop, sdk_ws.loop = sdk_ws.loop, loop  # and its client runs on a module global
        self._loop = loop
        handler = (
            lark.EventDispatcherHandler.builder("", "")
            .register_p2_im_message_receive_v1(lambda event: self._deliver(event, handle, main))
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
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
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

    def _deliver(
        self, event: P2ImMessageReceiveV1, handle: Handle, main: asyncio.AbstractEventLoop
    ) -> None:
        """On the connection's thread: hand the event to the main loop and wait for the
        commit; an exception here makes the SDK answer 500, and Feishu delivers it again."""
        payload = json.loads(lark.JSON.marshal(event) or "{}")
        inbound = parse(payload, now=clock.now(), bot_names=self.bot_names)
        if inbound is None:
            return
        future = asyncio.run_coroutine_threadsafe(handle(inbound), main)
        future.result(timeout=HANDLE_TIMEOUT_SECONDS)


# -- the adapter -------------------------------------------------------------------------


class FeishuAdapter:
    """The channel as the framework sees it (`bot.channels.ChannelAdapter`)."""

    name = CHANNEL

    def __init__(self, settings: Settings) -> None:
        section = settings.feishu
        bot_names = frozenset(n.lower() for n in settings.bot.names)
        self.settings = section
        self.receiver = WebhookReceiver(section, bot_names)
        self.connection = LongConnection(section, bot_names) if section.mode == "longconn" else None
        self.client = (
            lark.Client.builder().app_id(section.app_id).app_secret(section.app_secret)
            .domain(section.domain.rstrip("/")).timeout(5)
            .build()
        )  # fmt: skip
        _tame_sdk_logger()

    def sender(self) -> Sender:
        return FeishuSender(self.client)

    def install(self, app: FastAPI, handle: Handle) -> None:
        receiver = self.receiver

        @app.post("/webhooks/feishu")
        async def feishu_webhook(request: Request) -> Response:
            answer = await receiver.receive(dict(request.headers), await request.body(), handle)
            return Response(answer.body, status_code=answer.status, media_type="application/json")

    async def start(self, handle: Handle) -> None:
        """Open the long connection in `longconn` mode; webhook mode has nothing to open."""
        if self.connection is not None:
            await self.connection.start(handle)

    async def stop(self) -> None:
        if self.connection is not None:
            await self.connection.stop()


def create(settings: Settings) -> FeishuAdapter:
    return FeishuAdapter(settings)
