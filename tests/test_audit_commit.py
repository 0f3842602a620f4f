"""The audit chain is linked when a transaction commits (storage.audit): entries are only
recorded while the handler runs, so another transaction waits for the chain only while one
commits; savepoints and rollbacks take their entries back; group commit links once, in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlmodel import Session, col

from adapters import console
from bot import clock
from storage import audit
from storage.db import is_postgres, transaction
from storage.models import AuditEntry
from tests import threads
from tests.harness import ConsoleHarness


def _add(session: Session, action: str, ref: str = "", **options: Any) -> audit.Entry:
    return audit.append(session, at=clock.now(), actor="pm", action=action, ref=ref,
                        data={"ref": ref}, **options)  # fmt: skip


def _chain(engine: Engine) -> list[tuple[str, str]]:
    """(action, ref) of every entry, in the chain's order; the chain verified first."""
    result = audit.verify(engine)
    assert result.ok, result
    with Session(engine) as session:
        rows = session.execute(select(AuditEntry.action, AuditEntry.ref)
                               .order_by(col(AuditEntry.id))).all()  # fmt: skip
    return [(action, ref) for action, ref in rows]


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement `engine` runs while open, COMMIT included, as its first line."""
    seen: list[str] = []

    def statement(_c: object, _cur: object, sql: str, *_: object) -> None:
        seen.append(sql.strip().splitlines()[0])

    def commit(_connection: object) -> None:
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


def test_the_chain_verifies_after_mixed_transactions(engine: Engine) -> None:
    with transaction(engine) as session:
        _add(session, "a", "1")
        _add(session, "a", "2")
    with transaction(engine) as session:
        _add(session, "b", "1")
        linked = _add(session, "b", "2", link_now=True)
        assert linked.id is not None and linked.prev_hash != audit.GENESIS
        _add(session, "b", "3")
    with pytest.raises(RuntimeError), transaction(engine) as session:
        _add(session, "c", "rolled back")
        raise RuntimeError("the handler failed")
    with transaction(engine) as session:
        with session.begin_nested() as savepoint:
            _add(session, "d", "savepoint")
            savepoint.rollback()
        _add(session, "d", "1")
    assert _chain(engine) == [("a", "1"), ("a", "2"), ("b", "1"), ("b", "2"), ("b", "3"),
                              ("d", "1")]  # fmt: skip


def test_entries_are_written_right_before_commit(engine: Engine) -> None:
    """Nothing of the chain is read or locked while the transaction works; at commit, the
    lock (PostgreSQL), the last hash and one insert are the last statements before COMMIT."""
    with _statements(engine) as seen, transaction(engine) as session:
        _add(session, "work", "1")
        session.execute(text("SELECT 1"))  # the handler's other work
        _add(session, "work", "2")
        session.execute(text("SELECT 2"))
        assert not [s for s in seen if "audit_log" in s or "advisory" in s]
    tail = [s.split(" (")[0].strip() for s in seen[seen.index("SELECT 2") + 1 :]]
    # PostgreSQL: one multi-row INSERT; SQLite: SQLAlchemy runs an INSERT … RETURNING a row at
    # a time when the ids must come back in the rows' order (one `execute` all the same).
    lock, inserts = (
        (["SELECT pg_advisory_xact_lock(%(key)s)"], 1) if is_postgres(engine) else ([], 2)
    )
    assert tail == [*lock, "SELECT audit_log.hash", *["INSERT INTO audit_log"] * inserts, "COMMIT"]
    assert _chain(engine) == [("work", "1"), ("work", "2")]


def test_a_savepoint_rollback_drops_its_entries(engine: Engine) -> None:
    with transaction(engine) as session:
        before = _add(session, "kept", "before")
        with session.begin_nested() as savepoint:
            gone = _add(session, "refused", "in the savepoint")
            savepoint.rollback()
        after = _add(session, "kept", "after")
        assert gone.dropped and audit.anchor(session, gone) is None
    assert not before.dropped and not after.dropped and gone.id is None
    assert _chain(engine) == [("kept", "before"), ("kept", "after")]


def test_an_entry_linked_in_a_rolled_back_savepoint_is_linked_again(engine: Engine) -> None:
    """An anchor asked for inside a savepoint writes the pending entries there; rolled back,
    the rows are gone, but the entries made before the savepoint are still the transaction's."""
    with transaction(engine) as session:
        first = _add(session, "kept", "1")
        with session.begin_nested() as savepoint:
            _add(session, "refused", "2")
            assert audit.anchor(session, first) is not None and first.id is not None
            savepoint.rollback()
        assert first.id is None and not first.dropped
        _add(session, "kept", "3")
    assert first.id is not None
    assert _chain(engine) == [("kept", "1"), ("kept", "3")]


def test_a_rolled_back_transaction_leaves_nothing(engine: Engine) -> None:
    entries: list[audit.Entry] = []
    with pytest.raises(RuntimeError), transaction(engine) as session:
        entries.append(_add(session, "x", "pending"))
        entries.append(_add(session, "x", "linked", link_now=True))
        raise RuntimeError("refused")
    assert all(e.dropped and e.id is None for e in entries)
    with transaction(engine) as session:  # the same session object's next use starts afresh
        entry = _add(session, "y", "next")
    assert entry.prev_hash == audit.GENESIS
    assert _chain(engine) == [("y", "next")]


def test_a_query_of_the_log_sees_the_transactions_entries(engine: Engine) -> None:
    with transaction(engine) as session:
        entry = _add(session, "signed", "CR-1")
        refs = session.execute(select(AuditEntry.ref).where(AuditEntry.action == "signed"))
        assert list(refs.scalars()) == ["CR-1"]
        head = audit.head(session)
        assert head is not None and head.id == entry.id and head.hash == entry.hash


def test_a_batch_links_once_in_event_order(demo: ConsoleHarness) -> None:
    """Group commit (the inbox's `handle_batch`): one read of the last hash for the whole
    batch, the entries in the order of the events, `before_commit`'s own last."""
    runtime = demo.runtime
    inbounds = [console.parse("demo-group", "wangli", f"/工单 打印机 {n} 坏了", now=clock.now(),
                              event_id=f"batch-{n}", bot_names=runtime.bot_names)
                for n in range(3)]  # fmt: skip

    def before_commit(session: Session) -> None:
        _add(session, "inbox.handed_over", "batch")

    with _statements(runtime.engine) as seen:
        runtime.bus.handle_batch(inbounds, before_commit=before_commit)
    assert sum(s.startswith("SELECT audit_log.hash") for s in seen) == 1
    assert _chain(runtime.engine)[-4:] == [
        ("ticket.opened", "T-1"), ("ticket.opened", "T-2"), ("ticket.opened", "T-3"),
        ("inbox.handed_over", "batch"),
    ]  # fmt: skip


def test_a_signing_reply_links_its_entry_at_once(demo: ConsoleHarness) -> None:
    """The anchor a signing command's reply ends with is the entry the commit keeps."""
    demo.one("sunwei", '/任务 新增 "订单数据同步" est=3d level=senior due=+10d owner=@zhaogang')
    reply = demo.one("sunwei", "/范围 签署")
    (anchor,) = audit.find_anchors(reply.text)
    assert audit.check_anchors(demo.runtime.engine, [anchor]) == []
    with Session(demo.runtime.engine) as session:
        entry = session.get(AuditEntry, anchor.position)
        assert entry is not None and entry.action == "scope.signed"


# PostgreSQL: transactions of several connections


def _chain_locks(engine: Engine) -> int:
    """How many transactions hold the chain's advisory lock in this database."""
    query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    with engine.connect() as connection:
        return int(connection.execute(query, {"key": 0x52454E54}).scalar_one())


def test_a_second_transaction_does_not_wait_for_the_firsts_work(engine: Engine) -> None:
    """Transaction A has made its entry and is still working; B makes one and commits at
    once (before, A held the chain's lock from its entry until it committed)."""
    if not is_postgres(engine):
        pytest.skip("PostgreSQL: SQLite's writers take turns for the whole transaction")
    with transaction(engine) as first:
        _add(first, "first", "A")
        assert _chain_locks(engine) == 0  # A holds nothing of the chain while it works
        done: list[audit.Entry] = []

        def second() -> None:
            with transaction(engine) as session:
                done.append(_add(session, "second", "B"))

        thread = threading.Thread(target=second)
        thread.start()
        finished = threads.join(thread, 30)
        if not finished:  # let it go before failing: A's commit releases it
            first.rollback()
            threads.join(thread, 30)
        assert finished, "B waited for A's transaction"
    with transaction(engine) as session:
        _add(session, "third", "C", link_now=True)
        assert _chain_locks(engine) == 1  # linked: the lock is held, and the query sees it
    assert _chain(engine) == [("second", "B"), ("first", "A"), ("third", "C")]


def test_concurrent_transactions_make_one_chain(engine: Engine) -> None:
    if not is_postgres(engine):
        pytest.skip("PostgreSQL: concurrent writers")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(10):
                with transaction(engine) as session:
                    _add(session, f"w{worker}", f"{n}.1")
                    _add(session, f"w{worker}", f"{n}.2")
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    workers = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in workers:
        thread.start()
    assert all(threads.join(thread, 120) for thread in workers)
    assert errors == []
    chain = _chain(engine)
    assert len(chain) == 80
    for worker in range(4):  # each transaction's two entries are adjacent, in its order
        mine = [i for i, (action, _) in enumerate(chain) if action == f"w{worker}"]
        assert [chain[i][1] for i in mine] == [f"{n}.{k}" for n in range(10) for k in (1, 2)]
        assert all(b == a + 1 for a, b in zip(mine[::2], mine[1::2], strict=True))
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 80
