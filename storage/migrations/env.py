"""Alembic environment: runs on the engine handed over by `storage.migrate` (or the URL in
`RENTIAN_DB` when run as `alembic` from the repository root)."""

from __future__ import annotations

import os
from typing import Any, Literal

from alembic import context
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from config.settings import DEFAULT_DB
from storage.db import make_engine
from storage.types import UTCDateTime

config = context.config
engine = config.attributes.get("engine") or make_engine(os.environ.get("RENTIAN_DB", DEFAULT_DB))


def _render_item(kind: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations use plain SQLAlchemy types, not the application's decorators.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
