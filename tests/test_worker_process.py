"""`rentian serve` handles commands in a worker process of its own (app/worker.py): real
processes on a SQLite file at a fixed RENTIAN_NOW, encrypted Feishu callbacks, a fake Feishu
API. The serving process acknowledges; the worker handles, is woken through its pipe, is
started again when killed (nothing lost, nothing twice), ends when the server dies, and stops
cleanly with it on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import Engine, text

from app.worker import WORKER_NICENESS
from benchmarks.serving import (
    WEBHOOK,
    Callback,
    Cluster,
    Instance,
    base_env,
    feishu_settings,
    inbox_waiting,
    lost_and_duplicated,
    prepare_database,
    ticket_callbacks,
    tickets_by_title,
)
from bot.clock import parse_instant
from storage.db import make_engine

if TYPE_CHECKING:  # the fake loads the lark SDK, which leaves an event loop behind at import
    from tests.fakes.feishu_server import FakeFeishu

# Before the 09:00 digest: what the scheduler's first round queues goes to no Feishu chat.
NOW = "2026-11-25T08:30:00+08:00"
OUTBOX_BATCH = 5
DEADLINE = 30.0  # seconds, for any state awaited (a poll of 60 s would miss it)


@dataclass
class Served:
    cluster: Cluster
    engine: Engine
    fake: FakeFeishu
    env: dict[str, str]
    folder: Path

    def start(self, **settings: str) -> Instance:
        instance = self.cluster.start(f"rentian-{len(self.cluster.instances)}",
                                      {**self.env, **_settings(settings)})  # fmt: skip
        self.cluster.wait_healthy()
        return instance


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    from tests.fakes.feishu_server import FakeFeishu

    db = f"sqlite:///{tmp_path / 'rentian.db'}"
    fake = FakeFeishu(app_id=f"cli_{uuid.uuid4().hex[:12]}", app_secret="s3cret").start()
    engine = make_engine(db)
    cluster = Cluster(tmp_path)
    try:
        env = base_env(db, NOW, **feishu_settings(fake.app_id, fake.app_secret, fake.url))
        prepare_database(env, tmp_path)
        yield Served(cluster, engine, fake, env, tmp_path)
    finally:
        cluster.close()
        engine.dispose()
        fake.stop()


def _settings(settings: dict[str, str]) -> dict[str, str]:
    return {f"RENTIAN_{name}": value for name, value in settings.items()}


def post(instance: Instance, callback: Callback) -> httpx.Response:
    headers, body = callback.signed(parse_instant(NOW))
    return httpx.post(instance.url + WEBHOOK, content=body, headers=headers, timeout=30)


def until(condition: Callable[[], object], what: str, cluster: Cluster) -> None:
    """Poll (bounded) for a state: a condition, not a time."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"not within {DEADLINE} s: {what}\n{cluster.logs()}"
        time.sleep(0.05)


def running(pid: int) -> bool:
    """Whether process `pid` runs (a zombie no parent has reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def stop_holding_no_lock(pid: int, db: Path, cluster: Cluster) -> None:
    """SIGSTOP process `pid` at a moment it holds no write lock on the SQLite file `db` (its
    dispatcher and scheduler take one now and then): else the server could not accept."""

    def stopped_free() -> bool:
        os.kill(pid, signal.SIGSTOP)
        with contextlib.closing(sqlite3.connect(db, timeout=0.2)) as connection:
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.rollback()
                return True
            except sqlite3.OperationalError:  # "database is locked": by the worker
                os.kill(pid, signal.SIGCONT)
                return False

    until(stopped_free, "the worker stopped holding no lock", cluster)


def niceness(pid: int) -> int:
    """Process `pid`'s nice value (/proc/PID/stat, field 19)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def worker_pid(instance: Instance) -> int:
    health = instance.health()
    assert health is not None and health["worker"] == "alive", health
    return int(health["worker_pid"])


def handling(instance: Instance, pid: int) -> bool:
    """Whether worker `pid` has started its inbox workers (its log line says so)."""
    return f"worker process {pid} handling" in instance.log.read_text(errors="replace")


def replies(fake: FakeFeishu) -> Counter[str]:
    """Replies the fake received, by the message they answer."""
    return Counter(s.path.split("/")[-2] for s in list(fake.sends) if s.path.endswith("/reply"))


def test_the_server_acknowledges_and_its_worker_process_handles(served: Served) -> None:
    # Idle workers look every 60 s: only the server's wake makes them handle within DEADLINE.
    instance = served.start(INTAKE__POLL_SECONDS="60")
    pid = worker_pid(instance)
    assert pid != instance.process.pid and running(pid)
    until(lambda: handling(instance, pid), "the worker handles", served.cluster)
    # The acknowledgements come first: the worker runs at a lower CPU priority.
    assert niceness(pid) == min(19, niceness(instance.process.pid) + WORKER_NICENESS)
    (callback,) = ticket_callbacks(1)
    stop_holding_no_lock(pid, served.folder / "rentian.db", served.cluster)
    try:  # the worker can do nothing now; the server still answers
        assert post(instance, callback).status_code == 200, served.cluster.logs()
        assert inbox_waiting(served.engine) == 1 and not tickets_by_title(served.engine)
    finally:
        os.kill(pid, signal.SIGCONT)
    until(lambda: replies(served.fake)[callback.message_id], "the reply sent", served.cluster)
    assert tickets_by_title(served.engine) == {callback.title: 1}
    assert inbox_waiting(served.engine) == 0 and replies(served.fake)[callback.message_id] == 1


def test_a_killed_worker_process_is_started_again_and_nothing_is_lost_or_done_twice(
    served: Served,
) -> None:
    instance = served.start(OUTBOX__BATCH=str(OUTBOX_BATCH))
    pid = worker_pid(instance)
    until(lambda: handling(instance, pid), "the worker handles", served.cluster)
    callbacks = ticket_callbacks(60)
    with ThreadPoolExecutor(6) as pool:
        sent = [pool.submit(post, instance, c) for c in callbacks]
        for done, future in enumerate(as_completed(sent), start=1):
            assert future.result().status_code == 200
            if done == 20:
                os.kill(pid, signal.SIGKILL)  # mid-burst, mid-batch as likely as not
    until(lambda: not running(pid), "the killed worker gone", served.cluster)

    def replaced() -> bool:
        health = instance.health() or {}
        return health.get("worker") == "alive" and health.get("worker_pid") != pid

    until(replaced, "a new worker", served.cluster)
    health = instance.health()
    assert health is not None and health["worker_restarts"] == 1
    until(lambda: not inbox_waiting(served.engine)
          and len(tickets_by_title(served.engine)) == len(callbacks),
          "every event handled", served.cluster)  # fmt: skip
    assert lost_and_duplicated(served.engine, callbacks) == (0, 0)
    # A reply the killed worker had claimed keeps its lease (the clock is fixed): at most a
    # claim's worth (`outbox.batch`) wait; every other reply is sent, and none twice.
    until(lambda: sum(replies(served.fake).values()) >= len(callbacks) - OUTBOX_BATCH,
          "the replies sent", served.cluster)  # fmt: skip
    assert set(replies(served.fake).values()) == {1}


def test_the_worker_process_ends_when_the_server_dies(served: Served) -> None:
    instance = served.start()
    pid = worker_pid(instance)
    instance.kill()  # kill -9: no shutdown; the worker sees its pipe end
    until(lambda: not running(pid), "the orphaned worker gone", served.cluster)


def test_sigterm_stops_the_server_and_its_worker_cleanly(served: Served) -> None:
    instance = served.start()
    pid = worker_pid(instance)
    until(lambda: handling(instance, pid), "the worker handles", served.cluster)
    (callback,) = ticket_callbacks(1)
    assert post(instance, callback).status_code == 200
    until(lambda: replies(served.fake)[callback.message_id], "the reply sent", served.cluster)
    instance.process.send_signal(signal.SIGTERM)
    assert instance.process.wait(timeout=60) in (0, -signal.SIGTERM)
    until(lambda: not running(pid), "the worker gone", served.cluster)
    log = instance.log.read_text(errors="replace")
    assert f"worker process {pid} stopping" in log and "Application shutdown complete" in log
    assert "Traceback" not in log and "restart" not in log and "did not stop" not in log


def test_with_process_inline_the_server_handles_commands_itself(served: Served) -> None:
    instance = served.start(INTAKE__PROCESS="inline")
    health = instance.health()
    assert health is not None and health["worker"] == "inline"
    (callback,) = ticket_callbacks(1)
    assert post(instance, callback).status_code == 200
    until(lambda: replies(served.fake)[callback.message_id], "the reply sent", served.cluster)
    assert tickets_by_title(served.engine) == {callback.title: 1}
    assert not re.search(r"worker process \d+ started", instance.log.read_text(errors="replace"))


def test_the_fixed_clock_reaches_the_worker(served: Served) -> None:
    """`serve --now` (not only RENTIAN_NOW) fixes the worker's clock: its ticket is dated then."""
    env = {k: v for k, v in served.env.items() if k != "RENTIAN_NOW"}
    instance = served.cluster.start("rentian-now", env, "--now", NOW)
    served.cluster.wait_healthy()
    (callback,) = ticket_callbacks(1)
    assert post(instance, callback).status_code == 200
    until(lambda: tickets_by_title(served.engine), "the ticket", served.cluster)
    with served.engine.connect() as connection:
        opened = connection.execute(text("SELECT opened_at FROM ticket")).scalar_one()
    when = opened if isinstance(opened, datetime) else datetime.fromisoformat(str(opened))
    assert when.replace(tzinfo=None) == parse_instant(NOW).astimezone(UTC).replace(tzinfo=None)
