"""The read API's queries (no HTTP here): one engagement's records, a page at a time, in the
shapes of `web.api_models`. The rules are the app's own — the budget's positions and burn
(`handlers.budget`), the SLA clocks (`handlers.ticket_sla`), the phase (`handlers.status`),
SLA attainment (`handlers.progress_weekly`) — read here, never worked out again.

Lists are keyset-paginated: `key > :after ORDER BY key LIMIT :limit + 1`, so a page costs the
same on the first page as on the thousandth, and a row added meanwhile is neither skipped nor
seen twice. A filter that only Python can apply (a ticket's `breached`, which needs its
calendars) looks at no more than `SCAN_MAX` rows for one page: the page may then come back
short, with a cursor to go on from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import Session, col

from bot import clock
from domain import obligations as obligation_rules
from domain.catalog import SEVERITIES
from domain.policy import policy_of
from handlers import budget, checklist, statement
from handlers.progress import day_bounds
from handlers.progress_weekly import Attainment, attainment
from handlers.status import phase_of
from handlers.ticket_sla import TicketSla
from storage.models import Engagement, Person, Signature, Ticket, WorkLog
from storage.models_obligations import ObligationOccurrence as Occ
from web import api_models as out
from web.views import obligation_records
from web.views import obligations as obligation_views

SCAN_MAX = 2000  # rows one filtered page may look at
_FILTER_BATCH = 200  # rows fetched at a time when Python filters them


@dataclass(frozen=True)
class Window:
    """Where a page starts (after this key) and how many items it holds at most."""

    after: int
    limit: int


@dataclass(frozen=True)
class TicketFilter:
    severity: str | None = None
    status: str | None = None
    breached: bool | None = None
    assignee: str | None = None  # a person key
    opened_after: datetime | None = None  # inclusive, aware
    opened_before: datetime | None = None  # exclusive, aware


@dataclass(frozen=True)
class WorkLogFilter:
    person: str | None = None  # a person key
    since: date | None = None  # inclusive
    until: date | None = None  # inclusive
    target: str | None = None  # a target's ref: T-7, K-3, CR-2, a service key


def person_days(minutes: int, hours_per_day: int) -> float:
    return round(minutes / (hours_per_day * 60), 3)


def month_window(month: str, timezone: str) -> tuple[datetime, datetime]:
    """`YYYY-MM` as a UTC [start, end) interval in the engagement's time; ValueError when it is
    not a month, or one a UTC time cannot hold (year 1, year 9999)."""
    try:
        first, last = statement.month_bounds(month)
        return day_bounds(first, timezone)[0], day_bounds(last, timezone)[1]
    except (OverflowError, ValueError) as error:
        raise ValueError(f"not a month: {month}") from error


# -- engagements ------------------------------------------------------------------------------


def engagement(session: Session, row: Engagement) -> out.Engagement:
    done, total = checklist.progress(session, row.id or 0)
    today = clock.local(clock.now(), row.timezone).date()
    overall = budget.positions(session, row)[-1]
    return out.Engagement(
        code=row.code, name=row.name, client=row.client, vendor=row.vendor,
        start=row.start_date, end=row.end_date, timezone=row.timezone, locale=row.locale,
        phase=phase_of(today, row.start_date, row.end_date, total > 0 and done == total),  # type: ignore[arg-type]
        hours_per_day=row.hours_per_day, used_minutes=overall.used,
        contracted_minutes=overall.contracted,
        used_person_days=person_days(overall.used, row.hours_per_day),
        contracted_person_days=person_days(overall.contracted, row.hours_per_day),
    )  # fmt: skip


# -- tickets ----------------------------------------------------------------------------------


def tickets(
    session: Session, row: Engagement, wanted: TicketFilter, window: Window
) -> tuple[list[out.Ticket], int | None]:
    """A page of the engagement's tickets by number, and the key to go on from (None: the last
    page)."""
    query: Select[*tuple[Any, ...]] = select(Ticket).where(col(Ticket.engagement_id) == row.id)
    if wanted.severity is not None:
        query = query.where(col(Ticket.severity) == wanted.severity)
    if wanted.status is not None:
        query = query.where(col(Ticket.status) == wanted.status)
    if wanted.opened_after is not None:
        query = query.where(col(Ticket.opened_at) >= wanted.opened_after)
    if wanted.opened_before is not None:
        query = query.where(col(Ticket.opened_at) < wanted.opened_before)
    if wanted.assignee is not None:
        assignee = _person_id(session, row.id or 0, wanted.assignee)
        if assignee is None:
            return [], None
        query = query.where(col(Ticket.assignee_id) == assignee)
    ticket_sla, now = TicketSla.of(policy_of(row)), clock.now()
    keep = None
    if wanted.breached is not None:
        breached = wanted.breached

        def keep(found: Any) -> bool:
            return ticket_sla.breached(found[0], now) is breached

    rows, next_key = keyset(session, query, Ticket.number, window, lambda found: found[0].number,
                            keep)  # fmt: skip
    found = [r[0] for r in rows]
    names = _names(session, {t.assignee_id for t in found if t.assignee_id is not None})
    return [_ticket(t, row.timezone, names, ticket_sla.breached(t, now)) for t in found], next_key


def _ticket(
    t: Ticket, timezone: str, names: dict[int, out.PersonRef], breached: bool
) -> out.Ticket:
    def at(moment: datetime | None) -> datetime | None:
        return None if moment is None else clock.local(moment, timezone)

    return out.Ticket(
        ref=t.ref, number=t.number, title=t.title, service=t.service, in_scope=t.in_scope,
        severity=t.severity, status=t.status,  # type: ignore[arg-type]
        reporter=out.PersonRef(key=t.reporter_key, name=t.reporter_name),
        assignee=names.get(t.assignee_id) if t.assignee_id is not None else None,
        opened_at=clock.local(t.opened_at, timezone), acked_at=at(t.acked_at),
        resolved_at=at(t.resolved_at), closed_at=at(t.closed_at), pending_since=at(t.pending_since),
        response_due_at=clock.local(t.response_due_at, timezone),
        resolve_due_at=at(t.resolve_due_at), breached=breached,
    )  # fmt: skip


# -- work logs --------------------------------------------------------------------------------


def worklogs(
    session: Session, row: Engagement, wanted: WorkLogFilter, window: Window
) -> tuple[list[out.WorkLog], int | None]:
    """A page of the engagement's work-log rows by id (voided ones too, marked)."""
    query: Select[*tuple[Any, ...]] = (
        select(WorkLog, col(Person.key), col(Person.name))
        .join(Person, col(Person.id) == col(WorkLog.person_id))
        .where(col(WorkLog.engagement_id) == row.id)
    )
    if wanted.person is not None:
        query = query.where(col(Person.key) == wanted.person)
    if wanted.since is not None:
        query = query.where(col(WorkLog.work_date) >= wanted.since)
    if wanted.until is not None:
        query = query.where(col(WorkLog.work_date) <= wanted.until)
    if wanted.target is not None:
        query = query.where(col(WorkLog.target_ref) == wanted.target)
    rows, next_key = keyset(session, query, WorkLog.id, window, lambda found: found[0].id)
    tz, hours = row.timezone, row.hours_per_day
    return [
        out.WorkLog(
            id=w.id or 0,
            person=out.PersonRef(key=key, name=name),
            level=w.level,
            date=w.work_date,
            minutes=w.minutes,
            person_days=person_days(w.minutes, hours),
            target=out.WorkTarget(kind=w.target_kind, ref=w.target_ref),
            note=w.note,
            kind=w.kind,
            overtime=w.overtime,
            logged_at=clock.local(w.created_at, tz),
            voided=w.voided_at is not None,
            voided_at=None if w.voided_at is None else clock.local(w.voided_at, tz),
        )
        for w, key, name in rows
    ], next_key


# -- signatures -------------------------------------------------------------------------------


def signatures(
    session: Session, row: Engagement, subject: str | None, window: Window
) -> tuple[list[out.Signature], int | None]:
    """A page of the engagement's signatures by id, the voided ones too (never deleted)."""
    query: Select[*tuple[Any, ...]] = (
        select(Signature, col(Person.key), col(Person.name))
        .join(Person, col(Person.id) == col(Signature.person_id))
        .where(col(Signature.engagement_id) == row.id)
    )
    if subject is not None:
        query = query.where(col(Signature.subject) == subject)
    rows, next_key = keyset(session, query, Signature.id, window, lambda found: found[0].id)
    tz = row.timezone
    return [
        out.Signature(
            id=s.id or 0,
            subject=s.subject,
            person=out.PersonRef(key=key, name=name),
            party=s.party,
            content_hash=s.content_hash,
            at=clock.local(s.at, tz),
            voided=s.voided_at is not None,
            voided_at=None if s.voided_at is None else clock.local(s.voided_at, tz),
        )
        for s, key, name in rows
    ], next_key


# -- recurring obligations --------------------------------------------------------------------


@dataclass(frozen=True)
class ObligationFilter:
    state: str | None = None
    key: str | None = None  # the obligation's key in the engagement file
    since: date | None = None  # due on or after, inclusive
    until: date | None = None  # due on or before, inclusive


def obligations(
    session: Session, row: Engagement, wanted: ObligationFilter, window: Window
) -> tuple[list[out.Obligation], int | None]:
    """A page of the engagement's obligation occurrences by number (O-n)."""
    query: Select[*tuple[Any, ...]] = select(Occ).where(col(Occ.engagement_id) == row.id)
    if wanted.state is not None:
        query = query.where(col(Occ.state) == wanted.state)
    if wanted.key is not None:
        query = query.where(col(Occ.key) == wanted.key)
    if wanted.since is not None:
        query = query.where(col(Occ.due_on) >= wanted.since)
    if wanted.until is not None:
        query = query.where(col(Occ.due_on) <= wanted.until)
    rows, next_key = keyset(session, query, Occ.number, window, lambda found: found[0].number)
    found: list[Occ] = [r[0] for r in rows]
    names = _names(session, {i for o in found for i in (o.submitted_by_id, o.done_by_id) if i})
    titles = obligation_records.titles(row)
    today = clock.local(clock.now(), row.timezone).date()
    return [_obligation(session, row, o, titles, names, today) for o in found], next_key


def _obligation(session: Session, row: Engagement, o: Occ, titles: dict[str, str],
                names: dict[int, out.PersonRef], today: date) -> out.Obligation:  # fmt: skip
    def at(moment: datetime | None) -> datetime | None:
        return None if moment is None else clock.local(moment, row.timezone)

    window = None
    if o.window_start_at is not None:
        missing = obligation_views.unsigned(session, row, o)
        window = out.UpgradeWindow(
            start_at=at(o.window_start_at), end_at=at(o.window_end_at),
            state=obligation_records.window_state(o),  # type: ignore[arg-type]
            plan_link=o.plan_link, plan_note=o.plan_note, plan_hash=o.window_hash,
            signed_by=[p for p in ("vendor", "client") if p not in missing],
            approved_at=at(o.approved_at), started_at=at(o.started_at),
            blocked_at=at(o.blocked_at), ended_at=at(o.ended_at),
        )  # fmt: skip
    return out.Obligation(
        ref=o.ref, number=o.number, key=o.key, title=titles.get(o.key, o.key), due_on=o.due_on,
        state=o.state,  # type: ignore[arg-type]
        overdue=o.state != obligation_rules.DONE and o.due_on < today,
        evidence_link=o.evidence_link, evidence_note=o.evidence_note, content_hash=o.content_hash,
        submitted_at=at(o.submitted_at), done_at=at(o.done_at),
        submitted_by=names.get(o.submitted_by_id) if o.submitted_by_id else None,
        done_by=names.get(o.done_by_id) if o.done_by_id else None, window=window,
    )  # fmt: skip


# -- budget and SLA ---------------------------------------------------------------------------


def budget_view(session: Session, row: Engagement) -> out.Budget:
    """`handlers.budget`'s positions by level and its burn forecast, as `/预算` shows them."""
    policy = policy_of(row)
    today = clock.local(clock.now(), row.timezone).date()
    *levels, total = budget.positions(session, row)
    burn = budget.burn(session, row, policy.calendar, today, total.left)
    return out.Budget(
        code=row.code, as_of=today, hours_per_day=row.hours_per_day,
        levels=[_line(p, row.hours_per_day) for p in levels],
        total=_line(total, row.hours_per_day),
        burn=out.Burn(window_working_days=budget.BURN_WINDOW_DAYS,
                      minutes_per_working_day=round(float(burn.per_day), 2),
                      runs_out=burn.runs_out),
    )  # fmt: skip


def _line(position: budget.Position, hours: int) -> out.BudgetLine:
    share = position.share
    return out.BudgetLine(
        level=position.level, contracted_minutes=position.contracted,
        used_minutes=position.used, left_minutes=position.left,
        contracted_person_days=person_days(position.contracted, hours),
        used_person_days=person_days(position.used, hours),
        left_person_days=person_days(position.left, hours),
        used_share=None if share is None else round(float(share), 4),
    )  # fmt: skip


def sla_view(session: Session, row: Engagement, month: str) -> out.Sla:
    """SLA attainment of the tickets opened in `month`, by severity: the weekly report's rule
    (`handlers.progress_weekly`) over a month."""
    start, end = month_window(month, row.timezone)
    opened = list(session.execute(
        select(Ticket).where(col(Ticket.engagement_id) == row.id,
                             col(Ticket.opened_at) >= start, col(Ticket.opened_at) < end)
    ).scalars())  # fmt: skip
    response, resolution = attainment(TicketSla.of(policy_of(row)), opened, clock.now())
    lines = [
        out.SlaLine(
            severity=severity,  # type: ignore[arg-type]
            response=_met(response.get(severity)),
            resolution=_met(resolution.get(severity)),
        )
        for severity in SEVERITIES
    ]
    total = out.SlaTotal(
        response=out.Attainment(met=sum(x.response.met for x in lines),
                                total=sum(x.response.total for x in lines)),
        resolution=out.Attainment(met=sum(x.resolution.met for x in lines),
                                  total=sum(x.resolution.total for x in lines)),
    )  # fmt: skip
    return out.Sla(code=row.code, month=month, severities=lines, total=total)


def _met(value: Attainment | None) -> out.Attainment:
    return (
        out.Attainment(met=0, total=0)
        if value is None
        else out.Attainment(met=value.met, total=value.total)
    )


# -- helpers ----------------------------------------------------------------------------------


def keyset(
    session: Session,
    query: Select[*tuple[Any, ...]],
    column: InstrumentedAttribute[Any] | Any,
    window: Window,
    key: Callable[[Any], int],
    keep: Callable[[Any], bool] | None = None,
) -> tuple[list[Any], int | None]:
    """Rows of `query` after `window.after` by `column` (whose value `key` reads from a row),
    at most `window.limit` of them, and the key to go on from, or None when none follow.
    With `keep`, only the rows it keeps, looking at no more than `SCAN_MAX` rows."""
    batch = window.limit + 1 if keep is None else max(window.limit + 1, _FILTER_BATCH)
    found: list[Any] = []
    last, scanned = window.after, 0
    while True:
        rows: Sequence[Any] = session.execute(
            query.where(col(column) > last).order_by(col(column)).limit(batch)
        ).all()
        for row in rows:
            if keep is None or keep(row):
                if len(found) == window.limit:
                    return found, key(found[-1])
                found.append(row)
            last = key(row)
        scanned += len(rows)
        if len(rows) < batch:
            return found, None
        if scanned >= SCAN_MAX:
            return found, last


def _person_id(session: Session, engagement_id: int, key: str) -> int | None:
    found: int | None = session.execute(
        select(col(Person.id)).where(col(Person.engagement_id) == engagement_id,
                                     col(Person.key) == key)
    ).scalar()  # fmt: skip
    return found


def _names(session: Session, ids: set[int]) -> dict[int, out.PersonRef]:
    if not ids:
        return {}
    rows = session.execute(select(Person).where(col(Person.id).in_(ids))).scalars()
    return {p.id or 0: out.PersonRef(key=p.key, name=p.name) for p in rows}
