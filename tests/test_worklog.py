"""Work logs, budgets, timesheets and the two-party monthly close, end to end through the
console channel with the clock set, in Chinese and English, with every refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage.db import transaction
from storage.models import AuditEntry, Engagement, WorkLog
from tests.harness import ConsoleHarness

WEDNESDAY = "2026-11-25T17:00:00+08:00"


@pytest.fixture
def day(demo: ConsoleHarness) -> ConsoleHarness:
    demo.at(WEDNESDAY)
    demo.one("liuyang", "/工单 P2 报表慢")
    return demo


def logged_minutes(harness: ConsoleHarness) -> int:
    with transaction(harness.runtime.engine) as session:
        query = select(func.sum(WorkLog.minutes)).where(WorkLog.voided_at.is_(None))
        return int(session.execute(query).scalar() or 0)


def audit_actions(harness: ConsoleHarness) -> list[str]:
    with transaction(harness.runtime.engine) as session:
        return [a.action for a in session.execute(select(AuditEntry)).scalars()]


@pytest.mark.parametrize(
    ("duration", "minutes"),
    [
        ("0.5d", 240),
        ("1d", 480),
        ("4h", 240),
        ("半天", 240),
        ("1天", 480),
        ("3小时", 180),
        ("120m", 120),
    ],
)
def test_durations_people_write(day: ConsoleHarness, duration: str, minutes: int) -> None:
    reply = day.one("zhaogang", f"/报工 {duration} T-1 排查")
    assert (reply.kind, reply.ref) == ("worklog.logged", "T-1")
    assert logged_minutes(day) == minutes


def test_the_reply_says_what_the_day_total_and_the_bucket_are(day: ConsoleHarness) -> None:
    day.one("zhaogang", "/报工 4h T-1 排查慢查询")
    reply = day.one("zhaogang", "/报工 2h svc=ops_monitoring 日常巡检")
    assert "赵刚 2026-11-25 0.25 人天 → 运维监控服务：日常巡检" in reply.text
    assert "当日合计 0.75 人天；计入高级工程师预算（已用 0.75 / 60）" in reply.text
    assert "worklog.logged" in audit_actions(day)


@pytest.mark.parametrize(
    ("text", "kind", "words"),
    [
        ("/报工 0.5h T-1 x", "error.usage", "最小单位 1h"),
        ("/报工 0h T-1 x", "error.usage", "大于 0"),
        ("/报工 1h svc=ai_dev x", "error.state", "/变更"),
        ("/报工 1h svc=nonsense x", "error.usage", "ops_monitoring"),
        ("/报工 1h T-99 x", "error.not_found", "T-99"),
        ("/报工 1h K-3 x", "error.not_found", "K-3"),
        ("/报工 1h x", "error.usage", "缺少工作对象"),
        ("/报工 1h T-1 date=2026-11-26 x", "error.state", "将来"),
        ("/报工 1h T-1 date=2026-11-19 x", "error.state", "最早 2026-11-20"),
        ("/报工 1h T-1 date=2026-10-30 x", "error.state", "项目周期"),
        ("/报工 2h T-1 svc=ops_monitoring x", "error.usage", "一个工作对象"),
    ],
)
def test_refusals_say_why_and_change_nothing(
    day: ConsoleHarness, text: str, kind: str, words: str
) -> None:
    reply = day.one("zhaogang", text)
    assert reply.kind == kind and words in reply.text, reply.text
    assert logged_minutes(day) == 0


def test_client_and_out_of_scope_ticket_refusals(day: ConsoleHarness) -> None:
    assert day.one("wangli", "/报工 1h T-1 x").kind == "error.permission"
    day.one("liuyang", "/工单 svc=model_finetune 微调")
    refused = day.one("zhaogang", "/报工 1h T-2 x")
    assert refused.kind == "error.state" and "/变更" in refused.text
    assert day.one("zhoumin", "/报工 1h T-1 x").kind == "error.permission"  # customer manager


def test_daily_cap_and_overtime(day: ConsoleHarness) -> None:
    day.one("zhaogang", "/报工 1d T-1 全天")
    over = day.one("zhaogang", "/报工 2h T-1 晚上继续")
    assert over.kind == "error.state" and "ot=yes" in over.text and "1.25" in over.text
    ok = day.one("zhaogang", "/报工 2h T-1 ot=yes 晚上继续")
    assert ok.kind == "worklog.logged" and "当日合计 1.25 人天" in ok.text
    assert day.kinds(kind="worklog.overtime") == [("worklog.overtime", "person", "sun.wei")]


def test_backdating_counts_working_days(day: ConsoleHarness) -> None:
    """Wednesday: three working days back is the previous Friday; the weekend between is fine."""
    assert day.one("zhaogang", "/报工 1h T-1 date=2026-11-20 周五").kind == "worklog.logged"
    assert day.one("zhaogang", "/报工 1h T-1 date=2026-11-22 周日加班").kind == "worklog.logged"


def test_pm_logs_for_someone_and_engineers_cannot(day: ConsoleHarness) -> None:
    reply = day.one("sunwei", "/报工 2h for=@lina T-1 协助排查")
    assert "李娜" in reply.text and "中级工程师" in reply.text
    assert day.one("zhaogang", "/报工 2h for=@lina T-1 x").kind == "error.permission"
    no_level = day.one("sunwei", "/报工 2h T-1 x")
    assert no_level.kind == "error.state" and "资源级别" in no_level.text


def test_undo_within_ten_minutes_only(day: ConsoleHarness) -> None:
    day.one("zhaogang", "/报工 4h T-1 a")
    day.one("zhaogang", "/报工 2h T-1 b")
    undone = day.one("zhaogang", "/报工 撤销")
    assert undone.kind == "worklog.undone" and "0.25" in undone.text
    assert logged_minutes(day) == 240
    day.at("2026-11-25T17:11:00+08:00")
    late = day.one("zhaogang", "/log undo")
    assert late.kind == "error.state" and "/报工 调整" in late.text
    assert logged_minutes(day) == 240
    assert "worklog.undone" in audit_actions(day)


def test_adjustments_by_the_pm_with_a_reason(day: ConsoleHarness) -> None:
    day.one("zhaogang", "/报工 4h T-1 a")
    adjusted = day.one("sunwei", "/报工 调整 @zhaogang -2h T-1 重复记录")
    assert adjusted.kind == "worklog.adjusted" and "-0.25 人天" in adjusted.text
    assert logged_minutes(day) == 120
    assert ("worklog.adjusted", "person", "zhao.gang") in day.kinds(kind="worklog.adjusted")
    assert day.one("sunwei", "/报工 调整 @zhaogang -4h T-1 太多").kind == "error.state"
    assert day.one("zhaogang", "/报工 调整 @zhaogang +2h T-1 x").kind == "error.permission"
    assert (
        day.one("sunwei", "/报工 调整 @zhaogang 2h T-1").kind == "error.usage"
    )  # a reason is required


def test_timesheet_visibility(day: ConsoleHarness) -> None:
    day.one("zhaogang", "/报工 4h T-1 a")
    day.one("sunwei", "/报工 1d for=@lina T-1 b")
    own = day.one("zhaogang", "/工时")
    assert "赵刚（高级工程师）合计 0.5 人天" in own.text and "李娜" not in own.text
    assert day.one("zhaogang", "/工时 @lina").kind == "error.permission"
    everyone = day.one("wangli", "/工时 本月")
    assert "李娜" in everyone.text and "全部合计 1.5 人天" in everyone.text
    assert "11-25 三 0.5" in day.one("sunwei", "/工时 2026-11 @zhaogang").text
    assert day.one("sunwei", "/工时 去年").kind == "error.usage"
    assert day.one("liuyang", "/工时").kind == "error.permission"  # a client member


def test_budget_positions_and_burn(day: ConsoleHarness) -> None:
    day.one("zhaogang", "/报工 1d T-1 a")
    text = day.one("wangli", "/预算").text
    assert "高级工程师：合同 60 · 已用 1 · 剩 59 · 1.7%" in text
    assert "合计：合同 205 · 已用 1 · 剩 204 · 0.5%" in text
    assert "近 10 个工作日日均 0.1 人天" in text
    assert "人天消耗：已用 1 / 205（0.5%）" in day.one("wangli", "/进度").text


def test_budget_alerts_at_80_and_100_percent_once_each(day: ConsoleHarness) -> None:
    """He Jun is junior; a 2-day junior budget makes the thresholds easy to reach."""
    with transaction(day.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalar_one()
        engagement.budget = {
            **engagement.budget,
            "junior": 480 * 2,
        }  # 2 days, to keep the test short
        session.add(engagement)
    day.one("hejun", "/报工 1d T-1 a")
    assert day.outbox(kind="budget.alert") == []
    day.at("2026-11-26T17:00:00+08:00")
    day.one("hejun", "/报工 6h T-1 b")  # 1.75 of 2 = 87.5%
    alerts = day.outbox(kind="budget.alert")
    assert sorted(r.recipient for r in alerts) == ["sun.wei", "zhou.min"]
    assert all("80%" in r.text and r.ref == "junior" for r in alerts)
    day.one("hejun", "/报工 2h T-1 c")  # 2 of 2 = 100%
    assert len(day.outbox(kind="budget.alert")) == 4
    day.at("2026-11-27T17:00:00+08:00")
    day.one("hejun", "/报工 1h T-1 d")
    assert len(day.outbox(kind="budget.alert")) == 4  # once each


def test_two_party_monthly_close(day: ConsoleHarness) -> None:
    day.one("zhaogang", "/报工 1d T-1 a")
    early = day.one("sunwei", "/结算 关闭 2026-11")
    assert early.kind == "error.state" and "还没结束" in early.text
    day.at("2026-12-01T10:00:00+08:00")
    assert day.one("wangli", "/结算 确认 2026-11").kind == "error.state"  # not closed yet
    assert day.one("zhaogang", "/结算 关闭 2026-11").kind == "error.permission"
    closed = day.one("sunwei", "/结算 关闭 2026-11")
    assert closed.kind == "period.closed" and "2026-11 合计 1 人天" in closed.text
    assert day.kinds(kind="period.closed")[1:] == [("period.closed", "person", "wang.li")]
    refused = day.one("zhaogang", "/报工 1h T-1 date=2026-11-30 补")
    assert refused.kind == "error.state" and "已结算关闭" in refused.text
    reopened = day.one("wangli", "/结算 重开 2026-11 少了一天")
    assert reopened.kind == "period.reopened"
    assert day.one("zhaogang", "/报工 1d T-1 date=2026-11-30 补").kind == "worklog.logged"
    day.one("sunwei", "/结算 关闭 2026-11")
    confirmed = day.one("wangli", "/结算 确认 2026-11")
    assert confirmed.kind == "period.confirmed" and "已锁定" in confirmed.text
    assert day.one("sunwei", "/结算 重开 2026-11").kind == "error.state"
    status = day.one("sunwei", "/结算 2026-11")
    assert "已锁定 — 孙伟" in status.text and "王丽" in status.text
    with transaction(day.runtime.engine) as session:
        locked = session.execute(
            select(AuditEntry).where(AuditEntry.action == "period.locked")
        ).scalar_one()
        assert '"hash":"' in locked.data
    assert day.one("sunwei", "/结算 关闭 11月").kind == "error.usage"


def test_reminder_goes_to_engineers_without_a_log(day: ConsoleHarness) -> None:
    day.one("zhaogang", "/报工 1d T-1 a")
    day.at("2026-11-25T18:29:00+08:00")
    day.tick()
    assert day.outbox(kind="worklog.reminder") == []
    day.at("2026-11-25T18:31:00+08:00")
    day.tick()
    day.at("2026-11-25T18:40:00+08:00")
    day.tick()
    assert sorted(r for _, _, r in day.kinds(kind="worklog.reminder")) == [
        "he.jun",
        "li.na",
        "ma.lin",
    ]
    day.at("2026-11-28T18:40:00+08:00")  # a Saturday
    day.tick()
    assert len(day.outbox(kind="worklog.reminder")) == 3


def test_work_logs_in_english(en: ConsoleHarness) -> None:
    en.at(WEDNESDAY)
    en.one("liuyang", "/ticket slow report")
    reply = en.one("zhaogang", "/log 4h T-1 slow query analysis")
    assert reply.text.startswith(
        "✅ Logged 0.5 person-day(s) for 赵刚 on 2026-11-25 → T-1 slow report"
    )
    assert "counts against the senior engineer budget (0.5 of 60 used)" in reply.text
    assert "minimum unit 1h" in en.one("zhaogang", "/log 30m T-1 x").text
    assert en.one("zhaogang", "/log undo").kind == "worklog.undone"
    assert "Timesheet" in en.one("sunwei", "/timesheet month").text
    assert "senior engineer: contracted 60" in en.one("wangli", "/budget").text
