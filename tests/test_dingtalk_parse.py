"""DingTalk's pure half: recorded robot callbacks as the `Inbound` each must become, outbox
rows as the robot API call each must render to (`tests/payloads/dingtalk.json`), and the HTTP
callback's signature."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adapters.dingtalk.parse import parse
from adapters.dingtalk.render import render
from adapters.dingtalk.signature import sign, verify
from bot.assurance import Assurance
from tests.recorded import NOW, cases, fields, load, outgoing

DATA = load("dingtalk.json")
SECRET = "ding-app-secret"
HOUR = timedelta(hours=1)


@pytest.mark.parametrize("case", **cases(DATA["callbacks"]))
def test_a_recorded_callback_parses_to_its_inbound(case: dict[str, Any]) -> None:
    inbound = parse(case["payload"], now=NOW)
    assert fields(inbound) == case["inbound"]
    if inbound is not None:
        assert inbound.raw == case["raw"]  # where to answer: the session webhook and its expiry


def test_the_way_in_sets_the_assurance() -> None:
    payload = DATA["callbacks"][0]["payload"]
    inbound = parse(payload, now=NOW, assurance=Assurance.REPLAYABLE)
    assert inbound is not None and inbound.assurance == Assurance.REPLAYABLE


@pytest.mark.parametrize("case", **cases(DATA["renders"]))
def test_an_outbox_row_renders_to_its_robot_api_call(case: dict[str, Any]) -> None:
    call = render(outgoing(case["outgoing"]), case["robot_code"])
    assert (call.path, call.body) == (case["path"], case["body"])


def test_sign_matches_dingtalks_test_vector() -> None:
    assert sign("1577262236757", "this is secret") == "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="


def millis(delta: timedelta) -> str:
    return str(int((NOW + delta).timestamp() * 1000))


@pytest.mark.parametrize(
    ("timestamp", "signature", "problem"),
    [
        (millis(timedelta(0)), None, ""),
        (millis(-HOUR), None, ""),  # the window's edge, either way
        (millis(HOUR), None, ""),
        (millis(-HOUR - timedelta(milliseconds=1)), None, "stale"),
        (millis(HOUR + timedelta(seconds=1)), None, "stale"),
        ("yesterday", None, "stale"),
        (millis(timedelta(0)), "bm90IHRoZSBzaWduYXR1cmU=", "forged"),
        ("", "", "missing"),
        (millis(timedelta(0)), "", "missing"),
    ],
)
def test_verify_says_why_a_callback_is_refused(
    timestamp: str, signature: str | None, problem: str
) -> None:
    signature = sign(timestamp, SECRET) if signature is None else signature
    assert verify(timestamp, signature, SECRET, NOW, HOUR) == problem
