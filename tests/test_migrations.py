"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData, Table, text
from sqlmodel import Session, SQLModel, col, select

import storage.models  # noqa: F401
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from storage.models import Signature


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    before, after = upgrade(engine)
    assert before == after == head_revision()


# -- 0008: the monthly close's signatures move from period columns into signature rows ---------


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    from alembic import command

    (command.downgrade if down else command.upgrade)(alembic_config(engine), revision)


_FILLERS: dict[type, object] = {
    str: "x", int: 0, bool: False, date: date(2026, 1, 1), datetime: datetime(2026, 1, 1, tzinfo=UTC),
    object: {},  # JSON
}  # fmt: skip


def _insert(connection: Connection, table: Table, **values: object) -> int:
    """Insert a row, filling the required columns the test does not care about."""
    for column in table.columns:
        if column.name in values or column.nullable or column.primary_key:
            continue
        if column.server_default is None:
            values[column.name] = _FILLERS[column.type.python_type]
    result = connection.execute(table.insert().values(**values).returning(table.c.id))
    return int(result.scalar_one())


_CLOSED = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
_CONFIRMED = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)


def _seed_0007(engine: Engine) -> dict[str, int]:
    """An engagement at revision 0007: a locked month, a closed one, a reopened one."""
    tables = MetaData()
    tables.reflect(engine)
    with engine.begin() as connection:
        eid = _insert(connection, tables.tables["engagement"], code="M-2026")
        pm = _insert(
            connection,
            tables.tables["person"],
            engagement_id=eid,
            key="pm",
            name="孙伟",
            party="vendor",
        )
        approver = _insert(
            connection,
            tables.tables["person"],
            engagement_id=eid,
            key="ap",
            name="王丽",
            party="client",
        )
        period = tables.tables["period"]
        _insert(
            connection,
            period,
            engagement_id=eid,
            month="2026-09",
            closed_by_id=pm,
            closed_at=_CLOSED,
            confirmed_by_id=approver,
            confirmed_at=_CONFIRMED,
            content_hash="h9",
        )
        _insert(
            connection,
            period,
            engagement_id=eid,
            month="2026-10",
            closed_by_id=pm,
            closed_at=_CLOSED,
            content_hash="",
        )
        _insert(connection, period, engagement_id=eid, month="2026-11", content_hash="")  # reopened
        audit = tables.tables["audit_log"]
        for n, (ref, digest) in enumerate((("2026-10", "h10-first"), ("2026-10", "h10"))):
            _insert(
                connection,
                audit,
                engagement_id=eid,
                at=_CLOSED,
                actor="pm",
                action="period.closed",
                ref=ref,
                data=json.dumps({"hash": digest}),
                prev_hash=f"p{n}",
                hash=f"h{n}",
            )
    return {"engagement": eid, "pm": pm, "approver": approver}  # fmt: skip


def _periods(engine: Engine) -> dict[str, dict[str, object]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM period ORDER BY month")).mappings()
        return {row["month"]: dict(row) for row in rows}


def _signatures(engine: Engine) -> list[tuple[object, ...]]:
    with Session(engine) as session:
        rows = session.execute(
            select(Signature).order_by(col(Signature.subject), col(Signature.party).desc())
        )
        return [
            (s.subject, s.person_id, s.party, s.content_hash, s.at, s.voided_at)
            for s in rows.scalars()
        ]


def _utc(value: object) -> datetime | None:
    """A time read without the app's column type: SQLite gives text, PostgreSQL aware times."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_0008_moves_the_close_into_signature_rows(blank: Engine) -> None:
    _migrate(blank, "0007")
    ids = _seed_0007(blank)
    _migrate(blank, "0008")
    periods = _periods(blank)
    assert {month: row["status"] for month, row in periods.items()} == {
        "2026-09": "locked", "2026-10": "closed", "2026-11": "open",
    }  # fmt: skip
    assert not {"closed_by_id", "closed_at", "confirmed_by_id", "confirmed_at"} & set(
        periods["2026-09"]
    )
    assert periods["2026-09"]["content_hash"] == "h9"
    assert _signatures(blank) == [
        ("2026-09", ids["pm"], "vendor", "h9", _CLOSED, None),
        ("2026-09", ids["approver"], "client", "h9", _CONFIRMED, None),
        ("2026-10", ids["pm"], "vendor", "h10", _CLOSED, None),  # the latest close's hash
    ]


def test_0008_downgrades_and_upgrades_again(blank: Engine) -> None:
    _migrate(blank, "0007")
    ids = _seed_0007(blank)
    _migrate(blank, "0008")
    _migrate(blank, "0007", down=True)
    periods = _periods(blank)
    assert "status" not in periods["2026-09"]
    assert (periods["2026-09"]["closed_by_id"], periods["2026-09"]["confirmed_by_id"]) == (
        ids["pm"], ids["approver"],
    )  # fmt: skip
    assert _utc(periods["2026-09"]["confirmed_at"]) == _CONFIRMED
    assert (_utc(periods["2026-10"]["closed_at"]), periods["2026-10"]["confirmed_at"]) == (
        _CLOSED,
        None,
    )
    assert periods["2026-11"]["closed_at"] is None
    assert _signatures(blank) == []
    _migrate(blank, "head")
    assert [row[:3] for row in _signatures(blank)] == [
        ("2026-09", ids["pm"], "vendor"), ("2026-09", ids["approver"], "client"),
        ("2026-10", ids["pm"], "vendor"),
    ]  # fmt: skip
    with blank.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
