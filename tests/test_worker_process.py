"""`rentian serve` handles commands in a worker process of its own (app/worker.py): real
processes on a SQLite file at a fixed RENTIAN_NOW, encrypted Feishu callbacks, a fake Feishu
API. The serving process acknowledges; the worker handles, is woken through its pipe, is
started again when killed (nothing lost, nothing twice), ends when the server dies, and stops
cleanly with it on SIGTERM.

Starting a server is most of what such a test costs: the tests share three, started together
once for the module (`served`), each on a database of its own."""

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
    lost_and_duplicated,
    prepare_database,
    ticket_callbacks,
    tickets_by_title,
)
from bot import inbox
from bot.clock import parse_instant
from storage.db import companion_path, make_engine, transaction

if TYPE_CHECKING:  # the fake loads the lark SDK, which leaves an event loop behind at import
    from tests.fakes.feishu_server import FakeFeishu

# Before the 09:00 digest: what the scheduler's first round queues goes to no Feishu chat.
NOW = "2026-11-25T08:30:00+08:00"
OUTBOX_BATCH = 5
DEADLINE = 30.0  # seconds, for any state awaited (a poll of 60 s would miss it)


# The servers the tests share, started together (a start is most of a test's time): their
# settings, and the arguments of `rentian serve`. Each has a database of its own. "shared" is
# used by every test that leaves it running, and ended last (SIGTERM); "dies" is killed.
SERVERS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    # Idle workers look every 60 s: only the server's wake makes them handle within DEADLINE.
    # `--now`, not RENTIAN_NOW: the fixed clock must reach the worker through `serve`.
    "shared": ({"INTAKE__POLL_SECONDS": "60", "OUTBOX__BATCH": str(OUTBOX_BATCH)}, ("--now", NOW)),
    "dies": ({}, ()),
    "inline": ({"INTAKE__PROCESS": "inline"}, ()),
}


@dataclass
class Server:
    instance: Instance
    engine: Engine
    db: Path


@dataclass
class Served:
    cluster: Cluster
    fake: FakeFeishu
    env: dict[str, str]
    folder: Path
    servers: dict[str, Server]

    def start(self, name: str) -> Instance:
        settings, args = SERVERS[name]
        env = {**self.env, "RENTIAN_DB": f"sqlite:///{self.folder / f'{name}.db'}",
               **_settings(settings)}  # fmt: skip
        if "--now" in args:
            del env["RENTIAN_NOW"]
        return self.cluster.start(f"rentian-{name}-{len(self.cluster.instances)}", env, *args)

    def server(self, name: str) -> Server:
        """Server `name`, running: started again if a test ended it."""
        server = self.servers[name]
        if not server.instance.alive:
            server.instance = self.start(name)
            self.cluster.wait_healthy()
        return server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from tests.fakes.feishu_server import FakeFeishu

    folder = tmp_path_factory.mktemp("served")
    fake = FakeFeishu(app_id=f"cli_{uuid.uuid4().hex[:12]}", app_secret="s3cret").start()
    env = base_env(f"sqlite:///{folder / 'prepared.db'}", NOW,
                   **feishu_settings(fake.app_id, fake.app_secret, fake.url))  # fmt: skip
    cluster = Cluster(folder)
    servers: dict[str, Server] = {}
    try:
        prepare_database(env, folder)
        with contextlib.closing(sqlite3.connect(folder / "prepared.db")) as prepared:
            for name in SERVERS:
                with contextlib.closing(sqlite3.connect(folder / f"{name}.db")) as copy:
                    prepared.backup(copy)
        served = Served(cluster, fake, env, folder, servers)
        for name in SERVERS:  # all at once: their starts overlap
            db = folder / f"{name}.db"
            servers[name] = Server(served.start(name), make_engine(f"sqlite:///{db}"), db)
        cluster.wait_healthy()
        yield served
    finally:
        cluster.close()
        for server in servers.values():
            server.engine.dispose()
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


def state(pid: int) -> str:
    """Process `pid`'s state (/proc/PID/stat, field 3: R, S, T stopped, Z zombie…; X: gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "X"
    return stat.rsplit(")", 1)[1].split()[0]


def running(pid: int) -> bool:
    """Whether process `pid` runs (a zombie no parent has reaped yet does not)."""
    return state(pid) not in ("Z", "X")


def stop_holding_no_lock(pid: int, db: Path, cluster: Cluster) -> None:
    """SIGSTOP process `pid` at a moment it holds no write lock on the SQLite file `db` nor on
    its inbox file (its workers, dispatcher and scheduler take one now and then): else the
    server could not accept, nor the test read."""
    files = [db, Path(companion_path(str(db), "inbox"))]

    def stopped_free() -> bool:
        os.kill(pid, signal.SIGSTOP)
        until(lambda: state(pid) == "T", "the worker stopped", cluster)  # not still running
        for file in files:
            with contextlib.closing(sqlite3.connect(file, timeout=0.2)) as connection:
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    connection.rollback()
                except sqlite3.OperationalError:  # "database is locked": by the worker
                    os.kill(pid, signal.SIGCONT)
                    return False
        return True

    until(stopped_free, "the worker stopped holding no lock", cluster)


def inbox_waiting(engine: Engine) -> int:
    """Events accepted and not yet handled: in the inbox file beside the database."""
    with transaction(engine) as session:
        return inbox.pending(session)


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
    server = served.server("shared")
    instance = server.instance
    pid = worker_pid(instance)
    assert pid != instance.process.pid and running(pid)
    until(lambda: handling(instance, pid), "the worker handles", served.cluster)
    # The acknowledgements come first: the worker runs at a lower CPU priority.
    assert niceness(pid) == min(19, niceness(instance.process.pid) + WORKER_NICENESS)
    (callback,) = ticket_callbacks(1)
    until(lambda: not inbox_waiting(server.engine), "an empty inbox", served.cluster)
    stop_holding_no_lock(pid, server.db, served.cluster)
    try:  # the worker can do nothing now; the server still answers
        assert post(instance, callback).status_code == 200, served.cluster.logs()
        assert inbox_waiting(server.engine) == 1
        assert callback.title not in tickets_by_title(server.engine)
    finally:
        os.kill(pid, signal.SIGCONT)
    until(lambda: replies(served.fake)[callback.message_id], "the reply sent", served.cluster)
    assert tickets_by_title(server.engine)[callback.title] == 1
    assert inbox_waiting(server.engine) == 0 and replies(served.fake)[callback.message_id] == 1


def test_a_killed_worker_process_is_started_again_and_nothing_is_lost_or_done_twice(
    served: Served,
) -> None:
    server = served.server("shared")
    instance = server.instance
    pid = worker_pid(instance)
    restarts = (instance.health() or {})["worker_restarts"]
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
    assert health is not None and health["worker_restarts"] == restarts + 1

    def handled() -> bool:
        titles = tickets_by_title(server.engine)
        return not inbox_waiting(server.engine) and all(c.title in titles for c in callbacks)

    until(handled, "every event handled", served.cluster)
    assert lost_and_duplicated(server.engine, callbacks) == (0, 0)
    # A reply the killed worker had claimed keeps its lease (the clock is fixed): at most a
    # claim's worth (`outbox.batch`) wait; every other reply is sent, and none twice.
    until(lambda: sum(replies(served.fake)[c.message_id] for c in callbacks)
          >= len(callbacks) - OUTBOX_BATCH, "the replies sent", served.cluster)  # fmt: skip
    assert set(replies(served.fake).values()) == {1}


def test_the_fixed_clock_reaches_the_worker(served: Served) -> None:
    """`serve --now` (not only RENTIAN_NOW) fixes the worker's clock — a worker started
    again too: its ticket is dated then."""
    server = served.server("shared")
    (callback,) = ticket_callbacks(1)
    assert post(server.instance, callback).status_code == 200
    until(lambda: callback.title in tickets_by_title(server.engine), "the ticket",
          served.cluster)  # fmt: skip
    with server.engine.connect() as connection:
        opened = connection.execute(text("SELECT opened_at FROM ticket WHERE title = :title"),
                                    {"title": callback.title}).scalar_one()  # fmt: skip
    when = opened if isinstance(opened, datetime) else datetime.fromisoformat(str(opened))
    assert when.replace(tzinfo=None) == parse_instant(NOW).astimezone(UTC).replace(tzinfo=None)


def test_with_process_inline_the_server_handles_commands_itself(served: Served) -> None:
    server = served.server("inline")
    health = server.instance.health()
    assert health is not None and health["worker"] == "inline"
    (callback,) = ticket_callbacks(1)
    assert post(server.instance, callback).status_code == 200
    until(lambda: replies(served.fake)[callback.message_id], "the reply sent", served.cluster)
    assert tickets_by_title(server.engine)[callback.title] == 1
    log = server.instance.log.read_text(errors="replace")
    assert not re.search(r"worker process \d+ started", log)


def test_the_worker_process_ends_when_the_server_dies(served: Served) -> None:
    instance = served.server("dies").instance
    pid = worker_pid(instance)
    instance.kill()  # kill -9: no shutdown; the worker sees its pipe end
    until(lambda: not running(pid), "the orphaned worker gone", served.cluster)


def test_sigterm_stops_the_server_and_its_worker_cleanly(served: Served) -> None:
    """Last: it ends the shared server (a test after it would start another)."""
    instance = served.server("shared").instance
    pid = worker_pid(instance)
    until(lambda: handling(instance, pid), "the worker handles", served.cluster)
    (callback,) = ticket_callbacks(1)
    assert post(instance, callback).status_code == 200
    until(lambda: replies(served.fake)[callback.message_id], "the reply sent", served.cluster)
    before = len(instance.log.read_bytes())  # what earlier tests had it log is theirs
    instance.process.send_signal(signal.SIGTERM)
    assert instance.process.wait(timeout=60) in (0, -signal.SIGTERM)
    until(lambda: not running(pid), "the worker gone", served.cluster)
    log = instance.log.read_bytes()[before:].decode(errors="replace")
    assert f"worker process {pid} stopping" in log and "Application shutdown complete" in log
    assert "Traceback" not in log and "restart" not in log and "did not stop" not in log
