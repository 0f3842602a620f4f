"""What a recurring obligation's records bind, for the signatures page and the evidence pack.

- `O-n`: the evidence of an occurrence, which the client approver acknowledges (signs) when
  the obligation asks for it: `canonical([engagement code, ref, key, due date ISO, link,
  note])`, as `handlers.obligations.content_hash` hashes it;
- `O-n/window`: an upgrade window's plan, which both parties sign before it starts:
  `canonical([engagement code, "O-n/window", key, start UTC ISO, end UTC ISO, plan link,
  plan note])`, as `handlers.obligations.window_hash` hashes it.

The content is the handlers' own (`evidence_content`, `window_content`), from the row as it
stands; the audit entry that recorded the evidence or the
plan carries the same hash, so a record nobody signed (evidence that needs no acknowledgement)
is still checked against the chain."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from bot.i18n import tr
from domain import obligations as rules
from handlers import obligations_text
from handlers.obligations import evidence_content, iso, window_content
from storage.models import Engagement, Person
from storage.models_obligations import ObligationOccurrence as Occ
from storage.models_obligations import window_subject

# The audit actions that record an occurrence's evidence, a window's plan, and the signatures.
EVIDENCE_ACTIONS = ("obligation.submitted", "obligation.done")
PLAN_ACTIONS = ("obligation.plan",)
SIGNING_ACTIONS = ("obligation.acknowledged", "obligation.window_signed")
_SUBJECT = re.compile(r"^O-([1-9][0-9]{0,8})(/window)?$")

# An upgrade window's standing, from its row: no plan yet, a plan awaiting signatures, signed
# by both, blocked (its start came unsigned), running, over.
UNPLANNED, PLANNED, APPROVED, BLOCKED, STARTED, ENDED = (
    "unplanned", "planned", "approved", "blocked", "started", "ended",
)  # fmt: skip
WINDOW_STATES = {
    STARTED: ("进行中", "running"),
    ENDED: ("已结束", "over"),
}


@dataclass(frozen=True)
class Part:
    """An obligation's record as the signatures view wraps it: `kind` obligation (subject
    `O-n`) or window (subject `O-n/window`)."""

    kind: str
    ref: str
    subject: str
    title: str
    state: str
    recorded_hash: str  # the hash the row keeps
    content: list[str]
    details: dict[str, Any] = field(default_factory=dict)
    number: int = 0


def parse_subject(subject: str) -> tuple[int, bool] | None:
    """`O-5` → (5, False), `O-5/window` → (5, True); None for any other subject."""
    found = _SUBJECT.match(subject)
    return None if found is None else (int(found.group(1)), found.group(2) is not None)


def window_state(occ: Occ) -> str:
    if occ.ended_at is not None:
        return ENDED
    if occ.blocked_at is not None:
        return BLOCKED
    if occ.started_at is not None:
        return STARTED
    if occ.approved_at is not None:
        return APPROVED
    return PLANNED if occ.plan_link is not None else UNPLANNED


def window_state_name(occ: Occ, locale: str) -> str:
    state = window_state(occ)
    if state in WINDOW_STATES:
        return tr(locale, *WINDOW_STATES[state])
    return obligations_text.window_state(occ, locale)


def titles(engagement: Engagement) -> dict[str, str]:
    """Each obligation's title by key, from the engagement file."""
    return {ob.key: ob.title for ob in rules.obligations_of(engagement.rules)}


def occurrence(session: Session, engagement_id: int, number: int) -> Occ | None:
    found: Occ | None = session.execute(select(Occ).where(
        col(Occ.engagement_id) == engagement_id, col(Occ.number) == number
    )).scalar_one_or_none()  # fmt: skip
    return found


def part(session: Session, engagement: Engagement, subject: str) -> Part | None:
    """The record a signature's subject names, or None (not an obligation's, or no such row)."""
    parsed = parse_subject(subject)
    if parsed is None:
        return None
    occ = occurrence(session, engagement.id or 0, parsed[0])
    if occ is None:
        return None
    return of(session, engagement, occ, parsed[1])


def of(session: Session, engagement: Engagement, occ: Occ, window: bool) -> Part:
    title = titles(engagement).get(occ.key, occ.key)
    names = _names(session, {occ.submitted_by_id, occ.done_by_id})
    common = {"title": title, "key": occ.key, "due_on": occ.due_on.isoformat()}
    if window:
        details = {**common, "start": iso(occ.window_start_at), "end": iso(occ.window_end_at),
                   "plan_link": occ.plan_link or "", "plan_note": occ.plan_note or "",
                   "approved_at": iso(occ.approved_at), "window_state": window_state(occ)}  # fmt: skip
        return Part("window", occ.ref, occ.window_subject, title, window_state(occ),
                    occ.window_hash or "", window_content(engagement.code, occ), details,
                    occ.number)  # fmt: skip
    details = {**common, "link": occ.evidence_link or "", "note": occ.evidence_note or "",
               "submitted_by": names.get(occ.submitted_by_id or 0, ""),
               "submitted_at": iso(occ.submitted_at),
               "done_by": names.get(occ.done_by_id or 0, ""), "done_at": iso(occ.done_at)}  # fmt: skip
    return Part("obligation", occ.ref, occ.ref, title, occ.state, occ.content_hash or "",
                evidence_content(engagement.code, occ), details, occ.number)  # fmt: skip


def recorded(session: Session, engagement: Engagement, skip: set[str]) -> list[Part]:
    """The records with evidence or a plan in, whose subjects are not in `skip` (those with a
    signature standing): evidence that needs no acknowledgement, or awaits it; a window's plan
    not signed yet. By number, the evidence before the window's plan."""
    rows = session.execute(select(Occ).where(
        col(Occ.engagement_id) == engagement.id,
        col(Occ.content_hash).is_not(None) | col(Occ.window_hash).is_not(None),
    ).order_by(col(Occ.number))).scalars()  # fmt: skip
    found = []
    for occ in rows:
        if occ.content_hash is not None and occ.ref not in skip:
            found.append(of(session, engagement, occ, False))
        if occ.window_hash is not None and window_subject(occ.ref) not in skip:
            found.append(of(session, engagement, occ, True))
    return found


def recording_actions(kind: str) -> tuple[str, ...]:
    return PLAN_ACTIONS if kind == "window" else EVIDENCE_ACTIONS


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(col(Person.id), col(Person.name)).where(col(Person.id).in_(wanted))
    )
    return {int(i): str(n) for i, n in rows.all()}
