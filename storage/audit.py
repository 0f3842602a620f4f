"""The audit log: append-only, each row hashing the previous row's hash and its own content.

`verify` recomputes the chain; an edited, inserted or deleted row breaks it at that row. Whoever
holds the database can still delete the tail, or rewrite a row and recompute every later hash:
an *anchor* (`#<entry id>·<hash prefix>`), posted where the client keeps it, catches both
(`check_anchors`). There is one chain per database, shared by every engagement.

Entries are linked into the chain when their transaction commits, not when they are made:
`append` only records an entry in the session, and the commit takes the chain's lock, reads
the last hash once and writes the transaction's entries in one statement, in the order they
were appended. Other transactions wait for the chain only while one commits, not while its
handler runs. An anchor wanted before the commit (`anchor`, `head`) links what is pending then.
A savepoint's rollback drops the entries made in it; a transaction's rollback drops them all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, select, text
from sqlalchemy.orm import ORMExecuteState, SessionTransaction
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col

from storage.models import AuditEntry

GENESIS = "genesis"
# Hex digits of an entry's hash in an anchor. 64 bits: grinding a rewritten entry until its hash
# fits a 48-bit prefix (12 digits) takes a GPU hours; a 64-bit one, decades.
ANCHOR_DIGITS = 16
# An anchor in any pasted text (a chat export, saved mail, a JSON or HTML export): `#`, the
# entry id, a middle dot (or what exports and fonts make of it), 12-64 hex digits.
_ANCHOR = re.compile(
    r"(?<![0-9A-Za-z&#])#([0-9]{1,18})\s?(?:[·・•‧∙]|\\u00[bB]7|&middot;|&#183;)\s?"
    r"([0-9a-fA-F]{12,64})(?![0-9A-Za-z])"
)
_MAX_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL: a larger one is no entry
_PG_AUDIT_LOCK = 0x52454E54  # "RENT": serialises linking across instances on PostgreSQL
_TABLE = AuditEntry.__table__  # type: ignore[attr-defined]
_MAPPER = AuditEntry.__mapper__  # type: ignore[attr-defined]
# The chain's last hash by the primary key, backwards: O(log n). Statements built once.
_LAST_HASH = select(_TABLE.c.hash).order_by(_TABLE.c.id.desc()).limit(1)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_INSERT_ONE = insert(_TABLE).returning(_TABLE.c.id)
# Several rows in one statement, their ids returned in the rows' order (and, as the ids are
# generated in that order, ascending: checked in `_write`).
_INSERT_MANY = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)
_CHAIN = "rentian.audit.chain"  # session.info: this transaction's entries (`_Chain`)

log = logging.getLogger("rentian.audit")


def canonical(data: Any) -> str:
    """Stable JSON: sorted keys, no spaces, UTF-8 kept, dates as ISO strings."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    prev_hash: str,
    at: datetime,
    engagement_id: int | None,
    actor: str,
    action: str,
    ref: str,
    data: str,
) -> str:
    content = canonical([prev_hash, at.isoformat(), engagement_id, actor, action, ref, data])
    return hashlib.sha256(content.encode()).hexdigest()


@dataclass(eq=False, slots=True)
class Entry:
    """An entry appended in this transaction. `id`, `prev_hash` and `hash` are set when it is
    linked into the chain (at the latest, when the transaction commits); `dropped` once a
    rollback took it back."""

    at: datetime
    engagement_id: int | None
    actor: str
    action: str
    ref: str
    data: str  # canonical JSON
    id: int | None = None
    prev_hash: str = ""
    hash: str = ""
    dropped: bool = False

    def _unlink(self) -> None:
        self.id, self.prev_hash, self.hash = None, "", ""


class _Chain:
    """One session's transaction's entries, in order: the first `linked` are written."""

    __slots__ = ("entries", "linked", "linking", "marks")

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.linked = 0
        self.linking = False
        # Each savepoint begun after the first entry: (entries, linked) when it began.
        self.marks: dict[SessionTransaction, tuple[int, int]] = {}

    @property
    def pending(self) -> bool:
        return self.linked < len(self.entries)

    def restore(self, length: int, linked: int) -> None:
        """Back to where a savepoint began: later entries are gone, and rows written since
        went with the savepoint (entries made before it are pending again)."""
        for entry in self.entries[length:]:
            entry._unlink()
            entry.dropped = True
        del self.entries[length:]
        if self.linked > linked:
            for entry in self.entries[linked:]:
                entry._unlink()
            self.linked = linked


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    engagement_id: int | None = None,
    ref: str = "",
    data: dict[str, Any] | None = None,
    link_now: bool = False,
) -> Entry:
    """Add one entry at the end of the chain, in the caller's transaction: linked when it
    commits, or now with `link_now` (the entry's id and hash are then known)."""
    entry = Entry(at.astimezone(UTC), engagement_id, actor, action, ref, canonical(data or {}))
    chain = session.info.get(_CHAIN)
    if chain is None:
        chain = session.info[_CHAIN] = _Chain()
    chain.entries.append(entry)
    if link_now:
        link(session)
    return entry


def link(session: Session) -> None:
    """Write the entries pending in `session`, at the end of the chain. On PostgreSQL this
    takes the chain's lock until the transaction ends (SQLite's writers take turns anyway)."""
    chain: _Chain | None = session.info.get(_CHAIN)
    if chain is None or not chain.pending or chain.linking:
        return
    chain.linking = True
    # Core statements on the session's connection: the session's own `execute` costs as
    # much again as running them.
    connection = session.connection()
    try:
        if connection.dialect.name == "postgresql":
            connection.execute(_LOCK, {"key": _PG_AUDIT_LOCK})
        prev_hash = connection.execute(_LAST_HASH).scalar() or GENESIS
        _write(connection, chain.entries[chain.linked :], prev_hash)
        chain.linked = len(chain.entries)
    finally:
        chain.linking = False


def _write(connection: Connection, entries: list[Entry], prev_hash: str) -> None:
    rows = []
    for entry in entries:
        entry.prev_hash = prev_hash
        entry.hash = prev_hash = entry_hash(prev_hash, entry.at, entry.engagement_id,
                                            entry.actor, entry.action, entry.ref, entry.data)  # fmt: skip
        rows.append({
            "engagement_id": entry.engagement_id, "at": entry.at, "actor": entry.actor,
            "action": entry.action, "ref": entry.ref, "data": entry.data,
            "prev_hash": entry.prev_hash, "hash": entry.hash,
        })  # fmt: skip
    if len(rows) == 1:
        entries[0].id = int(connection.execute(_INSERT_ONE, rows[0]).scalar_one())
        return
    ids = [int(i) for i in connection.execute(_INSERT_MANY, rows).scalars()]
    if ids != sorted(ids):  # the chain is walked by id: never write it out of order
        raise RuntimeError(f"audit entries were given ids out of order: {ids}")
    for entry, entry_id in zip(entries, ids, strict=True):
        entry.id = entry_id


def anchor(session: Session, entry: Entry) -> Anchor | None:
    """Where the chain stands at `entry`, linking it now if it is pending; None if it was
    rolled back."""
    if entry.dropped:
        return None
    if entry.id is None:
        link(session)
    return Anchor.of(entry)


@event.listens_for(OrmSession, "before_commit")
def _link_at_commit(session: OrmSession) -> None:
    """The outermost commit links what is pending, after the transaction's other writes: the
    chain's lock is held only for the last statements before COMMIT."""
    chain: _Chain | None = session.info.get(_CHAIN)
    if chain is None or not chain.pending or session.in_nested_transaction():
        return
    session.flush()
    link(session)  # type: ignore[arg-type]


@event.listens_for(OrmSession, "after_commit")
def _committed(session: OrmSession) -> None:
    if session.in_nested_transaction():  # a savepoint released: its entries are still pending
        return
    chain: _Chain | None = session.info.pop(_CHAIN, None)
    if chain is not None and chain.pending:  # committed with a savepoint left open: not linked
        log.error("%d audit entries were not written: their transaction committed with a "
                  "savepoint still open", len(chain.entries) - chain.linked)  # fmt: skip


@event.listens_for(OrmSession, "after_transaction_create")
def _savepoint_begun(session: OrmSession, transaction: SessionTransaction) -> None:
    chain: _Chain | None = session.info.get(_CHAIN)
    if chain is not None and transaction.nested:
        chain.marks[transaction] = (len(chain.entries), chain.linked)


@event.listens_for(OrmSession, "after_transaction_end")
def _ended(session: OrmSession, transaction: SessionTransaction) -> None:
    """A transaction that ends without `after_commit` rolled back: its entries are gone."""
    if transaction.parent is None:
        chain: _Chain | None = session.info.pop(_CHAIN, None)
        if chain is not None:
            chain.restore(0, 0)


@event.listens_for(OrmSession, "after_soft_rollback")
def _rolled_back(session: OrmSession, previous_transaction: SessionTransaction) -> None:
    """A savepoint rolled back: back to where the chain's entries stood when it began (one
    begun before the first entry: none)."""
    chain: _Chain | None = session.info.get(_CHAIN)
    boundary: SessionTransaction | None = previous_transaction
    while boundary is not None and not boundary.nested:
        boundary = boundary.parent  # a flush's subtransaction rolls back its savepoint or all
    if chain is not None and boundary is not None:
        chain.restore(*chain.marks.get(boundary, (0, 0)))


@event.listens_for(OrmSession, "do_orm_execute")
def _link_before_reading(state: ORMExecuteState) -> None:
    """A query of the audit log sees this transaction's entries, as it did when they were
    written as they were made."""
    chain: _Chain | None = state.session.info.get(_CHAIN)
    if chain is not None and chain.pending and state.is_select and _MAPPER in state.all_mappers:
        link(state.session)  # type: ignore[arg-type]


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    bad_id: int | None = None
    problem: str = ""


def verify(engine: Engine, batch: int = 5000) -> VerifyResult:
    """Walk the chain in order; report the first row whose link or content does not hold."""
    prev_hash = GENESIS
    checked = 0
    for entry in _entries(engine, batch):
        if entry.prev_hash != prev_hash:
            return VerifyResult(False, checked, entry.id, "link to the previous row is broken")
        expected = entry_hash(
            entry.prev_hash, entry.at, entry.engagement_id, entry.actor,
            entry.action, entry.ref, entry.data,
        )  # fmt: skip
        if entry.hash != expected:
            return VerifyResult(False, checked, entry.id, "content does not match its hash")
        prev_hash = entry.hash
        checked += 1
    return VerifyResult(True, checked)


def _entries(engine: Engine, batch: int) -> Iterator[AuditEntry]:
    last_id = 0
    with Session(engine) as session:
        while True:
            query = (
                select(AuditEntry)
                .where(col(AuditEntry.id) > last_id)
                .order_by(col(AuditEntry.id))
                .limit(batch)
            )
            rows = list(session.execute(query).scalars())
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id or last_id
            session.expunge_all()


@dataclass(frozen=True)
class Anchor:
    """Where the chain stood: entry `position` (its id) had a hash starting with `prefix`."""

    position: int
    prefix: str

    def __str__(self) -> str:
        return f"#{self.position}·{self.prefix}"

    @classmethod
    def of(cls, entry: AuditEntry | Entry) -> Anchor:
        return cls(entry.id or 0, entry.hash[:ANCHOR_DIGITS])


@dataclass(frozen=True)
class AnchorFailure:
    anchor: Anchor
    problem: str


def head(session: Session, engagement_id: int | None = None) -> AuditEntry | None:
    """The chain's last entry; with `engagement_id`, the last entry of that engagement. Entries
    pending in `session` are linked first (`_link_before_reading`)."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(1)
    if engagement_id is not None:
        query = query.where(col(AuditEntry.engagement_id) == engagement_id)
    return session.execute(query).scalar_one_or_none()


def find_anchors(text: str) -> list[Anchor]:
    """Every anchor in `text`, each once, in the order they first appear."""
    found = (Anchor(int(position), prefix.lower()) for position, prefix in _ANCHOR.findall(text))
    return list(dict.fromkeys(found))


def check_anchors(
    engine: Engine, anchors: Iterable[Anchor], batch: int = 500
) -> list[AnchorFailure]:
    """The anchors the database no longer matches: a deleted entry, or a different hash (that
    entry or one before it was rewritten, and the chain recomputed)."""
    wanted = list(anchors)
    hashes: dict[int, str] = {}
    with Session(engine) as session:
        for start in range(0, len(wanted), batch):
            ids = {a.position for a in wanted[start : start + batch] if a.position <= _MAX_ID}
            query = select(col(AuditEntry.id), col(AuditEntry.hash)).where(
                col(AuditEntry.id).in_(ids)
            )
            hashes.update({int(i): str(h) for i, h in session.execute(query).all()})
        last = head(session)
    end = f"the chain ends at #{last.id}" if last is not None else "the log is empty"
    failures = []
    for anchor in wanted:
        found = hashes.get(anchor.position)
        if found is None:
            failures.append(AnchorFailure(anchor, f"no entry #{anchor.position} ({end})"))
        elif not found.startswith(anchor.prefix):
            failures.append(AnchorFailure(anchor, f"entry #{anchor.position} now hashes to "
                                                  f"{found[: len(anchor.prefix)]}: it, or an entry "
                                                  "before it, was rewritten"))  # fmt: skip
    return failures
