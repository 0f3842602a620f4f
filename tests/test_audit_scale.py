"""The audit chain at a million entries: `append` reads the last hash through the primary key
(one row, whatever the length of the chain), and the chain it extends still verifies.

The million rows are bulk-inserted by SQL (SQLite's recursive CTE), not a valid chain: each
row's `prev_hash` is unique, as the table demands, and its `hash` is the next row's
`prev_hash`, so the rows link, but their content is not hashed. That is enough here: `append`
reads only the last row's hash, and what is checked from that point on is exactly what
`verify` checks (each link, each hash recomputed). Hashing a valid million-row chain, or
verifying one, would take longer than the ~10 s this test may; `verify` has no API for a
tail, so the tail is checked with its own function, `entry_hash`.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import col, select

from storage import audit
from storage.db import is_postgres, transaction
from storage.models import AuditEntry

ROWS = 1_000_000
PG_ROWS = 20_000  # EXPLAIN only on PostgreSQL: the plan, not the time
_AT = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
_BULK = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
INSERT INTO audit_log (engagement_id, at, actor, action, ref, data, prev_hash, hash)
SELECT NULL, '2026-01-01 00:00:00.000000', 'bulk', 'bulk', '', '{{}}',
       'p' || i, 'p' || (i + 1) FROM n
"""


def _fill(engine: Engine, rows: int) -> None:
    with transaction(engine) as session:
        session.execute(text(_BULK.format(rows=rows)))
    if is_postgres(engine):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE audit_log"))


def _append(engine: Engine, n: int) -> tuple[AuditEntry, list[tuple[str, object]]]:
    """Append one entry; the statements `append` sent to read the chain's last hash."""
    reads: list[tuple[str, object]] = []

    def record(_c: object, _cur: object, statement: str, parameters: object, *_: object) -> None:
        if statement.lstrip().startswith("SELECT audit_log.hash"):
            reads.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with transaction(engine) as session:
            entry = audit.append(session, at=_AT, actor="pm", action="scale.test", ref=f"#{n}",
                                 data={"n": n})  # fmt: skip
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return entry, reads


def _plan(engine: Engine, statement: str, parameters: object) -> str:
    explain = "EXPLAIN " if is_postgres(engine) else "EXPLAIN QUERY PLAN "
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(explain + statement, parameters).all()  # type: ignore[arg-type]
    return "\n".join(str(row[-1]) for row in rows)


def test_append_reads_the_last_hash_by_primary_key_at_a_million_entries(engine: Engine) -> None:
    if is_postgres(engine):
        pytest.skip("the million rows are SQLite's; see the PostgreSQL test below")
    _fill(engine, ROWS)
    last = f"p{ROWS + 1}"
    entry, reads = _append(engine, 1)
    assert entry.prev_hash == last
    ((statement, parameters),) = reads
    plan = _plan(engine, statement, parameters)
    # The rowid (the id) in reverse, no sort: LIMIT 1 stops at the first row.
    assert plan.strip() == "SCAN audit_log" and "TEMP B-TREE" not in plan
    assert _steps(engine, statement, parameters) < 200  # SQLite's VM: a few rows, not a million
    for n in range(2, 6):
        _append(engine, n)
    with transaction(engine) as session:
        tail = list(session.execute(select(AuditEntry).where(col(AuditEntry.id) > ROWS)
                                    .order_by(col(AuditEntry.id))).scalars())  # fmt: skip
    _verify_tail(last, tail)
    assert [e.ref for e in tail] == ["#1", "#2", "#3", "#4", "#5"]


def _steps(engine: Engine, statement: str, parameters: object) -> int:
    """How many SQLite virtual machine instructions the query takes (counted in steps of 10)."""
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert isinstance(connection, sqlite3.Connection)
        counted = [0]

        def step() -> int:
            counted[0] += 10
            return 0

        connection.set_progress_handler(step, 10)
        try:
            connection.execute(statement, parameters).fetchall()  # type: ignore[arg-type]
        finally:
            connection.set_progress_handler(None, 0)
        return counted[0]
    finally:
        raw.close()


def _verify_tail(prev_hash: str, entries: list[AuditEntry]) -> None:
    """What `verify` checks, from the entry after `prev_hash` on."""
    for entry in entries:
        assert entry.prev_hash == prev_hash, entry.id
        expected = audit.entry_hash(entry.prev_hash, entry.at, entry.engagement_id, entry.actor,
                                    entry.action, entry.ref, entry.data)  # fmt: skip
        assert entry.hash == expected, entry.id
        prev_hash = entry.hash


def test_a_short_chain_verifies_whole(engine: Engine) -> None:
    """The tail check above is `verify`'s: on a chain short enough, `verify` itself agrees."""
    entries = [_append(engine, n)[0] for n in range(1, 4)]
    _verify_tail(audit.GENESIS, entries)
    assert audit.verify(engine).ok


def test_append_reads_the_last_hash_by_primary_key_on_postgresql(engine: Engine) -> None:
    if not is_postgres(engine):
        pytest.skip("PostgreSQL's plan")
    with transaction(engine) as session:
        session.execute(text(_BULK.replace("'p' || i", "'p' || i::text").format(rows=PG_ROWS)))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE audit_log"))
    entry, reads = _append(engine, 1)
    assert entry.prev_hash == f"p{PG_ROWS + 1}"
    ((statement, parameters),) = reads
    plan = _plan(engine, statement, parameters)
    assert "Index Scan Backward using audit_log_pkey on audit_log" in plan, plan
    assert "Seq Scan" not in plan and "Sort" not in plan, plan
