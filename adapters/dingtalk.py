"""The DingTalk (钉钉) channel: robot messages in (stream, or the signed HTTP callback), out
through the robot APIs.

HTTP mode (`mode = "http"` only; stream mode installs no route): `POST /webhooks/dingtalk`
takes the robot's callback (a `ChatbotMessage` JSON). The headers `timestamp` (ms) and `sign`
= base64(HMAC-SHA256(key=client_secret, msg=f"{timestamp}\\n{client_secret}")) are checked
in constant time and the timestamp must be within `http_window_seconds` of now, either way.
The signature does not cover the body, so a captured pair could carry any body: each pair is
accepted once, remembered in the intake dedupe table (channel `dingtalk-sign`) that every
instance shares. Forged, stale or replayed -> 401, malformed -> 400; nothing changes. What
arrives this way is `Assurance.REPLAYABLE` (no signing) unless `http_allow_signing`.
The bus dedupes on `msgId`. A group's chat id is its `conversationId` (an open conversation
id, "cid..."); a direct chat's chat id is the sender's staff id. The session webhook and its
expiry are kept in `Inbound.raw` (they expire: every send below is proactive).

Outbound, with our own `httpx.AsyncClient` and timeouts (the SDK's calls are blocking
`requests` without timeouts): an access token from `/v1.0/oauth2/accessToken`, cached until
shortly before it expires; a chat ("cid...") through `/v1.0/robot/groupMessages/send`; a
person, or a direct chat (a staff id), through `/v1.0/robot/oToMessages/batchSend`.
HTTP 429 and 5xx are retried later; other 4xx are refused for good, with DingTalk's message.

Stream mode (`mode = "stream"`, the default; `PLATFORM` assurance, as DingTalk authenticates
the connection we open with the app's credentials): the SDK's `DingTalkStreamClient` with our
`ChatbotHandler`, on its own event loop in a dedicated thread. We replace two parts of the
client: `open_connection` (the SDK reads DINGTALK_OPENAPI_ENDPOINT once at import and calls
`requests` with no timeout; ours posts to `api_base` with a timeout) and the connection loop
(the SDK's `start()` sleeps 10 s after a drop, swallows a cancel and never stops; ours
reconnects after `RECONNECT_SECONDS` and ends on `stop()`). Frames are still routed and acked
by the SDK. `process` hands the message to the main loop's `handle` and acks only after the
bus committed; a failure answers 500 so DingTalk delivers it again (the bus dedupes).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import dingtalk_stream  # type: ignore[import-untyped]
import httpx
import requests
import websockets
from dingtalk_stream import AckMessage, CallbackMessage, ChatbotHandler, ChatbotMessage
from fastapi import FastAPI, Request, Response

from bot import clock
from bot.assurance import Assurance
from bot.errors import NetworkError, PlatformRefused
from bot.message import ChatType, Inbound, Mention, Outgoing
from storage.db import insert_ignore, make_engine, transaction
from storage.models import InboundKey

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.bus import Outcome
    from bot.channels import Handle
    from bot.dispatcher import Sender
    from config.settings import DingtalkSettings, Settings

CHANNEL = "dingtalk"
PATH = "/webhooks/dingtalk"
SPENT_CHANNEL = "dingtalk-sign"  # `inbound_key.channel` of the HTTP signatures already accepted
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
TOKEN_PATH = "/v1.0/oauth2/accessToken"
GROUP_PATH = "/v1.0/robot/groupMessages/send"
DIRECT_PATH = "/v1.0/robot/oToMessages/batchSend"
TOKEN_MARGIN_SECONDS = 300  # refresh the token five minutes before DingTalk would refuse it
GROUP_PREFIX = "cid"  # open conversation ids of group chats start with it
DIRECT, GROUP = "1", "2"  # conversationType

GATEWAY_PATH = "/v1.0/gateway/connections/open"
RECONNECT_SECONDS = 2.0
STOP_SECONDS = 5.0

log = logging.getLogger("rentian.dingtalk")
sdk_log = logging.getLogger("rentian.dingtalk.sdk")  # the SDK warns on every SYSTEM ping
sdk_log.setLevel(logging.ERROR)


# -- inbound: pure ---------------------------------------------------------------------


def sign(timestamp: str, secret: str) -> str:
    """DingTalk's signature of a callback (and of custom robot webhooks)."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def verify(timestamp: str, signature: str, secret: str, now: datetime, window: timedelta) -> str:
    """Why the callback is refused ("missing", "forged", "stale"); empty if it is fine."""
    if not timestamp or not signature:
        return "missing"
    if not hmac.compare_digest(sign(timestamp, secret).encode(), signature.encode()):
        return "forged"
    try:
        sent = datetime.fromtimestamp(int(timestamp) / 1000, tz=now.tzinfo)
    except (ValueError, OverflowError, OSError):
        return "stale"
    return "" if abs(now - sent) <= window else "stale"


def parse(
    payload: Any, *, now: datetime, assurance: Assurance = Assurance.PLATFORM
) -> Inbound | None:
    """A robot callback (`ChatbotMessage` JSON) as an `Inbound`; None unless it is a text.
    `assurance`: how far the way it came proves the sender (see the module doc)."""
    if not isinstance(payload, dict):
        return None
    try:
        message = ChatbotMessage.from_dict(payload)
    except Exception as error:  # wrong shapes inside (text, atUsers, expiry)
        log.warning("dingtalk callback: unreadable message: %s", error)
        return None
    if message.message_type != "text" or message.text is None or not message.message_id:
        return None
    sender = str(message.sender_staff_id or message.sender_id or "")
    conversation = str(message.conversation_id or "")
    if not sender or not conversation:
        return None
    group = str(message.conversation_type) == GROUP
    mentions = tuple(_mention(user, message.chatbot_user_id) for user in message.at_users or [])
    msg_id = str(message.message_id)
    alt = str(message.sender_id or "")
    return Inbound(
        channel=CHANNEL, chat_id=conversation if group else sender,
        chat_type=ChatType.GROUP if group else ChatType.DIRECT, sender_id=sender,
        sender_name=str(message.sender_nick or ""),
        sender_alt_ids=(alt,) if alt and alt != sender else (),
        text=strip_bot_mention(str(message.text.content or ""), only_bot=_only_bot(mentions)),
        event_id=msg_id, message_id=msg_id, received_at=now, mentions=mentions, assurance=assurance,
        raw={"conversation_id": conversation, "robot_code": message.robot_code or "",
             "session_webhook": message.session_webhook or "",
             "session_webhook_expired_time": message.session_webhook_expired_time or 0},
    )  # fmt: skip


def _mention(user: Any, bot_id: str | None) -> Mention:
    external = str(user.staff_id or user.dingtalk_id or "")
    return Mention(external_id=external, is_bot=bool(bot_id) and user.dingtalk_id == bot_id)


def _only_bot(mentions: tuple[Mention, ...]) -> bool:
    return bool(mentions) and all(m.is_bot for m in mentions)


def strip_bot_mention(text: str, *, only_bot: bool) -> str:
    """The text without a leading @robot (DingTalk usually strips it; some clients don't).
    Only when the robot is the one person mentioned: a leading `@name` is then the robot."""
    text = text.strip()
    if only_bot and text.startswith("@"):
        _, _, rest = text.partition(" ")
        return rest.strip()
    return text


# -- outbound: pure --------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One DingTalk API call: path and JSON body."""

    path: str
    body: dict[str, Any]


# Rows that ask someone to decide get an ActionCard; a button opens DingTalk's
# `dtmd://dingtalkclient/sendMessage` link, which posts the command into the conversation as
# the person who clicked, so it runs with their permissions like any typed command.
# (label zh, label en, command zh, command en)
_REJECT = ("驳回", "Reject", "/驳回 {ref} 卡片驳回", "/reject {ref} rejected from the card")
BUTTONS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "cr.estimated": (("签署", "Sign", "/签署 {ref}", "/sign {ref}"), _REJECT),
    "delivery.submitted": (("验收", "Accept", "/验收 {ref}", "/accept {ref}"), _REJECT),
    "sla.breach": (("响应", "Acknowledge", "/响应 {ref}", "/ack {ref}"),),
}
CARD_TITLES = {
    "cr.estimated": ("变更单待签署", "Change request to sign"),
    "delivery.submitted": ("交付物待验收", "Deliverable to accept"),
    "sla.breach": ("SLA 超时", "SLA breach"),
}
SEND_MESSAGE_LINK = "dtmd://dingtalkclient/sendMessage?content="


def render(message: Outgoing, robot_code: str) -> Call:
    """The robot API call that delivers an outbox row: an ActionCard for a decision, text
    otherwise."""
    if message.kind in BUTTONS and message.ref:
        key, param = render_card(message)
    else:
        key, param = "sampleText", {"content": message.text}
    body = {"robotCode": robot_code, "msgKey": key,
            "msgParam": json.dumps(param, ensure_ascii=False)}  # fmt: skip
    if message.recipient_type == "chat" and message.address.startswith(GROUP_PREFIX):
        return Call(GROUP_PATH, {**body, "openConversationId": message.address})
    return Call(DIRECT_PATH, {**body, "userIds": [message.address]})


def render_card(message: Outgoing) -> tuple[str, dict[str, Any]]:
    """(msgKey, msgParam) of the ActionCard for a decision: one button per possible answer."""
    en = message.locale == "en"
    title = f"{CARD_TITLES[message.kind][en]} {message.ref}"
    buttons = [(en_label if en else zh_label, (en_cmd if en else zh_cmd).format(ref=message.ref))
               for zh_label, en_label, zh_cmd, en_cmd in BUTTONS[message.kind]]  # fmt: skip
    param: dict[str, Any] = {"title": title, "text": f"### {title}\n\n{message.text}"}
    if len(buttons) == 1:
        ((label, command),) = buttons
        return "sampleActionCard", {**param, "singleTitle": label,
                                    "singleURL": command_link(command)}  # fmt: skip
    for number, (label, command) in enumerate(buttons, start=1):
        param[f"actionTitle{number}"] = label
        param[f"actionURL{number}"] = command_link(command)
    return f"sampleActionCard{len(buttons)}", param


def command_link(command: str) -> str:
    """The link that makes the DingTalk client send `command` as the person who clicks."""
    return SEND_MESSAGE_LINK + quote(command, safe="")


def refusal(status: int, answer: Any) -> PlatformRefused:
    """DingTalk's error answer (`{"code", "message"}`) as a refusal; 429 and 5xx retryable."""
    code = str(answer.get("code", status)) if isinstance(answer, dict) else str(status)
    text = str(answer.get("message", "")) if isinstance(answer, dict) else str(answer)[:200]
    return PlatformRefused(f"dingtalk HTTP {status} {code}: {text}",
                           retryable=status == 429 or status >= 500, code=code)  # fmt: skip


# -- outbound: the client ----------------------------------------------------------------


class DingtalkSender:
    """Sends outbox rows through DingTalk's robot APIs (async, with timeouts)."""

    def __init__(self, settings: DingtalkSettings) -> None:
        self.settings = settings
        self.base = settings.api_base.rstrip("/")
        self._token = ""
        self._token_until = 0.0

    async def send(self, message: Outgoing) -> None:
        call = render(message, self.settings.robot_code)
        try:
            async with httpx.AsyncClient(base_url=self.base, timeout=HTTP_TIMEOUT) as http:
                token = await self._access_token(http)
                response = await http.post(call.path, json=call.body,
                                           headers={"x-acs-dingtalk-access-token": token})  # fmt: skip
        except httpx.HTTPError as error:
            raise NetworkError(f"dingtalk: {type(error).__name__}: {error}") from error
        if response.status_code == 401:
            self._token = ""  # a revoked token: fetch another on the retry
        if response.status_code >= 400:
            raise refusal(response.status_code, _json(response))

    async def _access_token(self, http: httpx.AsyncClient) -> str:
        if self._token and time.monotonic() < self._token_until:
            return self._token
        body = {"appKey": self.settings.client_id, "appSecret": self.settings.client_secret}
        response = await http.post(TOKEN_PATH, json=body)
        answer = _json(response)
        if response.status_code >= 400 or not isinstance(answer, dict):
            raise refusal(response.status_code, answer)
        token = str(answer.get("accessToken") or "")
        if not token:
            raise refusal(response.status_code, answer)
        expires = int(answer.get("expireIn") or 0)
        self._token = token
        self._token_until = time.monotonic() + max(expires - TOKEN_MARGIN_SECONDS, 0)
        return token


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


# -- inbound: the callback ---------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a callback (JSON)."""

    status: int
    body: dict[str, Any]


class SpentSignatures:
    """The `timestamp`/`sign` pairs already accepted, kept in the intake dedupe table: durable,
    shared by every instance on the database, and pruned (`intake.prune`, 30 days) long after
    the last moment a pair could pass `verify` (its timestamp plus the window, at most an hour).

    The one place an adapter writes to storage: adapters are given settings, not the runtime's
    engine, so this opens its own on the same database (`stop()` closes it)."""

    def __init__(self, db: str) -> None:
        self.engine: Engine = make_engine(db)

    def spend(self, timestamp: str, signature: str) -> bool:
        """True the first time this pair is seen (written and committed at once)."""
        with transaction(self.engine) as session:
            return insert_ignore(session, InboundKey, channel=SPENT_CHANNEL,
                                 key=f"{timestamp}:{signature}", received_at=clock.now())  # fmt: skip

    def close(self) -> None:
        self.engine.dispose()


class CallbackReceiver:
    """Checks the signature, freshness and novelty of a callback, then hands it to the bus."""

    def __init__(self, settings: DingtalkSettings, spent: SpentSignatures) -> None:
        self.secret = settings.client_secret
        self.window = timedelta(seconds=settings.http_window_seconds)
        self.spent = spent
        # The signature proves the pair came from DingTalk, not that this body did.
        self.assurance = Assurance.PLATFORM if settings.http_allow_signing else Assurance.REPLAYABLE

    async def receive(self, headers: dict[str, str], body: bytes, handle: Handle) -> Answer:
        timestamp, signature = headers.get("timestamp", ""), headers.get("sign", "")
        problem = verify(timestamp, signature, self.secret, clock.now(), self.window)
        if problem:
            log.warning("dingtalk callback refused: %s signature", problem)
            return Answer(400 if problem == "missing" else 401, {"error": problem})
        try:
            payload = json.loads(body)
        except ValueError as error:
            log.warning("dingtalk callback: malformed body: %s", error)
            return Answer(400, {"error": "malformed"})
        if not isinstance(payload, dict):
            return Answer(400, {"error": "malformed"})
        # Spent before the bus runs, in a transaction of its own: a replay racing the genuine
        # callback (or reaching another instance) waits on the unique key and is refused.
        if not await asyncio.to_thread(self.spent.spend, timestamp, signature):
            log.warning("dingtalk callback refused: replayed signature (timestamp %s)", timestamp)
            return Answer(401, {"error": "replayed"})
        inbound = parse(payload, now=clock.now(), assurance=self.assurance)
        if inbound is not None:
            outcome = await handle(inbound)
            if outcome.duplicate:
                log.info("dingtalk callback: message %s already handled", inbound.event_id)
        return Answer(200, {})


# -- inbound: stream mode ------------------------------------------------------------------


class RobotHandler(ChatbotHandler):  # type: ignore[misc]
    """Robot messages from the stream: to the bus on the main loop; ack once committed."""

    def __init__(self, handle: Handle, main: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.logger = sdk_log
        self.handle = handle
        self.main = main

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        inbound = parse(callback.data, now=clock.now())
        if inbound is None:
            return AckMessage.STATUS_OK, "ignored"
        try:
            future = asyncio.run_coroutine_threadsafe(self._handle(inbound), self.main)
            outcome: Outcome = await asyncio.wrap_future(future)
        except Exception:
            log.exception("dingtalk stream: message %s not handled", inbound.event_id)
            return AckMessage.STATUS_SYSTEM_EXCEPTION, "not handled"
        if outcome.duplicate:
            log.info("dingtalk stream: message %s already handled", inbound.event_id)
        return AckMessage.STATUS_OK, "OK"

    async def _handle(self, inbound: Inbound) -> Outcome:
        """The bus, on the main loop (a coroutine, as `run_coroutine_threadsafe` wants)."""
        return await self.handle(inbound)


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

    def __init__(self, settings: DingtalkSettings, handle: Handle,
                 main: asyncio.AbstractEventLoop) -> None:  # fmt: skip
        self.client = StreamClient(settings)
        self.client.register_callback_handler(ChatbotMessage.TOPIC, RobotHandler(handle, main))
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
            _cancel_all(self.loop)
            self.loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


# -- the adapter -------------------------------------------------------------------------


class DingtalkAdapter:
    """The channel as the framework sees it (`bot.channels.ChannelAdapter`)."""

    name = CHANNEL

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.dingtalk
        self.db = settings.db
        self.spent: SpentSignatures | None = None
        self.stream: StreamRunner | None = None

    def sender(self) -> Sender:
        return DingtalkSender(self.settings)

    def install(self, app: FastAPI, handle: Handle) -> None:
        """In HTTP mode, the callback route; stream mode has none (nothing to forge there)."""
        if self.settings.mode != "http":
            return
        if self.spent is None:
            self.spent = SpentSignatures(self.db)
        receiver = CallbackReceiver(self.settings, self.spent)

        @app.post(PATH)
        async def dingtalk_callback(request: Request) -> Response:
            headers = {k.lower(): v for k, v in request.headers.items()}
            answer = await receiver.receive(headers, await request.body(), handle)
            return Response(json.dumps(answer.body), status_code=answer.status,
                            media_type="application/json")  # fmt: skip

    async def start(self, handle: Handle) -> None:
        """In stream mode, connect to DingTalk's stream gateway (in a thread of its own)."""
        if self.settings.mode == "stream" and self.stream is None:
            self.stream = StreamRunner(self.settings, handle, asyncio.get_running_loop())
            self.stream.start()

    async def stop(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            await asyncio.to_thread(stream.stop)
        if self.spent is not None:
            self.spent.close()  # its connections only: a later callback opens new ones


def create(settings: Settings) -> DingtalkAdapter:
    return DingtalkAdapter(settings)
