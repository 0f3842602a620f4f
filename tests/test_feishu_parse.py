"""Feishu's pure half, without the SDK: recorded events and card clicks as the `Inbound` each
must become, and outbox rows as the message each must render to (`tests/payloads/feishu.json`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.feishu.parse import parse, parse_card_action
from adapters.feishu.render import UUID_MAX_LENGTH, answer_card, render, send_uuid
from tests.recorded import NOW, cases, fields, load, outgoing

DATA = load("feishu.json")
BOT_NAMES = frozenset(DATA["bot_names"])


@pytest.mark.parametrize("case", **cases(DATA["messages"]))
def test_a_recorded_message_event_parses_to_its_inbound(case: dict[str, Any]) -> None:
    inbound = parse(case["payload"], now=NOW, bot_names=BOT_NAMES)
    assert fields(inbound) == case["inbound"]
    if inbound is not None:
        assert inbound.received_at == NOW and inbound.raw == case["payload"]


@pytest.mark.parametrize("case", **cases(DATA["card_clicks"]))
def test_a_recorded_card_click_parses_to_the_command_of_its_button(case: dict[str, Any]) -> None:
    inbound = parse_card_action(case["payload"], now=NOW)
    assert fields(inbound) == case["inbound"]


@pytest.mark.parametrize("case", **cases(DATA["renders"]))
def test_an_outbox_row_renders_to_its_message(case: dict[str, Any]) -> None:
    msg_type, content = render(outgoing(case["outgoing"]))
    assert (msg_type, json.loads(content)) == (case["msg_type"], case["content"])


def test_card_buttons_carry_the_command_in_the_rows_language() -> None:
    by_name = {case["name"]: case for case in DATA["renders"]}
    card = by_name["a deliverable to accept, in English"]["content"]
    (buttons,) = [e["actions"] for e in card["elements"] if e["tag"] == "action"]
    assert [(b["text"]["content"], b["value"]["command"]) for b in buttons] == [
        ("Accept", "/accept D-1"),
        ("Reject", "/reject D-1 rejected from the card"),
    ]


def test_the_answered_card_says_who_clicked_and_drops_the_buttons() -> None:
    value = {"title": "SLA 超时 T-1", "text": "T-1 超时"}
    card = answer_card(value, "ou_zg", ["T-1 已响应"])
    assert card["header"]["title"]["content"] == "SLA 超时 T-1"
    assert [e["text"]["content"] for e in card["elements"]] == [
        "T-1 超时",
        "<at id=ou_zg></at>: T-1 已响应",
    ]


def test_the_send_uuid_is_the_outbox_key_hashed_only_when_too_long() -> None:
    assert send_uuid("sync:1") == "sync:1"
    long_key = "progress:FS-2026:2026-11-25:feishu:" + "oc_" + "x" * 40
    hashed = send_uuid(long_key)
    assert len(hashed) == UUID_MAX_LENGTH and hashed == send_uuid(long_key) != long_key
