"""The signed records of an engagement (签署记录) as data, for the signatures page and the
evidence pack: what each record is, the exact content its signatures bind (the bytes whose
SHA-256 the signers signed), who signed it, when, through which chat message, and whether the
content still hashes to what was signed; and the audit chain around the engagement's entries,
re-checked when asked.

What each record's hash is the hash of (one place, checked against the handlers in the tests):
- the scope baseline (`scope`): the baseline's stored snapshot, `handlers.scope.scope_snapshot`
  of the draft tasks (before the baseline, the draft as it stands);
- a change request (`CR-n`): `canonical([ref, title, description, estimate, impact,
  estimate_version])` (`handlers.change_requests.signed_content`);
- a deliverable's acceptance (`D-n`): `canonical([engagement code, ref, target ref, name,
  link])` (`handlers.delivery.content_hash`);
- a month's close (`YYYY-MM`): the statement, `canonical({"engagement", "entries", "month",
  "totals"})` (`handlers.statement.ContentHash`), streamed a chunk of entries at a time;
- a recurring obligation's evidence (`O-n`) and an upgrade window's plan (`O-n/window`):
  `web.views.obligation_records`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from bot import clock
from bot.i18n import tr
from handlers import change_requests, delivery, scope, statement
from handlers.statement import Statement, signed_fields
from storage import audit
from storage.audit import canonical
from storage.models import (
    AuditEntry,
    ChangeRequest,
    Deliverable,
    Engagement,
    Period,
    Person,
    Signature,
)
from web.views import obligation_records as obligations

# The audit actions that record a signature, by the kind of record signed.
SIGNING_ACTIONS = ("scope.signed", "cr.signed", "delivery.accepted", "period.closed",
                   "period.locked", *obligations.SIGNING_ACTIONS)  # fmt: skip
KIND_NAMES = {
    "scope": ("范围基线", "Scope baseline"),
    "cr": ("变更单", "Change request"),
    "acceptance": ("验收单", "Acceptance"),
    "month": ("月度人天结算", "Month close"),
    "obligation": ("定期义务确认", "Obligation acknowledgement"),
    "window": ("升级窗口方案", "Upgrade window plan"),
}
STATE_NAMES = {
    "baselined": ("双方签署·基线", "baselined, signed by both"),
    "draft": ("草稿·待签署", "draft, awaiting signatures"),
    "filed": ("已登记", "filed"),
    "estimated": ("已评估·待签署", "estimated, awaiting signatures"),
    "effective": ("双方签署·已生效", "effective, signed by both"),
    "rejected": ("已驳回", "rejected"),
    "submitted": ("待验收", "awaiting acceptance"),
    "accepted": ("已验收", "accepted"),
    "open": ("未关闭", "open"),
    "closed": ("已关闭·待甲方确认", "closed, awaiting the client's confirmation"),
    "locked": ("双方签署·已锁定", "locked, signed by both"),
}
# States whose names depend on the kind of record.
KIND_STATE_NAMES = {
    "obligation": {
        "open": ("待完成", "open"),
        "submitted": ("已提交·待甲方确认", "submitted, awaiting the client's acknowledgement"),
        "done": ("已完成", "done"),
    },
    "window": {
        obligations.UNPLANNED: ("待提交方案", "plan awaited"),
        obligations.PLANNED: ("方案待双方签署", "plan awaiting signatures"),
        obligations.APPROVED: ("双方签署·已批准", "approved, signed by both"),
        obligations.BLOCKED: ("未获签署·不得进行", "not signed: may not run"),
        obligations.STARTED: ("双方签署·进行中", "running, signed by both"),
        obligations.ENDED: ("已结束", "over"),
    },
}
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
# The page re-checks at most this many entries of the chain, the newest of the engagement's
# span (the evidence pack and `rentian audit verify` check all of them).
CHAIN_WINDOW = 2000
# The page recomputes the statements of the newest this many signed months (each reads its
# month's work log); older ones are re-checked by the evidence pack.
MONTHS_REHASHED = 3
_ENTRY_COLUMNS = (
    col(AuditEntry.id), col(AuditEntry.at), col(AuditEntry.engagement_id), col(AuditEntry.actor),
    col(AuditEntry.action), col(AuditEntry.ref), col(AuditEntry.data),
    col(AuditEntry.prev_hash), col(AuditEntry.hash),
)  # fmt: skip


@dataclass(frozen=True)
class SignatureView:
    """One party's signature on a record, with the audit entry that recorded it."""

    subject: str
    person_key: str
    person_name: str
    party: str
    roles: tuple[str, ...]
    content_hash: str
    at: datetime
    via: str = ""  # channel:chat the signature came through
    message: str = ""  # the platform's message (or event) id
    audit_id: int | None = None
    audit_hash: str = ""
    audit_ok: bool = False  # the entry's own hash recomputes (and links to the one before)

    @property
    def channel(self) -> str:
        return self.via.split(":", 1)[0]


@dataclass(frozen=True)
class Recording:
    """The audit entry that recorded an obligation's evidence or a window's plan, with the
    content hash it recorded."""

    action: str
    actor: str
    at: datetime
    content_hash: str
    audit_id: int
    audit_hash: str
    audit_ok: bool


@dataclass
class SignedRecord:
    """A record with at least one signature standing. `content` is the signed content as a JSON
    value (a month's statement is streamed from `statement` instead: `content_text`)."""

    kind: str  # scope | cr | acceptance | month | obligation | window
    ref: str  # v1 / draft, CR-n, D-n, YYYY-MM, O-n
    subject: str  # the signatures' subject: scope, CR-n, D-n, YYYY-MM, O-n, O-n/window
    title: str
    state: str  # the record's status: baselined, draft, effective, accepted, locked…
    recorded_hash: str  # the hash the record itself keeps (or the signatures', if none)
    signatures: list[SignatureView] = field(default_factory=list)
    content: Any = None
    statement: Statement | None = None
    details: dict[str, Any] = field(default_factory=dict)  # for people: what it says
    deferred: bool = False  # a month whose statement was not rebuilt: not re-checked here
    recordings: list[Recording] = field(default_factory=list)  # an obligation's evidence entry

    @property
    def name(self) -> str:
        """Its file name in the pack: `<kind>-<ref>`."""
        return f"{self.kind}-{self.ref}"

    def content_text(self) -> Iterator[str]:
        """The signed content's canonical JSON, in pieces: their UTF-8 bytes are what was hashed."""
        if self.statement is None:
            yield canonical(self.content)
            return
        built = self.statement
        yield f'{{"engagement":{canonical(built.code)},"entries":['
        chunk: list[list[Any]] = []
        first = True
        for entry in built.entries:
            chunk.append(signed_fields(entry))
            if len(chunk) == 1000:
                yield ("" if first else ",") + canonical(chunk)[1:-1]
                chunk, first = [], False
        if chunk:
            yield ("" if first else ",") + canonical(chunk)[1:-1]
        totals = {row.person_key: row.total_minutes for row in built.rows}
        yield f'],"month":{canonical(built.month)},"totals":{canonical(totals)}}}'

    def content_hash(self) -> str:
        """SHA-256 of the content as it stands now."""
        if self.statement is not None:
            return self.statement.content_hash
        return hashlib.sha256(canonical(self.content).encode()).hexdigest()

    @property
    def signed_hashes(self) -> set[str]:
        return {s.content_hash for s in self.signatures}


@dataclass(frozen=True)
class RecordCheck:
    record: SignedRecord
    current_hash: str  # "" when deferred

    @property
    def intact(self) -> bool:
        """The content hashes now to what every standing signature signed, and to the hash the
        record keeps."""
        return self.record.signed_hashes == {self.current_hash} and (
            self.record.recorded_hash in ("", self.current_hash)
        )


@dataclass(frozen=True)
class ChainCheck:
    """The audit chain re-checked around an engagement's entries: `checked` entries, ids
    `first_id`..`last_id` (the newest of the engagement's span `span_first`..`head_id`)."""

    ok: bool
    checked: int
    first_id: int | None
    last_id: int | None
    span_first: int | None
    head_id: int | None
    head_hash: str
    checked_at: datetime
    bad_id: int | None = None
    problem: str = ""

    @property
    def whole_span(self) -> bool:
        return self.first_id == self.span_first

    @property
    def anchor(self) -> str:
        if self.head_id is None:
            return ""
        return str(audit.Anchor(self.head_id, self.head_hash[: audit.ANCHOR_DIGITS]))


def kind_name(kind: str, locale: str) -> str:
    return tr(locale, *KIND_NAMES.get(kind, (kind, kind)))


def state_name(state: str, locale: str, kind: str = "") -> str:
    names = KIND_STATE_NAMES.get(kind, STATE_NAMES)
    return tr(locale, *names.get(state, (state, state)))


# -- records ----------------------------------------------------------------------------------


def month_window(engagement: Engagement, month: str) -> tuple[datetime, datetime]:
    """The month's first and last instant (exclusive) in the engagement's time zone, as UTC."""
    first, last = statement.month_bounds(month)
    zone = ZoneInfo(engagement.timezone)
    after = last + timedelta(days=1)
    return (datetime(first.year, first.month, first.day, tzinfo=zone),
            datetime(after.year, after.month, after.day, tzinfo=zone))  # fmt: skip


def valid_month(month: str, engagement: Engagement) -> bool:
    """`YYYY-MM`, within the engagement's term."""
    if not _MONTH.match(month):
        return False
    first, last = statement.month_bounds(month)
    return last >= engagement.start_date and first <= engagement.end_date


def signed_records(
    session: Session,
    engagement: Engagement,
    month: str | None = None,
    months_rehashed: int | None = None,
    unsigned_obligations: bool = False,
) -> list[SignedRecord]:
    """Every record of the engagement with a signature standing (not void), in the order scope,
    change requests, acceptances, obligations, months; with `month`, the month's close and the
    records signed in that month (engagement time). With `months_rehashed`, only the newest
    that many months' statements are rebuilt (the others are `deferred`). With
    `unsigned_obligations`, also the obligations' evidence and windows' plans nobody signed
    (yet), each checked against the audit entry that recorded it (with `month`: recorded in
    that month)."""
    eid = engagement.id or 0
    rows = list(session.execute(
        select(Signature, Person).join(Person, col(Person.id) == col(Signature.person_id))
        .where(col(Signature.engagement_id) == eid, col(Signature.voided_at).is_(None))
        .order_by(col(Signature.id))
    ).all())  # fmt: skip
    by_subject: dict[str, list[tuple[Signature, Person]]] = {}
    for signature, person in rows:
        by_subject.setdefault(signature.subject, []).append((signature, person))
    standing = set(by_subject)  # subjects with a signature standing, in any month
    if month is not None:
        start, end = month_window(engagement, month)
        by_subject = {
            subject: signed for subject, signed in by_subject.items()
            if subject == month or any(start <= s.at < end for s, _ in signed)
        }  # fmt: skip
    entries = _signing_entries(session, eid, list(by_subject))
    months = sorted((s for s in by_subject if _MONTH.match(s)), reverse=True)
    rebuilt = set(months if months_rehashed is None else months[:months_rehashed])
    records = [
        record for record in (
            _record(session, engagement, subject, subject not in months or subject in rebuilt)
            for subject in _ordered(by_subject)
        ) if record is not None
    ]  # fmt: skip
    for record in records:
        record.signatures = [_view(session, s, p, entries) for s, p in by_subject[record.subject]]
        if not record.recorded_hash:
            record.recorded_hash = record.signatures[-1].content_hash
    if unsigned_obligations:
        records += [
            _from_part(part) for part in obligations.recorded(session, engagement, standing)
        ]
        records.sort(key=lambda r: _order(r.subject))
    _recordings(session, eid, [r for r in records if r.kind in ("obligation", "window")])
    if unsigned_obligations and month is not None:
        start, end = month_window(engagement, month)
        records = [r for r in records if r.signatures or any(
            start <= entry.at < end for entry in r.recordings)]  # fmt: skip
    return records


def _recordings(session: Session, engagement_id: int, records: list[SignedRecord]) -> None:
    """Each obligation record's recording entry: the last that recorded the hash the row keeps
    (else the last one, which then fails the checks)."""
    if not records:
        return
    actions = (*obligations.EVIDENCE_ACTIONS, *obligations.PLAN_ACTIONS)
    rows = [tuple(row) for row in session.execute(
        select(*_ENTRY_COLUMNS).where(
            col(AuditEntry.engagement_id) == engagement_id, col(AuditEntry.action).in_(actions),
            col(AuditEntry.ref).in_({r.ref for r in records}),
        ).order_by(col(AuditEntry.id))
    ).all()]  # fmt: skip
    for record in records:
        wanted = obligations.recording_actions(record.kind)
        mine = [e for e in rows if e[5] == record.ref and e[4] in wanted]
        held = [e for e in mine if json.loads(e[6]).get("hash") == record.recorded_hash]
        chosen = (held or mine)[-1:]
        record.recordings = [_recording(session, entry) for entry in chosen]


def _recording(session: Session, entry: tuple[Any, ...]) -> Recording:
    entry_id, at, _, actor, action, _, data, prev_hash, digest = entry
    linked = prev_hash == _hash_before(session, int(entry_id))
    return Recording(str(action), str(actor), at, str(json.loads(data).get("hash", "")),
                     int(entry_id), str(digest), linked and _entry_ok(entry))  # fmt: skip


def _ordered(subjects: dict[str, Any]) -> list[str]:
    return sorted(subjects, key=_order)


def _order(subject: str) -> tuple[int, int, str]:
    """Scope, change requests, acceptances, obligations (a window's plan after its evidence),
    months."""
    if subject == scope.SCOPE:
        return (0, 0, subject)
    prefix, _, number = subject.partition("-")
    if prefix in ("CR", "D") and number.isdigit():
        return (1 if prefix == "CR" else 2, int(number), subject)
    parsed = obligations.parse_subject(subject)
    if parsed is not None:
        return (3, parsed[0], subject)
    return (4, 0, subject)


def _record(
    session: Session, engagement: Engagement, subject: str, rebuild: bool = True
) -> SignedRecord | None:
    eid = engagement.id or 0
    if subject == scope.SCOPE:
        return _scope(session, eid)
    prefix, _, number = subject.partition("-")
    if prefix == "CR" and number.isdigit():
        cr = session.execute(select(ChangeRequest).where(
            col(ChangeRequest.engagement_id) == eid, col(ChangeRequest.number) == int(number)
        )).scalar_one_or_none()  # fmt: skip
        return None if cr is None else _change_request(cr)
    if prefix == "D" and number.isdigit():
        found = session.execute(select(Deliverable).where(
            col(Deliverable.engagement_id) == eid,
            col(Deliverable.number) == int(number),
        )).scalar_one_or_none()  # fmt: skip
        return None if found is None else _acceptance(session, engagement, found)
    if _MONTH.match(subject):
        return _month(session, engagement, subject, rebuild)
    part = obligations.part(session, engagement, subject)
    return None if part is None else _from_part(part)


def _from_part(part: obligations.Part) -> SignedRecord:
    return SignedRecord(part.kind, part.ref, part.subject, part.title, part.state,
                        part.recorded_hash, content=part.content, details=part.details)  # fmt: skip


def _scope(session: Session, engagement_id: int) -> SignedRecord:
    current = scope.baseline(session, engagement_id)
    if current is not None:
        snapshot, ref, state = current.snapshot, f"v{current.version}", "baselined"
        recorded = current.content_hash
    else:  # the draft as it stands: signatures on it are voided whenever it changes
        draft = [t for t in scope.tasks(session, engagement_id) if t.change_request_id is None]
        snapshot, ref, state, recorded = scope.scope_snapshot(draft), "draft", "draft", ""
    content = json.loads(snapshot)
    return SignedRecord("scope", ref, scope.SCOPE, f"scope {ref}", state, recorded,
                        content=content, details={"tasks": content})  # fmt: skip


def _change_request(cr: ChangeRequest) -> SignedRecord:
    details = {"title": cr.title, "description": cr.description, "estimate": cr.estimate,
               "impact": cr.impact, "estimate_version": cr.estimate_version}  # fmt: skip
    return SignedRecord("cr", cr.ref, cr.ref, cr.title, cr.status, "",
                        content=change_requests.signed_content(cr), details=details)  # fmt: skip


def _acceptance(session: Session, engagement: Engagement, found: Deliverable) -> SignedRecord:
    target = delivery.target_of(session, found)
    target_ref = target.ref if target is not None else ""
    content = [engagement.code, found.ref, target_ref, found.name, found.link]
    details = {"name": found.name, "link": found.link, "target": target_ref}
    return SignedRecord("acceptance", found.ref, found.ref, found.name, found.status,
                        found.content_hash, content=content, details=details)  # fmt: skip


def _month(session: Session, engagement: Engagement, month: str, rebuild: bool) -> SignedRecord:
    period = session.execute(select(Period).where(
        col(Period.engagement_id) == engagement.id, col(Period.month) == month
    )).scalar_one_or_none()  # fmt: skip
    status, recorded = (period.status, period.content_hash) if period else ("open", "")
    if not rebuild:
        return SignedRecord("month", month, month, month, status, recorded, deferred=True)
    built = statement.build(session, engagement, month)
    details = {
        "entries": len(built.entries), "total_minutes": built.total_minutes,
        "hours_per_day": built.hours_per_day,
        "rows": [(r.person_key, r.name, r.level, r.total_minutes) for r in built.rows],
    }  # fmt: skip
    return SignedRecord("month", month, month, month, status, recorded, statement=built,
                        details=details)  # fmt: skip


def _signing_entries(
    session: Session, engagement_id: int, subjects: list[str]
) -> list[tuple[Any, ...]]:
    """The audit entries that recorded signatures on `subjects`, as column tuples."""
    if not subjects:
        return []
    return [tuple(row) for row in session.execute(
        select(*_ENTRY_COLUMNS).where(
            col(AuditEntry.engagement_id) == engagement_id,
            col(AuditEntry.action).in_(SIGNING_ACTIONS), col(AuditEntry.ref).in_(subjects),
        ).order_by(col(AuditEntry.id))
    ).all()]  # fmt: skip


def _view(
    session: Session, signature: Signature, person: Person, entries: list[tuple[Any, ...]]
) -> SignatureView:
    """The signature and the audit entry recording it: same subject, signer, party, hash and
    instant; the entry re-checked (its hash, and its link to the entry before it)."""
    view = SignatureView(signature.subject, person.key, person.name, signature.party,
                         tuple(person.roles), signature.content_hash, signature.at)  # fmt: skip
    for entry in entries:
        _, at, _, actor, _, ref, data, prev_hash, digest = entry
        values = json.loads(data)
        if (
            ref != signature.subject
            or (actor, at) != (person.key, signature.at)
            or (
                values.get("hash"),
                values.get("party"),
            )
            != (signature.content_hash, signature.party)
        ):
            continue
        linked = prev_hash == _hash_before(session, int(entry[0]))
        return replace(view, via=str(values.get("via", "")),
                       message=str(values.get("message", "")), audit_id=int(entry[0]),
                       audit_hash=str(digest), audit_ok=linked and _entry_ok(entry))  # fmt: skip
    return view


def _entry_ok(entry: tuple[Any, ...]) -> bool:
    _, at, engagement_id, actor, action, ref, data, prev_hash, digest = entry
    return bool(digest == audit.entry_hash(prev_hash, at, engagement_id, actor, action, ref, data))


def _hash_before(session: Session, entry_id: int) -> str:
    found = session.execute(
        select(col(AuditEntry.hash)).where(col(AuditEntry.id) < entry_id)
        .order_by(col(AuditEntry.id).desc()).limit(1)
    ).scalar_one_or_none()  # fmt: skip
    return str(found) if found is not None else audit.GENESIS


def checked(records: list[SignedRecord]) -> list[RecordCheck]:
    return [RecordCheck(r, "" if r.deferred else r.content_hash()) for r in records]


# -- the chain --------------------------------------------------------------------------------


def span(session: Session, engagement_id: int) -> tuple[int | None, int | None]:
    """The ids of the engagement's first and last audit entries (both by the index on
    engagement_id, id)."""
    ids = select(col(AuditEntry.id)).where(col(AuditEntry.engagement_id) == engagement_id)
    first = session.execute(ids.order_by(col(AuditEntry.id)).limit(1)).scalar_one_or_none()
    last = session.execute(ids.order_by(col(AuditEntry.id).desc()).limit(1)).scalar_one_or_none()
    return first, last


def chain_check(session: Session, engagement_id: int, window: int = CHAIN_WINDOW) -> ChainCheck:
    """Recompute the hash and the link of the newest `window` entries of the chain up to the
    engagement's last entry, from its first at most (other engagements' entries in between
    included: the chain is shared). The first of them links to the entry before it (or the
    genesis). The hash rule is `storage.audit.entry_hash`, as `rentian audit verify` uses."""
    now = clock.now()
    first, last = span(session, engagement_id)
    if first is None or last is None:
        return ChainCheck(True, 0, None, None, None, None, "", now)
    rows = [tuple(row) for row in session.execute(
        select(*_ENTRY_COLUMNS).where(col(AuditEntry.id) >= first, col(AuditEntry.id) <= last)
        .order_by(col(AuditEntry.id).desc()).limit(window)
    ).all()][::-1]  # fmt: skip
    previous = _hash_before(session, int(rows[0][0]))
    for entry in rows:
        if entry[7] != previous:
            return _broken(rows, entry, first, now, "link to the previous entry is broken")
        if not _entry_ok(entry):
            return _broken(rows, entry, first, now, "content does not match its hash")
        previous = entry[8]
    return ChainCheck(True, len(rows), int(rows[0][0]), int(rows[-1][0]), first, last,
                      str(rows[-1][8]), now)  # fmt: skip


def _broken(rows: list[tuple[Any, ...]], entry: tuple[Any, ...], first: int, now: datetime,
            problem: str) -> ChainCheck:  # fmt: skip
    head = rows[-1]
    checked_before = rows.index(entry)
    return ChainCheck(False, checked_before, int(rows[0][0]), int(head[0]), first, int(head[0]),
                      str(head[8]), now, int(entry[0]), problem)  # fmt: skip
