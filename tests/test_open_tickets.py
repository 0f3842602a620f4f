"""One notion of open (issue #11, item 11): a ticket is open until it is closed. A resolved one
awaits the reporter's confirmation and is shown as such in /tickets, /status and /closeout."""

from __future__ import annotations

import pytest

from handlers import ticket_states
from tests.harness import ConsoleHarness


@pytest.mark.parametrize(
    ("status", "is_open"),
    [("open", True), ("in_progress", True), ("pending", True), ("resolved", True),
     ("closed", False)],
)  # fmt: skip
def test_a_ticket_is_open_until_closed(status: str, is_open: bool) -> None:
    assert ticket_states.is_open(status) is is_open
    assert (status in ticket_states.OPEN_STATES) is is_open
    assert ticket_states.awaiting_confirmation(status) is (status == "resolved")


def test_the_only_ticket_resolved_is_still_open(demo: ConsoleHarness) -> None:
    """The report of the issue: resolved, not confirmed, and nowhere to be seen."""
    demo.one("liuyang", "/工单 P2 报表导出超时")
    demo.one("zhaogang", "/解决 T-1 已修复导出分页")
    listing = demo.one("sunwei", "/工单列表").text
    assert "无" not in listing and "T-1 P2 已解决·待确认 赵刚 · 报表导出超时" in listing
    assert "T-1" in demo.one("liuyang", "/工单列表 我的").text  # the reporter has to confirm
    status = demo.one("liuyang", "/进度").text
    assert "未关闭工单 1（P1 0 · P2 1 · P3 0 · P4 0），其中已解决·待确认 1" in status
    assert "· T-1 P2 报表导出超时 · 已解决·待确认" in status
    closeout = demo.one("liuyang", "/结项").text
    assert "未关闭的工单：T-1（已解决·待确认：T-1，请报告人 /关闭 确认）" in closeout
    demo.one("liuyang", "/关闭 T-1")
    assert demo.one("sunwei", "/工单列表").text == "未关闭的工单：无。"
    assert "未关闭工单 0（" in demo.one("liuyang", "/进度").text
    assert "T-1" not in demo.one("liuyang", "/结项").text


def test_resolved_and_working_tickets_together(demo: ConsoleHarness) -> None:
    demo.one("liuyang", "/工单 P2 报表导出超时")
    demo.one("liuyang", "/工单 P3 接口报错")
    demo.one("zhaogang", "/解决 T-1 已修复导出分页")
    listing = demo.one("sunwei", "/工单列表").text.splitlines()
    assert listing[0] == "未关闭的工单（2）："
    assert listing[1].startswith("T-2 P3 待响应 — 剩")  # work still to do comes first
    assert listing[2].startswith("T-1 P2 已解决·待确认")
    status = demo.one("liuyang", "/进度").text
    assert "未关闭工单 2（P1 0 · P2 1 · P3 1 · P4 0），其中已解决·待确认 1" in status
    closeout = demo.one("liuyang", "/结项").text
    assert "未关闭的工单：T-1、T-2（已解决·待确认：T-1，请报告人 /关闭 确认）" in closeout


def test_a_late_resolution_is_open_but_no_longer_a_breach_alarm(demo: ConsoleHarness) -> None:
    """The SLA clocks stopped at the resolution; breach lists show what still runs late."""
    demo.one("liuyang", "/工单 P2 报表导出超时")
    demo.at("2026-11-25T19:00:00+08:00")  # past the 8 h resolution target
    demo.one("zhaogang", "/解决 T-1 已修复导出分页")
    assert "T-1" in demo.one("sunwei", "/工单列表").text
    assert demo.one("sunwei", "/工单列表 超时").text == "已超时的工单：无。"
    assert "🔴 已超时" not in demo.one("liuyang", "/进度").text


def test_open_tickets_in_english(en: ConsoleHarness) -> None:
    en.one("liuyang", "/ticket P2 report export times out")
    en.one("liuyang", "/ticket P3 API error")
    en.one("zhaogang", "/resolve T-1 paging fixed")
    listing = en.one("sunwei", "/tickets").text
    assert "T-1 P2 resolved, awaiting confirmation 赵刚 · report export times out" in listing
    status = en.one("liuyang", "/status").text
    assert (
        "Open tickets: 2 (P1 0 · P2 1 · P3 1 · P4 0), 1 resolved, awaiting confirmation" in status
    )
    assert "· T-1 P2 report export times out · resolved, awaiting confirmation" in status
    closeout = en.one("liuyang", "/closeout").text
    assert ("Open tickets: T-1, T-2 (resolved, awaiting confirmation: T-1 — "
            "the reporter confirms with /close)") in closeout  # fmt: skip
