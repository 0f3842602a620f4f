"""The timesheet heat map: minutes logged per person and day of one month (voided entries
excluded, adjustments counted on their day), from the sums SQL took by day and person."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from domain.catalog import LEVELS
from domain.policy import policy_of
from storage.models import Engagement, Person
from web.views.engagement import DayWork


@dataclass(frozen=True)
class PersonMonth:
    key: str
    name: str
    level: str
    minutes: tuple[int, ...]  # one per day of the month

    @property
    def total(self) -> int:
        return sum(self.minutes)


@dataclass(frozen=True)
class Timesheet:
    month: str
    days: tuple[date, ...]
    working: tuple[bool, ...]
    people: tuple[PersonMonth, ...]
    hours_per_day: int

    @property
    def total(self) -> int:
        return sum(p.total for p in self.people)


def timesheet(session: Session, engagement: Engagement, first: date, last: date,
              work: Iterable[DayWork]) -> Timesheet:  # fmt: skip
    """Everyone who logged in the month, and every active person with a level (engineers);
    `work` is the engagement's work by day (`engagement.work_by_day`)."""
    engagement_id = engagement.id or 0
    days = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
    by_person: dict[int, dict[date, int]] = {}
    for item in work:
        if first <= item.day <= last:
            logged = by_person.setdefault(item.person_id, {})
            logged[item.day] = logged.get(item.day, 0) + item.minutes
    people = session.execute(
        select(Person).where(col(Person.engagement_id) == engagement_id)
    ).scalars()  # fmt: skip
    rows = []
    for person in people:
        logged = by_person.get(person.id or 0, {})
        if not logged and not (person.active and person.level):
            continue
        rows.append(PersonMonth(person.key, person.name, person.level or "",
                                tuple(logged.get(day, 0) for day in days)))  # fmt: skip
    order = list(LEVELS)
    rows.sort(key=lambda p: (-order.index(p.level) if p.level in order else 1, p.key))
    business = policy_of(engagement).calendar
    return Timesheet(f"{first:%Y-%m}", days, tuple(business.is_working_day(d) for d in days),
                     tuple(rows), engagement.hours_per_day)  # fmt: skip
