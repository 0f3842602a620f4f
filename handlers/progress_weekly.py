"""The weekly report as data (周报): person-days by level against the plan, SLA attainment,
tickets by service, blockers, change requests and acceptances of one ISO week."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction

from sqlalchemy import func, select
from sqlmodel import Session, col

from domain.policy import policy_of
from domain.workcalendar import BusinessCalendar
from handlers import budget
from handlers.progress import day_bounds
from handlers.ticket_sla import TicketSla
from storage.models import Blocker, ChangeRequest, Deliverable, Engagement, Ticket

_WEEK = re.compile(r"([0-9]{4})-?W([0-9]{1,2})")


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
    deflected: int = 0  # tickets the knowledge base answered (closed as answered)
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
    from handlers import knowledge_base

    start = week_start(label)
    end = start + timedelta(days=6)
    engagement_id = engagement.id or 0
    policy = policy_of(engagement)
    first, last = day_bounds(start, engagement.timezone)[0], day_bounds(end, engagement.timezone)[1]
    tickets = list(session.execute(
        select(Ticket).where(col(Ticket.engagement_id) == engagement_id,
                             col(Ticket.opened_at) >= first, col(Ticket.opened_at) < last)
    ).scalars())  # fmt: skip
    response, resolution = attainment(TicketSla.of(policy), tickets, now)
    by_service: dict[str, int] = {}
    for ticket in tickets:
        by_service[ticket.service or "-"] = by_service.get(ticket.service or "-", 0) + 1
    opened = session.execute(
        select(func.count())
        .select_from(Blocker)
        .where(col(Blocker.engagement_id) == engagement_id,
               col(Blocker.opened_at) >= first, col(Blocker.opened_at) < last)
    ).scalar_one()  # fmt: skip
    cleared = list(session.execute(
        select(Blocker).where(col(Blocker.engagement_id) == engagement_id,
                              col(Blocker.cleared_at) >= first, col(Blocker.cleared_at) < last)
    ).scalars())  # fmt: skip
    lost = sum(
        policy.calendar.between(max(b.opened_at, first), b.cleared_at)
        for b in cleared
        if b.cleared_at
    )
    crs = session.execute(
        select(col(ChangeRequest.number))
        .where(col(ChangeRequest.engagement_id) == engagement_id,
               col(ChangeRequest.effective_at) >= first, col(ChangeRequest.effective_at) < last)
        .order_by(col(ChangeRequest.number))
    ).scalars()  # fmt: skip
    accepted = session.execute(
        select(col(Deliverable.number))
        .where(col(Deliverable.engagement_id) == engagement_id,
               col(Deliverable.status) == "accepted",
               col(Deliverable.decided_at) >= first, col(Deliverable.decided_at) < last)
        .order_by(col(Deliverable.number))
    ).scalars()  # fmt: skip
    return WeeklyReport(
        code=engagement.code, week=label, start=start, end=end, hours_per_day=engagement.hours_per_day,
        by_level=budget.used(session, engagement_id, since=start, until=end),
        plan_minutes=_plan_minutes(session, engagement, policy.calendar, start, end),
        response=response, resolution=resolution, by_service=by_service, blockers_opened=int(opened),
        blockers_cleared=len(cleared), time_lost_minutes=lost, crs_signed=tuple(f"CR-{n}" for n in crs),
        accepted=tuple(f"D-{n}" for n in accepted),
        deflected=knowledge_base.deflections(session, engagement_id, first, last),
    )  # fmt: skip


def _plan_minutes(session: Session, engagement: Engagement, calendar: BusinessCalendar,
                  start: date, end: date) -> int:  # fmt: skip
    total = sum(budget.contracted(session, engagement).values())
    term = _working_days(calendar, engagement.start_date, engagement.end_date)
    week = _working_days(calendar, max(start, engagement.start_date), min(end, engagement.end_date))
    return round(Fraction(total * week, term)) if term else 0


def _working_days(calendar: BusinessCalendar, first: date, last: date) -> int:
    days, day = 0, first
    while day <= last:
        days += calendar.is_working_day(day)
        day += timedelta(days=1)
    return days


def attainment(
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
