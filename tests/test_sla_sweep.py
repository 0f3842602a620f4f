"""The SLA sweep with the clock set: the ladder's recipients and kinds, alerts once whatever
the number of sweeps or instances, waiting for working hours, auto-close, and a cost that
does not grow with closed tickets."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import event, select, text, update

from bot import clock
from bot.scheduler import Run
from handlers.sla_sweep import calendar_check, due_tickets, sweep
from storage.db import is_postgres, transaction
from storage.models import Ticket
from tests.harness import ConsoleHarness


def alerts(harness: ConsoleHarness) -> list[tuple[str, str, str]]:
    return [k for k in harness.kinds() if k[0].startswith("sla.")]


def run_sweep(harness: ConsoleHarness) -> None:
    sweep(Run(harness.runtime.engine, clock.now(), harness.runtime.vocabulary))


def test_p2_ladder_in_working_hours(demo: ConsoleHarness) -> None:
    demo.at("2026-11-25T10:00:00+08:00")
    demo.one("liuyang", "/工单 P2 同步任务失败")
    demo.at("2026-11-25T10:22:00+08:00")
    run_sweep(demo)
    assert alerts(demo) == []
    demo.at("2026-11-25T10:23:00+08:00")  # 75% of 30 minutes, rounded up
    run_sweep(demo)
    assert alerts(demo) == [
        ("sla.warning", "person", "sun.wei"),
        ("sla.warning", "chat", "demo-group"),
    ]
    run_sweep(demo)
    demo.tick()
    assert len(alerts(demo)) == 2  # once, however often the sweep runs
    demo.at("2026-11-25T10:30:00+08:00")
    run_sweep(demo)
    assert sorted(alerts(demo)[2:]) == [
        ("sla.breach", "chat", "demo-group"),
        ("sla.breach", "person", "sun.wei"),
        ("sla.breach", "person", "zhou.min"),
    ]
    demo.at("2026-11-25T10:45:00+08:00")
    run_sweep(demo)
    assert alerts(demo)[5:] == [("sla.escalation", "person", "qian.hao")]
    (row,) = demo.outbox(kind="sla.escalation")
    assert row.ref == "T-1" and "超时升级" in row.text and "首次响应时限 30分" in row.text
    demo.one("zhaogang", "/响应 T-1")  # the response ladder stops; the resolution one runs on
    demo.at("2026-11-25T16:00:00+08:00")  # 75% of 8 h is 16:00
    run_sweep(demo)
    assert alerts(demo)[6:] == [
        ("sla.warning", "person", "zhao.gang"),
        ("sla.warning", "chat", "demo-group"),
    ]
    demo.one("zhaogang", "/解决 T-1 重跑成功")
    demo.at("2026-11-26T10:00:00+08:00")
    run_sweep(demo)
    assert len(alerts(demo)) == 8  # resolved: no breach


def test_alerts_are_once_even_for_a_second_instance(demo: ConsoleHarness) -> None:
    """A second instance that lost the ticket's memory of the alert still sends it once."""
    demo.at("2026-11-25T10:00:00+08:00")
    demo.one("liuyang", "/工单 P2 同步任务失败")
    demo.at("2026-11-25T10:31:00+08:00")
    run_sweep(demo)
    with transaction(demo.runtime.engine) as session:
        session.execute(update(Ticket).values(alerts=[], next_check_at=clock.now()))
    run_sweep(demo)
    assert [k for k, _, _ in alerts(demo)].count("sla.breach") == 3


def test_non_p1_alerts_outside_working_hours_wait_p1_does_not(demo: ConsoleHarness) -> None:
    demo.at("2026-11-25T20:00:00+08:00")
    demo.one("liuyang", "/工单 P2 夜间批处理失败")
    demo.one("liuyang", "/工单 P1 生产库宕机")
    demo.at("2026-11-25T20:40:00+08:00")
    run_sweep(demo)
    refs = {(row.kind, row.ref) for row in demo.outbox() if row.kind.startswith("sla.")}
    assert refs == {("sla.breach", "T-2"), ("sla.escalation", "T-2")}
    with transaction(demo.runtime.engine) as session:
        waiting = session.execute(select(Ticket).where(Ticket.number == 1)).scalar_one()
        assert waiting.next_check_at == clock.parse_instant("2026-11-26T09:00:00+08:00")
    demo.at("2026-11-26T09:00:00+08:00")
    run_sweep(demo)
    stages = [row.kind for row in demo.outbox() if row.ref == "T-1" and row.kind.startswith("sla.")]
    assert "sla.warning" not in stages and "sla.breach" in stages and "sla.escalation" in stages


def test_pending_on_the_client_stops_the_ladder(demo: ConsoleHarness) -> None:
    demo.at("2026-11-25T10:00:00+08:00")
    demo.one("liuyang", "/工单 P2 同步任务失败")
    demo.one("zhaogang", "/挂起 T-1 甲方 等待账号")
    demo.at("2026-11-26T10:00:00+08:00")
    run_sweep(demo)
    assert alerts(demo) == []
    demo.one("chenjing", "/恢复 T-1")  # 24 h paused; 8 h of the target left
    demo.at("2026-11-26T16:00:00+08:00")
    run_sweep(demo)
    assert [k for k, _, _ in alerts(demo)] == ["sla.warning", "sla.warning"]


def test_resolved_ticket_closes_itself_after_three_business_days(demo: ConsoleHarness) -> None:
    demo.at("2026-11-20T16:00:00+08:00")  # Friday
    demo.one("liuyang", "/工单 报表慢")
    demo.one("zhaogang", "/解决 T-1 加了索引")
    demo.at("2026-11-25T15:59:00+08:00")
    run_sweep(demo)
    assert demo.outbox(kind="ticket.closed") == []
    demo.at("2026-11-25T16:00:00+08:00")  # Mon, Tue, Wed
    run_sweep(demo)
    (closed,) = demo.outbox(kind="ticket.closed")
    assert closed.ref == "T-1" and "自动关闭" in closed.text
    with transaction(demo.runtime.engine) as session:
        ticket = session.execute(select(Ticket)).scalar_one()
        assert ticket.status == "closed" and ticket.next_check_at is None


def test_sweep_reads_only_due_tickets_with_one_indexed_query(demo: ConsoleHarness) -> None:
    demo.at("2026-11-25T10:00:00+08:00")
    for n in range(40):
        demo.one("liuyang", f"/工单 P4 咨询 {n}")
        demo.one("zhaogang", f"/解决 T-{n + 1} 已答复")
        demo.one("liuyang", f"/关闭 T-{n + 1}")
    demo.one("liuyang", "/工单 P2 未关闭的一张")
    engine = demo.runtime.engine
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "ticket" in statement.lower():
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        run_sweep(demo)  # nothing is due at 10:00
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1 and "next_check_at <=" in statements[0]
    with transaction(engine) as session:
        assert due_tickets(session, clock.now() + timedelta(days=365)) != []
        assert (
            len(due_tickets(session, clock.now() + timedelta(days=365))) == 1
        )  # closed ones never
        if not is_postgres(engine):
            compiled = str(
                select(Ticket.id)
                .where(Ticket.next_check_at <= clock.now())  # type: ignore[operator]
                .compile(engine, compile_kwargs={"literal_binds": True})
            )
            plan = " ".join(
                str(r) for r in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
            )
            assert "ix_ticket_next_check_at" in plan


def test_calendar_check_warns_about_unknown_years(demo: ConsoleHarness, caplog) -> None:
    demo.at("2026-12-15T10:00:00+08:00")
    with caplog.at_level(logging.WARNING, logger="rentian.sla"):
        calendar_check(Run(demo.runtime.engine, clock.now(), demo.runtime.vocabulary))
    assert "DEMO-2026: chinese-calendar has no holiday data for 2027" in caplog.text
    caplog.clear()
    demo.at("2026-10-01T10:00:00+08:00")  # 2027 is more than 60 days away
    with caplog.at_level(logging.WARNING, logger="rentian.sla"):
        calendar_check(Run(demo.runtime.engine, clock.now(), demo.runtime.vocabulary))
    assert caplog.text == ""
