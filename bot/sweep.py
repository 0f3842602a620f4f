"""The batch-and-lock loop of the jobs that act on rows falling due (the SLA sweep, the blocker
escalation): read the due ids in batches, then lock and handle each row on its own.

Each row is locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL: a row another instance holds is
left to it; SQLite's writers queue anyway) and read again, still due, in a transaction of its
own; the handler gets it with the system's context for its engagement, so what it changes,
says and records commits together, and one row that fails is rolled back alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col

from bot.context import Context
from bot.scheduler import Run
from storage.db import transaction
from storage.models import Engagement

log = logging.getLogger("rentian.sweep")
BATCH = 500


class Due(Protocol):
    """A row that falls due: it belongs to an engagement."""

    @property
    def id(self) -> int | None: ...
    @property
    def engagement_id(self) -> int: ...


R = TypeVar("R", bound=Due)


class SweepFailed(RuntimeError):
    """Some rows could not be handled (each is logged); the others were."""


def due_ids(
    session: Session,
    model: type[R],
    due_at: Mapped[datetime | None],
    now: datetime,
    *,
    limit: int = BATCH,
    after: tuple[datetime, int] | None = None,
) -> list[tuple[datetime, int]]:
    """(due time, id) of up to `limit` rows whose `due_at` has come, soonest first; after the
    row `after` (the last of the previous batch). One query, on `due_at`'s index."""
    ident = col(model.id)
    query = select(due_at, ident).where(due_at <= now)
    if after is not None:
        query = query.where(or_(due_at > after[0], and_(due_at == after[0], ident > after[1])))
    rows = session.execute(query.order_by(due_at, ident).limit(limit)).all()
    return [(at, int(i)) for at, i in rows if at is not None and i is not None]


def sweep(
    run: Run,
    model: type[R],
    due_at: Mapped[datetime | None],
    handle: Callable[[Context, R], None],
    *,
    batch: int = BATCH,
) -> int:
    """`handle` every row of `model` whose `due_at` has come at `run.now`, soonest first, each
    locked and in a transaction of its own; how many were handled. A row that fails is
    logged and the others go on; `SweepFailed` then says how many failed."""
    handled, failed = 0, 0
    after: tuple[datetime, int] | None = None
    while True:
        with transaction(run.engine) as session:
            ids = due_ids(session, model, due_at, run.now, limit=batch, after=after)
        for at, row_id in ids:
            try:
                handled += _handle_one(run, model, due_at, row_id, handle)
            except Exception:
                log.exception("%s %s: could not be handled; left due", model.__name__, row_id)
                failed += 1
            after = (at, row_id)
        if len(ids) < batch:
            break
    if failed:
        raise SweepFailed(f"{failed} {model.__name__} row(s) failed (see the log)")
    return handled


def _handle_one(
    run: Run,
    model: type[R],
    due_at: Mapped[datetime | None],
    row_id: int,
    handle: Callable[[Context, R], None],
) -> int:
    with transaction(run.engine) as session:
        query = select(model).where(col(model.id) == row_id, due_at <= run.now)
        row = session.execute(query.with_for_update(skip_locked=True)).scalar_one_or_none()
        if row is None:  # another instance has it, or has handled it
            return 0
        engagement = session.get(Engagement, row.engagement_id)
        handle(Context.system(session, run.now, run.vocabulary, engagement), row)
    return 1
