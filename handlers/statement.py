"""The monthly person-day statement (人天结算单) as data: built from the database, hashed for
the audit log when both parties sign, rendered by `statement_export` to xlsx or csv."""

from __future__ import annotations

import calendar as month_calendar
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from domain.catalog import LEVELS
from domain.policy import policy_of
from domain.workcalendar import BusinessCalendar
from handlers import signatures
from storage.audit import canonical
from storage.models import Engagement, Person, WorkLog


@dataclass(frozen=True)
class StatementDay:
    day: date
    working: bool
    mark: str  # "" for an ordinary day, "休" a day off on a weekday, "班" a make-up working day


@dataclass(frozen=True)
class StatementRow:
    """One person's month: minutes per calendar day (days without work are absent)."""

    person_key: str
    name: str
    level: str
    minutes_by_day: dict[date, int]

    @property
    def total_minutes(self) -> int:
        return sum(self.minutes_by_day.values())


@dataclass(frozen=True)
class StatementEntry:
    id: int
    work_date: date
    person_key: str
    name: str
    level: str
    minutes: int
    target_kind: str
    target_ref: str
    note: str
    kind: str  # entry | adjustment
    overtime: bool


@dataclass(frozen=True)
class LevelPosition:
    """The budget of one level after the month."""

    level: str
    contracted_minutes: int
    used_before_minutes: int  # before the month
    month_minutes: int

    @property
    def used_after_minutes(self) -> int:
        return self.used_before_minutes + self.month_minutes

    @property
    def left_minutes(self) -> int:
        return self.contracted_minutes - self.used_after_minutes


@dataclass(frozen=True)
class Signature:
    name: str
    at: datetime


@dataclass(frozen=True)
class Statement:
    code: str
    name: str
    client: str
    vendor: str
    month: str  # YYYY-MM
    timezone: str
    locale: str
    hours_per_day: int
    days: tuple[StatementDay, ...]
    rows: tuple[StatementRow, ...]
    entries: tuple[StatementEntry, ...]
    levels: tuple[LevelPosition, ...]
    closed: Signature | None = None
    confirmed: Signature | None = None

    @property
    def total_minutes(self) -> int:
        return sum(row.total_minutes for row in self.rows)

    def level_minutes(self, level: str) -> int:
        return sum(row.total_minutes for row in self.rows if row.level == level)

    @property
    def content_hash(self) -> str:
        """sha256 of what the parties sign: every entry and the totals (not the signatures)."""
        content = {
            "engagement": self.code, "month": self.month,
            "entries": [[e.id, e.work_date.isoformat(), e.person_key, e.level, e.minutes,
                         e.target_kind, e.target_ref, e.note, e.kind] for e in self.entries],
            "totals": {row.person_key: row.total_minutes for row in self.rows},
        }  # fmt: skip
        return hashlib.sha256(canonical(content).encode()).hexdigest()


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of `YYYY-MM`; ValueError if it is not a month."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1), date(year, number, month_calendar.monthrange(year, number)[1])


_MONTH_WORDS = {"本月": 0, "this": 0, "上月": -1, "上个月": -1, "last": -1, "previous": -1}


def month_named(word: str, today: date) -> str:
    """`YYYY-MM` (also `2026/11`, `2026.11`), or a month relative to `today`: `上月`/`last`,
    `本月`/`this`. ValueError if `word` is none of these."""
    word = word.strip().lower()
    if word in _MONTH_WORDS:
        first = today.replace(day=1)
        if _MONTH_WORDS[word] < 0:
            first = (first - timedelta(days=1)).replace(day=1)
        return f"{first:%Y-%m}"
    first, _ = month_bounds(word.replace("/", "-").replace(".", "-"))
    return f"{first:%Y-%m}"


def build(session: Session, engagement: Engagement, month: str) -> Statement:
    first, last = month_bounds(month)
    business = policy_of(engagement).calendar
    people = {
        p.id: p
        for p in session.execute(
            select(Person).where(col(Person.engagement_id) == engagement.id)
        ).scalars()
    }
    logs = list(session.execute(
        select(WorkLog).where(
            col(WorkLog.engagement_id) == engagement.id, col(WorkLog.voided_at).is_(None),
            col(WorkLog.work_date) >= first, col(WorkLog.work_date) <= last,
        ).order_by(col(WorkLog.work_date), col(WorkLog.id))
    ).scalars())  # fmt: skip
    entries = tuple(_entry(log, people[log.person_id]) for log in logs)
    rows: dict[tuple[str, str], dict[date, int]] = {}
    for entry in entries:
        days = rows.setdefault((entry.person_key, entry.level), {})
        days[entry.work_date] = days.get(entry.work_date, 0) + entry.minutes
    names = {p.key: p.name for p in people.values()}
    signed = signatures.by_party(session, engagement.id or 0, month)  # the month's close
    closing, confirming = signed.get("vendor"), signed.get("client")
    return Statement(
        code=engagement.code, name=engagement.name, client=engagement.client, vendor=engagement.vendor,
        month=month, timezone=engagement.timezone, locale=engagement.locale,
        hours_per_day=engagement.hours_per_day,
        days=tuple(_day(business, first.replace(day=n)) for n in range(1, last.day + 1)),
        rows=tuple(StatementRow(key, names[key], level, days)
                   for (key, level), days in sorted(rows.items(), key=lambda item: _row_order(item[0]))),
        entries=entries,
        levels=_levels(session, engagement, first, entries),
        closed=_signature(session, closing.person_id, closing.at) if closing else None,
        confirmed=_signature(session, confirming.person_id, confirming.at) if confirming else None,
    )  # fmt: skip


def _row_order(key: tuple[str, str]) -> tuple[int, str]:
    person, level = key
    order = list(LEVELS)
    return (-order.index(level) if level in order else 0, person)


def _entry(log: WorkLog, person: Person) -> StatementEntry:
    return StatementEntry(
        id=log.id or 0, work_date=log.work_date, person_key=person.key, name=person.name,
        level=log.level, minutes=log.minutes, target_kind=log.target_kind, target_ref=log.target_ref,
        note=log.note, kind=log.kind, overtime=log.overtime,
    )  # fmt: skip


def _day(business: BusinessCalendar, day: date) -> StatementDay:
    working = business.is_working_day(day)
    weekend = day.weekday() >= 5
    mark = "班" if working and weekend else ("休" if not working and not weekend else "")
    return StatementDay(day, working, mark)


def _levels(session: Session, engagement: Engagement, first: date,
            entries: tuple[StatementEntry, ...]) -> tuple[LevelPosition, ...]:  # fmt: skip
    before: dict[str, int | None] = {level: minutes for level, minutes in session.execute(
        select(col(WorkLog.level), func.sum(col(WorkLog.minutes)))
        .where(col(WorkLog.engagement_id) == engagement.id, col(WorkLog.voided_at).is_(None),
               col(WorkLog.work_date) < first)
        .group_by(col(WorkLog.level))
    ).all()}  # fmt: skip
    from handlers.budget import contracted  # the one place change requests add to the budget

    budget = contracted(session, engagement)
    return tuple(
        LevelPosition(level, budget.get(level, 0), int(before.get(level) or 0),
                      sum(e.minutes for e in entries if e.level == level))
        for level in LEVELS
    )  # fmt: skip


def _signature(session: Session, person_id: int | None, at: datetime | None) -> Signature | None:
    if person_id is None or at is None:
        return None
    person = session.get(Person, person_id)
    return Signature(person.name if person else "?", at)
