"""The engagement page's data: the burn-up of person-days (used by level, the contract with
its change requests as steps, the signed plan, the forecast), and the records with states —
change requests, deliverables, delays, blockers, training — and the months with a statement."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot import clock
from domain.catalog import LEVELS
from domain.lifecycles import change_requests as cr_life
from domain.lifecycles import periods as period_life
from domain.policy import policy_of
from handlers import blockers as blocker_rules
from handlers import scope, statement
from storage.models import (
    Blocker,
    ChangeRequest,
    Deliverable,
    Engagement,
    Period,
    Person,
    PlanChange,
    Signature,
    Task,
    Training,
    WorkLog,
)
from web.views.summary import Budget

LIST_LIMIT = 100  # each record list shows the newest this many


@dataclass(frozen=True)
class BurnUp:
    """Cumulative minutes: `used` per level (each a step series by day), the contract (steps
    where change requests took effect), the signed plan (the scope baseline's estimates by plan
    date) and the forecast from today at the current burn rate."""

    start: date
    end: date
    today: date
    hours_per_day: int
    used: dict[str, tuple[tuple[date, int], ...]]  # level -> cumulative, in LEVELS order
    contract: tuple[tuple[date, int], ...]
    plan: tuple[tuple[date, int], ...]
    forecast: tuple[tuple[date, int], ...]

    @property
    def used_total(self) -> int:
        return sum(points[-1][1] for points in self.used.values() if points)


@dataclass(frozen=True)
class DayWork:
    """Minutes one person logged on one day at one level (voided entries excluded)."""

    day: date
    level: str
    person_id: int
    minutes: int


def work_by_day(session: Session, engagement_id: int) -> list[DayWork]:
    """The engagement's work summed by day, level and person, oldest first: one pass over the
    work log serves the burn-up and the timesheet (at most days × people rows come back)."""
    rows = session.execute(
        select(col(WorkLog.work_date), col(WorkLog.level), col(WorkLog.person_id),
               func.sum(col(WorkLog.minutes)))
        .where(col(WorkLog.engagement_id) == engagement_id, col(WorkLog.voided_at).is_(None))
        .group_by(col(WorkLog.work_date), col(WorkLog.level), col(WorkLog.person_id))
        .order_by(col(WorkLog.work_date))
    ).all()  # fmt: skip
    return [DayWork(d, str(lv), int(p), int(m or 0)) for d, lv, p, m in rows]


def burn_up(session: Session, engagement: Engagement, budget: Budget, today: date,
            work: list[DayWork]) -> BurnUp:  # fmt: skip
    running: dict[str, int] = {}
    used: dict[str, list[tuple[date, int]]] = {}
    for item in work:
        key = item.level
        running[key] = running.get(key, 0) + item.minutes
        points = used.setdefault(key, [])
        if points and points[-1][0] == item.day:
            points[-1] = (item.day, running[key])
        else:
            points.append((item.day, running[key]))
    ordered = {level: tuple(used[level]) for level in [*LEVELS, *sorted(set(used) - set(LEVELS))]
               if level in used}  # fmt: skip
    total_used = sum(running.values())
    return BurnUp(
        start=engagement.start_date, end=engagement.end_date, today=today,
        hours_per_day=engagement.hours_per_day, used=ordered,
        contract=_contract(session, engagement), plan=_plan(session, engagement),
        forecast=_forecast(engagement, budget, today, total_used),
    )  # fmt: skip


def _contract(session: Session, engagement: Engagement) -> tuple[tuple[date, int], ...]:
    total = sum(policy_of(engagement).budgets.contracted.values())
    steps = [(engagement.start_date, total)]
    crs = session.execute(
        select(ChangeRequest)
        .where(col(ChangeRequest.engagement_id) == engagement.id,
               col(ChangeRequest.effective_at).is_not(None),
               col(ChangeRequest.status) == cr_life.EFFECTIVE)
        .order_by(col(ChangeRequest.effective_at))
    ).scalars()  # fmt: skip
    for cr in crs:
        total += sum(int(m) for m in cr.estimate.values())
        day = clock.local(cr.effective_at, engagement.timezone).date() if cr.effective_at else None
        steps.append((max(day or engagement.start_date, engagement.start_date), total))
    steps.append((engagement.end_date, total))
    return tuple(steps)


def _plan(session: Session, engagement: Engagement) -> tuple[tuple[date, int], ...]:
    """The signed scope baseline's estimates, accumulated by plan date (undated: the end)."""
    current = scope.baseline(session, engagement.id or 0)
    if current is None:
        return ()
    by_day: dict[date, int] = {}
    for row in json.loads(current.snapshot):
        try:
            day = date.fromisoformat(str(row[5]))
        except ValueError:
            day = engagement.end_date
        by_day[day] = by_day.get(day, 0) + int(row[3])
    points, total = [(engagement.start_date, 0)], 0
    for day in sorted(by_day):
        total += by_day[day]
        points.append((day, total))
    if points[-1][0] < engagement.end_date:
        points.append((engagement.end_date, total))  # held to the end of the term
    return tuple(points)


def _forecast(engagement: Engagement, budget: Budget, today: date,
              used: int) -> tuple[tuple[date, int], ...]:  # fmt: skip
    """From today's use, at the burn rate, to when the budget runs out or the term ends."""
    if budget.per_day <= 0 or today > engagement.end_date or today < engagement.start_date:
        return ()
    if budget.runs_out is not None:
        return ((today, used), (budget.runs_out, budget.total.contracted))
    business = policy_of(engagement).calendar
    days, day = 0, today
    while day < engagement.end_date:
        day += timedelta(days=1)
        days += business.is_working_day(day)
    return ((today, used), (engagement.end_date, used + round(budget.per_day * days)))


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    name: str
    party: str
    at: datetime


@dataclass(frozen=True)
class ChangeRow:
    ref: str
    title: str
    status: str
    estimate: dict[str, int]  # level -> minutes
    filed_at: datetime
    effective_at: datetime | None
    reason: str  # a rejection's
    signed: tuple[Signed, ...]

    @property
    def estimate_minutes(self) -> int:
        return sum(self.estimate.values())


@dataclass(frozen=True)
class DeliverableRow:
    ref: str
    name: str
    link: str
    status: str
    submitted_at: datetime
    decided_at: datetime | None
    decided_by: str
    reason: str


@dataclass(frozen=True)
class DelayRow:
    task: str
    title: str
    version: int
    old_date: date | None
    new_date: date
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True)
class BlockerRow:
    ref: str
    description: str
    owner: str
    opened_at: datetime
    cleared_at: datetime | None
    note: str
    age_minutes: int  # working minutes open (until cleared)


@dataclass(frozen=True)
class TrainingRow:
    topic: str
    held_on: date
    attendees: str
    manual: str


@dataclass(frozen=True)
class Records:
    changes: tuple[ChangeRow, ...]
    deliverables: tuple[DeliverableRow, ...]
    delays: tuple[DelayRow, ...]
    blockers: tuple[BlockerRow, ...]
    training: tuple[TrainingRow, ...]
    statements: tuple[tuple[str, str], ...]  # (month, status) of months closed or locked


def names(session: Session, engagement_id: int) -> dict[int, str]:
    rows = session.execute(
        select(col(Person.id), col(Person.name)).where(col(Person.engagement_id) == engagement_id)
    ).all()
    return {int(i): str(n) for i, n in rows}


def records(session: Session, engagement: Engagement, now: datetime) -> Records:
    engagement_id = engagement.id or 0
    people = names(session, engagement_id)
    return Records(
        changes=_changes(session, engagement_id, people),
        deliverables=_deliverables(session, engagement_id, people),
        delays=_delays(session, engagement_id, people),
        blockers=_blockers(session, engagement, people, now),
        training=_training(session, engagement_id),
        statements=statement_months(session, engagement_id),
    )  # fmt: skip


def _changes(session: Session, engagement_id: int, people: dict[int, str]) -> tuple[ChangeRow, ...]:
    crs = list(session.execute(
        select(ChangeRequest).where(col(ChangeRequest.engagement_id) == engagement_id)
        .order_by(col(ChangeRequest.number).desc()).limit(LIST_LIMIT)
    ).scalars())  # fmt: skip
    refs = [cr.ref for cr in crs]
    signed: dict[str, list[Signed]] = {}
    if refs:
        rows = session.execute(
            select(Signature)
            .where(col(Signature.engagement_id) == engagement_id, col(Signature.subject).in_(refs),
                   col(Signature.voided_at).is_(None))
            .order_by(col(Signature.id))
        ).scalars()  # fmt: skip
        for row in rows:
            signed.setdefault(row.subject, []).append(
                Signed(people.get(row.person_id, "—"), row.party, row.at)
            )
    return tuple(
        ChangeRow(cr.ref, cr.title, cr.status, {k: int(v) for k, v in cr.estimate.items()},
                  cr.filed_at, cr.effective_at, cr.rejected_reason, tuple(signed.get(cr.ref, ())))
        for cr in crs
    )  # fmt: skip


def _deliverables(session: Session, engagement_id: int,
                  people: dict[int, str]) -> tuple[DeliverableRow, ...]:  # fmt: skip
    rows = session.execute(
        select(Deliverable).where(col(Deliverable.engagement_id) == engagement_id)
        .order_by(col(Deliverable.number).desc()).limit(LIST_LIMIT)
    ).scalars()  # fmt: skip
    return tuple(
        DeliverableRow(d.ref, d.name, d.link, d.status, d.submitted_at, d.decided_at,
                       people.get(d.decided_by_id or 0, ""), d.reason)
        for d in rows
    )  # fmt: skip


def _delays(session: Session, engagement_id: int, people: dict[int, str]) -> tuple[DelayRow, ...]:
    rows = session.execute(
        select(PlanChange, col(Task.number), col(Task.title))
        .join(Task, col(Task.id) == col(PlanChange.task_id))
        .where(col(Task.engagement_id) == engagement_id)
        .order_by(col(PlanChange.id).desc()).limit(LIST_LIMIT)
    ).all()  # fmt: skip
    return tuple(
        DelayRow(f"K-{number}", str(title), change.version, change.old_date, change.new_date,
                 change.reason, people.get(change.person_id, "—"), change.at)
        for change, number, title in rows
    )  # fmt: skip


def _blockers(session: Session, engagement: Engagement, people: dict[int, str],
              now: datetime) -> tuple[BlockerRow, ...]:  # fmt: skip
    """Open blockers first (oldest first), then the most recently cleared."""
    engagement_id = engagement.id or 0
    calendar = policy_of(engagement).calendar
    still = session.execute(
        select(Blocker).where(col(Blocker.engagement_id) == engagement_id,
                              col(Blocker.cleared_at).is_(None))
        .order_by(col(Blocker.opened_at)).limit(LIST_LIMIT)
    ).scalars()  # fmt: skip
    cleared = session.execute(
        select(Blocker).where(col(Blocker.engagement_id) == engagement_id,
                              col(Blocker.cleared_at).is_not(None))
        .order_by(col(Blocker.cleared_at).desc()).limit(LIST_LIMIT // 2)
    ).scalars()  # fmt: skip
    return tuple(
        BlockerRow(b.ref, b.description, people.get(b.owner_id or 0, "—"), b.opened_at,
                   b.cleared_at, b.note, blocker_rules.age_minutes(b, calendar, now))
        for b in [*still, *cleared]
    )  # fmt: skip


def _training(session: Session, engagement_id: int) -> tuple[TrainingRow, ...]:
    rows = session.execute(
        select(Training).where(col(Training.engagement_id) == engagement_id)
        .order_by(col(Training.held_on).desc(), col(Training.id).desc()).limit(LIST_LIMIT)
    ).scalars()  # fmt: skip
    return tuple(TrainingRow(t.topic, t.held_on, t.attendees, t.manual) for t in rows)


def statement_months(session: Session, engagement_id: int) -> tuple[tuple[str, str], ...]:
    """Months closed by the PM or locked by both: their statements may be downloaded."""
    rows = session.execute(
        select(col(Period.month), col(Period.status))
        .where(col(Period.engagement_id) == engagement_id,
               col(Period.status).in_((period_life.CLOSED, period_life.LOCKED)))
        .order_by(col(Period.month).desc())
    ).all()  # fmt: skip
    return tuple((str(m), str(s)) for m, s in rows)


def term_months(engagement: Engagement) -> list[str]:
    """Every month the engagement's term touches, first to last."""
    months, day = [], engagement.start_date.replace(day=1)
    while day <= engagement.end_date:
        months.append(f"{day:%Y-%m}")
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def month_of(engagement: Engagement, word: str | None, today: date) -> str | None:
    """`word` if it is a month of the term (strictly YYYY-MM); without one, today's month
    (the nearest of the term). None: not a month of the term."""
    months = term_months(engagement)
    if word is None or word == "":
        current = f"{today:%Y-%m}"
        return min(max(current, months[0]), months[-1])
    if len(word) != 7 or word not in months:
        return None
    return word


def month_span(month: str) -> tuple[date, date]:
    return statement.month_bounds(month)
