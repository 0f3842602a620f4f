"""What every platform adapter does the same way: the HTTP answer to a callback, the freshness
window of a signed timestamp, handing a message to the inbox, whether the bus refused it, and
turning a platform's failures into the dispatcher's `NetworkError` / `PlatformRefused`.

No platform SDK is imported here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from base.errors import NetworkError, PlatformRefused
from bot.redact import redact

if TYPE_CHECKING:
    from fastapi import Response

    from bot.channels import Accept
    from bot.message import Inbound
    from bot.outcome import Outcome

T = TypeVar("T")

# Feishu and WeCom sign a timestamp in seconds; a callback further from our clock, either way,
# is refused (DingTalk's window is a setting, `http_window_seconds`).
MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a platform's callback."""

    status: int
    body: bytes
    media_type: str = "application/json"

    @classmethod
    def of_json(cls, status: int, data: dict[str, Any]) -> Answer:
        return cls(status, json.dumps(data).encode())

    @classmethod
    def of_text(cls, status: int, text: str) -> Answer:
        return cls(status, text.encode(), "text/plain")

    def response(self) -> Response:
        from fastapi import Response  # here: the pure modules that import this need no web stack

        return Response(self.body, status_code=self.status, media_type=self.media_type)


def fresh(timestamp: str, window: timedelta, *, now: datetime, per_second: int = 1) -> bool:
    """Whether a signed `timestamp` — seconds since the epoch, or `per_second`ths of one
    (DingTalk's are milliseconds: 1000) — lies within `window` of `now`, either way. An
    unreadable timestamp is not fresh."""
    try:
        seconds = int(timestamp)
        sent = datetime.fromtimestamp(seconds / per_second if per_second != 1 else seconds,
                                      tz=now.tzinfo)  # fmt: skip
    except (ValueError, OverflowError, OSError):
        return False
    return abs(now - sent) <= window


async def hand_over(accept: Accept, inbound: Inbound, log: logging.Logger, where: str) -> bool:
    """Write a verified message into the inbox; returns once it committed, so the caller may
    acknowledge it (the inbox workers handle it afterwards). A redelivery of a message still
    waiting there is logged, not an error: False."""
    fresh = await accept(inbound)
    if not fresh:
        log.info("%s: event %s already in the inbox", where, inbound.event_id)
    return fresh


def was_refused(outcome: Outcome) -> bool:
    """Whether the bus answered the command with a refusal (`error.*`): a platform that shows
    the answer where the person clicked shows it as an error."""
    return any(reply.kind.startswith("error.") for reply in outcome.replies)


def refused(who: str, code: int | str, message: str, *, retryable: bool) -> PlatformRefused:
    """The platform answered `code` (an errcode, an HTTP or SMTP status): retried later only
    if `retryable` (rate limits, the platform's own trouble)."""
    return PlatformRefused(f"{who} {code}: {message}", retryable=retryable, code=str(code))


def unreachable(who: str, error: BaseException) -> NetworkError:
    """The platform could not be reached or answered nonsense. Redacted: a library's error may
    name a URL with a token or secret in its query."""
    return NetworkError(redact(f"{who}: {type(error).__name__}: {error}"))


async def in_thread(who: str, call: Callable[[T], None], argument: T, timeout: float) -> None:
    """`call(argument)` of a synchronous SDK, off the event loop; no answer in `timeout`
    seconds is a network failure (the thread is left to finish on its own)."""
    try:
        await asyncio.wait_for(asyncio.to_thread(call, argument), timeout)
    except TimeoutError as error:
        raise NetworkError(f"{who}: no answer in {timeout:.0f} s") from error
