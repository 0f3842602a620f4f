"""Engine and sessions: SQLite (WAL, busy timeout, immediate write transactions) or PostgreSQL.

One URL setting picks the database; the rest of the code does not care which. Connections are
pooled for the life of the process (`dispose_all` closes them): opening a SQLite connection per
transaction cost ~12 ms, closing the last one checkpointing and syncing the WAL each time.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, CompileError, DBAPIError
from sqlalchemy.pool import QueuePool, StaticPool
from sqlmodel import Session, SQLModel

from base.errors import StorageError

_BUSY_TIMEOUT_MS = 10_000
SYNCHRONOUS = ("NORMAL", "FULL")  # SQLite's `synchronous` in WAL mode; docs/operations.md
# A PostgreSQL connection idle longer than this is pinged when it is checked out: a server
# restarted meanwhile costs no transaction. One in steady use is not (a round trip each time).
PING_AFTER_IDLE_SECONDS = 5.0
_SUPPORTED = {"sqlite": "pysqlite", "postgresql": "psycopg"}  # backend: its one driver here
_USE = "use sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/NAME"
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
# What `make_engine` made each SQLite file engine with, and the engines of its companion files
# (`companion_engine`): a companion is made once per engine, with the same settings.
_made_with: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()
_companions: weakref.WeakKeyDictionary[Engine, dict[str, Engine]] = weakref.WeakKeyDictionary()
_companions_lock = threading.Lock()


def normalise_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 here."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(
    url: str, *, create: bool = True, synchronous: str = "NORMAL", pool_size: int = 8
) -> Engine:
    """An engine for `url`, or `StorageError` for a URL of no database Rentian supports.

    A missing SQLite file is created on first use, and its folder if only that is missing (a
    deeper missing path is more likely a typo); with `create=False` a missing file is an error.
    `synchronous` is SQLite's (NORMAL or FULL); `pool_size` connections stay open, as many
    more may open for a burst and close when returned.
    """
    if synchronous not in SYNCHRONOUS:
        raise StorageError(
            f"synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}"
        )
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        raise StorageError(f"not a database URL ({_USE})") from None
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED or parsed.get_driver_name() != _SUPPORTED[backend]:
        raise StorageError(f"{safe_url(parsed)}: not a supported database ({_USE})")
    pool: dict[str, Any] = {
        "poolclass": QueuePool,
        "pool_size": pool_size,
        "max_overflow": pool_size,
    }
    if backend != "sqlite":
        engine = create_engine(parsed, **pool)
        _ping_when_idle(engine)
    else:
        _check_sqlite_file(parsed, create)
        if _in_memory(parsed):  # one database per connection: share a single connection
            pool = {"poolclass": StaticPool}
        connect_args = {"check_same_thread": False, "timeout": _BUSY_TIMEOUT_MS / 1000}
        engine = create_engine(parsed, connect_args=connect_args, **pool)
        _configure_sqlite(engine, synchronous)
        if not _in_memory(parsed):
            _made_with[engine] = {"synchronous": synchronous, "pool_size": pool_size}
    _engines.add(engine)
    return engine


def companion_engine(engine: Engine, name: str) -> Engine | None:
    """On a SQLite file, the engine of a database file of its own beside it, with the same
    settings (`data/rentian.db` → `data/rentian.NAME.db`): one writer per file, so what is
    written there never waits behind the main file's transactions, nor they behind it. Made
    once per engine and name; `dispose_all` closes it, as does the engine's collection. None
    on PostgreSQL or in memory, where there is no file to put beside it."""
    options = _made_with.get(engine)
    if options is None:
        return None
    with _companions_lock:
        made = _companions.setdefault(engine, {})
        if name not in made:
            url = engine.url.set(database=companion_path(engine.url.database or "", name))
            companion = make_engine(url.render_as_string(hide_password=False), **options)
            weakref.finalize(engine, companion.dispose)
            made[name] = companion
        return made[name]


def companion_path(database: str, name: str) -> str:
    """`data/rentian.db` → `data/rentian.NAME.db` (a `file:` URI keeps its query)."""
    uri = database.startswith("file:")
    path, mark, query = database.partition("?") if uri else (database, "", "")
    folder, slash, file = path.rpartition("/")
    stem, _, suffix = file.rpartition(".")
    file = f"{stem}.{name}.{suffix}" if stem else f"{file}.{name}"
    return f"{folder}{slash}{file}{mark}{query}"


def safe_url(url: URL | Engine) -> str:
    """The URL to show a person: its password hidden."""
    return (url.url if isinstance(url, Engine) else url).render_as_string(hide_password=True)


def db_error_reason(error: DBAPIError) -> str:
    """The driver's message on one line (psycopg's run over several)."""
    lines = (line.strip() for line in str(error.orig).splitlines())
    return "; ".join(line for line in lines if line)


def _in_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


def _check_sqlite_file(url: URL, create: bool) -> None:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return  # in memory, or a URI filename SQLite resolves itself
    path = Path(database)
    if path.is_dir():
        raise StorageError(f"{safe_url(url)}: {path} is a folder, not a database file")
    if path.exists():
        return
    if not create:
        raise StorageError(f"{safe_url(url)}: no such file; run `rentian init` to create it")
    try:
        path.parent.mkdir(exist_ok=True)
    except FileNotFoundError:
        raise StorageError(
            f"{safe_url(url)}: cannot create the folder {path.parent}: "
            f"{path.parent.parent} does not exist"
        ) from None
    except OSError as error:
        raise StorageError(
            f"{safe_url(url)}: cannot create the folder {path.parent} ({error.strerror})"
        ) from None


def dispose_all() -> None:
    """Close every pooled connection (the CLI calls this before it returns)."""
    for engine in list(_engines):
        engine.dispose()


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    # PRAGMAs once per connection, when it opens: the pool keeps it for the process. WAL
    # checkpoints are left to SQLite's automatic one (every ~1000 pages of WAL).
    # pysqlite's own transaction handling defers BEGIN; take it over so that every
    # transaction is BEGIN IMMEDIATE: writers queue on the busy timeout instead of failing
    # later with a stale snapshot (the audit chain reads the last hash, then appends).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        deferred = connection.get_execution_options().get(_READING, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


_READING = "rentian_reading"  # the execution option `reading` sets


def reading(engine: Engine) -> Engine:
    """`engine` for transactions that only read. On SQLite they begin DEFERRED: in WAL mode a
    reader takes no lock, so it neither waits for a writer nor makes one wait (the inbox
    file's workers look for rows while acknowledgements insert). Never write in one: it
    could fail on a snapshot another writer made stale. Elsewhere `engine` as it is."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_READING: True})


def _ping_when_idle(engine: Engine) -> None:
    """`pool_pre_ping` costs a round trip on every checkout; ping only a connection that sat
    idle, where a server restart may have closed it. A connection that breaks in use raises a
    disconnect error, which invalidates it and every older one in the pool (SQLAlchemy does
    that), and callers treat as retryable (bot.intake.retryable)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except Exception as error:  # any failure: the pool opens a new connection instead
            raise exc.DisconnectionError(str(error)) from error


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


# INSERT … ON CONFLICT DO NOTHING RETURNING pk, built once per table, dialect and column names
# (building one per call cost ~13% of a message); the values are bound at execution, so
# SQLAlchemy's compiled cache serves every call after the first.
_INSERT_IGNORE: dict[tuple[Any, str, tuple[str, ...]], Any] = {}


def insert_ignore(session: Session, model: type[SQLModel], **values: Any) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True if the row was written.

    The unique constraint decides, so two instances racing on one key write it once.
    """
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    cache_key = (table, dialect, tuple(values))
    statement = _INSERT_IGNORE.get(cache_key)
    if statement is None:
        statement = _INSERT_IGNORE[cache_key] = _insert_ignore_statement(table, dialect, values)
    return session.execute(statement, values).first() is not None


def _insert_ignore_statement(table: Any, dialect: str, values: dict[str, Any]) -> Any:
    # Parameters at execution are matched to columns by name and an unknown one is silently
    # left out, where `.values()` raises: check the names once, when the statement is built,
    # and raise what `.values()` does.
    unknown = [name for name in values if name not in table.c]
    if unknown:
        raise CompileError(f"Unconsumed column names: {', '.join(unknown)}")
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        statement = insert(table)
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT SQLAlchemy runs with RETURNING.
    key = next(iter(table.primary_key.columns))
    return statement.returning(key)


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"
