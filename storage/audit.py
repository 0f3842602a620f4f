"""The audit log: append-only, each row hashing the previous row's hash and its own content.

`verify` recomputes the chain; an edited, inserted or deleted row breaks it at that row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, text
from sqlmodel import Session

from storage.db import is_postgres
from storage.models import AuditEntry

GENESIS = "genesis"
_PG_AUDIT_LOCK = 0x52454E54  # "RENT": serialises appends across instances on PostgreSQL


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
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK})
    last = session.execute(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))  # type: ignore[union-attr]
    prev_hash = last.scalar() or GENESIS
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
                .where(AuditEntry.id > last_id)  # type: ignore[operator]
                .order_by(AuditEntry.id)  # type: ignore[arg-type]
                .limit(batch)
            )
            rows = list(session.execute(query).scalars())
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id or last_id
            session.expunge_all()
