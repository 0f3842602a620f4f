"""The batch-and-lock sweep (`bot.sweep`): every due row once, soonest first, in batches; each in
a transaction of its own with the system's context; a failing row alone rolled back; a row
another instance holds left to it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlmodel import col

from bot import clock
from bot.context import Context
from bot.scheduler import Run
from bot.sweep import SweepFailed, sweep
from storage.db import is_postgres, transaction
from storage.models import AuditEntry, Blocker, Engagement
from tests.harness import ConsoleHarness

DUE = col(Blocker.next_check_at)


def add_blockers(harness: ConsoleHarness, count: int) -> None:
    """`count` blockers, B-1 due first, none cleared; one more that is not due yet."""
    now = clock.now()
    with transaction(harness.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalars().first()
        assert engagement is not None and engagement.id is not None
        for n in range(1, count + 2):
            due = now - timedelta(minutes=count - n + 1) if n <= count else now + timedelta(hours=1)
            session.add(Blocker(engagement_id=engagement.id, number=n, description=f"问题 {n}",
                                opened_by="sun.wei", opened_at=now, next_check_at=due))  # fmt: skip


def run(harness: ConsoleHarness) -> Run:
    return Run(harness.runtime.engine, clock.now(), harness.runtime.vocabulary)


def due_numbers(harness: ConsoleHarness) -> list[int]:
    with transaction(harness.runtime.engine) as session:
        due = col(Blocker.next_check_at)
        rows = session.execute(select(Blocker).where(due <= clock.now()).order_by(due)).scalars()
        return [b.number for b in rows]


def audited(harness: ConsoleHarness) -> list[tuple[str, str]]:
    with transaction(harness.runtime.engine) as session:
        rows = session.execute(select(AuditEntry).where(col(AuditEntry.actor) == "system"))
        return [(row.action, row.ref) for row in rows.scalars()]


def test_every_due_row_once_soonest_first_in_batches(demo: ConsoleHarness) -> None:
    add_blockers(demo, 5)
    seen: list[tuple[int, str, str, str]] = []

    def handle(ctx: Context, blocker: Blocker) -> None:
        assert ctx.actor is not None and ctx.actor.is_system and ctx.inbound is None
        seen.append((blocker.number, ctx.eng.code, ctx.locale, ctx.actor.key))
        if blocker.number != 2:  # B-2 stays due: handled once in a run all the same
            blocker.next_check_at = None

    assert sweep(run(demo), Blocker, DUE, handle, batch=2) == 5
    assert seen == [(n, "DEMO-2026", "zh-CN", "system") for n in range(1, 6)]
    assert due_numbers(demo) == [2]


def test_a_failing_row_is_rolled_back_alone(demo: ConsoleHarness, caplog) -> None:
    add_blockers(demo, 3)

    def handle(ctx: Context, blocker: Blocker) -> None:
        blocker.next_check_at = None
        ctx.audit("blocker.checked", blocker.ref)
        if blocker.number == 2:
            raise RuntimeError("broken row")

    with pytest.raises(SweepFailed, match="1 Blocker"):
        sweep(run(demo), Blocker, DUE, handle)
    assert "Blocker" in caplog.text and "broken row" in caplog.text
    assert due_numbers(demo) == [2]  # left due, to be tried again next time
    assert [a for a, _ in audited(demo)] == ["blocker.checked", "blocker.checked"]
    assert {r for _, r in audited(demo)} == {"B-1", "B-3"}


def test_the_systems_audit_entries_carry_no_party(demo: ConsoleHarness) -> None:
    add_blockers(demo, 1)
    sweep(run(demo), Blocker, DUE, lambda ctx, b: ctx.audit("blocker.checked", b.ref))
    with transaction(demo.runtime.engine) as session:
        entry = session.execute(
            select(AuditEntry).where(col(AuditEntry.action) == "blocker.checked")
        ).scalar_one()
        assert entry.actor == "system" and "party" not in entry.data


def test_a_row_another_instance_holds_is_left_to_it(demo: ConsoleHarness) -> None:
    engine = demo.runtime.engine
    if not is_postgres(engine):
        pytest.skip("SQLite has one writer at a time; PostgreSQL locks rows")
    add_blockers(demo, 3)
    handled: list[int] = []

    def handle(ctx: Context, blocker: Blocker) -> None:
        handled.append(blocker.number)
        blocker.next_check_at = None

    with engine.connect() as other:  # the other instance, in the middle of B-2
        other.execute(text("SELECT id FROM blocker WHERE number = 2 FOR UPDATE"))
        assert sweep(run(demo), Blocker, DUE, handle) == 2
        other.rollback()
    assert handled == [1, 3] and due_numbers(demo) == [2]
