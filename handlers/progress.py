"""Progress content as data (进度同步): the daily sync, built from the records (the weekly report
is in `progress_weekly`). `progress_text` renders them for chats; cards can render the same
objects later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot import clock
from domain.policy import policy_of
from domain.workcalendar import BusinessCalendar
from handlers import blockers, budget
from handlers.ticket_sla import TicketSla
from handlers.ticket_states import OPEN_STATES, awaiting_confirmation, running_late
from storage.models import ChangeRequest, Engagement, Person, Signature, Task, Ticket, WorkLog

DUE_SOON_WORKING_DAYS = 3


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
    start = datetime.combine(day, time(0), ZoneInfo(timezone))
    return clock.as_utc(start), clock.as_utc(start + timedelta(days=1))


def _people(session: Session, engagement_id: int) -> dict[int, Person]:
    return {
        p.id or 0: p
        for p in session.execute(
            select(Person).where(col(Person.engagement_id) == engagement_id)
        ).scalars()
    }


def daily(session: Session, engagement: Engagement, day: date, now: datetime) -> DailySync:
    engagement_id = engagement.id or 0
    calendar = policy_of(engagement).calendar
    people = _people(session, engagement_id)
    start, end = day_bounds(day, engagement.timezone)
    logs = session.execute(
        select(col(WorkLog.person_id), col(WorkLog.target_ref), func.sum(col(WorkLog.minutes)))
        .where(col(WorkLog.engagement_id) == engagement_id, col(WorkLog.work_date) == day,
               col(WorkLog.voided_at).is_(None))
        .group_by(col(WorkLog.person_id), col(WorkLog.target_ref))
    ).all()  # fmt: skip
    work = tuple(sorted((WorkLine(people[p].name, str(t), int(m or 0)) for p, t, m in logs),
                        key=lambda w: (w.person, w.target)))  # fmt: skip
    return DailySync(
        code=engagement.code, day=day, hours_per_day=engagement.hours_per_day, work=work,
        opened=_ticket_refs(session, engagement_id, col(Ticket.opened_at), start, end),
        resolved=_ticket_refs(session, engagement_id, col(Ticket.resolved_at), start, end),
        open_tickets=open_ticket_lines(session, engagement, now),
        blockers=_blockers(session, engagement, calendar, people, now),
        waiting=_waiting(session, engagement_id),
        due_tasks=_due_tasks(session, engagement, calendar, people, day),
        budget=budget_line(session, engagement, day),
    )  # fmt: skip


def _ticket_refs(
    session: Session, engagement_id: int, column: Any, start: datetime, end: datetime
) -> tuple[str, ...]:
    numbers = session.execute(
        select(col(Ticket.number))
        .where(col(Ticket.engagement_id) == engagement_id, column >= start, column < end)
        .order_by(col(Ticket.number))
    ).scalars()
    return tuple(f"T-{n}" for n in numbers)


def open_ticket_lines(
    session: Session, engagement: Engagement, now: datetime
) -> tuple[TicketLine, ...]:
    ticket_sla = TicketSla.of(policy_of(engagement))
    tickets = session.execute(
        select(Ticket).where(col(Ticket.engagement_id) == engagement.id,
                             col(Ticket.status).in_(OPEN_STATES))
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
    session: Session,
    engagement: Engagement,
    calendar: BusinessCalendar,
    people: dict[int, Person],
    now: datetime,
) -> tuple[BlockerLine, ...]:
    return tuple(
        BlockerLine(b.ref, b.description, people[b.owner_id].name if b.owner_id in people else "—",
                    blockers.age_minutes(b, calendar, now))
        for b in blockers.open_blockers(session, engagement.id or 0)
    )  # fmt: skip


def _waiting(session: Session, engagement_id: int) -> tuple[Waiting, ...]:
    crs = session.execute(
        select(ChangeRequest)
        .where(col(ChangeRequest.engagement_id) == engagement_id,
               col(ChangeRequest.status) == "estimated")
        .order_by(col(ChangeRequest.number))
    ).scalars()  # fmt: skip
    waiting = []
    for cr in crs:
        signed = set(session.execute(
            select(col(Signature.party)).where(col(Signature.engagement_id) == engagement_id,
                                               col(Signature.subject) == cr.ref,
                                               col(Signature.voided_at).is_(None))
        ).scalars())  # fmt: skip
        waiting.append(Waiting(cr.ref, tuple(p for p in ("vendor", "client") if p not in signed)))
    return tuple(waiting)


def _due_tasks(
    session: Session,
    engagement: Engagement,
    calendar: BusinessCalendar,
    people: dict[int, Person],
    day: date,
) -> tuple[DueTask, ...]:
    horizon = calendar.add_working_days(day, DUE_SOON_WORKING_DAYS)
    tasks = session.execute(
        select(Task)
        .where(col(Task.engagement_id) == engagement.id, col(Task.status) == "open",
               col(Task.plan_date) >= day, col(Task.plan_date) <= horizon)
        .order_by(col(Task.plan_date), col(Task.number))
    ).scalars()  # fmt: skip
    return tuple(DueTask(t.ref, t.title, t.plan_date, people[t.assignee_id].name if t.assignee_id in people else "—")
                 for t in tasks if t.plan_date is not None)  # fmt: skip


def budget_line(session: Session, engagement: Engagement, day: date) -> BudgetLine:
    positions = budget.positions(session, engagement)
    total = positions[-1]
    burn = budget.burn(session, engagement, policy_of(engagement).calendar, day, total.left)
    return BudgetLine(total.used, total.contracted, burn.runs_out,
                      tuple((p.level, p.used, p.contracted) for p in positions[:-1]))  # fmt: skip
