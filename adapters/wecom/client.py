"""Sending outbox rows to WeCom, in a worker thread with a timeout (wechatpy's client is
synchronous).

WeCom's errcodes become `PlatformRefused` with its errmsg; 45009 (rate limit) and -1 (system
busy) are retried later. wechatpy refreshes the token by itself on 40001/40014/42001; we bound
how often (`MAX_TOKEN_FETCHES`) and fetch it from `api_base` with a timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import requests
from wechatpy.enterprise.client import WeChatClient
from wechatpy.exceptions import WeChatClientException

from adapters.plumbing import in_thread, refused, unreachable
from adapters.wecom.render import Call, card, render
from base.errors import NetworkError, PlatformRefused
from bot.message import Outgoing
from bot.redact import redact

if TYPE_CHECKING:
    from config.settings import WecomSettings

SEND_TIMEOUT_SECONDS = 10.0
HTTP_TIMEOUT_SECONDS = 5.0
MAX_TOKEN_FETCHES = 2  # token fetches per send; then a refused token is a refusal
RETRYABLE_CODES = frozenset({-1, 45009})  # system busy, API rate limit
CHAT_NOT_FOUND = frozenset({86001, 86003})  # not an appchat id: a direct chat's user id

log = logging.getLogger("rentian.wecom")


def refusal(code: int, msg: str) -> PlatformRefused:
    return refused("wecom", code, msg, retryable=code in RETRYABLE_CODES)


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
        await in_thread("wecom", self._send, message, SEND_TIMEOUT_SECONDS)

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
            raise unreachable("wecom webhook", error) from error  # the robot's key is in the URL
        code = int(result.get("errcode", 0)) if isinstance(result, dict) else 0
        if code != 0:
            raise refusal(code, str(result.get("errmsg", "")))

    def _call(self, send: Callable[[], Any]) -> None:
        self.client.begin()
        try:
            send()
        except WeChatClientException as error:
            if error.errcode is None:  # an HTTP error status: no errcode to read
                raise NetworkError(redact(f"wecom: HTTP error: {error}")) from error
            raise refusal(int(error.errcode), str(error.errmsg or "")) from error
        except (requests.RequestException, ValueError) as error:
            # requests names the URL, with `corpsecret` or `access_token` in its query
            raise unreachable("wecom", error) from error
