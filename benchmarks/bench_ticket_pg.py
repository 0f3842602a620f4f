"""`/工单` in-process on PostgreSQL vs bare psycopg (two inserts and a commit per transaction):
target ratio ≥ 0.50. Skipped when no server answers at RENTIAN_BENCH_PG_URL or
RENTIAN_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test); runs in a fresh
database it creates and drops."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from benchmarks.common import Row, fresh_pg_database
from benchmarks.ticket_rate import ticket_rate, ticket_row

if TYPE_CHECKING:
    import psycopg


def run(smoke: bool) -> list[Row]:
    import psycopg

    with fresh_pg_database() as url:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as db:
            bare = _Bare(db)
            ours, theirs = ticket_rate(url, bare, smoke)
        return [
            ticket_row(
                "/工单 in-process, PostgreSQL",
                ours,
                theirs,
                "bare psycopg, 2 inserts + commit",
                "≥ 0.50",
                smoke,
            )
        ]


class _Bare:
    """Two inserts and a commit per transaction on one connection."""

    def __init__(self, db: psycopg.Connection[tuple[object, ...]]) -> None:
        self.db = db
        db.execute("CREATE TABLE bare_ticket (id serial PRIMARY KEY, title text, at text)")
        db.execute("CREATE TABLE bare_outbox (id serial PRIMARY KEY, ticket int, text text)")
        db.commit()
        self.n = 0

    def __call__(self, count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            self.n += 1
            row = self.db.execute(
                "INSERT INTO bare_ticket (title, at) VALUES (%s, %s) RETURNING id",
                (f"报表导出超时 {self.n}", "now"),
            ).fetchone()
            assert row is not None
            self.db.execute(
                "INSERT INTO bare_outbox (ticket, text) VALUES (%s, %s)", (row[0], "已登记")
            )
            self.db.commit()
        return time.perf_counter() - start
