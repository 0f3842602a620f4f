"""The audit log: append-only, each row hashing the previous row's hash and its own content.

`verify` recomputes the chain; an edited, inserted or deleted row breaks it at that row. Whoever
holds the database can still delete the tail, or rewrite a row and recompute every later hash:
an *anchor* (`#<entry id>·<hash prefix>`), posted where the client keeps it, catches both
(`check_anchors`). There is one chain per database, shared by every engagement.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, text
from sqlmodel import Session, col

from storage.db import is_postgres
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
_PG_AUDIT_LOCK = 0x52454E54  # "RENT": serialises appends across instances on PostgreSQL
# The chain's last hash by the primary key, backwards: O(log n). Built once (see `append`).
_LAST_HASH = select(col(AuditEntry.hash)).order_by(col(AuditEntry.id).desc()).limit(1)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


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


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    engagement_id: int | None = None,
    ref: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry at the end of the chain, in the caller's transaction."""
    if is_postgres(session):
        session.execute(_LOCK, {"key": _PG_AUDIT_LOCK})
    prev_hash = session.execute(_LAST_HASH).scalar() or GENESIS
    body = canonical(data or {})
    at = at.astimezone(UTC)
    entry = AuditEntry(
        engagement_id=engagement_id,
        at=at,
        actor=actor,
        action=action,
        ref=ref,
        data=body,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, at, engagement_id, actor, action, ref, body),
    )
    session.add(entry)
    session.flush()
    return entry


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
    def of(cls, entry: AuditEntry) -> Anchor:
        return cls(entry.id or 0, entry.hash[:ANCHOR_DIGITS])


@dataclass(frozen=True)
class AnchorFailure:
    anchor: Anchor
    problem: str


def head(session: Session, engagement_id: int | None = None) -> AuditEntry | None:
    """The chain's last entry; with `engagement_id`, the last entry of that engagement."""
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
