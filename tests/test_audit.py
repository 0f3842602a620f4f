"""The audit log's hash chain, through the storage API and `rentian audit verify`."""

from __future__ import annotations

from sqlalchemy import Engine, text

from app.cli import main
from bot import clock
from storage import audit
from storage.db import transaction


def _write(engine: Engine, count: int) -> None:
    with transaction(engine) as session:
        for index in range(count):
            audit.append(
                session,
                at=clock.now(),
                actor="wang.li",
                action="scope.signed",
                ref=f"K-{index}",
                data={"n": index, "名": "王丽"},
            )


def test_untouched_log_verifies(engine: Engine) -> None:
    _write(engine, 5)
    result = audit.verify(engine, batch=2)  # crosses batch boundaries
    assert result.ok and result.checked == 5


def test_changed_row_is_named(engine: Engine, db_url: str, capsys) -> None:
    _write(engine, 4)
    assert main(["--db", db_url, "audit", "verify"]) == 0
    assert "OK: 4 entries" in capsys.readouterr().out
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 3"))
    assert main(["--db", db_url, "audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN at entry #3" in out and "2 entries before it" in out


def test_deleted_row_breaks_the_link(engine: Engine) -> None:
    _write(engine, 4)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE id = 2"))
    result = audit.verify(engine)
    assert not result.ok and result.bad_id == 3 and "link" in result.problem


def test_a_fork_of_the_chain_cannot_be_written(engine: Engine) -> None:
    """Two entries claiming the same predecessor violate the unique prev_hash."""
    _write(engine, 1)
    with engine.begin() as connection:
        first = connection.execute(text("SELECT hash FROM audit_log")).scalar()
        insert = text(
            "INSERT INTO audit_log (at, actor, action, ref, data, prev_hash, hash) "
            "VALUES (:at, 'x', 'y', '', '{}', :prev, 'h')"
        )
        connection.execute(insert, {"at": clock.now().replace(tzinfo=None), "prev": first})
    try:
        with engine.begin() as connection:
            connection.execute(insert, {"at": clock.now().replace(tzinfo=None), "prev": first})
    except Exception as error:  # IntegrityError from either driver
        assert "unique" in str(error).lower() or "duplicate" in str(error).lower()
    else:
        raise AssertionError("a second row with the same prev_hash was accepted")
