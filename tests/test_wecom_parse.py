"""WeCom's pure half, without wechatpy: recorded (decrypted) callback messages as the `Inbound`
each must become, and outbox rows as the API call or button card each must render to
(`tests/payloads/wecom.json`)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.wecom.parse import parse
from adapters.wecom.render import card, render, task_id
from tests.recorded import NOW, cases, fields, load, outgoing

DATA = load("wecom.json")


@pytest.mark.parametrize("case", **cases(DATA["messages"]))
def test_a_recorded_message_parses_to_its_inbound(case: dict[str, Any]) -> None:
    assert fields(parse(case["xml"], now=NOW)) == case["inbound"]


def test_a_card_click_has_one_effect_per_card_user_and_button() -> None:
    (click,) = [c["xml"] for c in DATA["messages"] if c["name"] == "a click on a card button"]
    first, again = parse(click, now=NOW), parse(click, now=NOW)
    other = parse(click.replace("SunWei", "ZhouMin"), now=NOW)
    assert first is not None and again is not None and other is not None
    assert first.event_id == again.event_id != other.event_id
    assert first.raw["task_id"] == "rt_3f2a9c"


@pytest.mark.parametrize("case", **cases(DATA["renders"]))
def test_an_outbox_row_renders_to_its_api_call(case: dict[str, Any]) -> None:
    call = render(outgoing(case["outgoing"]), case["agent_id"])
    assert call.__dict__ == case["call"]


@pytest.mark.parametrize("case", **cases(DATA["cards"]))
def test_rows_with_buttons_render_to_their_card(case: dict[str, Any]) -> None:
    row = outgoing(case["outgoing"])
    body = card(row, case["agent_id"], row.address)
    assert body == case["body"]
    if body is not None:
        assert body["template_card"]["task_id"] == task_id(row)
