"""Who runs the scheduler (`bot.scheduler.Leadership`, `Scheduler.poll`): one instance on
PostgreSQL, handed over when the leader lets go or its connection dies; SQLite always leads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from bot import clock
from bot.scheduler import _PG_SCHEDULER_LOCK, Job, Leadership, Run, Scheduler
from bot.vocabulary import Vocabulary
from storage.db import is_postgres

EVERY = timedelta(minutes=5)


@pytest.fixture
def pg(engine: Engine) -> Engine:
    if not is_postgres(engine):
        pytest.skip("advisory locks: PostgreSQL only")
    return engine


@pytest.fixture
def pair(pg: Engine) -> Iterator[tuple[Leadership, Leadership]]:
    first, second = Leadership(pg), Leadership(pg)
    yield first, second
    first.release()
    second.release()


def holder_pid(engine: Engine) -> int | None:
    """The PostgreSQL backend holding the scheduler lock, as an operator would find it (in this
    database: pg_locks lists every database's, and other test runs share the server)."""
    with engine.connect() as connection:
        pid = connection.execute(
            text("SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                 " WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :key AND l.objsubid = 1"
                 " AND d.datname = current_database()"), {"key": _PG_SCHEDULER_LOCK},
        ).scalar()  # fmt: skip
    return None if pid is None else int(pid)


def test_sqlite_always_leads(engine: Engine) -> None:
    if is_postgres(engine):
        pytest.skip("SQLite only")
    first, second = Leadership(engine), Leadership(engine)
    assert first.hold() and second.hold() and first.try_acquire()
    first.release()
    assert first.leader and first.hold()


def test_one_leads_and_releasing_hands_over(pair: tuple[Leadership, Leadership]) -> None:
    first, second = pair
    assert first.hold() is True
    assert second.hold() is False and not second.leader
    assert first.hold() is True  # still its own: nothing changes
    first.release()
    assert not first.leader
    assert second.hold() is True
    assert first.hold() is False


def test_a_leader_whose_connection_died_stops_leading(
    pg: Engine, pair: tuple[Leadership, Leadership]
) -> None:
    first, second = pair
    assert first.hold()
    pid = holder_pid(pg)
    assert pid is not None
    with pg.connect() as admin:  # as a database restart would: the session ends, lock and all
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    for _ in range(200):  # the server frees the lock as the backend exits
        if second.hold():
            break
        time.sleep(0.05)
    assert second.leader, "the lock was not freed after its holder's session ended"
    assert first.hold() is False and not first.leader
    assert holder_pid(pg) != pid


def _counting_job(runs: list[str], name: str = "count", fail: bool = False) -> Job:
    def run(at: Run) -> None:
        runs.append(f"{name}@{at.now:%H:%M}")
        if fail:
            raise RuntimeError("this job fails")

    return Job(name, EVERY, run)


def test_a_standby_takes_over_and_runs_what_is_due(pg: Engine) -> None:
    runs: list[str] = []
    job = _counting_job(runs)
    leader = Scheduler(pg, [job], Vocabulary(), leader_poll_seconds=0.1)
    standby = Scheduler(pg, [job], Vocabulary(), leader_poll_seconds=0.1)
    try:
        assert leader.poll() == [("count", True)]
        assert standby.poll() == [] and leader.poll() == []  # nothing due at a fixed clock
        clock.advance(EVERY)
        leader.shutdown()  # as its death would: the lock is free
        assert standby.poll() == [("count", True)]  # what was left due runs at once
        assert runs == ["count@02:00", "count@02:05"]
    finally:
        leader.shutdown()
        standby.shutdown()


def test_every_due_job_runs_once_and_a_failed_one_waits_its_interval(engine: Engine) -> None:
    runs: list[str] = []
    jobs = [_counting_job(runs), _counting_job(runs, "broken", fail=True)]
    scheduler = Scheduler(engine, jobs, Vocabulary())
    try:
        assert scheduler.poll() == [("count", True), ("broken", False)]
        assert scheduler.poll() == []  # the failed job is still due, but not tried again yet
        clock.advance(EVERY)
        assert scheduler.poll() == [("count", True), ("broken", False)]
    finally:
        scheduler.shutdown()


async def test_serving_polls_until_shut_down(engine: Engine) -> None:
    runs: list[str] = []
    scheduler = Scheduler(engine, [_counting_job(runs)], Vocabulary(), leader_poll_seconds=0.01)
    scheduler.start()
    try:
        for _ in range(500):
            if runs:
                break
            await asyncio.sleep(0.01)
        assert runs == ["count@02:00"]
        clock.advance(EVERY)
        for _ in range(500):
            if len(runs) == 2:
                break
            await asyncio.sleep(0.01)
        assert runs == ["count@02:00", "count@02:05"]
    finally:
        scheduler.shutdown()
    assert not scheduler.leadership.hold()  # a poll still running as it stops leads no more
