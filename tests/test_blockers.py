"""Blockers end to end through the console with the clock set: recording, owners, tasks, the
list, clearing and every refusal, the escalation ladder across a weekend (once per step), and
the summaries /status and reports use; in Chinese and English."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, select, update

from app.commands import all_commands, all_jobs
from app.runtime import Runtime
from bot import clock
from bot.bus import Bus
from bot.registry import Registry
from bot.scheduler import Run
from domain.policy import policy_of
from domain.sla import calendars
from handlers import blockers
from handlers.declared import blockers as declared_blockers
from storage.db import transaction
from storage.models import AuditEntry, Blocker, Engagement, Person, Task
from tests.harness import ConsoleHarness

FRIDAY = "2026-11-20T16:00:00+08:00"
VPN = '/阻塞 "环境访问延迟：VPN 未开通"'


@pytest.fixture
def runtime(runtime: Runtime) -> Runtime:
    """The runtime with this module's commands and job, whether or not handlers lists them yet."""
    commands = all_commands()
    if "block" not in {c.name for c in commands}:
        commands = [*commands, *declared_blockers.COMMANDS]
    runtime.registry = Registry(commands)
    runtime.bus = Bus(
        runtime.engine, runtime.registry, runtime.settings.bot.names, vocabulary=runtime.vocabulary
    )
    runtime.jobs = list({job.name: job for job in [*all_jobs(), *declared_blockers.JOBS]}.values())
    return runtime


def blocker(harness: ConsoleHarness, number: int = 1) -> Blocker:
    with transaction(harness.runtime.engine) as session:
        return session.execute(select(Blocker).where(Blocker.number == number)).scalar_one()


def person(harness: ConsoleHarness, key: str) -> Person:
    with transaction(harness.runtime.engine) as session:
        return session.execute(select(Person).where(Person.key == key)).scalar_one()


def add_task(harness: ConsoleHarness, number: int = 1, title: str = "数据同步开发") -> None:
    pm = person(harness, "sun.wei")
    with transaction(harness.runtime.engine) as session:
        session.add(Task(engagement_id=pm.engagement_id, number=number, title=title, level="senior",
                         estimate_minutes=480, created_by_id=pm.id or 0, created_at=clock.now()))  # fmt: skip


def escalate(harness: ConsoleHarness) -> None:
    blockers.escalate(Run(harness.runtime.engine, clock.now(), harness.runtime.vocabulary))


def escalations(harness: ConsoleHarness) -> list[tuple[str, str, str]]:
    return harness.kinds(kind="blocker.escalated")


def audit_actions(harness: ConsoleHarness) -> list[tuple[str, str]]:
    with transaction(harness.runtime.engine) as session:
        rows = session.execute(select(AuditEntry).where(AuditEntry.action.startswith("blocker.")))  # type: ignore[attr-defined]
        return [(row.action, row.ref) for row in rows.scalars()]


# -- /block -----------------------------------------------------------------------------------


def test_open_with_the_coordinator_as_default_owner(demo: ConsoleHarness) -> None:
    reply = demo.one("liuyang", VPN)
    assert (reply.kind, reply.ref) == ("blocker.opened", "B-1")
    assert (
        "🚧 已登记阻塞 B-1：环境访问延迟：VPN 未开通" in reply.text and "负责人 陈静" in reply.text
    )
    assert "24 个工作小时内未解除将升级" in reply.text and "/解除 B-1" in reply.text
    assert demo.kinds(kind="blocker.opened") == [
        ("blocker.opened", "chat", "demo-group"),
        ("blocker.opened", "person", "chen.jing"),
    ]
    (dm,) = demo.outbox(kind="blocker.opened", recipient="chen.jing")
    assert dm.ref == "B-1" and "DEMO-2026" in dm.text and "刘洋" in dm.text
    row = blocker(demo)
    assert (row.owner_id, row.opened_by) == (person(demo, "chen.jing").id, "liu.yang")
    assert (row.channel, row.chat_id, row.task_id, row.escalations) == (
        "console",
        "demo-group",
        None,
        [],
    )
    assert row.next_check_at == clock.parse_instant("2026-11-27T16:00:00+08:00")  # 24 h at 9 h/day
    assert audit_actions(demo) == [("blocker.opened", "B-1")]


def test_owner_by_mention_and_no_message_to_oneself(demo: ConsoleHarness) -> None:
    reply = demo.one("zhaogang", '/阻塞 "测试库账号未发放" owner=@wangli')
    assert reply.ref == "B-1" and "负责人 王丽" in reply.text
    assert blocker(demo).owner_id == person(demo, "wang.li").id
    assert demo.kinds(kind="blocker.opened")[1:] == [("blocker.opened", "person", "wang.li")]
    demo.one("chenjing", "/阻塞 防火墙策略待审批")  # her own: no direct message to herself
    assert len(demo.kinds(kind="blocker.opened")) == 3
    unknown = demo.one("zhaogang", '/阻塞 "x" owner=@nobody')
    assert unknown.kind == "error.not_found" and "@nobody" in unknown.text


def test_linked_to_a_task(demo: ConsoleHarness) -> None:
    add_task(demo)
    reply = demo.one("zhaogang", '/阻塞 "接口文档未提供" task=K-1')
    assert reply.ref == "B-1" and "影响 K-1 数据同步开发" in reply.text
    assert blocker(demo).task_id is not None
    missing = demo.one("zhaogang", '/阻塞 "接口文档未提供" task=K-9')
    assert missing.kind == "error.not_found" and "K-9" in missing.text
    assert demo.one("zhaogang", '/阻塞 "接口文档未提供" task=T-1').kind == "error.usage"
    assert demo.one("zhaogang", '/阻塞 "接口文档未提供" task=abc').kind == "error.usage"
    assert len(demo.outbox(kind="blocker.opened", recipient_type="chat")) == 1


def test_block_refusals(demo: ConsoleHarness) -> None:
    usage = demo.one("liuyang", "/阻塞")
    assert usage.kind == "error.usage" and "/阻塞" in usage.text and "例如" in usage.text
    stranger = demo.one(
        "someone", "/阻塞 没有权限"
    )  # an unregistered reporter may only open tickets
    assert stranger.kind == "error.permission"
    assert demo.outbox(kind="blocker.opened") == []


# -- /blockers --------------------------------------------------------------------------------


def test_list_oldest_first_with_owner_age_and_task(demo: ConsoleHarness) -> None:
    assert demo.one("liuyang", "/阻塞列表").text == "未解除的阻塞：无。"
    add_task(demo)
    demo.at(FRIDAY)
    demo.one("liuyang", VPN)
    demo.at("2026-11-23T10:00:00+08:00")
    demo.one("zhaogang", '/阻塞 "接口文档未提供" owner=@wangli task=K-1')
    demo.at("2026-11-23T10:30:00+08:00")
    reply = demo.one("malin", "/阻塞列表")
    assert reply.kind == "blockers.list"
    assert reply.text.splitlines() == [
        "未解除的阻塞（2）：",
        "B-1 环境访问延迟：VPN 未开通 · 陈静 · 已 3 小时",
        "B-2 接口文档未提供 · 王丽 · 已 30 分钟 · K-1 数据同步开发",
    ]
    with transaction(demo.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalar_one()
        lines = blockers.summary_lines(session, engagement, clock.now(), "zh-CN")
    assert lines == [
        "B-1 环境访问延迟：VPN 未开通 · 陈静 · 已 3 小时",
        "B-2 接口文档未提供 · 王丽 · 已 30 分钟",  # the task is for the list only
    ]


# -- /unblock ---------------------------------------------------------------------------------


def test_unblock_says_how_long_in_working_time(demo: ConsoleHarness) -> None:
    demo.at(FRIDAY)
    demo.one("liuyang", VPN)
    demo.at("2026-11-23T11:15:00+08:00")  # Friday 2 h + Monday 2 h 15 m; the weekend does not count
    reply = demo.one("chenjing", "/解除 B-1 VPN 账号已开通")
    assert (reply.kind, reply.ref) == ("blocker.cleared", "B-1")
    assert reply.text == "✅ 阻塞 B-1 已解除，持续 4小时15分（工作时间）：VPN 账号已开通"
    row = blocker(demo)
    assert (row.cleared_by, row.note, row.next_check_at) == ("chen.jing", "VPN 账号已开通", None)
    assert row.cleared_at == clock.now()
    assert audit_actions(demo) == [("blocker.opened", "B-1"), ("blocker.cleared", "B-1")]
    assert demo.one("liuyang", "/阻塞列表").text == "未解除的阻塞：无。"


@pytest.mark.parametrize("who", ["liuyang", "chenjing", "sunwei", "wangli"])
def test_who_may_clear(demo: ConsoleHarness, who: str) -> None:
    demo.one("liuyang", '/阻塞 "测试库账号未发放" owner=@wangli')  # opener, coordinator, PM, owner
    assert demo.one(who, "/解除 B-1 已处理").kind == "blocker.cleared"


def test_unblock_refusals(demo: ConsoleHarness) -> None:
    demo.one("liuyang", VPN)
    denied = demo.one("zhaogang", "/解除 B-1 我来解除")  # an engineer who did not open it
    assert denied.kind == "error.permission" and "B-1" in denied.text
    unknown = demo.one("chenjing", "/解除 B-9 已处理")
    assert unknown.kind == "error.not_found" and "/阻塞列表" in unknown.text
    assert demo.one("chenjing", "/解除 B-1").kind == "error.usage"  # how it was cleared, in writing
    assert demo.one("chenjing", "/解除 T-1 已处理").kind == "error.usage"
    demo.at("2026-11-25T11:00:00+08:00")
    demo.one("chenjing", "/解除 B-1 已开通")
    twice = demo.one("sunwei", "/解除 B-1 再解除一次")
    assert twice.kind == "error.state" and twice.text == "B-1 已于 2026-11-25 11:00 由 陈静 解除。"
    assert blocker(demo).note == "已开通"
    assert [a for a, _ in audit_actions(demo)].count("blocker.cleared") == 1


# -- escalation -------------------------------------------------------------------------------


def test_escalation_ladder_across_a_weekend_once_per_step(demo: ConsoleHarness) -> None:
    demo.at(FRIDAY)
    demo.one("liuyang", VPN)
    assert blocker(demo).next_check_at == clock.parse_instant("2026-11-25T13:00:00+08:00")
    demo.at("2026-11-25T12:59:00+08:00")  # Fri 2 h + Mon 9 h + Tue 9 h + Wed 3 h 59 m
    escalate(demo)
    demo.tick()
    assert escalations(demo) == []
    demo.at("2026-11-25T13:00:00+08:00")
    escalate(demo)
    assert sorted(escalations(demo)) == [
        ("blocker.escalated", "chat", "demo-group"),
        ("blocker.escalated", "person", "wang.li"),
        ("blocker.escalated", "person", "zhou.min"),
    ]
    (dm,) = demo.outbox(kind="blocker.escalated", recipient="wang.li")
    assert dm.ref == "B-1" and dm.text.startswith("DEMO-2026 🚨 阻塞升级（第 1 级）：B-1")
    assert "负责人 陈静" in dm.text and "已持续 24小时（工作时间）" in dm.text
    escalate(demo)
    demo.at("2026-11-25T13:01:00+08:00")
    demo.tick()
    assert len(escalations(demo)) == 3  # once, however often the job runs
    with transaction(demo.runtime.engine) as session:  # a second instance without the memory
        session.execute(update(Blocker).values(escalations=[], next_check_at=clock.now()))
    escalate(demo)
    assert len(escalations(demo)) == 3
    assert blocker(demo).next_check_at == clock.parse_instant("2026-12-02T16:00:00+08:00")
    demo.at("2026-12-02T15:59:00+08:00")  # 72 working hours: 8 working days after Friday 16:00
    escalate(demo)
    assert len(escalations(demo)) == 3
    demo.at("2026-12-02T16:00:00+08:00")
    demo.tick()
    assert escalations(demo)[3:] == [
        ("blocker.escalated", "person", "qian.hao"),
        ("blocker.escalated", "chat", "demo-group"),
    ]
    row = blocker(demo)
    assert row.escalations == ["step1", "step2"] and row.next_check_at is None
    demo.at("2026-12-09T16:00:00+08:00")
    escalate(demo)
    assert len(escalations(demo)) == 5


def test_a_cleared_blocker_never_escalates(demo: ConsoleHarness) -> None:
    demo.at(FRIDAY)
    demo.one("liuyang", VPN)
    demo.at("2026-11-23T10:00:00+08:00")
    demo.one("chenjing", "/解除 B-1 已开通")
    with transaction(demo.runtime.engine) as session:  # even if a row was left due
        session.execute(update(Blocker).values(next_check_at=clock.now()))
    demo.at("2026-12-10T10:00:00+08:00")
    escalate(demo)
    demo.tick()
    assert escalations(demo) == [] and blocker(demo).next_check_at is None


def test_escalation_follows_the_engagement_calendar(demo: ConsoleHarness) -> None:
    demo.at("2026-12-30T16:00:00+08:00")
    demo.one("liuyang", VPN)
    with transaction(demo.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalar_one()
        calendar = policy_of(engagement).calendar
    assert not calendar.is_working_day(date(2027, 1, 4))  # the client's shutdown day
    due = blocker(demo).next_check_at
    assert due == calendar.add(clock.parse_instant("2026-12-30T16:00:00+08:00"), 24 * 60)
    assert due is not None and clock.local(due, "Asia/Shanghai").date() > date(2027, 1, 4)


def test_job_reads_only_due_blockers_with_one_indexed_query(demo: ConsoleHarness) -> None:
    for n in range(5):
        demo.one("liuyang", f"/阻塞 问题 {n}")
        demo.one("chenjing", f"/解除 B-{n + 1} 已处理")
    demo.one("liuyang", "/阻塞 未解除的一个")
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "blocker" in statement.lower():
            statements.append(statement)

    engine = demo.runtime.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        escalate(demo)  # nothing is due yet
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1 and "next_check_at <=" in statements[0]


# -- for /status and reports ------------------------------------------------------------------


def test_time_lost_by_task_counts_client_blockers_open_or_cleared(demo: ConsoleHarness) -> None:
    add_task(demo, 1)
    add_task(demo, 2, "报表迁移")
    demo.at(FRIDAY)
    demo.one("zhaogang", '/阻塞 "VPN 未开通" task=K-1')
    demo.one("zhaogang", '/阻塞 "内部评审未完成" owner=@sunwei task=K-1')  # vendor-side: no
    demo.one("zhaogang", '/阻塞 "没有关联任务"')
    demo.at("2026-11-23T11:00:00+08:00")
    demo.one("chenjing", "/解除 B-1 已开通")  # 4 h
    demo.one("zhaogang", '/阻塞 "样例数据未提供" owner=@wangli task=K-2')
    demo.one("zhaogang", '/阻塞 "测试库只读" task=K-1')
    demo.at("2026-11-23T13:30:00+08:00")
    with transaction(demo.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalar_one()
        lost = blockers.time_lost_by_task(session, engagement, clock.now())
    assert lost == {"K-1": 4 * 60 + 150, "K-2": 150}


def test_age_minutes_is_working_time_until_cleared() -> None:
    calendar = calendars({}, "Asia/Shanghai")["business"]
    opened = clock.parse_instant(FRIDAY)
    row = Blocker(engagement_id=1, number=1, description="x", opened_by="a", opened_at=opened)
    assert (
        blockers.age_minutes(row, calendar, clock.parse_instant("2026-11-23T09:30:00+08:00")) == 150
    )
    row.cleared_at = clock.parse_instant("2026-11-20T17:00:00+08:00")
    assert (
        blockers.age_minutes(row, calendar, clock.parse_instant("2026-12-01T09:00:00+08:00")) == 60
    )


def test_escalation_due_is_pure_and_once_per_step() -> None:
    steps = [24 * 60, 72 * 60]
    assert blockers.escalation_due(steps, [], 100) == ([], 24 * 60)
    assert blockers.escalation_due(steps, [], 24 * 60) == ([1], 72 * 60)
    assert blockers.escalation_due(steps, ["step1"], 30 * 60) == ([], 72 * 60)
    assert blockers.escalation_due(steps, [], 80 * 60) == ([1, 2], None)  # a late run sends both
    assert blockers.escalation_due(steps, ["step1", "step2"], 99 * 60) == ([], None)


# -- English ----------------------------------------------------------------------------------


def test_english_engagement(en: ConsoleHarness) -> None:
    en.at("2026-11-25T10:00:00+08:00")
    opened = en.one("liuyang", '/block "VPN access not granted"')
    assert opened.text.splitlines() == [
        "🚧 Blocker B-1 recorded: VPN access not granted",
        "Owner 陈静.",
        "It is escalated if not cleared within 24 working hours. Clear it with /unblock B-1 NOTE",
    ]
    (dm,) = en.outbox(kind="blocker.opened", recipient="chen.jing")
    assert dm.text.startswith("🚧 EN-2026: blocker B-1 is yours to clear: VPN access not granted")
    en.at("2026-11-25T14:30:00+08:00")
    assert en.one("wangli", "/blockers").text == (
        "Open blockers (1):\nB-1 VPN access not granted · 陈静 · open 4 h"
    )
    assert en.one("zhaogang", "/unblock B-1 mine").kind == "error.permission"
    assert en.one("liuyang", "/unblock B-9 done").text == (
        "There is no blocker B-9. Send /blockers to list the open ones."
    )
    cleared = en.one("chenjing", "/阻塞列表")  # the Chinese names work in English too
    assert cleared.text.startswith("Open blockers (1):")
    done = en.one("chenjing", "/unblock B-1 account issued")
    assert done.text == "✅ Blocker B-1 cleared after 4h 30m of working time: account issued"
    again = en.one("chenjing", "/unblock B-1 again")
    assert again.text == "B-1 was cleared by 陈静 at 2026-11-25 14:30."
    assert en.one("chenjing", "/blockers").text == "Open blockers: none."
    usage = en.one("liuyang", "/block")
    assert usage.kind == "error.usage" and "Usage: /block" in usage.text


def test_english_escalation_text(en: ConsoleHarness) -> None:
    en.at(FRIDAY)
    en.one("liuyang", '/block "VPN access not granted"')
    en.at("2026-11-25T13:00:00+08:00")
    escalate(en)
    (chat,) = en.outbox(kind="blocker.escalated", recipient_type="chat")
    assert chat.recipient == "en-group" and chat.text.startswith(
        "🚨 Blocker escalation (step 1): B-1 VPN access not granted | owner 陈静, recorded 2026-11-20 16:00"
    )
