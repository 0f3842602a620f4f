"""Schema migrations (Alembic): `rentian init` upgrades any database to the newest schema;
every other command first checks that the database has exactly that schema."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from base.errors import StorageError
from storage.db import db_error_reason, safe_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps


# Alembic is imported inside the functions that migrate: it costs about a quarter of a second,
# and every command imports this module to check the schema.


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to head; return (revision before, revision after)."""
    from alembic import command

    before = check_schema(engine, upgrading=True)
    command.upgrade(alembic_config(engine), "head")
    return before, head_revision()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def check_schema(engine: Engine, *, upgrading: bool = False) -> str | None:
    """The database's schema revision, if this code can work with it: exactly the newest, or
    when `upgrading`, any revision it knows or none yet. Otherwise `StorageError` says what to
    do; so does a database that cannot be reached."""
    graph = known_revisions()
    newest = next(iter(set(graph) - set(graph.values())))
    stored = _stored_revision(engine)
    where = safe_url(engine)
    if stored is not None and stored not in graph:
        raise StorageError(f"{where}: schema revision {stored} is newer than this Rentian "
                           f"(knows up to {newest}); upgrade Rentian")  # fmt: skip
    if upgrading or stored == newest:
        return stored
    if stored is None:
        raise StorageError(f"{where}: no Rentian schema; run `rentian init`")
    raise StorageError(f"{where}: schema revision {stored} is older than this Rentian "
                       f"({newest}); run `rentian init` to upgrade it")  # fmt: skip


@cache
def known_revisions() -> dict[str, str | None]:
    """revision -> the revision it follows, read from the migration files' source (asking
    Alembic would import it)."""
    graph: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        names: dict[str, str | None] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target: ast.expr
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                names[target.id] = ast.literal_eval(value)
        graph[str(names["revision"])] = names.get("down_revision")
    return graph


def _stored_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(_VERSION_TABLE):
                return None
            return connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()
    except DBAPIError as error:
        raise StorageError(f"{safe_url(engine)}: {db_error_reason(error)}") from None
