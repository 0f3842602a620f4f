"""The job registry and `tick`: due logic, once per interval, failures logged not fatal, and
one scheduler among several instances on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, delete, select
from sqlmodel import col

from bot import clock
from bot.context import Context
from bot.scheduler import Job, Leadership, Run, due, tick
from bot.vocabulary import Vocabulary
from storage.db import is_postgres, transaction
from storage.models import Identity, InboundKey, Person
from tests.harness import ConsoleHarness


def test_due_is_pure() -> None:
    now = clock.now()
    hourly = Job("a", timedelta(hours=1), lambda job: None)
    daily = Job("b", timedelta(days=1), lambda job: None)
    assert due([hourly, daily], {}, now) == [hourly, daily]
    last = {"a": now - timedelta(minutes=59), "b": now - timedelta(days=1)}
    assert due([hourly, daily], last, now) == [daily]


def test_tick_runs_each_job_once_per_interval(engine: Engine) -> None:
    runs: list[str] = []
    jobs = [Job("sweep", timedelta(minutes=1), lambda job: runs.append(job.now.isoformat()))]
    assert tick(engine, jobs, Vocabulary()) == [("sweep", True)]
    assert tick(engine, jobs, Vocabulary()) == []
    clock.advance(timedelta(seconds=59))
    assert tick(engine, jobs, Vocabulary()) == []
    clock.advance(timedelta(seconds=1))
    assert tick(engine, jobs, Vocabulary()) == [("sweep", True)]
    assert len(runs) == 2


def test_a_failing_job_is_reported_and_retried_next_tick(engine: Engine, caplog) -> None:
    calls: list[int] = []

    def flaky(job: Run) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")

    jobs = [Job("flaky", timedelta(hours=1), flaky)]
    assert tick(engine, jobs, Vocabulary()) == [("flaky", False)]
    assert "job flaky failed" in caplog.text
    assert tick(engine, jobs, Vocabulary()) == [("flaky", True)]  # not recorded as run: due again


def test_prune_forgets_old_dedupe_keys_only(demo: ConsoleHarness) -> None:
    demo.send("wangli", "/进度", event_id="old")
    clock.advance(timedelta(days=31))
    demo.send("wangli", "/进度", event_id="new")
    assert ("intake.prune", True) in tick(
        demo.runtime.engine, demo.runtime.jobs, demo.runtime.vocabulary
    )
    with transaction(demo.runtime.engine) as session:
        keys = sorted(k.key for k in session.execute(select(InboundKey)).scalars())
    assert keys == ["new"]


def test_only_one_instance_leads_on_postgres(engine: Engine) -> None:
    if not is_postgres(engine):
        assert Leadership(engine).try_acquire()  # SQLite: one process, always the leader
        return
    first, second = Leadership(engine), Leadership(engine)
    try:
        assert first.try_acquire() is True
        assert second.try_acquire() is False
        first.release()
        assert second.try_acquire() is True
    finally:
        first.release()
        second.release()


def test_registered_jobs_have_unique_names_and_sane_intervals(runtime) -> None:
    names = [job.name for job in runtime.jobs]
    assert len(names) == len(set(names))
    assert all(job.every >= timedelta(minutes=1) for job in runtime.jobs)


def test_a_jobs_context_is_the_systems_and_its_messages_prefer_the_apps_channels(
    demo: ConsoleHarness,
) -> None:
    """A job's direct messages go where a command's would: the engagement's chat channels, then
    the app's order (feishu before dingtalk), not the alphabet."""
    with transaction(demo.runtime.engine) as session:
        pm = session.execute(select(Person).where(col(Person.key) == "sun.wei")).scalar_one()
        session.execute(delete(Identity).where(col(Identity.person_id) == pm.id))
        for channel in ("dingtalk", "feishu"):
            session.add(Identity(engagement_id=pm.engagement_id, person_id=pm.id or 0,
                                 channel=channel, external_id=f"{channel}-sun"))  # fmt: skip
    seen: list[str] = []

    def job(run: Run) -> None:
        def work(ctx: Context) -> None:
            assert ctx.actor is not None and ctx.actor.is_system and ctx.now == run.now
            seen.append(ctx.eng.code)
            ctx.notify_roles({"vendor_pm"}, "提醒", "test.notice", dedupe_key="test:notice")

        run.each_engagement(work)

    assert tick(demo.runtime.engine, [Job("notice", timedelta(hours=1), job)],
                demo.runtime.vocabulary) == [("notice", True)]  # fmt: skip
    assert seen == ["DEMO-2026"]
    (row,) = demo.outbox(kind="test.notice")
    assert (row.channel, row.address, row.recipient) == ("feishu", "feishu-sun", "sun.wei")
