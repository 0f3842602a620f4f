"""Pooled connections (storage.db): SQLite connections stay open for the process with their
PRAGMAs set once; every transaction still begins IMMEDIATE; PostgreSQL survives a connection
killed under it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

import storage.db
from app.runtime import build
from base.errors import StorageError
from bot.intake import retryable
from config.settings import Settings
from storage.db import dispose_all, make_engine, transaction
from storage.models import InboundKey

_NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def _traced(engine: Engine) -> list[str]:
    """Every statement SQLite runs on the engine's connections, PRAGMAs included (they run on
    the raw connection, where SQLAlchemy's own events do not see them)."""
    statements: list[str] = []

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(*cargs, **cparams)
        connection.set_trace_callback(statements.append)
        return connection

    return statements


def _connects(engine: Engine) -> list[object]:
    opened: list[object] = []
    event.listen(
        engine, "connect", lambda dbapi_connection, _record: opened.append(dbapi_connection)
    )
    return opened


def _log_key(engine: Engine, key: str) -> None:
    with transaction(engine) as session:
        session.execute(insert(InboundKey).values(channel="pool", key=key, received_at=_NOW))


@pytest.fixture
def sqlite_url(db_url: str) -> str:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's connection settings")
    return db_url


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def test_pragmas_are_set_once_per_connection_and_every_transaction_begins_immediate(
    sqlite_engine: Engine,
) -> None:
    statements = _traced(sqlite_engine)
    for n in range(20):
        _log_key(sqlite_engine, f"k{n}")
    ours = ["PRAGMA journal_mode=WAL", "PRAGMA busy_timeout=10000", "PRAGMA foreign_keys=ON",
            "PRAGMA synchronous=NORMAL"]  # fmt: skip
    assert [s for s in statements if s in ours] == ours  # once, on the one connection
    assert statements.count("BEGIN IMMEDIATE") == 20


def test_the_pool_reuses_one_connection_across_transactions(sqlite_engine: Engine) -> None:
    opened = _connects(sqlite_engine)
    used = set()
    for n in range(10):
        with transaction(sqlite_engine) as session:
            session.execute(
                insert(InboundKey).values(channel="pool", key=f"k{n}", received_at=_NOW)
            )
            used.add(id(session.connection().connection.dbapi_connection))
    assert len(opened) == 1 and len(used) == 1
    with transaction(sqlite_engine) as session:
        assert len(session.execute(select(col(InboundKey.id))).all()) == 10


@pytest.mark.parametrize(("setting", "value"), [("NORMAL", 1), ("FULL", 2)])
def test_synchronous_is_the_setting(sqlite_url: str, setting: str, value: int) -> None:
    settings = Settings(db=sqlite_url, database={"sqlite_synchronous": setting})  # type: ignore[arg-type]
    runtime = build(settings)
    try:
        with transaction(runtime.engine) as session:
            assert session.execute(text("PRAGMA synchronous")).scalar() == value
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert runtime.engine.pool.size() == settings.database.pool_size  # type: ignore[attr-defined]
    finally:
        runtime.engine.dispose()


def test_an_unknown_synchronous_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="NORMAL, FULL"):
        make_engine(f"sqlite:///{tmp_path / 'x.db'}", synchronous="OFF")


def test_threads_share_the_pool(sqlite_url: str) -> None:
    """More threads than connections: each waits for one to come free, none fails."""
    engine = make_engine(sqlite_url, pool_size=1)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(25):
                _log_key(engine, f"w{worker}-{n}")
        except BaseException as error:  # reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        with transaction(engine) as session:
            assert len(session.execute(select(col(InboundKey.id))).all()) == 100
    finally:
        engine.dispose()


def test_dispose_all_closes_every_connection_and_the_wal_is_checkpointed(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    _log_key(engine, "k")
    wal = Path(sqlite_url.removeprefix("sqlite:///") + "-wal")
    assert engine.pool.checkedin() == 1  # type: ignore[attr-defined]
    assert wal.exists()  # kept between transactions: no checkpoint and sync on each
    dispose_all()
    assert engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    assert not wal.exists()  # the last connection closed checkpointed it into the database


def test_an_in_memory_database_is_one_database_for_every_transaction() -> None:
    engine = make_engine("sqlite://")
    try:
        with transaction(engine) as session:
            session.execute(text("CREATE TABLE note (body TEXT)"))
            session.execute(text("INSERT INTO note VALUES ('kept')"))
        with transaction(engine) as session:
            assert session.execute(text("SELECT body FROM note")).scalar() == "kept"
    finally:
        engine.dispose()


# -- PostgreSQL: a connection closed by the server -------------------------------------------


@pytest.fixture
def pg_engine(db_url: str) -> Iterator[Engine]:
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's connections")
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _kill_backends(engine: Engine) -> None:
    """Terminate the server processes of the engine's pooled connections, as a restart does."""
    pids = []
    with transaction(engine) as session:
        pids.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
    admin = make_engine(engine.url.render_as_string(hide_password=False), pool_size=1)
    try:
        with admin.connect() as connection:
            for pid in pids:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


def test_a_killed_connection_fails_at_most_one_transaction(pg_engine: Engine) -> None:
    _log_key(pg_engine, "before")
    _kill_backends(pg_engine)
    try:
        _log_key(pg_engine, "next")
    except DBAPIError as error:  # the connection was in use: it and older ones are dropped
        assert error.connection_invalidated and retryable(error)
    _log_key(pg_engine, "after")
    with transaction(pg_engine) as session:
        keys = set(session.execute(select(col(InboundKey.key))).scalars())
    assert {"before", "after"} <= keys


def test_an_idle_connection_is_pinged_so_a_restart_costs_no_transaction(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _log_key(pg_engine, "before")
    monkeypatch.setattr(storage.db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every connection is idle
    _kill_backends(pg_engine)
    _log_key(pg_engine, "next")
    with transaction(pg_engine) as session:
        assert set(session.execute(select(col(InboundKey.key))).scalars()) == {"before", "next"}
