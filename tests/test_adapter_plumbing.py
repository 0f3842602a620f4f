"""What every adapter shares (`adapters.plumbing`, `adapters.bridge`, `adapters.replay`), and
the promise that parsing and rendering load no platform SDK."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from adapters.bridge import LoopBridge, cancel_all
from adapters.plumbing import (
    MAX_CLOCK_SKEW,
    Answer,
    fresh,
    hand_over,
    in_thread,
    refused,
    unreachable,
    was_refused,
)
from adapters.replay import SpentKeys
from base.errors import NetworkError
from bot.message import ChatType, Inbound
from bot.outcome import Outcome, Reply
from tests.recorded import NOW

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("lark_oapi", "dingtalk_stream", "wechatpy", "aioimaplib", "aiosmtplib")


def inbound(event_id: str = "ev_1") -> Inbound:
    return Inbound(channel="feishu", chat_id="oc_1", chat_type=ChatType.GROUP, sender_id="ou_1",
                   text="/help", event_id=event_id, received_at=NOW)  # fmt: skip


# -- answers, freshness, refusals --------------------------------------------------------------


def test_answers_are_json_or_plain_text() -> None:
    answer = Answer.of_json(401, {"msg": "stale timestamp"})
    assert (answer.status, answer.body, answer.media_type) == (
        401, b'{"msg": "stale timestamp"}', "application/json",
    )  # fmt: skip
    response = Answer.of_text(200, "回声").response()
    assert (response.status_code, response.body) == (200, "回声".encode())
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("offset", "per_second", "is_fresh"),
    [
        (timedelta(0), 1, True),
        (MAX_CLOCK_SKEW, 1, True),
        (-MAX_CLOCK_SKEW, 1, True),
        (MAX_CLOCK_SKEW + timedelta(seconds=1), 1, False),
        (-MAX_CLOCK_SKEW - timedelta(seconds=1), 1, False),
        (-MAX_CLOCK_SKEW, 1000, True),
        (-MAX_CLOCK_SKEW - timedelta(milliseconds=1), 1000, False),
    ],
)
def test_a_signed_timestamp_is_fresh_within_the_window_either_way(
    offset: timedelta, per_second: int, is_fresh: bool
) -> None:
    timestamp = str(round((NOW + offset).timestamp() * per_second))
    assert fresh(timestamp, MAX_CLOCK_SKEW, now=NOW, per_second=per_second) is is_fresh


@pytest.mark.parametrize("timestamp", ["", "yesterday", "1.5e9", "9" * 40])
def test_an_unreadable_timestamp_is_not_fresh(timestamp: str) -> None:
    assert not fresh(timestamp, MAX_CLOCK_SKEW, now=NOW)


def test_a_refusal_by_the_bus_is_an_error_reply() -> None:
    assert was_refused(Outcome(replies=[Reply(1, "error.permission", "", "无权")]))
    assert not was_refused(Outcome(replies=[Reply(1, "ticket.acked", "T-1", "已响应")]))
    assert not was_refused(Outcome(duplicate=True))


def test_a_platforms_refusal_keeps_its_code_and_whether_to_retry() -> None:
    error = refused("wecom", 45009, "api freq out of limit", retryable=True)
    assert (str(error), error.code, error.retryable) == (
        "wecom 45009: api freq out of limit", "45009", True,
    )  # fmt: skip


def test_a_network_failure_names_the_error_but_no_credential() -> None:
    error = unreachable("wecom", ConnectionError("GET /cgi-bin/gettoken?corpsecret=s3cr3t failed"))
    assert isinstance(error, NetworkError) and error.retryable
    assert "ConnectionError" in str(error) and "s3cr3t" not in str(error)


async def test_a_blocking_call_that_does_not_answer_is_a_network_failure() -> None:
    release = threading.Event()
    with pytest.raises(NetworkError, match="no answer in 0 s"):
        await in_thread("feishu", release.wait, 5.0, timeout=0)  # no clock is waited on
    release.set()  # the worker thread ends on its own


async def test_a_redelivery_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def accept(message: Inbound) -> bool:
        return False  # it waits in the inbox already

    with caplog.at_level(logging.INFO, logger="rentian.test"):
        fresh = await hand_over(accept, inbound("ev_9"), logging.getLogger("rentian.test"), "x")
    assert not fresh and "ev_9 already in the inbox" in caplog.text


# -- the bridge from SDK threads to the bus's loop ---------------------------------------------


async def test_a_thread_waits_for_the_bus_on_the_main_loop() -> None:
    main = threading.current_thread()
    ran_on: list[threading.Thread] = []

    async def handle(message: Inbound) -> Outcome:
        ran_on.append(threading.current_thread())
        return Outcome(replies=[Reply(1, "help", "", message.event_id)])

    bridge = LoopBridge(handle, asyncio.get_running_loop())
    outcome = await asyncio.to_thread(bridge.wait, inbound("ev_2"), 5.0)
    assert [r.text for r in outcome.replies] == ["ev_2"] and ran_on == [main]


async def test_a_thread_that_waits_too_long_gives_up() -> None:
    release = asyncio.Event()

    async def handle(message: Inbound) -> Outcome:
        await release.wait()
        return Outcome()

    bridge = LoopBridge(handle, asyncio.get_running_loop())
    with pytest.raises(TimeoutError):  # a timeout of 0: no clock is waited on
        await asyncio.to_thread(bridge.wait, inbound(), 0)
    release.set()
    await asyncio.sleep(0)


async def test_another_threads_loop_awaits_the_bus_without_blocking() -> None:
    async def handle(message: Inbound) -> Outcome:
        return Outcome(duplicate=True)

    bridge = LoopBridge(handle, asyncio.get_running_loop())
    outcome = await asyncio.to_thread(asyncio.run, bridge.wait_async(inbound()))
    assert outcome.duplicate


def test_cancel_all_ends_what_is_left_on_a_threads_loop() -> None:
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(asyncio.sleep(3600))
        cancel_all(loop)
        assert task.cancelled()
        cancel_all(loop)  # nothing left: harmless
    finally:
        loop.close()


# -- keys that count once --------------------------------------------------------------------


def test_a_spent_key_is_refused_the_second_time(engine: Engine, db_url: str) -> None:
    spent = SpentKeys(db_url, "dingtalk-sign")
    other = SpentKeys(db_url, "elsewhere")
    try:
        assert spent.spend("1764036000000:c2lnbg==")
        assert not spent.spend("1764036000000:c2lnbg==")
        assert other.spend("1764036000000:c2lnbg==")  # each channel has its own keys
    finally:
        spent.close()
        other.close()


# -- no SDK where none is needed ---------------------------------------------------------------


def test_the_packages_and_their_pure_halves_load_no_sdk() -> None:
    modules = [
        "adapters.feishu", "adapters.dingtalk", "adapters.wecom", "adapters.email",
        "adapters.feishu.parse", "adapters.feishu.render", "adapters.dingtalk.signature",
        "adapters.dingtalk.render", "adapters.wecom.parse", "adapters.wecom.render",
        "adapters.email.parse", "adapters.email.render", "adapters.plumbing", "adapters.bridge",
    ]  # fmt: skip
    code = f"import sys, {', '.join(modules)}; print([m for m in {SDKS!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "[]"
