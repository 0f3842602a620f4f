"""Per-engagement reference numbers (T-1, K-1, CR-1, B-1, D-1), gap-free within a transaction."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col

from storage.db import insert_ignore
from storage.models import Counter


def next_number(session: Session, engagement_id: int, prefix: str) -> int:
    """The next number for `prefix` in this engagement; rolled back with the transaction."""
    insert_ignore(session, Counter, engagement_id=engagement_id, prefix=prefix, value=0)
    statement = (
        update(Counter)
        .where(col(Counter.engagement_id) == engagement_id, col(Counter.prefix) == prefix)
        .values(value=col(Counter.value) + 1)
        .returning(col(Counter.value))
    )
    return int(session.execute(statement).scalar_one())
