"""Progress content as data (进度同步): the daily sync and the weekly report, built from the
records. `progress_text` renders them for chats; cards can render the same objects later."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction

from sqlalchemy import func, select
from sqlmodel import Session

from bot import clock
from domain import sla
from handlers import blockers, budget
from handlers.ticket_sla import TicketSla
from handlers.ticket_states import OPEN_STATES, awaiting_confirmation, running_late
from storage.models import (
    Blocker,
    ChangeRequest,
    Deliverable,
    Engagement,
    Person,
    Signature,
    Task,
    Ticket,
    WorkLog,
)  # fmt: skip

DUE_SOON_WORKING_DAYS = 3
_WEEK = re.compile(r"([0-9]{4})-?W([0-9]{1,2})")


@dataclass(frozen=True)
class WorkLine:
    person: str
    target: str
    minutes: int


@dataclass(frozen=True)
class TicketLine:
    ref: str
    severity: str
    title: str
    status: str
    leg: str  # the clock that runs: response until acknowledged, then resolve
    left_minutes: int | None  # None while paused, or resolved and awaiting confirmation
    breached: bool  # running late (see ticket_states.running_late)


@dataclass(frozen=True)
class BlockerLine:
    ref: str
    description: str
    owner: str
    age_minutes: int


@dataclass(frozen=True)
class Waiting:
    ref: str
    parties: tuple[str, ...]  # "vendor" / "client": who still has to sign


@dataclass(frozen=True)
class DueTask:
    ref: str
    title: str
    plan_date: date
    assignee: str


@dataclass(frozen=True)
class BudgetLine:
    used: int
    contracted: int
    runs_out: date | None
    levels: tuple[tuple[str, int, int], ...]  # level, used, contracted


@dataclass(frozen=True)
class DailySync:
    code: str
    day: date
    hours_per_day: int
    work: tuple[WorkLine, ...]
    opened: tuple[str, ...]
    resolved: tuple[str, ...]
    open_tickets: tuple[TicketLine, ...]
    blockers: tuple[BlockerLine, ...]
    waiting: tuple[Waiting, ...]
    due_tasks: tuple[DueTask, ...]
    budget: BudgetLine
    late: bool = False

    @property
    def quiet(self) -> bool:
        """Nothing happened and nothing is pending."""
        return not (self.work or self.opened or self.resolved or self.open_tickets or self.blockers
                    or self.waiting or self.due_tasks)  # fmt: skip


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The local day as a UTC [start, end) interval."""
    from zoneinfo import ZoneInfo

    start = datetime.combine(day, time(0), ZoneInfo(timezone))
    return clock.as_utc(start), clock.as_utc(start + timedelta(days=1))


def _people(session: Session, engagement_id: int) -> dict[int, Person]:
    return {
        p.id or 0: p
        for p in session.execute(
            select(Person).where(Person.engagement_id == engagement_id)
        ).scalars()
    }


def daily(session: Session, engagement: Engagement, day: date, now: datetime) -> DailySync:
    engagement_id = engagement.id or 0
    people = _people(session, engagement_id)
    start, end = day_bounds(day, engagement.timezone)
    logs = session.execute(
        select(WorkLog.person_id, WorkLog.target_ref, func.sum(WorkLog.minutes))
        .where(WorkLog.engagement_id == engagement_id, WorkLog.work_date == day, WorkLog.voided_at.is_(None))  # type: ignore[union-attr]
        .group_by(WorkLog.person_id, WorkLog.target_ref)  # type: ignore[arg-type]
    ).all()  # fmt: skip
    work = tuple(sorted((WorkLine(people[p].name, str(t), int(m or 0)) for p, t, m in logs),
                        key=lambda w: (w.person, w.target)))  # fmt: skip
    return DailySync(
        code=engagement.code, day=day, hours_per_day=engagement.hours_per_day, work=work,
        opened=_ticket_refs(session, engagement_id, Ticket.opened_at, start, end),
        resolved=_ticket_refs(session, engagement_id, Ticket.resolved_at, start, end),
        open_tickets=open_ticket_lines(session, engagement, now),
        blockers=_blockers(session, engagement, people, now), waiting=_waiting(session, engagement_id),
        due_tasks=_due_tasks(session, engagement, people, day), budget=budget_line(session, engagement, day),
    )  # fmt: skip


def _ticket_refs(
    session: Session, engagement_id: int, column: object, start: datetime, end: datetime
) -> tuple[str, ...]:
    numbers = session.execute(
        select(Ticket.number).where(Ticket.engagement_id == engagement_id, column >= start, column < end)  # type: ignore[operator]
        .order_by(Ticket.number)  # type: ignore[arg-type]
    ).scalars()  # fmt: skip
    return tuple(f"T-{n}" for n in numbers)


def open_ticket_lines(
    session: Session, engagement: Engagement, now: datetime
) -> tuple[TicketLine, ...]:
    ticket_sla = TicketSla.of(engagement)
    tickets = session.execute(
        select(Ticket).where(Ticket.engagement_id == engagement.id, Ticket.status.in_(OPEN_STATES))  # type: ignore[attr-defined]
    ).scalars()  # fmt: skip
    lines = []
    for ticket in tickets:
        leg = "response" if ticket.acked_at is None else "resolve"
        paused = leg == "resolve" and ticket.pending_since is not None
        stopped = paused or awaiting_confirmation(ticket.status)
        left = None if stopped else ticket_sla.remaining(ticket, leg, now)
        lines.append(TicketLine(ticket.ref, ticket.severity, ticket.title, ticket.status, leg, left,
                                running_late(ticket_sla, ticket, now)))  # fmt: skip
    return tuple(sorted(lines, key=_urgency))


def _urgency(line: TicketLine) -> tuple[bool, str, int]:
    """Work still to do first, the least time left first; then what waits for confirmation."""
    left = line.left_minutes if line.left_minutes is not None else 10**9
    return awaiting_confirmation(line.status), line.severity, left


def _blockers(
    session: Session, engagement: Engagement, people: dict[int, Person], now: datetime
) -> tuple[BlockerLine, ...]:
    calendar = sla.business_calendar(engagement.calendar, engagement.timezone)
    return tuple(
        BlockerLine(b.ref, b.description, people[b.owner_id].name if b.owner_id in people else "—",
                    blockers.age_minutes(b, calendar, now))
        for b in blockers.open_blockers(session, engagement.id or 0)
    )  # fmt: skip


def _waiting(session: Session, engagement_id: int) -> tuple[Waiting, ...]:
    crs = session.execute(
        select(ChangeRequest).where(ChangeRequest.engagement_id == engagement_id, ChangeRequest.status == "estimated")
        .order_by(ChangeRequest.number)  # type: ignore[arg-type]
    ).scalars()  # fmt: skip
    waiting = []
    for cr in crs:
        signed = set(session.execute(
            select(Signature.party).where(Signature.engagement_id == engagement_id, Signature.subject == cr.ref,
                                          Signature.voided_at.is_(None))  # type: ignore[union-attr]
        ).scalars())  # fmt: skip
        waiting.append(Waiting(cr.ref, tuple(p for p in ("vendor", "client") if p not in signed)))
    return tuple(waiting)


def _due_tasks(
    session: Session, engagement: Engagement, people: dict[int, Person], day: date
) -> tuple[DueTask, ...]:
    calendar = sla.business_calendar(engagement.calendar, engagement.timezone)
    horizon = calendar.add_working_days(day, DUE_SOON_WORKING_DAYS)
    tasks = session.execute(
        select(Task).where(Task.engagement_id == engagement.id, Task.status == "open",
                           Task.plan_date >= day, Task.plan_date <= horizon)  # type: ignore[operator]
        .order_by(Task.plan_date, Task.number)  # type: ignore[arg-type]
    ).scalars()  # fmt: skip
    return tuple(DueTask(t.ref, t.title, t.plan_date, people[t.assignee_id].name if t.assignee_id in people else "—")
                 for t in tasks if t.plan_date is not None)  # fmt: skip


def budget_line(session: Session, engagement: Engagement, day: date) -> BudgetLine:
    positions = budget.positions(session, engagement)
    total = positions[-1]
    calendar = sla.business_calendar(engagement.calendar, engagement.timezone)
    burn = budget.burn(session, engagement, calendar, day, total.left)
    return BudgetLine(total.used, total.contracted, burn.runs_out,
                      tuple((p.level, p.used, p.contracted) for p in positions[:-1]))  # fmt: skip


# -- the weekly report ------------------------------------------------------------------------


@dataclass(frozen=True)
class Attainment:
    met: int = 0
    total: int = 0


@dataclass(frozen=True)
class WeeklyReport:
    code: str
    week: str  # YYYY-Www
    start: date
    end: date
    hours_per_day: int
    by_level: dict[str, int]
    plan_minutes: int  # the contract spread evenly over the engagement's working days
    response: dict[str, Attainment] = field(default_factory=dict)  # by severity
    resolution: dict[str, Attainment] = field(default_factory=dict)
    by_service: dict[str, int] = field(default_factory=dict)  # tickets opened, by service
    blockers_opened: int = 0
    blockers_cleared: int = 0
    time_lost_minutes: int = 0
    crs_signed: tuple[str, ...] = ()
    accepted: tuple[str, ...] = ()
    late: bool = False


def week_of(day: date) -> tuple[str, date, date]:
    year, week, _ = day.isocalendar()
    start = day - timedelta(days=day.weekday())
    return f"{year}-W{week:02d}", start, start + timedelta(days=6)


def week_start(label: str) -> date:
    """`2026-W48` -> its Monday; ValueError otherwise."""
    return date.fromisocalendar(int(label[:4]), int(label.split("W")[1]), 1)


def parse_week(word: str) -> tuple[str, date] | None:
    """`2026-W48` (any case and width, the hyphen optional) -> (`2026-W48`, its Monday); None
    when it is not an ISO week that exists. Never raises."""
    match = _WEEK.fullmatch(unicodedata.normalize("NFKC", word).strip().upper())
    if match is None:
        return None
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        return None
    return f"{match.group(1)}-W{int(match.group(2)):02d}", monday


def weekly(session: Session, engagement: Engagement, label: str, now: datetime) -> WeeklyReport:
    start = week_start(label)
    end = start + timedelta(days=6)
    engagement_id = engagement.id or 0
    used = budget.used(session, engagement_id, since=start, until=end)
    calendar = sla.business_calendar(engagement.calendar, engagement.timezone)
    first, last = day_bounds(start, engagement.timezone)[0], day_bounds(end, engagement.timezone)[1]
    tickets = list(session.execute(
        select(Ticket).where(Ticket.engagement_id == engagement_id, Ticket.opened_at >= first, Ticket.opened_at < last)  # type: ignore[operator]
    ).scalars())  # fmt: skip
    response, resolution = _attainment(TicketSla.of(engagement), tickets, now)
    by_service: dict[str, int] = {}
    for ticket in tickets:
        by_service[ticket.service or "-"] = by_service.get(ticket.service or "-", 0) + 1
    opened = session.execute(
        select(func.count())
        .select_from(Blocker)
        .where(
            Blocker.engagement_id == engagement_id,
            Blocker.opened_at >= first,
            Blocker.opened_at < last,
        )
    ).scalar_one()  # type: ignore[operator]
    cleared = list(
        session.execute(
            select(Blocker).where(
                Blocker.engagement_id == engagement_id,
                Blocker.cleared_at >= first,
                Blocker.cleared_at < last,
            )
        ).scalars()
    )  # type: ignore[operator]
    lost = sum(
        calendar.between(max(b.opened_at, first), b.cleared_at) for b in cleared if b.cleared_at
    )
    crs = session.execute(
        select(ChangeRequest.number)
        .where(
            ChangeRequest.engagement_id == engagement_id,
            ChangeRequest.effective_at >= first,
            ChangeRequest.effective_at < last,
        )
        .order_by(ChangeRequest.number)
    ).scalars()  # type: ignore[operator, arg-type]
    accepted = session.execute(
        select(Deliverable.number)
        .where(
            Deliverable.engagement_id == engagement_id,
            Deliverable.status == "accepted",
            Deliverable.decided_at >= first,
            Deliverable.decided_at < last,
        )
        .order_by(Deliverable.number)
    ).scalars()  # type: ignore[operator, arg-type]
    return WeeklyReport(
        code=engagement.code, week=label, start=start, end=end, hours_per_day=engagement.hours_per_day,
        by_level=used, plan_minutes=_plan_minutes(session, engagement, calendar, start, end),
        response=response, resolution=resolution, by_service=by_service, blockers_opened=int(opened),
        blockers_cleared=len(cleared), time_lost_minutes=lost, crs_signed=tuple(f"CR-{n}" for n in crs),
        accepted=tuple(f"D-{n}" for n in accepted),
    )  # fmt: skip


def _plan_minutes(session: Session, engagement: Engagement, calendar: sla.BusinessCalendar,
                  start: date, end: date) -> int:  # fmt: skip
    total = sum(budget.contracted(session, engagement).values())
    term = _working_days(calendar, engagement.start_date, engagement.end_date)
    week = _working_days(calendar, max(start, engagement.start_date), min(end, engagement.end_date))
    return round(Fraction(total * week, term)) if term else 0


def _working_days(calendar: sla.BusinessCalendar, first: date, last: date) -> int:
    days, day = 0, first
    while day <= last:
        days += calendar.is_working_day(day)
        day += timedelta(days=1)
    return days


def _attainment(
    ticket_sla: TicketSla, tickets: list[Ticket], now: datetime
) -> tuple[dict[str, Attainment], dict[str, Attainment]]:
    """Per severity: of the tickets whose clock has an outcome, how many met the target."""
    response: dict[str, Attainment] = {}
    resolution: dict[str, Attainment] = {}
    for ticket in tickets:
        target = ticket_sla.target(ticket.severity)
        for leg, done, limit, table in (("response", ticket.acked_at, target.response, response),
                                        ("resolve", ticket.resolved_at, target.resolve, resolution)):  # fmt: skip
            elapsed = ticket_sla.elapsed(ticket, leg, now)
            if done is None and elapsed <= limit:
                continue  # still running within its target: no outcome yet
            met = done is not None and elapsed <= limit
            before = table.get(ticket.severity, Attainment())
            table[ticket.severity] = Attainment(before.met + met, before.total + 1)
    return response, resolution
