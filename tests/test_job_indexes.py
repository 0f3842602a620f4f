"""Every query the scheduled jobs run reads through an index, not the engagement's history
(issue #14): the jobs run for real on a database with years of closed tickets, cleared
blockers, done tasks and old messages, the SQL they send is captured, and each statement's
plan is asked of the database (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import Engine, event, insert, select, text
from sqlmodel import SQLModel, col

from storage.db import is_postgres, transaction
from storage.migrate import alembic_config
from storage.models import (
    AuditEntry,
    Blocker,
    ChangeRequest,
    Deliverable,
    Engagement,
    InboundKey,
    OutboxMessage,
    Person,
    Task,
    Ticket,
    WorkLog,
)
from tests.harness import ConsoleHarness

# Friday after the sync time (17:30): the daily sync, the weekly report (the week's last
# working day), the morning digest and every other job are due.
FRIDAY_EVENING = "2026-11-27T18:00:00+08:00"
HISTORY = 3000  # rows of history per big table: enough for PostgreSQL to prefer an index
_START = datetime(2024, 1, 1, tzinfo=UTC)
# Tables that grow with an engagement's history: no job may read one whole.
GROWING = ("ticket", "blocker", "worklog", "task", "changerequest", "deliverable", "audit_log",
           "outbox", "inbound_key")  # fmt: skip
# The indexes of migration 0009, each used by at least one job's query.
JOB_INDEXES = {
    "ix_ticket_opened", "ix_ticket_resolved", "ix_blocker_opened", "ix_blocker_cleared",
    "ix_changerequest_status", "ix_changerequest_effective", "ix_deliverable_decided",
    "ix_worklog_day", "ix_outbox_digest",
    "ix_task_plan",
}  # fmt: skip
# The one query allowed to read an engagement's whole work log: the budget's running total (its
# rows are people x working days, bounded by the contract; not the tickets' unbounded history).
_BUDGET_TOTAL = re.compile(r"sum\(worklog\.minutes\).*GROUP BY worklog\.level", re.S)


def _when(n: int) -> datetime:
    """The n-th moment of the history: one every 5.5 hours from 2024 to mid 2025, all of it
    before the windows the jobs ask about (the engagement starts 2026-11-01)."""
    return _START + timedelta(hours=5.5 * n)


def _history(engine: Engine) -> None:
    """Closed tickets, cleared blockers, done tasks, effective change requests, accepted
    deliverables, work logs, sent messages, old dedupe keys and audit entries, bulk-inserted."""
    with transaction(engine) as session:
        eid = session.execute(select(col(Engagement.id))).scalar_one()
        pid = session.execute(select(col(Person.id))).scalars().first()
        rows: dict[type[SQLModel], list[dict[str, Any]]] = {
            Ticket: [dict(engagement_id=eid, number=1000 + n, severity="P3", title="old", status="closed",
                          reporter_key="k", reporter_name="n", opened_at=_when(n), acked_at=_when(n),
                          resolved_at=_when(n) + timedelta(hours=2), closed_at=_when(n) + timedelta(hours=3),
                          response_due_at=_when(n), alerts=[], channel="console", chat_id="demo-group",
                          in_scope=True, pending_reason="", paused_minutes=0, message_id="")
                     for n in range(HISTORY)],
            Blocker: [dict(engagement_id=eid, number=1000 + n, description="old", opened_by="k",
                           opened_at=_when(n), cleared_at=_when(n) + timedelta(days=1), cleared_by="k",
                           note="", escalations=[], channel="", chat_id="")
                      for n in range(HISTORY)],
            Task: [dict(engagement_id=eid, number=1000 + n, title="old", level="senior", estimate_minutes=60,
                        priority="medium", plan_date=_when(n).date(), plan_version=1, status="done",
                        created_by_id=pid, created_at=_when(n), done_at=_when(n))
                   for n in range(HISTORY)],
            ChangeRequest: [dict(engagement_id=eid, number=1000 + n, title="old", description="",
                                 status="effective" if n % 100 == 0 else "rejected", estimate={}, impact="",
                                 estimate_version=1, filed_by_id=pid, filed_at=_when(n),
                                 effective_at=_when(n) if n % 100 == 0 else None, channel="", chat_id="",
                                 message_id="", rejected_reason="")
                            for n in range(HISTORY)],
            Deliverable: [dict(engagement_id=eid, number=1000 + n, name="old", link="", status="accepted",
                               submitted_by_id=pid, submitted_at=_when(n), decided_by_id=pid,
                               decided_at=_when(n), reason="", content_hash="")
                          for n in range(HISTORY)],
            WorkLog: [dict(engagement_id=eid, person_id=pid, level="senior", work_date=_when(n).date(),
                           minutes=60, target_kind="service", target_ref="ops", note="", overtime=False,
                           kind="entry", created_by_id=pid, created_at=_when(n))
                      for n in range(HISTORY)],
            OutboxMessage: [dict(engagement_id=eid, channel="console", recipient_type="chat", recipient="c",
                                 address="c", reply_to="", kind="sla.breach" if n % 2 else "ticket.opened",
                                 ref="", text="old", payload={}, locale="zh-CN", status="sent", attempts=1,
                                 next_attempt_at=_when(n), last_error="", created_at=_when(n), sent_at=_when(n))
                            for n in range(HISTORY)],
            InboundKey: [dict(channel="console", key=f"old-{n}", received_at=datetime(2026, 11, 26, tzinfo=UTC)
                              + timedelta(seconds=n), status="handled", error_class="", error="")
                         for n in range(HISTORY)],
        }  # fmt: skip
        for model, values in rows.items():
            session.execute(insert(model), values)
        # Entries of another engagement (none), after the demo's: its head is found by index,
        # not by walking back. The chain itself is not checked here (see test_audit_scale).
        session.execute(
            insert(AuditEntry),
            [dict(engagement_id=None, at=_when(n), actor="k", action="old", ref="", data="{}",
                  prev_hash=f"old-{n}", hash=f"old-{n + 1}") for n in range(HISTORY)],
        )  # fmt: skip
    if is_postgres(engine):  # what autovacuum does in production: the planner needs row counts
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))


def _capture(engine: Engine, work: Callable[[], object]) -> list[tuple[str, Any]]:
    """The statements `work` sends that read or change rows, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool
    ) -> None:
        if not many and statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent


def _plan(engine: Engine, statement: str, parameters: Any) -> str:
    explain = "EXPLAIN " if is_postgres(engine) else "EXPLAIN QUERY PLAN "
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(explain + statement, parameters).all()
        connection.rollback()  # EXPLAIN of an UPDATE or DELETE only plans it; nothing to keep
    return "\n".join(str(row[-1]) for row in rows)


def _full_reads(engine: Engine, statement: str, plan: str) -> list[str]:
    """The plan's lines that read a growing table whole, or all of an engagement's rows of it
    (an index used for `engagement_id` alone): that is the engagement's whole history. An
    index that yields rows in the ORDER BY of a LIMIT query stops early, and is fine."""
    tables = "|".join(GROWING)
    limited = re.search(r"\bLIMIT\b", statement) is not None and "TEMP B-TREE" not in plan
    if is_postgres(engine):
        whole = rf"Seq Scan on ({tables})\b"
        engagement = r"Index Cond: \(engagement_id = [^()]*\)\s*$"
    else:
        whole = rf"\bSCAN ({tables})\b"
        engagement = rf"\bSEARCH ({tables}) USING .*\(engagement_id=\?\)\s*$"
    lines = plan.splitlines()
    return [line for line in lines if re.search(whole, line)
            or (not limited and re.search(engagement, line))]  # fmt: skip


def _touches(statement: str) -> bool:
    return re.search(rf"\b({'|'.join(GROWING)})\b", statement) is not None


def test_every_job_query_reads_through_an_index(demo: ConsoleHarness) -> None:
    engine = demo.runtime.engine
    _history(engine)
    demo.at(FRIDAY_EVENING)
    ran: list[tuple[str, bool]] = []
    sent = _capture(engine, lambda: ran.extend(demo.tick()))
    assert ran and all(ok for _, ok in ran), ran
    assert {name for name, _ in ran} >= {"progress.sync", "progress.weekly", "progress.digest",
                                         "sla.sweep", "blocker.escalate", "plan.overdue", "intake.prune"}  # fmt: skip
    # The jobs did their work: the queries checked below are the ones that ran for real.
    posted = [kind for kind, *_ in demo.kinds() if kind.startswith("progress.")]
    assert posted == ["progress.sync", "progress.weekly", "progress.digest"]
    checked, full, indexes = 0, list[str](), set[str]()
    for statement, parameters in sent:
        if not _touches(statement) or (
            _BUDGET_TOTAL.search(statement) and "work_date" not in statement
        ):
            continue
        plan = _plan(engine, statement, parameters)
        checked += 1
        indexes.update(re.findall(r"\b(ix_[a-z_]+)", plan))
        full.extend(f"{line.strip()}  <-  {' '.join(statement.split())[:300]}"
                    for line in _full_reads(engine, statement, plan))  # fmt: skip
    assert checked > 20
    assert full == []
    assert indexes >= JOB_INDEXES, JOB_INDEXES - indexes


def test_the_windows_of_the_sync_and_the_report_use_their_indexes(demo: ConsoleHarness) -> None:
    """The four windows of issue #14, by name: what the daily sync and the weekly report ask."""
    engine = demo.runtime.engine
    _history(engine)
    demo.at(FRIDAY_EVENING)
    sent = _capture(engine, demo.tick)
    wanted = {
        "ix_ticket_opened": r"SELECT ticket\.number .*ticket\.opened_at >=",
        "ix_ticket_resolved": r"SELECT ticket\.number .*ticket\.resolved_at >=",
        "ix_blocker_opened": r"count\(\*\).*blocker\.opened_at >=",
        "ix_blocker_cleared": r"FROM blocker .*blocker\.cleared_at >=",
    }
    for index, pattern in wanted.items():
        (statement, parameters), *_ = [
            (s, p) for s, p in sent if re.search(pattern, " ".join(s.split()))
        ]
        assert index in _plan(engine, statement, parameters), (index, statement)


def _index_names(engine: Engine) -> set[str]:
    if is_postgres(engine):
        query = "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_%'"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%'"
    with engine.connect() as connection:
        return set(connection.execute(text(query)).scalars())


def test_0009_upgrades_downgrades_and_upgrades_again(blank: Engine) -> None:
    config = alembic_config(blank)
    command.upgrade(config, "0008")
    before = _index_names(blank)
    command.upgrade(config, "0009")
    added = JOB_INDEXES - {"ix_worklog_day"} | {"ix_audit_log_engagement_head"}  # rebuilt
    assert _index_names(blank) == before - {"ix_outbox_kind_created"} | added
    command.downgrade(config, "0008")
    assert _index_names(blank) == before
    command.upgrade(config, "head")
    assert added <= _index_names(blank)
