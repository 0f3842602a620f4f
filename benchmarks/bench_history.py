"""The scheduler's jobs on a long history: the daily sync, the weekly report and the SLA sweep,
run as the scheduler runs them (`Job.run`), on a database with 1M closed tickets next to the
same with 1k (smoke: 10k vs 1k). Each must cost about the same however long the history:
ratio ≤ 1.2.

Both databases also hold this week's tickets, opened through the bus, so the reports have
something to say; the instant is a Friday evening, when the weekly report is due. Each
repetition first removes the posts the previous one made (they are once a day or week).
"""

from __future__ import annotations

import statistics
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlmodel import col

from app.commands import all_jobs
from app.runtime import Runtime
from benchmarks import seed
from benchmarks.common import Row, demo_runtime, judged, say, scratch, timed
from bot import clock
from bot.scheduler import Job, Run
from storage.models import OutboxMessage

FRIDAY_EVENING = "2026-11-27T18:30:00+08:00"
RECENT = 20
JOBS = {"progress.sync": "daily sync", "progress.weekly": "weekly report", "sla.sweep": "SLA sweep"}


Side = tuple[Runtime, dict[str, Job]]


def run(smoke: bool) -> list[Row]:
    big, small, repeats = (10_000, 1_000, 3) if smoke else (1_000_000, 1_000, 7)
    with scratch() as folder:
        sides = {n: _database(folder / f"history-{n}.db", n) for n in (big, small)}
        samples: dict[tuple[str, int], list[float]] = {(j, n): [] for j in JOBS for n in sides}
        for index in range(repeats + 1):  # the first round warms caches, not counted
            order = list(sides) if index % 2 else list(sides)[::-1]
            for job in JOBS:
                for n in order:
                    seconds = _once(sides[n], job)
                    if index:
                        samples[job, n].append(seconds)
        for runtime, _ in sides.values():
            runtime.engine.dispose()
    target = "≤ 1.2"
    rows = []
    for job, label in JOBS.items():
        ours, theirs = statistics.median(samples[job, big]), statistics.median(samples[job, small])
        rows.append(
            Row(what=f"{label} job, {big:,} closed tickets", rentian=ours * 1e3,
                reference=theirs * 1e3, unit="ms", reference_name=f"the same, {small:,}",
                higher_is_better=False, target=target, met=judged(ours / theirs, target, smoke))
        )  # fmt: skip
    return rows


def _database(path: Path, closed: int) -> Side:
    """The demo engagement, this week's tickets through the bus, then `closed` old ones."""
    runtime = demo_runtime(f"sqlite:///{path}")
    clock.set_now(FRIDAY_EVENING)  # demo_runtime fixed the tests' Wednesday
    for n in range(RECENT):
        say(runtime, "liuyang", f"/工单 P{1 + n % 4} 本周的问题 {n}")
    seed.closed_tickets(runtime.engine, closed, before=clock.now() - timedelta(days=7))
    jobs = {job.name: job for job in all_jobs() if job.name in JOBS}
    return runtime, jobs


def _once(side: Side, name: str) -> float:
    """Seconds one run of the job took, after removing what an earlier run posted."""
    runtime, jobs = side
    posts = ("progress.sync", "progress.weekly")
    with runtime.engine.begin() as db:
        db.execute(delete(OutboxMessage).where(col(OutboxMessage.kind).in_(posts)))
    seconds = timed(lambda: jobs[name].run(Run(runtime.engine, clock.now(), runtime.vocabulary)))
    if name in posts:  # a job that posted nothing measured nothing
        with runtime.engine.connect() as db:
            query = select(func.count()).where(col(OutboxMessage.kind) == name)
            assert db.execute(query).scalar_one() > 0, f"{name} posted nothing"
    return seconds
