"""Scheduler jobs: a registry that handler modules add to (`JOBS = [Job(...)]`).

`rentian tick` runs every job that is due at now, once; `serve` polls (`Scheduler`) and runs
what is due each round. Jobs are idempotent (their messages carry dedupe keys), so a job run
twice, or by two instances, says each thing once. With PostgreSQL only the instance holding
an advisory lock runs the scheduler; the others ask for it every round, so one takes over
within a round of the leader's death.

A job gets its `Run`: the instant, the database and the app's vocabulary. It works in
transactions the run opens, each a `bot.context.Context` whose actor is the system, so a job
notifies, posts and audits as a command does. Jobs over rows that fall due: `bot.sweep`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from bot import clock
from bot.context import Context
from bot.vocabulary import Vocabulary
from storage.db import is_postgres, transaction
from storage.models import Engagement, JobRun

log = logging.getLogger("rentian.scheduler")
_PG_SCHEDULER_LOCK = 0x52454E55
# Whether this session still holds the lock (a bigint key shows as classid = its high 32 bits,
# objid = its low 32 bits, objsubid = 1).
_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = 0 AND objid = :key AND objsubid = 1"
)


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
    a session advisory lock, kept on a connection of its own until `release`.

    The lock lives and dies with that connection: when the leader's process dies, PostgreSQL
    ends its session and the lock is free for the next instance that asks (`hold`). When the
    connection dies under a living leader (the database restarted), the leader must notice,
    or two instances would lead: `hold` checks the lock is still ours each time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        # The poll's worker thread and `release` (the event loop's) share the connection.
        self._guard = threading.Lock()
        self._closed = False
        self.leader = not is_postgres(engine)

    def hold(self) -> bool:
        """Keep the lead if the lock is still ours, else try to take it: True when leading."""
        with self._guard:
            if self._connection is not None and not self._still_held(self._connection):
                log.warning("lost the scheduler lock (its database connection is gone); "
                            "asking for it again")  # fmt: skip
                self._drop()
            return self._acquire()

    def try_acquire(self) -> bool:
        """Take the lead if it is free (True when this instance leads, already or now)."""
        with self._guard:
            return self._acquire()

    def close(self) -> None:
        """Release for good: a poll still running as the scheduler stops must not take the
        lock again (SQLite: this process stops leading too)."""
        with self._guard:
            self._closed = True
        self.release()
        self.leader = False

    def release(self) -> None:
        with self._guard:
            if self._connection is None:
                return
            try:
                # Unlock explicitly: closing only returns the connection to the pool, lock and all.
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_SCHEDULER_LOCK}
                )
                self._connection.commit()
            except DBAPIError:
                log.warning("scheduler lock: the connection was already gone")
            self._drop()

    def _acquire(self) -> bool:
        if self._closed:
            return False
        if self.leader:
            return True
        try:
            connection = self.engine.connect()
        except DBAPIError as error:
            log.warning("scheduler lock: database unavailable: %s", error.orig)
            return False
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": _PG_SCHEDULER_LOCK}
            ).scalar()
            connection.commit()
        except DBAPIError as error:
            log.warning("scheduler lock: database unavailable: %s", error.orig)
            connection.invalidate()
            connection.close()
            return False
        if got:
            self._connection, self.leader = connection, True
            log.info("this instance runs the scheduler")
        else:
            connection.close()
        return bool(got)

    @staticmethod
    def _still_held(connection: Connection) -> bool:
        try:
            held = connection.execute(_HELD, {"key": _PG_SCHEDULER_LOCK}).scalar()
            connection.commit()
        except DBAPIError:
            return False
        return bool(held)

    def _drop(self) -> None:
        """Forget the lock's connection; a broken one is invalidated, not pooled again."""
        connection, self._connection, self.leader = self._connection, None, False
        if connection is None:
            return
        try:
            connection.invalidate()
            connection.close()
        except DBAPIError:
            pass


class Scheduler:
    """The jobs in `serve`: every `leader_poll_seconds` the instance keeps or asks for the lead
    (`Leadership.hold`) and, leading, runs the jobs that are due, one after another in a thread
    of its own (never overlapping).

    What is due is read from `job_run`, as `tick` does, not from a timer of this process: an
    instance that takes over runs at once what the dead leader left due, and a fixed clock
    (`RENTIAN_NOW`) runs every job once at start-up and then nothing until it moves. A job that
    failed waits its interval before it is tried again."""

    def __init__(
        self,
        engine: Engine,
        jobs: Iterable[Job],
        vocabulary: Vocabulary,
        *,
        leader_poll_seconds: float = 10,
    ) -> None:
        self.engine = engine
        self.jobs = list(jobs)
        self.vocabulary = vocabulary
        self.leader_poll_seconds = leader_poll_seconds
        self.leadership = Leadership(engine)
        self._failed_at: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Start polling on the running event loop (the app's lifespan)."""
        # A thread of its own: in the shared default executor a burst of webhooks would keep
        # a standby's poll waiting behind them, and the takeover with it.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="rentian-scheduler")
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="rentian-scheduler")

    def poll(self) -> list[tuple[str, bool]]:
        """One round (blocking: a worker thread's): keep or take the lead; leading, run what is
        due at `clock.now()`. Returns [(job name, succeeded)]."""
        if not self.leadership.hold():
            return []
        now = clock.now()
        ran = []
        for job in due(self.jobs, last_runs(self.engine), now):
            failed_at = self._failed_at.get(job.name)
            if failed_at is not None and failed_at + job.every > now:
                continue
            ok = run_job(self.engine, job, self.vocabulary, now)
            if ok:
                self._failed_at.pop(job.name, None)
            else:
                self._failed_at[job.name] = now
            ran.append((job.name, ok))
        return ran

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self._executor, self.poll)
            except Exception:  # the database away, say: the next round tries again
                log.exception("scheduler round failed")
            await asyncio.sleep(self.leader_poll_seconds)

    def shutdown(self) -> None:
        """Stop polling, let a round already running finish (blocking: a job is not cut in
        half, nor run by a new leader while this one is still at it), then give the lead up."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.leadership.close()
