"""Per-engagement reference numbers (T-1, K-1, CR-1, B-1, D-1), gap-free within a transaction,
and other per-engagement counters (`bot.directory`'s generation)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from storage.models import Counter

_TABLE = Counter.__table__  # type: ignore[attr-defined]


def _upsert(insert: Any) -> Any:
    """Add one to the counter, creating it at 1: one statement, built once per dialect (a
    statement built per call costs more than the database takes to run it)."""
    return (
        insert(_TABLE)
        .values(engagement_id=bindparam("engagement_id"), prefix=bindparam("prefix"), value=1)
        .on_conflict_do_update(
            index_elements=[_TABLE.c.engagement_id, _TABLE.c.prefix],
            set_={"value": _TABLE.c.value + 1},
        )
        .returning(_TABLE.c.value)
    )


_NEXT = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}
_CURRENT = select(col(Counter.value)).where(
    col(Counter.engagement_id) == bindparam("engagement_id"),
    col(Counter.prefix) == bindparam("prefix"),
)


def next_number(session: Session, engagement_id: int, prefix: str) -> int:
    """The next number for `prefix` in this engagement; rolled back with the transaction.
    The row stays locked until the transaction ends, so no number is handed out twice."""
    statement = _NEXT[session.get_bind().dialect.name]
    values = {"engagement_id": engagement_id, "prefix": prefix}
    return int(session.execute(statement, values).scalar_one())


def current(session: Session, engagement_id: int, prefix: str) -> int:
    """The last number given out for `prefix` (0 before the first)."""
    values = {"engagement_id": engagement_id, "prefix": prefix}
    return int(session.execute(_CURRENT, values).scalar_one_or_none() or 0)
