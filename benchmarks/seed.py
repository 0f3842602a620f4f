"""Bulk data for the benchmarks, written with Core `executemany` in large transactions (a
million rows in well under a minute on SQLite): closed tickets long past, and work entries.

Rows go straight into the tables, not through the bus: what is measured is how the jobs and
the export read a long history, not how it was written.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlmodel import col

from storage.models import Engagement, Person, Ticket, WorkLog

CHUNK = 50_000
CODE = "DEMO-2026"


def engagement_and_people(engine: Engine) -> tuple[int, list[tuple[int, str, str]]]:
    """The demo engagement's id, and its engineers as (id, key, level)."""
    with engine.connect() as db:
        engagement = db.execute(
            select(col(Engagement.id)).where(col(Engagement.code) == CODE)
        ).scalar_one()
        assert engagement is not None
        people = db.execute(
            select(col(Person.id), col(Person.key), col(Person.level)).where(
                col(Person.engagement_id) == engagement, col(Person.level).is_not(None)
            )
        ).all()
    return engagement, [(i, str(k), str(lv)) for i, k, lv in people if i is not None]


def closed_tickets(
    engine: Engine, count: int, *, before: datetime, first_number: int = 100_000
) -> None:
    """`count` tickets opened and closed in the 50 days before `before`, none due to the sweep."""
    engagement, people = engagement_and_people(engine)
    rng = random.Random(count)
    span = 50 * 24 * 3600

    def rows() -> Iterator[dict[str, Any]]:
        for n in range(count):
            opened = before - timedelta(seconds=rng.randrange(3 * 24 * 3600, span))
            person = people[n % len(people)]
            yield {
                "engagement_id": engagement, "number": first_number + n,
                "severity": f"P{1 + n % 4}", "service": None, "in_scope": True,
                "title": f"历史工单 {n}：报表导出超时", "status": "closed",
                "reporter_key": "liu.yang", "reporter_name": "刘洋", "reporter_id": None,
                "assignee_id": person[0], "opened_at": opened,
                "acked_at": opened + timedelta(minutes=10),
                "resolved_at": opened + timedelta(hours=5),
                "closed_at": opened + timedelta(days=2), "pending_since": None,
                "pending_reason": "", "paused_minutes": 0,
                "response_due_at": opened + timedelta(hours=1),
                "resolve_due_at": opened + timedelta(hours=8), "alerts": [],
                "next_check_at": None, "channel": "console", "chat_id": "demo-group",
                "message_id": f"seed-{n}",
            }  # fmt: skip

    _insert(engine, Ticket, rows())


def work_entries(engine: Engine, count: int, month: date) -> None:
    """`count` work entries spread over `month`'s days and the demo's engineers."""
    engagement, people = engagement_and_people(engine)
    days = [d for d in (month + timedelta(days=i) for i in range(31)) if d.month == month.month]
    created = datetime.combine(days[-1], datetime.min.time(), UTC)

    def rows() -> Iterator[dict[str, Any]]:
        for n in range(count):
            person = people[n % len(people)]
            yield {
                "engagement_id": engagement, "person_id": person[0], "level": person[2],
                "work_date": days[n % len(days)], "minutes": 30 + 15 * (n % 8),
                "target_kind": "ticket", "target_ref": f"T-{1 + n % 500}",
                "note": f"排查报表导出超时 {n}", "overtime": n % 17 == 0, "kind": "entry",
                "created_by_id": person[0], "created_at": created, "voided_at": None,
            }  # fmt: skip

    _insert(engine, WorkLog, rows())


def _insert(engine: Engine, model: Any, rows: Iterator[dict[str, Any]]) -> None:
    table = model.__table__
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            with engine.begin() as db:
                db.execute(insert(table), chunk)
            chunk = []
    if chunk:
        with engine.begin() as db:
            db.execute(insert(table), chunk)
