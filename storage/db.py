"""Engine and sessions: SQLite (WAL, busy timeout, immediate write transactions) or PostgreSQL.

One URL setting picks the database; the rest of the code does not care which.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel

from base.errors import StorageError

_BUSY_TIMEOUT_MS = 10_000
_SUPPORTED = {"sqlite": "pysqlite", "postgresql": "psycopg"}  # backend: its one driver here
_USE = "use sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/NAME"
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def normalise_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 here."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for `url`, or `StorageError` for a URL of no database Rentian supports.

    A missing SQLite file is created on first use, and its folder if only that is missing (a
    deeper missing path is more likely a typo); with `create=False` a missing file is an error.
    """
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        raise StorageError(f"not a database URL ({_USE})") from None
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED or parsed.get_driver_name() != _SUPPORTED[backend]:
        raise StorageError(f"{safe_url(parsed)}: not a supported database ({_USE})")
    if backend != "sqlite":
        engine = create_engine(parsed, pool_pre_ping=True)
        _engines.add(engine)
        return engine
    _check_sqlite_file(parsed, create)
    engine = create_engine(
        parsed, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 10}
    )
    _configure_sqlite(engine)
    _engines.add(engine)
    return engine


def safe_url(url: URL | Engine) -> str:
    """The URL to show a person: its password hidden."""
    return (url.url if isinstance(url, Engine) else url).render_as_string(hide_password=True)


def db_error_reason(error: DBAPIError) -> str:
    """The driver's message on one line (psycopg's run over several)."""
    lines = (line.strip() for line in str(error.orig).splitlines())
    return "; ".join(line for line in lines if line)


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


def _configure_sqlite(engine: Engine) -> None:
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
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def insert_ignore(session: Session, model: type[SQLModel], **values: Any) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True if the row was written.

    The unique constraint decides, so two instances racing on one key write it once.
    """
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        statement = insert(table).values(**values)
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT SQLAlchemy runs with RETURNING.
    key = next(iter(table.primary_key.columns))
    return session.execute(statement.returning(key)).first() is not None


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"
