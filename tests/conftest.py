"""Fixtures: a fresh real database per test (a SQLite file; a PostgreSQL database of the run's
own when RENTIAN_TEST_PG_URL is set), a fixed clock, the demo engagement, a console harness.

Safe under pytest-xdist (`make test` runs on every core): each worker process builds its own
SQLite template and PostgreSQL database (named after its pid), and tests use free ports and
their own temporary folders."""

from __future__ import annotations

import faulthandler
import os
import shutil
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, create_engine, text

from app.runtime import Runtime, build
from bot import clock
from config.settings import DEMO_ENGAGEMENT, Settings
from storage.db import make_engine, normalise_url
from storage.migrate import upgrade
from tests import threads
from tests.harness import ConsoleHarness, english_engagement

PG_URL = os.environ.get("RENTIAN_TEST_PG_URL", "")
DEFAULT_NOW = "2026-11-25T10:00:00+08:00"  # a Wednesday, a working day


def pytest_configure(config: pytest.Config) -> None:
    """With RENTIAN_TEST_STACKS set (CI), SIGUSR1 writes every thread's stack to that file: what
    a run that hangs was doing when CI's timeout stops it."""
    if path := os.environ.get("RENTIAN_TEST_STACKS"):
        stacks = open(path, "a")  # noqa: SIM115 - open for the whole run
        config.add_cleanup(stacks.close)
        faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)
        config.add_cleanup(lambda: faulthandler.unregister(signal.SIGUSR1))


def pytest_report_header() -> str:
    if PG_URL:
        return "PostgreSQL suite: on (RENTIAN_TEST_PG_URL is set)"
    return "PostgreSQL suite: skipped (set RENTIAN_TEST_PG_URL to run it)"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Skips say why, grouped: one line per reason with its count (the run is `-q`)."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.write_sep("-", "skipped, and why")
        for reason, count in reasons.most_common():
            terminalreporter.write_line(f"{reason} ({count} test{'s' if count > 1 else ''})")


@pytest.fixture(autouse=True)
def _fixed_clock() -> Iterator[None]:
    clock.set_now(DEFAULT_NOW)
    yield
    clock.set_now(None)


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Like Flask's leak detector: a test must stop every thread it started."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for thread in leaked:
        threads.join(thread, 2)
    leaked = [t.name for t in leaked if t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("RENTIAN_") and name != "RENTIAN_TEST_PG_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no config/rentian.toml of the developer's is picked up


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@contextmanager
def empty_pg_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database of this process, dropped afterwards; skips
    the test when no server is configured."""
    if not PG_URL:
        pytest.skip(
            "PostgreSQL suite: set RENTIAN_TEST_PG_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"
        )
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield normalise_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of the test's own, on each backend: for tests that migrate it up
    and down themselves."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'blank.db'}")
        yield engine
        engine.dispose()
        return
    with empty_pg_database("rentian_blank") as url:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[tuple[str, str]]:
    """This process's migrated PostgreSQL database: its URL, and the SQL that empties it."""
    with empty_pg_database("rentian_test") as url:
        engine = make_engine(url)
        upgrade(engine)
        emptying = _emptying_sql(engine)
        engine.dispose()
        yield url, emptying


def _emptying_sql(engine: Engine) -> str:
    """One script that empties every table of the migrated schema and restarts its sequences.

    Not TRUNCATE: that makes new files for each of some 30 tables, about 0.13 s a test; these
    DELETEs of a test's few rows (children first) and `setval`s take about 1 ms. The tables are
    the database's own, so a model module nobody imported yet is emptied too."""
    schema = MetaData()
    schema.reflect(engine)
    tables = [t.name for t in reversed(schema.sorted_tables) if t.name != "alembic_version"]
    with engine.connect() as connection:
        sequences = connection.execute(
            text(
                "SELECT sequence_name FROM information_schema.sequences"
                " WHERE sequence_schema = current_schema()"
            )
        ).scalars()
        restarts = [f"SELECT setval('\"{name}\"', 1, false)" for name in sequences]
    return "; ".join([f'DELETE FROM "{name}"' for name in tables] + restarts)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated database for this test."""
    if request.param == "sqlite":
        path = tmp_path / "rentian.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str
    url, emptying = request.getfixturevalue("pg_database")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(emptying)  # several statements: psycopg sends them at once
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def runtime(engine: Engine, db_url: str) -> Runtime:
    return build(Settings(db=db_url), engine)


@pytest.fixture
def demo(runtime: Runtime) -> ConsoleHarness:
    """The demo engagement applied; a console harness in its bound chat `demo-group`."""
    harness = ConsoleHarness(runtime)
    harness.apply(DEMO_ENGAGEMENT)
    return harness


@pytest.fixture
def en(runtime: Runtime, tmp_path: Path) -> ConsoleHarness:
    """The English twin of the demo engagement; a console harness in its chat `en-group`."""
    harness = ConsoleHarness(runtime, chat="en-group")
    harness.apply(english_engagement(tmp_path))
    return harness
