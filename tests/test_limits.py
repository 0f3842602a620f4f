"""Bounds on numbers, dates, weeks and text (issue #12): absurd input gets a clear one-line
refusal in the person's language and changes nothing, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.durations import parse_duration
from handlers import limits, statement
from storage.db import transaction
from storage.models import (
    ChangeRequest,
    Engagement,
    Period,
    PlanChange,
    Task,
    Training,
    WorkLog,
)
from tests.harness import ConsoleHarness

WEDNESDAY = "2026-11-25T17:00:00+08:00"  # the demo engagement runs 2026-11-01 → 2027-04-30


@pytest.fixture
def day(demo: ConsoleHarness) -> ConsoleHarness:
    """T-1 open, draft task K-1, CR-1 filed: something to log, estimate and plan against."""
    demo.at(WEDNESDAY)
    demo.one("liuyang", "/工单 P2 报表慢")
    demo.one("sunwei", '/任务 新增 "订单数据同步" est=2d level=senior due=2026-12-10')
    demo.one("liuyang", '/变更 "新增库存报表" 每日 8 点推送库存汇总')
    return demo


def rows(harness: ConsoleHarness, model: type) -> list:
    with transaction(harness.runtime.engine) as session:
        return list(session.execute(select(model)).scalars())


def engagement(harness: ConsoleHarness) -> Engagement:
    with transaction(harness.runtime.engine) as session:
        found = session.execute(select(Engagement)).scalars().first()
        assert found is not None
        session.expunge(found)
        return found


def logged(harness: ConsoleHarness) -> int:
    with transaction(harness.runtime.engine) as session:
        query = select(func.sum(WorkLog.minutes)).where(WorkLog.voided_at.is_(None))
        return int(session.execute(query).scalar() or 0)


# -- the cases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "text"),
    [
        ("zhaogang", "/报工 999999999999d T-1 ot=yes 排查"),
        ("sunwei", "/报工 调整 @zhaogang +999999999999d T-1 多记"),
        ("sunwei", '/任务 新增 "x" est=99999999d level=senior'),
        ("sunwei", '/任务 新增 "x" est=1e99 level=senior'),
        ("sunwei", "/评估 CR-1 senior=1e99"),
        ("sunwei", "/评估 CR-1 senior=NaN"),
    ],
)
def test_absurd_amounts_are_usage_errors(day: ConsoleHarness, user: str, text: str) -> None:
    reply = day.one(user, text)
    assert reply.kind == "error.usage", reply.text
    assert logged(day) == 0 and len(rows(day, Task)) == 1
    assert all(not cr.estimate for cr in rows(day, ChangeRequest))


def test_one_entry_is_at_most_a_day_plus_the_overtime_ceiling(day: ConsoleHarness) -> None:
    refused = day.one("zhaogang", "/报工 13h T-1 ot=yes 通宵")
    assert refused.kind == "error.usage" and "最多 1.5 人天（12 小时" in refused.text
    assert day.one("zhaogang", "/报工 12h T-1 ot=yes 加班").kind == "worklog.logged"
    assert logged(day) == 12 * 60


def test_a_persons_day_is_at_most_24_hours(day: ConsoleHarness) -> None:
    assert day.one("zhaogang", "/报工 12h T-1 ot=yes a").kind == "worklog.logged"
    assert day.one("zhaogang", "/报工 12h T-1 ot=yes b").kind == "worklog.logged"
    refused = day.one("zhaogang", "/报工 1h T-1 ot=yes c")
    assert refused.kind == "error.state" and "25 小时，超过一天的 24 小时" in refused.text
    adjusted = day.one("sunwei", "/报工 调整 @zhaogang +1h T-1 补记")
    assert adjusted.kind == "error.state" and "24 小时" in adjusted.text
    assert logged(day) == 24 * 60


def test_adjustments_are_bounded_like_entries(day: ConsoleHarness) -> None:
    assert day.one("sunwei", "/报工 调整 @zhaogang +13h T-1 补记").kind == "error.usage"
    assert day.one("sunwei", "/报工 调整 @zhaogang +12h T-1 补记").kind == "worklog.adjusted"
    assert day.one("sunwei", "/报工 调整 @zhaogang -13h T-1 多记").kind == "error.usage"
    assert logged(day) == 12 * 60


def test_task_estimates_are_at_most_the_whole_contract(day: ConsoleHarness) -> None:
    over = day.one("sunwei", '/任务 新增 "大任务" est=206 level=senior')  # the SOW buys 205
    assert over.kind == "error.usage" and "上限 205 人天（整个合同）" in over.text
    assert day.one("sunwei", "/任务 修改 K-1 est=206d").kind == "error.usage"
    assert day.one("sunwei", '/任务 新增 "大任务" est=205 level=senior').kind == "task.added"
    assert [t.estimate_minutes for t in rows(day, Task)] == [960, 205 * 480]


def test_change_requests_add_at_most_ten_times_the_levels_contract(day: ConsoleHarness) -> None:
    over = day.one("sunwei", "/评估 CR-1 senior=601 mid=2")  # the SOW buys 60 senior days
    assert over.kind == "error.usage" and "上限 600 人天" in over.text
    assert day.one("sunwei", "/评估 CR-1 senior=600 mid=2").kind == "cr.estimated"
    (cr,) = rows(day, ChangeRequest)
    assert cr.estimate == {"senior": 600 * 480, "mid": 960}


@pytest.mark.parametrize(
    ("user", "text"),
    [
        ("sunwei", '/任务 新增 "x" est=1d level=senior due=0001-01-01'),
        ("sunwei", '/任务 新增 "x" est=1d level=senior due=2026-09-30'),
        ("sunwei", "/任务 修改 K-1 due=9999-12-31"),
        ("sunwei", "/延期 K-1 2028-05-01 甲方延迟"),
        ("sunwei", '/培训 "运维交接" 0001-01-01'),
    ],
)
def test_dates_lie_within_the_term_and_its_margins(
    day: ConsoleHarness, user: str, text: str
) -> None:
    reply = day.one(user, text)
    assert reply.kind == "error.usage" and "2026-10-01 到 2028-04-30" in reply.text, reply.text
    assert [t.plan_date for t in rows(day, Task)] == [date(2026, 12, 10)]
    assert rows(day, PlanChange) == [] and rows(day, Training) == []


def test_the_margins_themselves_are_allowed(day: ConsoleHarness) -> None:
    assert day.one("sunwei", "/延期 K-1 2028-04-30 甲方延迟").kind == "plan.delay"
    assert day.one("sunwei", '/培训 "启动培训" 2026-10-01').kind == "training.recorded"
    assert (
        day.one("sunwei", '/任务 新增 "x" est=1d level=senior due=2026-10-01').kind == "task.added"
    )


@pytest.mark.parametrize("week", ["0001-W01", "9999-W52", "2027-W53", "20260-W1", "2029-W20"])
def test_weeks_out_of_range_are_refused_not_raised(day: ConsoleHarness, week: str) -> None:
    reply = day.one("liuyang", f"/周报 {week}")
    assert reply.kind == "error.usage", reply.text


@pytest.mark.parametrize(
    ("user", "text"),
    [("sunwei", "/工时 0001-01"), ("sunwei", "/结算 9999-12"), ("sunwei", "/结算 关闭 0001-01"),
     ("wangli", "/结算 确认 2029-01")],
)  # fmt: skip
def test_months_out_of_range_are_refused(day: ConsoleHarness, user: str, text: str) -> None:
    reply = day.one(user, text)
    assert reply.kind == "error.usage" and "2026-10-01 到 2028-04-30" in reply.text, reply.text


def test_weeks_near_the_term_are_reported(day: ConsoleHarness) -> None:
    assert day.one("liuyang", "/周报 2026-w48").ref == "2026-W48"
    assert day.one("liuyang", "/周报 2026-W40").kind == "progress.weekly"  # the week of 10-01
    assert day.one("liuyang", "/周报 2028-W17").kind == "progress.weekly"  # the week of 2028-04-30


@pytest.mark.parametrize(
    ("user", "text", "words"),
    [
        ("liuyang", "/工单 P2 " + "长" * 201, "标题太长：201 个字，最多 200 个字"),
        ("zhaogang", "/解决 T-1 " + "长" * 2001, "说明太长：2001 个字，最多 2000 个字"),
        ("zhaogang", "/报工 1h T-1 " + "长" * 2001, "说明太长"),
        ("sunwei", "/报工 调整 @zhaogang +1h T-1 " + "长" * 2001, "原因太长"),
        ("sunwei", '/任务 新增 "' + "长" * 201 + '" est=1d level=senior', "标题太长"),
        ("sunwei", "/延期 K-1 2026-12-20 " + "长" * 2001, "原因太长"),
        ("liuyang", '/变更 "' + "长" * 201 + '" 说明', "标题太长"),
        ("liuyang", '/变更 "报表" ' + "长" * 2001, "描述太长"),
        ("sunwei", "/评估 CR-1 senior=1 due=" + "长" * 201, "计划影响太长"),
        ("sunwei", "/驳回 CR-1 " + "长" * 2001, "原因太长"),
        ("chenjing", "/阻塞 " + "长" * 2001, "描述太长"),
        ("zhaogang", "/挂起 T-1 甲方 " + "长" * 2001, "说明太长"),
        ("sunwei", '/交付 K-1 "' + "长" * 201 + '" https://x', "名称太长"),
        ("sunwei", '/培训 "' + "长" * 201 + '" 2026-11-20', "主题太长"),
        ("sunwei", '/培训 "交接" 2026-11-20 参加人=' + "长" * 2001, "参加人太长"),
        ("liuyang", "/完成 1 " + "长" * 2001, "说明太长"),
    ],
)
def test_text_fields_have_a_maximum_length(
    day: ConsoleHarness, user: str, text: str, words: str
) -> None:
    reply = day.one(user, text)
    assert reply.kind == "error.usage" and words in reply.text, reply.text


def test_text_at_the_limit_is_fine(day: ConsoleHarness) -> None:
    assert day.one("liuyang", "/工单 P2 " + "长" * 200).kind == "ticket.opened"
    assert day.one("liuyang", "/备注 T-1 " + "长" * 3990).kind == "ticket.note"  # a mail body
    assert day.one("zhaogang", "/解决 T-1 " + "长" * 2000).kind == "ticket.resolved"


def test_refusals_speak_english_too(en: ConsoleHarness) -> None:
    en.at(WEDNESDAY)
    en.one("liuyang", "/ticket P2 slow report")
    entry = en.one("zhaogang", "/log 13h T-1 ot=yes all night")
    assert "One entry holds at most 1.5 person-days (12 hours" in entry.text
    title = en.one("liuyang", "/ticket P2 " + "x" * 201)
    assert title.text == "The title is too long: 201 characters, at most 200."
    week = en.one("liuyang", "/report week 9999-W52")
    assert (
        week.kind == "error.usage"
        and "weeks and months between 2026-10-01 and 2028-04-30" in week.text
    )
    plan = en.one("sunwei", '/task add "x" est=1d level=senior due=0001-01-01')
    assert "The plan date 0001-01-01 is out of range" in plan.text


# -- the pure rules ---------------------------------------------------------------------------


def test_durations_beyond_the_parse_bound_are_not_durations() -> None:
    assert parse_duration("999999999999d") is None and parse_duration("1000001m") is None
    assert parse_duration("16667d") is None  # over 10**6 minutes even at a 1-hour person-day
    assert parse_duration("16666d") is not None and parse_duration("1000000m") is not None


def test_check_functions_return_none_or_a_refusal() -> None:
    eng = Engagement(code="X", name="x", client="c", vendor="v", start_date=date(2026, 11, 1),
                     end_date=date(2027, 4, 30), hours_per_day=8, daily_cap_minutes=480,
                     budget={"senior": 0, "mid": 0})  # fmt: skip
    assert limits.entry_ceiling(eng) == 720 and limits.check_entry(-720, eng, "en") is None
    assert limits.check_entry(721, eng, "en") is not None
    eng.rules = {"overtime_ceiling": 23 * 60}
    assert limits.entry_ceiling(eng) == limits.DAY_MINUTES  # never more than a day
    refusal = limits.check_day(1441, "Zhao", date(2026, 11, 25), "en")
    assert (
        refusal is not None
        and refusal.state
        and limits.check_day(1440, "Z", date(2026, 11, 25), "en") is None
    )
    # no budget at all: the absolute cap
    assert limits.cr_level_ceiling("senior", eng) == limits.ABSOLUTE_ESTIMATE_DAYS * 480
    assert limits.task_estimate_ceiling(0, eng) == limits.ABSOLUTE_ESTIMATE_DAYS * 480
    eng.budget = {"senior": 4800, "mid": 0}
    assert limits.cr_level_ceiling("senior", eng) == 48000
    assert limits.cr_level_ceiling("mid", eng) == 48000  # none of this level: the whole SOW
    assert limits.check_text(" " + "x" * 200 + " ", "title", limits.TITLE_MAX, "en") is None
    note = limits.check_text("x" * 4001, "note", limits.TICKET_NOTE_MAX, "zh-CN")
    assert note is not None and note.text == "说明太长：4001 个字，最多 4000 个字。"
    assert limits.check_week(date(2026, 9, 28), eng, "en") is None  # Sunday 10-04 is inside
    assert limits.check_week(date(2026, 9, 21), eng, "en") is not None


# -- whatever people type ---------------------------------------------------------------------

_UNITS = st.sampled_from(["d", "h", "m", "天", "小时", "分钟", ""])
_AMOUNTS = st.one_of(
    st.builds(lambda n, u: f"{n}{u}", st.integers(0, 10**15), _UNITS),
    st.builds(lambda n, u: f"{n:.3f}{u}", st.floats(0, 1e6, allow_nan=False), _UNITS),
    st.sampled_from(["1e99", "1e99d", "NaN", "Infinity", "-1", "1_000", "半天", "25h", "12h",
                     "13h", "1d4h", "1d4h1m", "999999999999d", "0.0000001d", "２ｄ"]),
)  # fmt: skip
_DATES = st.one_of(
    st.dates().map(date.isoformat),
    st.dates(date(2026, 9, 1), date(2028, 6, 1)).map(date.isoformat),
    st.builds(lambda n, u: f"+{n}{u}", st.integers(0, 5000), st.sampled_from(["d", "w"])),
)
_WEEKS = st.one_of(
    st.sampled_from(["0001-W01", "9999-W52", "9999-W53", "0000-W01", "2026-W53", "2027-W53"]),
    st.builds(lambda y, w: f"{y:04d}-W{w:02d}", st.integers(0, 10000), st.integers(0, 60)),
    st.builds(lambda y, w: f"{y}-W{w}", st.integers(2025, 2029), st.integers(1, 53)),
    st.text(max_size=12).filter(lambda s: s.strip() and not s.startswith("-")),
)
_MONTHS = st.one_of(
    st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(0, 10000), st.integers(0, 13)),
    st.builds(lambda y, m: f"{y}-{m}", st.integers(2025, 2029), st.integers(1, 12)),
    st.sampled_from(["0001-01", "9999-12", "上月", "本月"]),
)
_COMMANDS = st.one_of(
    st.builds(lambda a, o, d: ("zhaogang", f"/报工 {a} T-1{o} date={d} x"), _AMOUNTS,
              st.sampled_from(["", " ot=yes"]), _DATES),
    st.builds(lambda a, o: ("zhaogang", f"/报工 {a} T-1{o} x"), _AMOUNTS, st.sampled_from(["", " ot=yes"])),
    st.builds(lambda s, a, d: ("sunwei", f"/报工 调整 @zhaogang {s}{a} T-1 date={d} 更正"),
              st.sampled_from(["+", "-"]), _AMOUNTS, _DATES),
    st.builds(lambda a, d: ("sunwei", f'/任务 新增 "t" est={a} level=senior due={d}'), _AMOUNTS, _DATES),
    st.builds(lambda a, d: ("sunwei", f"/任务 修改 K-1 est={a} due={d}"), _AMOUNTS, _DATES),
    st.builds(lambda a, b: ("sunwei", f"/评估 CR-1 senior={a} mid={b}"), _AMOUNTS, _AMOUNTS),
    st.builds(lambda d: ("sunwei", f"/延期 K-1 {d} 原因"), _DATES),
    st.builds(lambda d: ("sunwei", f'/培训 "交接" {d}'), _DATES),
    st.builds(lambda w: ("liuyang", f"/周报 {w}"), _WEEKS),
    st.builds(lambda m: ("sunwei", f"/工时 {m}"), _MONTHS),
    st.builds(lambda m: ("sunwei", f"/结算 关闭 {m}"), _MONTHS),
)  # fmt: skip


def assert_within_limits(harness: ConsoleHarness) -> None:
    eng = engagement(harness)
    first, last = limits.date_window(eng)
    ceiling = limits.entry_ceiling(eng)
    days: dict[tuple[int, date], int] = {}
    for log in rows(harness, WorkLog):
        assert abs(log.minutes) <= ceiling and eng.start_date <= log.work_date <= eng.end_date
        if log.voided_at is None:
            key = (log.person_id, log.work_date)
            days[key] = days.get(key, 0) + log.minutes
    assert all(0 <= total <= limits.DAY_MINUTES for total in days.values())
    contract = sum(int(v) for v in eng.budget.values())
    for task in rows(harness, Task):
        assert 0 < task.estimate_minutes <= contract
        assert task.plan_date is None or first <= task.plan_date <= last
    for cr in rows(harness, ChangeRequest):
        assert all(0 < m <= limits.cr_level_ceiling(k, eng) for k, m in cr.estimate.items())
    assert all(first <= change.new_date <= last for change in rows(harness, PlanChange))
    assert all(first <= training.held_on <= last for training in rows(harness, Training))
    for period in rows(harness, Period):
        month_first, month_last = statement.month_bounds(period.month)
        assert month_first <= last and month_last >= first


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_COMMANDS, min_size=1, max_size=4))
def test_no_input_breaks_a_limit_or_the_bot(
    day: ConsoleHarness, said: list[tuple[str, str]]
) -> None:
    for user, text in said:
        for reply in day.say(user, text):
            assert reply.kind != "error.internal", text
    assert_within_limits(day)


def test_the_overtime_ceiling_comes_from_the_engagement_file(runtime, tmp_path) -> None:
    from config.settings import DEMO_ENGAGEMENT
    from tests.harness import ConsoleHarness

    text = DEMO_ENGAGEMENT.read_text(encoding="utf-8")
    text = text.replace('daily_cap = "1d"', 'daily_cap = "1d"\novertime_ceiling = "1h"')
    path = tmp_path / "engagement.toml"
    path.write_text(text, encoding="utf-8")
    harness = ConsoleHarness(runtime)
    harness.apply(path)
    assert harness.one("zhaogang", "/报工 10h svc=ops_monitoring 割接 ot=yes").kind.startswith("error.")
    assert not harness.one("zhaogang", "/报工 9h svc=ops_monitoring 割接 ot=yes").kind.startswith("error.")
