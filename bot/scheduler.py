"""Scheduler jobs: a registry that handler modules add to (`JOBS = [Job(...)]`).

`rentian tick` runs every job that is due at now, once; `serve` runs them with APScheduler's
AsyncIOScheduler. Jobs are idempotent (their messages carry dedupe keys), so a job run
twice, or by two instances, says each thing once. With PostgreSQL only the instance
holding an advisory lock runs the scheduler.

A job gets its `Run`: the instant, the database and the app's vocabulary. It works in
transactions the run opens, each a `bot.context.Context` whose actor is the system, so a job
notifies, posts and audits as a command does. Jobs over rows that fall due: `bot.sweep`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlmodel import col

from bot import clock
from bot.context import Context
from bot.vocabulary import Vocabulary
from storage.db import is_postgres, transaction
from storage.models import Engagement, JobRun

log = logging.getLogger("rentian.scheduler")
_PG_SCHEDULER_LOCK = 0x52454E55


@dataclass(frozen=True)
class Run:
    """One run of a job: its instant (`now`, the same for the whole run), the database and
    the app's vocabulary."""

    engine: Engine
    now: datetime
    vocabulary: Vocabulary

    @contextmanager
    def context(self, engagement_id: int | None = None) -> Iterator[Context]:
        """A transaction of its own, as the system's context for the engagement (or for
        none): committed when the block ends, rolled back if it raises."""
        with transaction(self.engine) as session:
            engagement = None if engagement_id is None else session.get(Engagement, engagement_id)
            yield Context.system(session, self.now, self.vocabulary, engagement)

    def each_engagement(self, work: Callable[[Context], None]) -> None:
        """`work` for every engagement, each in a transaction of its own."""
        with transaction(self.engine) as session:
            query = select(col(Engagement.id)).order_by(col(Engagement.id))
            ids = [int(i) for i in session.execute(query).scalars() if i is not None]
        for engagement_id in ids:
            with self.context(engagement_id) as ctx:
                work(ctx)


@dataclass(frozen=True)
class Job:
    """A job run every `every`; `run` does its own transactions and must be idempotent."""

    name: str
    every: timedelta
    run: Callable[[Run], Any]
    summary: str = ""


def due(jobs: Iterable[Job], last_runs: dict[str, datetime], now: datetime) -> list[Job]:
    """The jobs whose interval has passed since their last run (never run: due)."""
    return [
        job for job in jobs if job.name not in last_runs or last_runs[job.name] + job.every <= now
    ]


def last_runs(engine: Engine) -> dict[str, datetime]:
    with transaction(engine) as session:
        return {row.name: row.last_run_at for row in session.execute(select(JobRun)).scalars()}


def run_job(engine: Engine, job: Job, vocabulary: Vocabulary, now: datetime | None = None) -> bool:
    """Run one job now and record it; False (logged) if it raised."""
    moment = now or clock.now()
    try:
        job.run(Run(engine, moment, vocabulary))
    except Exception:
        log.exception("job %s failed", job.name)
        return False
    with transaction(engine) as session:
        record = session.get(JobRun, job.name) or JobRun(name=job.name)
        record.last_run_at = moment
        session.add(record)
    return True


def tick(engine: Engine, jobs: Iterable[Job], vocabulary: Vocabulary) -> list[tuple[str, bool]]:
    """Run what is due at `clock.now()`: [(job name, succeeded)]."""
    now = clock.now()
    return [
        (job.name, run_job(engine, job, vocabulary, now))
        for job in due(jobs, last_runs(engine), now)
    ]


class Leadership:
    """Who runs the scheduler: always this process on SQLite; on PostgreSQL the holder of
    a session advisory lock, kept on a connection of its own until `release`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self.leader = not is_postgres(engine)

    def try_acquire(self) -> bool:
        if self.leader:
            return True
        connection = self.engine.connect()
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": _PG_SCHEDULER_LOCK}
        ).scalar()
        connection.commit()
        if got:
            self._connection, self.leader = connection, True
            log.info("this instance runs the scheduler")
        else:
            connection.close()
        return bool(got)

    def release(self) -> None:
        if self._connection is not None:
            # Unlock explicitly: closing only returns the connection to the pool, lock and all.
            self._connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_SCHEDULER_LOCK}
            )
            self._connection.commit()
            self._connection.close()
            self._connection = None
            self.leader = False


class Scheduler:
    """The jobs under APScheduler in `serve`, each in a worker thread, never overlapping."""

    def __init__(self, engine: Engine, jobs: Iterable[Job], vocabulary: Vocabulary) -> None:
        self.engine = engine
        self.jobs = list(jobs)
        self.vocabulary = vocabulary
        self.leadership = Leadership(engine)
        self._scheduler: Any = None

    def start(self) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler  # only `serve` needs it

        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = AsyncIOScheduler(timezone="UTC")
        for job in self.jobs:
            scheduler.add_job(
                self._run, "interval", seconds=job.every.total_seconds(), args=[job],
                id=job.name, name=job.name, coalesce=True, max_instances=1, next_run_time=clock.now(),
            )  # fmt: skip
        scheduler.start()
        self._scheduler = scheduler

    async def _run(self, job: Job) -> None:
        if not await asyncio.to_thread(self.leadership.try_acquire):
            return
        await asyncio.to_thread(run_job, self.engine, job, self.vocabulary)

    def shutdown(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        self.leadership.release()
