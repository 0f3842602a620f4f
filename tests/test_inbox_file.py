"""On a SQLite file the inbox is a database file of its own (bot.inbox, `inbox_engine`): an
acknowledgement's insert never waits for a command's transaction, and a crash between a
command's commit (main file) and its row's delete (inbox file) changes nothing when the row is
handled again. On PostgreSQL and in memory the inbox stays in the main database."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select, text
from sqlmodel import col

from adapters import console
from app.http import create_app
from app.runtime import Runtime, build
from bot import clock, inbox
from bot.inbox import Inbox, accept, inbox_engine
from bot.message import Inbound
from config.settings import Settings
from storage.db import companion_engine, companion_path, make_engine, transaction
from storage.models import InboundKey, InboxEvent, OutboxMessage, Ticket
from tests.conftest import DEFAULT_NOW
from tests.harness import ConsoleHarness

ROOT = Path(__file__).resolve().parent.parent


def _said(runtime: Runtime, text_: str, event_id: str, chat: str = "demo-group") -> Inbound:
    return console.parse(chat, "wangli", text_, now=clock.now(), event_id=event_id,
                         bot_names=runtime.bot_names)  # fmt: skip


def _count(engine: Engine, model: type) -> int:
    with transaction(engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def _tickets(engine: Engine) -> list[str]:
    with transaction(engine) as session:
        query = select(col(Ticket.title)).order_by(col(Ticket.number))
        return list(session.execute(query).scalars())


def _replies(engine: Engine) -> list[str]:
    """The `ticket.opened` replies queued in the outbox, by ticket ref."""
    with transaction(engine) as session:
        query = select(col(OutboxMessage.ref)).where(
            col(OutboxMessage.kind) == "ticket.opened", col(OutboxMessage.recipient_type) == "chat"
        )
        return sorted(session.execute(query).scalars())  # fmt: skip


@pytest.fixture
def on_file(demo: ConsoleHarness, db_url: str) -> ConsoleHarness:
    if not db_url.startswith("sqlite"):
        pytest.skip("the inbox has a file of its own only on SQLite")
    return demo


# -- where the inbox is --------------------------------------------------------------------


def test_the_inbox_file_is_named_after_the_database_file() -> None:
    assert companion_path("data/rentian.db", "inbox") == "data/rentian.inbox.db"
    assert (
        companion_path("/srv/rentian/data/x.sqlite3", "inbox")
        == "/srv/rentian/data/x.inbox.sqlite3"
    )
    assert companion_path("rentian", "inbox") == "rentian.inbox"
    assert companion_path("file:data/r.db?mode=rwc", "inbox") == "file:data/r.inbox.db?mode=rwc"


def test_on_a_sqlite_file_the_inbox_is_a_wal_file_of_its_own(
    on_file: ConsoleHarness, tmp_path: Path
) -> None:
    runtime = on_file.runtime
    store = inbox_engine(runtime.engine)
    assert store is not runtime.engine and store is inbox_engine(runtime.engine)  # made once
    assert Path(store.url.database or "") == tmp_path / "rentian.inbox.db"
    assert accept(runtime.engine, _said(runtime, "/工单 P3 打印机坏了", "ev-1"))
    with store.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert _count(store, InboxEvent) == 1
    assert _count(runtime.engine, InboxEvent) == 0  # the main file's table (0010) stays unused
    with transaction(runtime.engine) as session:  # what /healthz and `rentian inbox` read
        assert inbox.pending(session) == 1
        assert [row.key for row in inbox.waiting(session, 10)] == ["ev-1"]


def test_on_postgresql_and_in_memory_the_inbox_is_in_the_main_database(engine: Engine) -> None:
    memory = make_engine("sqlite://")
    try:
        assert companion_engine(memory, "inbox") is None and inbox_engine(memory) is memory
    finally:
        memory.dispose()
    if engine.dialect.name == "postgresql":
        assert inbox_engine(engine) is engine


def test_an_acknowledgement_does_not_wait_for_a_command_transaction(
    on_file: ConsoleHarness, tmp_path: Path
) -> None:
    """A command holds the main file's write lock as long as its transaction runs; the
    insert of an acknowledgement goes to the inbox file meanwhile."""
    runtime = on_file.runtime
    inbox_engine(runtime.engine)  # made (as the serving process does when it starts)
    main = tmp_path / "rentian.db"
    with (
        contextlib.closing(sqlite3.connect(main, timeout=0)) as held,
        contextlib.closing(sqlite3.connect(main, timeout=0)) as other,
    ):
        held.execute("BEGIN IMMEDIATE")  # a worker's command transaction, under way
        with pytest.raises(sqlite3.OperationalError, match="locked"):  # the main file: held
            other.execute("BEGIN IMMEDIATE")
        assert accept(runtime.engine, _said(runtime, "/工单 P3 打印机坏了", "ev-1"))
        held.rollback()
    with transaction(runtime.engine) as session:
        assert inbox.pending(session) == 1


def test_a_workers_look_into_the_inbox_file_takes_no_lock(
    on_file: ConsoleHarness, tmp_path: Path
) -> None:
    """Reads of the inbox file (a worker finding rows, `pending`) begin DEFERRED: while an
    acknowledgement holds its write lock they go on, and they never hold one up."""
    runtime = on_file.runtime
    workers = Inbox(runtime.engine, runtime.bus, runtime.settings.intake)  # the file is made
    with contextlib.closing(sqlite3.connect(tmp_path / "rentian.inbox.db", timeout=0)) as held:
        held.execute("BEGIN IMMEDIATE")  # an insert under way
        assert workers.step() == 0  # it looked, and found nothing: no lock waited for
        with transaction(runtime.engine) as session:
            assert inbox.pending(session) == 0
        held.rollback()


async def test_healthz_counts_the_inbox_files_rows(on_file: ConsoleHarness) -> None:
    runtime = on_file.runtime
    assert accept(runtime.engine, _said(runtime, "/工单 P3 打印机坏了", "ev-1"))
    app = create_app(runtime, scheduler=False)  # no lifespan: no worker takes it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rentian.test") as client:
        assert (await client.get("/healthz")).json()["inbox_pending"] == 1


def test_rows_an_earlier_version_left_in_the_main_file_are_moved_and_handled(
    on_file: ConsoleHarness, db_url: str
) -> None:
    """Before the inbox had a file of its own, it was the main file's `inbox_event`: what was
    acknowledged there and not handled is taken over, in order, and handled once."""
    runtime = on_file.runtime
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    with runtime.engine.begin() as connection:
        for n in range(3):
            said = _said(runtime, f"/工单 P3 设备 {n} 坏了", f"ev-{n}")
            connection.execute(table.insert().values(
                channel="console", key=said.event_id, chat_key=inbox.chat_key(said),
                payload=inbox.to_json(said), received_at=clock.now(),
            ))  # fmt: skip
    engine = make_engine(db_url)  # the next start, with this version
    try:
        restarted = build(Settings(db=db_url), engine)
        assert Inbox(engine, restarted.bus, restarted.settings.intake).drain() == 3
        assert _count(engine, InboxEvent) == 0 and _count(inbox_engine(engine), InboxEvent) == 0
        assert _tickets(engine) == [f"设备 {n} 坏了" for n in range(3)]
    finally:
        engine.dispose()


# -- a crash between the command's commit and the row's delete -----------------------------

_CHILD = textwrap.dedent("""
    import os, signal, sys
    from app.runtime import build
    from bot import clock
    from bot.inbox import Inbox
    from config.settings import IntakeSettings, Settings
    from storage.db import make_engine

    clock.set_now(sys.argv[2])
    engine = make_engine(sys.argv[1])
    runtime = build(Settings(db=sys.argv[1]), engine)
    workers = Inbox(engine, runtime.bus, IntakeSettings(batch=32))

    def killed(ids):  # the commands are committed; their rows are still in the inbox file
        print("committed", len(ids), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    workers.before_delete = killed
    workers.drain()
    print("not killed", flush=True)
""")


@pytest.fixture
def killed_between_commits(on_file: ConsoleHarness, db_url: str, tmp_path: Path) -> Iterator[str]:
    """Three events accepted, then a worker process killed (SIGKILL) after their commands
    committed and before their rows were deleted; yields what it printed."""
    runtime = on_file.runtime
    accept(runtime.engine, _said(runtime, "/工单 P3 打印机坏了", "ev-1"))
    accept(runtime.engine, _said(runtime, "/工单 P3 投影仪坏了", "ev-2"))
    accept(runtime.engine, _said(runtime, "/帮助", "ev-3", chat="room-2"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENTIAN_")}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, db_url, DEFAULT_NOW], cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    yield child.stdout


def test_a_crash_between_the_two_commits_leaves_the_rows_and_their_effects(
    killed_between_commits: str, on_file: ConsoleHarness
) -> None:
    engine = on_file.runtime.engine
    assert killed_between_commits.split() == ["committed", "3"]  # one batch: group commit
    assert _tickets(engine) == ["打印机坏了", "投影仪坏了"] and len(_replies(engine)) == 2
    with transaction(engine) as session:
        assert inbox.pending(session) == 3  # the rows wait: handled again after the restart
        statuses = session.execute(select(col(InboundKey.status))).scalars().all()
    assert statuses == ["handled"] * 3


def test_after_the_crash_a_fresh_inbox_handles_them_again_and_changes_nothing(
    killed_between_commits: str, on_file: ConsoleHarness, db_url: str
) -> None:
    engine = make_engine(db_url)  # the restarted process
    try:
        restarted = build(Settings(db=db_url), engine)
        workers = Inbox(engine, restarted.bus, restarted.settings.intake)
        assert workers.drain() == 3
        with transaction(engine) as session:
            assert inbox.pending(session) == 0
        # one ticket per event, one reply each, one inbound key each: nothing twice
        assert _tickets(engine) == ["打印机坏了", "投影仪坏了"]
        assert _replies(engine) == ["T-1", "T-2"]
        assert _count(engine, InboundKey) == 3
    finally:
        engine.dispose()
