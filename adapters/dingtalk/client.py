"""Sending outbox rows through DingTalk's robot APIs, with our own `httpx.AsyncClient` and
timeouts (the SDK's calls are blocking `requests` without timeouts).

An access token from `/v1.0/oauth2/accessToken`, cached until shortly before it expires, goes
with every call. HTTP 429 and 5xx are retried later; other 4xx are refused for good, with
DingTalk's message.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx

from adapters.dingtalk.render import render
from adapters.plumbing import refused, unreachable
from base.errors import PlatformRefused
from bot.message import Outgoing

if TYPE_CHECKING:
    from config.settings import DingtalkSettings

HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
TOKEN_PATH = "/v1.0/oauth2/accessToken"
TOKEN_MARGIN_SECONDS = 300  # refresh the token five minutes before DingTalk would refuse it


def refusal(status: int, answer: Any) -> PlatformRefused:
    """DingTalk's error answer (`{"code", "message"}`) as a refusal; 429 and 5xx retryable."""
    code = str(answer.get("code", status)) if isinstance(answer, dict) else str(status)
    text = str(answer.get("message", "")) if isinstance(answer, dict) else str(answer)[:200]
    return refused(f"dingtalk HTTP {status}", code, text, retryable=status == 429 or status >= 500)


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
            raise unreachable("dingtalk", error) from error
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
