"""Tickets end to end through the console channel, in Chinese and English, with `--now`
style clock control: opening, due times, the life cycle and every refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.models import AuditEntry, Ticket
from tests.harness import ConsoleHarness

FRIDAY_AFTERNOON = "2026-11-20T16:30:00+08:00"


@pytest.fixture
def applied_cli(demo: ConsoleHarness, db_url: str) -> str:
    return db_url


def ticket(harness: ConsoleHarness, number: int = 1) -> Ticket:
    with transaction(harness.runtime.engine) as session:
        return session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()


def test_p3_opened_on_a_friday_afternoon(demo: ConsoleHarness) -> None:
    demo.at(FRIDAY_AFTERNOON)
    reply = demo.one("liuyang", "/工单 报表导出超时")
    assert (reply.kind, reply.ref) == ("ticket.opened", "T-1")
    assert "T-1 · P3 中 · 报表导出超时" in reply.text
    assert "首次响应截止 2026-11-23 11:30，解决截止 2026-11-25 16:30（工作时间）" in reply.text


def test_p1_is_24x7_and_tells_pm_and_customer_manager(demo: ConsoleHarness) -> None:
    demo.at(FRIDAY_AFTERNOON)
    reply = demo.one("wangli", "/工单 紧急 生产库宕机")
    assert (
        "P1 紧急" in reply.text
        and "首次响应截止 2026-11-20 16:45，解决截止 2026-11-20 20:30" in reply.text
    )
    assert sorted(r for k, t, r in demo.kinds(kind="ticket.opened") if t == "person") == [
        "sun.wei",
        "zhou.min",
    ]


@pytest.mark.parametrize(
    ("word", "severity"), [("P2", "P2"), ("p4", "P4"), ("高", "P2"), ("低", "P4"), ("Ｐ１", "P1")]
)
def test_severity_words(demo: ConsoleHarness, word: str, severity: str) -> None:
    demo.one("liuyang", f"/工单 {word} 接口报错")
    assert ticket(demo).severity == severity and ticket(demo).title == "接口报错"


def test_bad_severity_and_service_change_nothing(demo: ConsoleHarness) -> None:
    bad = demo.one("liuyang", "/工单 P5 接口报错")
    assert bad.kind == "error.usage" and "P1-P4" in bad.text
    unknown = demo.one("liuyang", "/工单 svc=quantum 接口报错")
    assert unknown.kind == "error.usage" and "online_support" in unknown.text
    assert demo.one("liuyang", "/工单").kind == "error.usage"
    assert demo.outbox(kind="ticket.opened") == []


def test_out_of_scope_ticket_is_opened_flagged_and_pm_told(demo: ConsoleHarness) -> None:
    reply = demo.one("liuyang", "/工单 svc=model_finetune 微调效果差")
    assert (
        reply.kind == "ticket.opened" and "不在 SOW 范围内" in reply.text and "/变更" in reply.text
    )
    assert demo.kinds(kind="ticket.out_of_scope") == [("ticket.out_of_scope", "person", "sun.wei")]
    assert ticket(demo).in_scope is False and ticket(demo).service == "model_finetune"
    in_scope = demo.one("liuyang", "/工单 服务=运维监控服务 告警风暴")
    assert "SOW" not in in_scope.text and ticket(demo, 2).service == "ops_monitoring"


def test_life_cycle_with_clock_receipts(demo: ConsoleHarness) -> None:
    demo.at("2026-11-23T10:00:00+08:00")  # Monday
    demo.one("liuyang", "/工单 P3 报表导出超时")
    demo.at("2026-11-23T10:20:00+08:00")
    acked = demo.one("zhaogang", "/响应 T-1")
    assert acked.kind == "ticket.acked" and "用时 20分（时限 4小时）✅" in acked.text
    assert ticket(demo).assignee_id is not None  # the engineer who answered owns it
    demo.at("2026-11-23T11:00:00+08:00")
    paused = demo.one("zhaogang", "/挂起 T-1 甲方 等待导出日志")
    assert paused.kind == "ticket.pending" and "等待甲方 — 等待导出日志" in paused.text
    demo.at("2026-11-23T14:00:00+08:00")
    resumed = demo.one("liuyang", "/恢复 T-1")
    assert resumed.kind == "ticket.resumed" and "暂停 3小时" in resumed.text
    assert "2026-11-26 13:00" in resumed.text  # due Wednesday 10:00 + 3 working hours
    shown = demo.one("liuyang", "/工单 T-1")
    assert (
        shown.kind == "ticket.show"
        and "暂停累计：3小时" in shown.text
        and "处理人 赵刚" in shown.text
    )
    demo.at("2026-11-24T10:00:00+08:00")
    resolved = demo.one("zhaogang", "/解决 T-1 已修复导出分页")
    assert resolved.kind == "ticket.resolved" and "/关闭 T-1" in resolved.text
    assert demo.one("zhaogang", "/解决 T-1 again").kind == "error.state"
    assert demo.one("zhaogang", "/关闭 T-1").kind == "error.permission"
    reopened = demo.one("liuyang", "/重开 T-1 还是超时")
    assert reopened.kind == "ticket.reopened" and ticket(demo).status == "in_progress"
    assert ("ticket.reopened", "person", "zhao.gang") in demo.kinds(kind="ticket.reopened")
    demo.one("zhaogang", "/解决 T-1 索引已加")
    assert demo.one("liuyang", "/关闭 T-1").kind == "ticket.closed"
    closed = demo.one("zhaogang", "/解决 T-1 x")
    assert closed.kind == "error.state" and "/重开 T-1" in closed.text
    with transaction(demo.runtime.engine) as session:
        actions = [a.action for a in session.execute(select(AuditEntry)).scalars()]
    for action in (
        "ticket.opened",
        "ticket.acked",
        "ticket.pending",
        "ticket.resumed",
        "ticket.resolved",
        "ticket.reopened",
        "ticket.closed",
    ):
        assert action in actions


def test_assign_notifies_the_assignee(demo: ConsoleHarness) -> None:
    demo.one("liuyang", "/工单 P2 同步任务失败")
    reply = demo.one("sunwei", "/指派 T-1 @lina")
    assert reply.kind == "ticket.assigned" and "李娜" in reply.text
    assert ("ticket.assigned", "person", "li.na") in demo.kinds(kind="ticket.assigned")
    refused = demo.one("sunwei", "/指派 T-1 @wangli")
    assert refused.kind == "error.state" and "王丽" in refused.text
    assert demo.one("sunwei", "/指派 T-1 @nobody").kind == "error.not_found"
    assert demo.one("liuyang", "/指派 T-1 @lina").kind == "error.permission"


def test_refusals_change_nothing(demo: ConsoleHarness) -> None:
    demo.one("liuyang", "/工单 报表慢")
    client_ack = demo.one("wangli", "/响应 T-1")
    assert client_ack.kind == "error.permission" and "工程师" in client_ack.text
    assert demo.one("zhaogang", "/响应 T-99").kind == "error.not_found"
    assert demo.one("zhaogang", "/响应 K-1").kind == "error.usage"
    assert demo.one("zhaogang", "/恢复 T-1").kind == "error.state"
    assert demo.one("zhaogang", "/挂起 T-1 度假").kind == "error.usage"
    assert demo.one("wangli", "/重开 T-1 x").kind == "error.state"
    assert ticket(demo).status == "open" and ticket(demo).acked_at is None


def test_a_ticket_of_another_engagement_is_not_found(
    demo: ConsoleHarness, en: ConsoleHarness
) -> None:
    en.one("liuyang", "/ticket report is slow")
    assert demo.one("zhaogang", "/响应 T-1").kind == "error.not_found"
    assert demo.one("liuyang", "/工单 T-1").kind == "error.not_found"
    assert en.one("zhaogang", "/ack T-1").kind == "ticket.acked"


def test_lists_and_notes(demo: ConsoleHarness) -> None:
    demo.at("2026-11-23T10:00:00+08:00")
    demo.one("liuyang", "/工单 P1 生产库宕机")
    demo.one("wangli", "/工单 P4 咨询：如何导出")
    demo.one("zhaogang", "/响应 T-2")
    demo.at("2026-11-23T11:00:00+08:00")
    listing = demo.one("sunwei", "/工单列表")
    assert listing.text.splitlines()[1].startswith("T-1 P1 待响应 — 已超时 45分")
    assert "T-2 P4 处理中 赵刚 剩" in listing.text
    assert "T-1" not in demo.one("zhaogang", "/工单列表 我的").text
    assert demo.one("liuyang", "/tickets mine").text.count("T-") == 1
    breached = demo.one("sunwei", "/工单列表 超时")
    assert "T-1" in breached.text and "T-2" not in breached.text
    assert demo.one("liuyang", "/备注 T-1 已重启主库").kind == "ticket.note"
    assert "备注：已重启主库" in demo.one("liuyang", "/工单 T-1").text
    assert "未关闭工单 2（P1 1 · P2 0 · P3 0 · P4 1）" in demo.one("liuyang", "/进度").text
    assert "🔴 已超时：T-1" in demo.one("liuyang", "/进度").text


def test_unregistered_reporter_opens_and_closes_their_own_ticket(demo: ConsoleHarness) -> None:
    opened = demo.one("visitor", "/工单 无法登录")
    assert opened.kind == "ticket.opened"
    assert demo.one("visitor", "/响应 T-1").kind == "error.permission"
    demo.one("zhaogang", "/解决 T-1 已重置密码")
    assert demo.one("visitor2", "/关闭 T-1").kind == "error.permission"
    assert demo.one("visitor", "/关闭 T-1").kind == "ticket.closed"


def test_tickets_in_english(en: ConsoleHarness) -> None:
    en.at(FRIDAY_AFTERNOON)
    opened = en.one("liuyang", "/ticket high svc=ops_monitoring alert storm")
    assert opened.text.startswith("🎫 Opened T-1 · P2 high · alert storm")
    assert (
        "First response due 2026-11-20 17:00, resolution due 2026-11-21 00:30 (24x7)" in opened.text
    )
    assert en.one("zhaogang", "/ack T-1").text.startswith("👋 赵刚 acknowledged T-1 after 0m")
    paused = en.one("zhaogang", "/pending T-1 third_party vendor of the vendor")
    assert "waiting on a third party — vendor of the vendor" in paused.text
    assert en.one("liuyang", "/resume T-1").kind == "ticket.resumed"
    assert "Resolution: due" in en.one("liuyang", "/ticket T-1").text
    assert en.one("zhaogang", "/resolve T-1 throttled the exporter").kind == "ticket.resolved"
    assert en.one("liuyang", "/close T-1").text == "🔒 T-1 closed."


def test_ticket_spanning_the_national_day_holiday(demo: ConsoleHarness) -> None:
    demo.at("2026-09-30T17:00:00+08:00")  # 10-01..07 off; Saturday 10-10 is a make-up working day
    reply = demo.one("liuyang", "/工单 P3 国庆前的报表问题")
    assert "首次响应截止 2026-10-08 12:00" in reply.text
    # 3 business days = 27 working hours: 1 h on 09-30, 9 h each on 10-08 and 10-09, 8 h on Sat 10-10
    assert "解决截止 2026-10-10 17:00" in reply.text


def test_make_up_saturday_counts_as_a_working_day(demo: ConsoleHarness) -> None:
    demo.at("2026-02-13T19:45:00+08:00")  # Friday evening before the make-up Saturday 02-14
    reply = demo.one("liuyang", "/工单 P3 春节前的问题")
    assert "首次响应截止 2026-02-14 13:00" in reply.text


def test_a_year_the_package_does_not_know(demo: ConsoleHarness) -> None:
    """2027: Monday to Friday, plus the engagement's own list (2027-01-04 is off in the demo)."""
    demo.at("2027-01-01T17:00:00+08:00")  # a Friday, counted as working: the package has no 2027
    reply = demo.one("liuyang", "/工单 P3 元旦的问题")
    assert "首次响应截止 2027-01-05 12:00" in reply.text  # Fri 1 h, weekend, Mon 01-04 off, Tue 3 h


def test_the_command_line_with_now(applied_cli: str, capsys) -> None:
    """The operator's view: `say` and `tick` with --now, then `outbox --json`."""
    import json

    from app.cli import main

    db = ["--db", applied_cli]
    main(
        [
            *db,
            "--now",
            "2026-11-25T10:00:00+08:00",
            "say",
            "--chat",
            "demo-group",
            "--user",
            "liuyang",
            "--json",
            "/工单",
            "紧急",
            "生产库宕机",
        ]
    )
    opened, *notices = json.loads(capsys.readouterr().out)
    assert (opened["kind"], opened["ref"]) == ("ticket.opened", "T-1")
    # the console delivers what the message caused on its channel: the PM and the CM are told
    assert sorted((n["kind"], n["to"]) for n in notices) == [
        ("ticket.opened", "@sunwei"),
        ("ticket.opened", "@zhoumin"),
    ]
    main([*db, "--now", "2026-11-25T10:16:00+08:00", "tick"])
    main([*db, "--now", "2026-11-25T10:16:00+08:00", "tick"])
    capsys.readouterr()
    main([*db, "outbox", "--json"])
    rows = json.loads(capsys.readouterr().out)
    breaches = [(r["recipient_type"], r["recipient"]) for r in rows if r["kind"] == "sla.breach"]
    assert sorted(breaches) == [
        ("chat", "demo-group"),
        ("person", "sun.wei"),
        ("person", "zhou.min"),
    ]
    assert all(r["ref"] == "T-1" for r in rows if r["kind"].startswith("sla."))
