"""Working-time calendars for SLA clocks: "24x7" counts every minute, "business" counts working
hours on Chinese working days (statutory holidays and 调休 from `chinese-calendar`). Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

from domain.catalog import DEFAULT_BUSINESS_HOURS

_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
# A calendar with no working day in ~3 years is misconfigured; stop instead of looping forever.
_MAX_SCAN_DAYS = 3 * 366
_HOURS = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
# Years to probe for package data: nothing before the PRC's holiday rules, nothing absurd after.
_PROBE_YEARS = range(1949, 2200)


class WorkCalendar(Protocol):
    """Counted time: what an SLA clock runs on."""

    def add(self, start: datetime, minutes: int) -> datetime: ...
    def between(self, start: datetime, end: datetime) -> int: ...
    def next_open(self, moment: datetime) -> datetime: ...
    def is_open(self, moment: datetime) -> bool: ...


class AlwaysOpen:
    """The "24x7" calendar: every minute counts."""

    def add(self, start: datetime, minutes: int) -> datetime:
        _check_minutes(minutes)
        return _utc(start) + minutes * _MINUTE

    def between(self, start: datetime, end: datetime) -> int:
        return max(_utc(end) - _utc(start), timedelta(0)) // _MINUTE

    def next_open(self, moment: datetime) -> datetime:
        return _utc(moment)

    def is_open(self, moment: datetime) -> bool:
        _utc(moment)
        return True


class BusinessCalendar:
    """The "business" calendar: wall-clock working hours, in `timezone`, on working days."""

    def __init__(
        self,
        timezone: str = "Asia/Shanghai",
        start: time = time(9),
        end: time = time(18),
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
    ) -> None:
        self._zone = _zone(timezone)
        self._start, self._end = _check_hours(start, end)
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)
        self.unknown_years: set[int] = set()

    @property
    def day_minutes(self) -> int:
        """Length of a working day in minutes (540 for 09:00-18:00)."""
        return _minute_of_day(self._end) - _minute_of_day(self._start)

    def is_working_day(self, day: date) -> bool:
        """Engagement workdays, then engagement holidays, then the package, then Monday-Friday."""
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        statutory = _statutory_workday(day)
        if statutory is None:
            self.unknown_years.add(day.year)
            return day.weekday() < 5
        return statutory

    def listed_in(self, year: int) -> int:
        """How many of the engagement's own holidays and workdays fall in `year`."""
        return sum(1 for day in (*self._holidays, *self._workdays) if day.year == year)

    def add_working_days(self, day: date, days: int) -> date:
        """`day` rolled forward to a working day, then `days` working days later."""
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        result = day if self.is_working_day(day) else self._next_working_day(day)
        for _ in range(days):
            result = self._next_working_day(result)
        return result

    def is_open(self, moment: datetime) -> bool:
        moment = _utc(moment)
        day = self._local_day(moment)
        if not self.is_working_day(day):
            return False
        opens, closes = self._window(day)
        return opens <= moment < closes

    def next_open(self, moment: datetime) -> datetime:
        moment = _utc(moment)
        day = self._local_day(moment)
        if self.is_working_day(day):
            opens, closes = self._window(day)
            if moment < closes:
                return max(moment, opens)
        return self._window(self._next_working_day(day))[0]

    def add(self, start: datetime, minutes: int) -> datetime:
        """The moment `minutes` of working time after `start` (counting from next_open(start))."""
        _check_minutes(minutes)
        remaining = minutes * _MINUTE
        moment = self.next_open(start)
        day = self._local_day(moment)
        closes = self._window(day)[1]
        while remaining > closes - moment:  # each pass uses up the rest of one working day
            remaining -= closes - moment
            day = self._next_working_day(day)
            moment, closes = self._window(day)
        return moment + remaining

    def between(self, start: datetime, end: datetime) -> int:
        """Whole working minutes in [start, end), rounded down; 0 if end <= start."""
        end = _utc(end)
        counted = timedelta(0)
        moment = self.next_open(start)
        day = self._local_day(moment)
        closes = self._window(day)[1]
        while moment < end:
            counted += min(closes, end) - moment
            day = self._next_working_day(day)
            moment, closes = self._window(day)
        return counted // _MINUTE

    def _next_working_day(self, day: date) -> date:
        for offset in range(1, _MAX_SCAN_DAYS + 1):
            candidate = day + offset * _DAY
            if self.is_working_day(candidate):
                return candidate
        raise ValueError(f"no working day within {_MAX_SCAN_DAYS} days after {day}")

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self._zone).date()

    def _window(self, day: date) -> tuple[datetime, datetime]:
        # Built per day from wall-clock times, so a DST change moves the hours with the clock.
        opens = datetime.combine(day, self._start, self._zone).astimezone(UTC)
        closes = datetime.combine(day, self._end, self._zone).astimezone(UTC)
        return opens, closes


def calendar_for(
    kind: str,
    *,
    timezone: str,
    business_hours: str = DEFAULT_BUSINESS_HOURS,
    holidays: Iterable[date] = (),
    workdays: Iterable[date] = (),
) -> WorkCalendar:
    """The calendar an SLA target names: "24x7" or "business"."""
    if kind == "24x7":
        return AlwaysOpen()
    if kind == "business":
        start, end = _parse_business_hours(business_hours)
        return BusinessCalendar(timezone, start, end, holidays, workdays)
    raise ValueError(f"unknown calendar {kind!r}; expected '24x7' or 'business'")


def _parse_business_hours(text: str) -> tuple[time, time]:
    """'09:00-18:00' -> (time(9), time(18)); ValueError if malformed or not start < end."""
    match = _HOURS.fullmatch(text.strip())
    if not match:
        raise ValueError(f"business hours must look like 'HH:MM-HH:MM', got {text!r}")
    hour1, minute1, hour2, minute2 = (int(part) for part in match.groups())
    try:
        start, end = time(hour1, minute1), time(hour2, minute2)
    except ValueError:
        raise ValueError(f"business hours {text!r} are not valid times of day") from None
    return _check_hours(start, end, text)


@cache
def known_years() -> range:
    """The years chinese-calendar has holiday data for (probed: it raises for other years)."""
    known = [year for year in _PROBE_YEARS if _package_knows(year)]
    if not known:
        return range(0)
    return range(known[0], known[-1] + 1)


def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=16384)
def _statutory_workday(day: date) -> bool | None:
    """The package's answer, or None for a year it has no data for."""
    if day.year not in known_years():
        return None
    return bool(chinese_calendar.is_workday(day))


def _check_hours(start: time, end: time, text: str = "") -> tuple[time, time]:
    shown = text or f"{start:%H:%M}-{end:%H:%M}"
    if (
        start.tzinfo
        or end.tzinfo
        or start.second
        or end.second
        or start.microsecond
        or end.microsecond
    ):
        raise ValueError(f"business hours must be whole minutes of wall-clock time, got {shown!r}")
    if start >= end:
        raise ValueError(f"business hours must end after they start (same day), got {shown!r}")
    return start, end


def _check_minutes(minutes: int) -> None:
    if minutes < 0:
        raise ValueError(f"minutes must be >= 0, got {minutes}")


def _minute_of_day(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
