"""The WeChat Work (企业微信) channel: the app's encrypted callback in, messages out.

Inbound: `GET /webhooks/wecom` answers WeCom's URL verification (the decrypted `echostr`);
`POST /webhooks/wecom` takes the encrypted XML of a message to the app. wechatpy's
`WeChatCrypto` checks the signature, decrypts and checks the corp id; we add a 5-minute
window on the signed `timestamp` and dedupe on `MsgId` (the bus's intake key). WeCom waits
5 s for an answer and retries otherwise, so the body is an empty 200 once the bus committed.
Text from a direct chat with the app has the user id as its chat id; text from an app group
chat (appchat) carries `ChatId`, the chat id. Without a `ChatId` it counts as direct.

Outbound, in a worker thread with a timeout (wechatpy's client is synchronous):
- a person: `message/send` from the app (`agent_id`) to their WeCom user id;
- a chat: `appchat/send` to the app group chat; a direct chat (the address is a user id, so
  WeCom answers 86003 "chatid not found") falls back to `message/send` to that user;
- a chat written as `webhook:KEY` in the engagement's `[[chats]]`: the group robot
  (`POST {api_base}/cgi-bin/webhook/send?key=KEY`). A group robot is send-only: messages in
  that group never reach the bot, so people there write to the app directly.
WeCom's errcodes become `PlatformRefused` with its errmsg; 45009 (rate limit) and -1 (system
busy) are retried later. wechatpy refreshes the token by itself on 40001/40014/42001.

Buttons: `cr.estimated`, `delivery.submitted` and `sla.breach` sent through `message/send` (to a
person, or in a direct chat) go as a `template_card` of type `button_interaction` when the text
fits a card (160 characters; longer ones stay plain text, nothing is cut). Each button's key is
a command (`/sign CR-1`, `/accept D-1`, `/ack T-3`); the click comes back as a signed
`template_card_event` and runs that command as the person who clicked, with their permissions,
answered in the direct chat. App group chats and group robots get plain text: WeCom offers no
interactive cards there. The card is not updated after the click (the bot's answer says what
happened).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
import xmltodict
from fastapi import FastAPI, Request, Response
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.client import WeChatClient
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException, WeChatClientException

from bot import clock
from bot.errors import NetworkError, PlatformRefused
from bot.message import ChatType, Inbound, Outgoing
from bot.redact import redact

if TYPE_CHECKING:
    from bot.channels import Handle
    from bot.dispatcher import Sender
    from config.settings import Settings, WecomSettings

CHANNEL = "wecom"
PATH = "/webhooks/wecom"
MAX_CLOCK_SKEW = timedelta(minutes=5)
SEND_TIMEOUT_SECONDS = 10.0
HTTP_TIMEOUT_SECONDS = 5.0
MAX_TOKEN_FETCHES = 2  # token fetches per send; then a refused token is a refusal
WEBHOOK_PREFIX = "webhook:"
RETRYABLE_CODES = frozenset({-1, 45009})  # system busy, API rate limit
CHAT_NOT_FOUND = frozenset({86001, 86003})  # not an appchat id: a direct chat's user id
CARD_TEXT_MAX = 160  # WeCom's advised length of a card's `sub_title_text`
CARD_TITLE_MAX = 36
CARD_EVENT = "template_card_event"
# The buttons of a card per outbox kind: (zh-CN label, English label, command with {ref}).
CARD_BUTTONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "cr.estimated": (("签署", "Sign", "/sign {ref}"),),
    "delivery.submitted": (("验收", "Accept", "/accept {ref}"),),
    "sla.breach": (("响应", "Acknowledge", "/ack {ref}"),),
}

log = logging.getLogger("rentian.wecom")


# -- inbound: pure ---------------------------------------------------------------------


def parse(xml: str, *, now: datetime) -> Inbound | None:
    """A decrypted callback message as an `Inbound`; None unless it is a person's text or a
    click on one of our card buttons."""
    try:
        message = parse_message(xml)
        fields: dict[str, Any] = dict(xmltodict.parse(xml).get("xml") or {})
    except Exception as error:  # malformed XML, missing MsgType
        log.warning("wecom callback: unreadable message: %s", error)
        return None
    if fields.get("MsgType") == "event":  # wechatpy 1.8 knows no template_card_event
        return _card_click(fields, now) if fields.get("Event") == CARD_EVENT else None
    if message is None or message.type != "text" or not fields.get("MsgId"):
        return None
    sender = str(fields.get("FromUserName") or "")
    if not sender:
        return None
    chat_id = str(fields.get("ChatId") or "")
    msg_id = str(fields["MsgId"])
    return Inbound(
        channel=CHANNEL, chat_id=chat_id or sender,
        chat_type=ChatType.GROUP if chat_id else ChatType.DIRECT,
        sender_id=sender, text=str(message.content or "").strip(), event_id=msg_id,
        message_id=msg_id, received_at=now,
        raw={"agent_id": str(fields.get("AgentID") or ""), "msg_id": msg_id, "xml": fields},
    )  # fmt: skip


def _card_click(fields: dict[str, Any], now: datetime) -> Inbound | None:
    """A button click: the button's key is the command, run by the clicking user in their
    direct chat; one effect per card, user and button however often WeCom delivers it."""
    sender, command = str(fields.get("FromUserName") or ""), str(fields.get("EventKey") or "")
    task = str(fields.get("TaskId") or "")
    if not sender or not command.startswith("/") or not task:
        return None
    digest = hashlib.sha256(f"{task}\n{sender}\n{command}".encode()).hexdigest()[:32]
    return Inbound(
        channel=CHANNEL, chat_id=sender, chat_type=ChatType.DIRECT, sender_id=sender,
        text=command, event_id=f"card-{digest}", received_at=now,
        raw={"agent_id": str(fields.get("AgentID") or ""), "task_id": task, "xml": fields},
    )  # fmt: skip


# -- outbound: pure --------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One WeCom API call: `kind` is "message", "appchat" or "webhook"; `to` its recipient."""

    kind: str
    to: str
    body: dict[str, Any]


def render(message: Outgoing, agent_id: int) -> Call:
    """The WeCom call that delivers an outbox row (text messages)."""
    text = {"msgtype": "text", "text": {"content": message.text}}
    if message.recipient_type == "person":
        return Call("message", message.address, {"touser": message.address, "agentid": agent_id,
                                                  **text, "safe": 0})  # fmt: skip
    if message.address.startswith(WEBHOOK_PREFIX):
        return Call("webhook", message.address.removeprefix(WEBHOOK_PREFIX), text)
    return Call("appchat", message.address, {"chatid": message.address, **text, "safe": 0})


def card(message: Outgoing, agent_id: int, user_id: str) -> dict[str, Any] | None:
    """The `message/send` body of a button card for this row; None when it has no buttons
    or its text does not fit a card."""
    buttons = CARD_BUTTONS.get(message.kind)
    # The audit chain's anchor line (🔗 …) goes into a field of its own, not the card's text.
    lines = message.text.strip().splitlines()
    anchors = [line.removeprefix("🔗").strip() for line in lines if line.startswith("🔗")]
    text = "\n".join(line for line in lines if not line.startswith("🔗"))
    if not buttons or not message.ref or len(text) > CARD_TEXT_MAX:
        return None
    english = message.locale == "en"
    title = text.splitlines()[0] if text else message.ref
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": _clip(title, CARD_TITLE_MAX)},
        "sub_title_text": text,
        "task_id": task_id(message),
        "button_list": [
            {"text": en if english else zh, "style": 1, "key": command.format(ref=message.ref)}
            for zh, en, command in buttons
        ],
    }
    if anchors:
        card["horizontal_content_list"] = [
            {"keyname": "Audit" if english else "审计链", "value": anchor} for anchor in anchors
        ]
    return {"touser": user_id, "agentid": agent_id, "msgtype": "template_card", "template_card": card}


def task_id(message: Outgoing) -> str:
    """A card's `task_id` (letters, digits, `_-@`, unique per app): from the outbox key."""
    return "rt_" + hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:40]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def refusal(code: int, msg: str) -> PlatformRefused:
    return PlatformRefused(f"wecom {code}: {msg}", retryable=code in RETRYABLE_CODES,
                           code=str(code))  # fmt: skip


# -- outbound: the client ----------------------------------------------------------------


class WecomClient(WeChatClient):  # type: ignore[misc]  # wechatpy has no type hints
    """wechatpy's client pointed at `api_base`, for the token as well (wechatpy hard-codes
    the public gettoken URL)."""

    def __init__(self, settings: WecomSettings) -> None:
        super().__init__(settings.corp_id, settings.secret, timeout=HTTP_TIMEOUT_SECONDS)
        self.api_base = settings.api_base.rstrip("/")
        self.API_BASE_URL = f"{self.api_base}/cgi-bin/"
        self._fetches = threading.local()

    def begin(self) -> None:
        """A new send on this thread: wechatpy retries a refused token without limit (it
        recurses), so `fetch_access_token` allows only `MAX_TOKEN_FETCHES` per send."""
        self._fetches.count = 0

    def fetch_access_token(self) -> dict[str, Any]:
        """`gettoken` at `api_base`, with a timeout (wechatpy's own call has none); the token
        is cached in the client's session until shortly before `expires_in`."""
        self._fetches.count = getattr(self._fetches, "count", 0) + 1
        if self._fetches.count > MAX_TOKEN_FETCHES:
            raise WeChatClientException(42001, "token refused again after a refresh", client=self)
        response = self._http.get(
            f"{self.api_base}/cgi-bin/gettoken",
            params={"corpid": self.corp_id, "corpsecret": self.secret},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        if int(result.get("errcode") or 0) != 0:
            raise WeChatClientException(result["errcode"], result.get("errmsg", ""), client=self)
        expires_in = int(result.get("expires_in") or 7200)
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result


class WecomSender:
    """Sends outbox rows through wechatpy (off the event loop, with a timeout)."""

    def __init__(self, client: WecomClient, agent_id: int) -> None:
        self.client = client
        self.agent_id = agent_id

    async def send(self, message: Outgoing) -> None:
        try:
            await asyncio.wait_for(asyncio.to_thread(self._send, message), SEND_TIMEOUT_SECONDS)
        except TimeoutError as error:
            raise NetworkError(f"wecom: no answer in {SEND_TIMEOUT_SECONDS:.0f} s") from error

    def _send(self, message: Outgoing) -> None:
        call = render(message, self.agent_id)
        if call.kind == "webhook":
            self._webhook(call)
            return
        if call.kind == "message":
            self._direct(call.to, message)
            return
        try:
            self._call(lambda: self.client.appchat.send_text(call.to, message.text))
        except PlatformRefused as error:
            if int(error.code or 0) not in CHAT_NOT_FOUND:
                raise
            log.info("wecom: %s is no app chat; sending to the user directly", call.to)
            self._direct(call.to, message)

    def _direct(self, user_id: str, message: Outgoing) -> None:
        """`message/send` to one user: a button card where the row has buttons, else text."""
        body = card(message, self.agent_id, user_id)
        if body is not None:
            self._call(lambda: self.client.post("message/send", data=body))
            return
        self._call(lambda: self.client.message.send_text(self.agent_id, [user_id], message.text))

    def _webhook(self, call: Call) -> None:
        url = f"{self.client.api_base}/cgi-bin/webhook/send"
        try:
            response = requests.post(url, params={"key": call.to}, json=call.body,
                                     timeout=HTTP_TIMEOUT_SECONDS)  # fmt: skip
            result = response.json()
        except (requests.RequestException, ValueError) as error:
            # the robot's key is in the URL
            raise NetworkError(redact(f"wecom webhook: {type(error).__name__}: {error}")) from error
        code = int(result.get("errcode", 0)) if isinstance(result, dict) else 0
        if code != 0:
            raise refusal(code, str(result.get("errmsg", "")))

    def _call(self, send: Any) -> None:
        self.client.begin()
        try:
            send()
        except WeChatClientException as error:
            if error.errcode is None:  # an HTTP error status: no errcode to read
                raise NetworkError(redact(f"wecom: HTTP error: {error}")) from error
            raise refusal(int(error.errcode), str(error.errmsg or "")) from error
        except (requests.RequestException, ValueError) as error:
            # requests names the URL, with `corpsecret` or `access_token` in its query
            raise NetworkError(redact(f"wecom: {type(error).__name__}: {error}")) from error


# -- inbound: the callback ---------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a callback (plain text)."""

    status: int
    body: str


class CallbackReceiver:
    """Verifies and decrypts callbacks with wechatpy, then checks freshness."""

    def __init__(self, settings: WecomSettings) -> None:
        self.crypto = WeChatCrypto(settings.token, settings.encoding_aes_key, settings.corp_id)

    def verify_url(self, query: dict[str, str]) -> Answer:
        """WeCom's URL check: the decrypted `echostr` proves we hold the keys."""
        try:
            echo = self.crypto.check_signature(
                query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"]
            )
        except KeyError:
            return Answer(400, "missing parameters")
        except (InvalidSignatureException, InvalidCorpIdException) as error:
            log.warning("wecom url verification refused: %s", type(error).__name__)
            return Answer(401, "unauthorized")
        except Exception as error:  # undecryptable echostr
            log.warning("wecom url verification: bad echostr: %s", error)
            return Answer(400, "bad request")
        return Answer(200, echo.decode() if isinstance(echo, bytes) else str(echo))

    async def receive(self, query: dict[str, str], body: bytes, handle: Handle) -> Answer:
        try:
            signature, timestamp, nonce = query["msg_signature"], query["timestamp"], query["nonce"]
        except KeyError:
            return Answer(400, "missing parameters")
        try:
            xml = self.crypto.decrypt_message(body, signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidCorpIdException) as error:
            log.warning("wecom callback refused: %s", type(error).__name__)
            return Answer(401, "unauthorized")
        except Exception as error:  # malformed XML, no Encrypt element, bad ciphertext
            log.warning("wecom callback: malformed body: %s", error)
            return Answer(400, "bad request")
        if not _fresh(timestamp):
            log.warning("wecom callback: stale timestamp %s; refused", timestamp)
            return Answer(401, "stale timestamp")
        inbound = parse(xml if isinstance(xml, str) else xml.decode(), now=clock.now())
        if inbound is not None:
            outcome = await handle(inbound)
            if outcome.duplicate:
                log.info("wecom callback: message %s already handled", inbound.event_id)
        return Answer(200, "")


def _fresh(timestamp: str) -> bool:
    try:
        sent = datetime.fromtimestamp(int(timestamp), tz=clock.now().tzinfo)
    except (ValueError, OverflowError, OSError):
        return False
    return abs(clock.now() - sent) <= MAX_CLOCK_SKEW


# -- the adapter -------------------------------------------------------------------------


class WecomAdapter:
    """The channel as the framework sees it (`bot.channels.ChannelAdapter`)."""

    name = CHANNEL

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.wecom
        self.receiver = CallbackReceiver(self.settings)
        self.client = WecomClient(self.settings)

    def sender(self) -> Sender:
        return WecomSender(self.client, self.settings.agent_id)

    def install(self, app: FastAPI, handle: Handle) -> None:
        receiver = self.receiver

        @app.get(PATH)
        async def wecom_verify(request: Request) -> Response:
            answer = receiver.verify_url(dict(request.query_params))
            return Response(answer.body, status_code=answer.status, media_type="text/plain")

        @app.post(PATH)
        async def wecom_callback(request: Request) -> Response:
            answer = await receiver.receive(dict(request.query_params), await request.body(),
                                            handle)  # fmt: skip
            return Response(answer.body, status_code=answer.status, media_type="text/plain")

    async def start(self, handle: Handle) -> None:
        """Nothing to open: WeCom calls us."""

    async def stop(self) -> None:
        """Nothing to close."""


def create(settings: Settings) -> WecomAdapter:
    return WecomAdapter(settings)
