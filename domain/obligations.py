"""The SOW's recurring obligations (定期义务): health checks, security patches, upgrade windows,
training. Pure: the rules read back from the engagement's `rules["obligations"]`, the due dates
each recurrence gives on the business calendar within the engagement's term, when each notice
about an occurrence is due (remind the owner, say it is overdue, escalate), and whether it was
met on time, late or missed.

An obligation may be an upgrade window (`window = { start = "22:00", hours = 4 }`): on its due
date it runs from `start` for `hours`, in the engagement's time zone. Both parties sign its plan
before it starts; at the start the chat is told it begins — or, unsigned, that it must not; at
the end the vendor is asked for the result and the client for the acknowledgement. Those three
notices go out at their moment, whatever the hour: a window is usually at night.

Due dates are business days: "monthly on the first working day" is the first day of the month
the calendar (statutory holidays, 调休 make-up days, the engagement's own lists) counts as a
working day; a fixed day of the month (1..28) or a weekday that is not a working day moves to
the next one. Explicit dates stay as written. Notices go out at the opening of business hours
of the working day they fall on, so nobody is told at 3 a.m. or on a holiday.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

EVERY: Final = ("monthly", "quarterly", "weekly", "dates")
MONTH_DAYS: Final = ("first_working_day", "last_working_day")
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVIDENCE: Final = ("report", "acknowledgement", "both")
HORIZON_DAYS: Final = 90  # occurrences exist this far ahead (the job tops them up)
_DAY = timedelta(days=1)
_SCAN: Final = 40  # days to look for a working day before giving up (a month and some)

# Occurrence states: open (nothing recorded), submitted (evidence in, the client's
# acknowledgement awaited), done.
OPEN: Final = "open"
SUBMITTED: Final = "submitted"
DONE: Final = "done"

# Notices, each sent once per occurrence.
REMIND: Final = "remind"
OVERDUE: Final = "overdue"
ESCALATE: Final = "escalate"
# An upgrade window's notices, at their moment whatever the hour.
START: Final = "start"  # signed by both parties: it begins now
BLOCKED: Final = "blocked"  # its start came without both signatures: it must not begin
END: Final = "end"  # it began and is over: the result and the client's acknowledgement, please
WINDOW_HOURS_MAX: Final = 12

# Compliance of one occurrence.
ON_TIME: Final = "on_time"
LATE: Final = "late"
MISSED: Final = "missed"
PENDING: Final = "pending"  # not yet due, or due and still within its grace period


class Calendar(Protocol):
    """What the rules need of the business calendar (`domain.workcalendar.BusinessCalendar`)."""

    def is_working_day(self, day: date) -> bool: ...
    def next_open(self, moment: datetime) -> datetime: ...


@dataclass(frozen=True, kw_only=True)
class Obligation:
    """One `[[obligations]]` entry of the engagement file, as validated."""

    key: str
    service: str
    title: str
    owner: str  # a role, or a person's id (the file's `people.id`)
    every: str  # monthly | quarterly | weekly | dates
    day: str = "first_working_day"  # first/last_working_day, "1".."28", or mon..sun
    dates: tuple[date, ...] = ()
    evidence: str = "report"
    remind_days: int = 3
    grace_days: int = 2
    window_start: str = ""  # an upgrade window: "HH:MM" local time on the due date …
    window_hours: int = 0  # … for this many hours (1..WINDOW_HOURS_MAX); 0: not a window

    @property
    def is_window(self) -> bool:
        return self.window_hours > 0

    @property
    def needs_link(self) -> bool:
        """Its evidence is a report: an http(s) link to it is required."""
        return self.evidence in ("report", "both")

    @property
    def needs_ack(self) -> bool:
        """Done only when the client approver acknowledges it (an upgrade window always)."""
        return self.is_window or self.evidence in ("acknowledgement", "both")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Obligation:
        span = data.get("window") or {}
        return cls(
            key=str(data["key"]), service=str(data["service"]), title=str(data["title"]),
            owner=str(data["owner"]), every=str(data["every"]), day=str(data.get("day", "")),
            dates=tuple(date.fromisoformat(d) for d in data.get("dates", ())),
            evidence=str(data.get("evidence", "report")),
            remind_days=int(data.get("remind_days", 3)), grace_days=int(data.get("grace_days", 2)),
            window_start=str(span.get("start", "")), window_hours=int(span.get("hours", 0)),
        )  # fmt: skip


def obligations_of(rules: Mapping[str, Any] | None) -> tuple[Obligation, ...]:
    """The engagement's obligations from its `rules` (none when the file has no section)."""
    section = (rules or {}).get("obligations") or {}
    return tuple(Obligation.from_json(item) for item in section.get("items", ()))


# -- due dates --------------------------------------------------------------------------------


def due_dates(ob: Obligation, cal: Calendar, start: date, end: date) -> list[date]:
    """The obligation's due dates from `start` to `end` (both inclusive), soonest first."""
    if end < start:
        return []
    if ob.every == "dates":
        return [d for d in ob.dates if start <= d <= end]
    if ob.every == "weekly":
        return _weekly(ob.day, cal, start, end)
    months = (1, 4, 7, 10) if ob.every == "quarterly" else tuple(range(1, 13))
    found: list[date] = []
    for year, month in _months(start - timedelta(days=31), end):
        if month in months:
            day = month_day(ob.day, cal, year, month)
            if day is not None and start <= day <= end:
                found.append(day)
    return found


def month_day(rule: str, cal: Calendar, year: int, month: int) -> date | None:
    """The month's due day by `rule`: its first or last working day, or the working day on
    or after day N. None if the month has no working day at all (a misconfigured calendar)."""
    first = date(year, month, 1)
    if rule == "last_working_day":
        day = _month_end(first)
        while day >= first:
            if cal.is_working_day(day):
                return day
            day -= _DAY
        return None
    if rule == "first_working_day":
        return next_working_day(cal, first, inclusive=True)
    return next_working_day(cal, date(year, month, int(rule)), inclusive=True)


def next_working_day(cal: Calendar, day: date, *, inclusive: bool) -> date | None:
    candidate = day if inclusive else day + _DAY
    for _ in range(_SCAN):
        if cal.is_working_day(candidate):
            return candidate
        candidate += _DAY
    return None


def working_days_before(cal: Calendar, day: date, count: int) -> date:
    """The working day `count` working days before `day` (`day` itself for 0)."""
    result = day
    for _ in range(count):
        result -= _DAY
        for _ in range(_SCAN):
            if cal.is_working_day(result):
                break
            result -= _DAY
    return result


def working_days_after(cal: Calendar, day: date, count: int) -> date:
    """The working day `count` working days after `day`."""
    result = day
    for _ in range(count):
        result = next_working_day(cal, result, inclusive=False) or result + _DAY
    return result


def _weekly(rule: str, cal: Calendar, start: date, end: date) -> list[date]:
    weekday = WEEKDAYS.index(rule) if rule in WEEKDAYS else 0
    day = start - timedelta(days=6)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    found: list[date] = []
    while day <= end:
        due = next_working_day(cal, day, inclusive=True)
        if due is not None and start <= due <= end and (not found or due > found[-1]):
            found.append(due)
        day += timedelta(days=7)
    return found


def _months(start: date, end: date) -> Iterator[tuple[int, int]]:
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _month_end(first: date) -> date:
    following = (
        date(first.year + 1, 1, 1) if first.month == 12 else first.replace(month=first.month + 1)
    )
    return following - _DAY


def window(
    today: date, term_start: date, term_end: date, days: int = HORIZON_DAYS
) -> tuple[date, date]:
    """The days whose occurrences should exist now: today to `days` ahead, within the term
    (empty, start > end, once the term is over)."""
    return max(today, term_start), min(today + timedelta(days=days), term_end)


# -- upgrade windows --------------------------------------------------------------------------


def window_span(ob: Obligation, due: date, timezone: str) -> tuple[datetime, datetime] | None:
    """When an upgrade window due on `due` starts and ends (UTC); None for other obligations."""
    if not ob.is_window:
        return None
    hour, minute = (int(part) for part in ob.window_start.split(":"))
    start = datetime.combine(due, time(hour, minute), ZoneInfo(timezone)).astimezone(UTC)
    return start, start + timedelta(hours=ob.window_hours)


def evidence_due(ob: Obligation, due: date, timezone: str) -> date:
    """The last day evidence is on time: the due date; for a window, the day it ends."""
    span = window_span(ob, due, timezone)
    return span[1].astimezone(ZoneInfo(timezone)).date() if span else due


# -- notices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Times:
    """When each notice about an occurrence is due (UTC)."""

    remind: datetime  # opening of the working day `remind_days` before the due date
    overdue: datetime  # opening of the first working day after the evidence was due
    escalate: datetime  # opening of the working day `grace_days` working days after that
    start: datetime | None = None  # an upgrade window's start and end
    end: datetime | None = None


def times(
    ob: Obligation, cal: Calendar, due: date, timezone: str, submitted_on: date | None = None
) -> Times:
    """When each notice is due. Evidence in (`submitted_on`) and awaiting the client's
    acknowledgement: the client has `grace_days` working days from then (at least one) before
    the escalation, however late the evidence came."""
    zone = ZoneInfo(timezone)

    def opening(day: date) -> datetime:
        return cal.next_open(datetime.combine(day, time(0), zone).astimezone(UTC))

    last = evidence_due(ob, due, timezone)
    first_late = next_working_day(cal, last, inclusive=False) or last + _DAY
    span = window_span(ob, due, timezone)
    escalate = opening(working_days_after(cal, first_late, ob.grace_days))
    if submitted_on is not None:
        answer_by = working_days_after(cal, submitted_on, max(ob.grace_days, 1))
        escalate = max(escalate, opening(answer_by))
    return Times(
        remind=opening(working_days_before(cal, due, ob.remind_days)),
        overdue=opening(first_late),
        escalate=escalate,
        start=span[0] if span else None,
        end=span[1] if span else None,
    )


@dataclass(frozen=True)
class Decision:
    """What the sweep does for an occurrence now: the notices to send (each once), and when
    to look at it again: at `next_check` (None: never — it is done, or every notice went out)
    or, `at_opening`, at the calendar's next opening if that comes first (a notice came due
    outside business hours)."""

    send: tuple[str, ...]
    next_check: datetime | None
    at_opening: bool = False


def decide(
    state: str,
    sent: frozenset[str],
    when: Times,
    now: datetime,
    is_open: bool,
    approved: bool = False,
) -> Decision:
    """The notices due for an occurrence in `state` with `sent` already out. A reminder that
    comes due after the occurrence is overdue is dropped (the overdue notice says more);
    outside business hours they wait for the next opening. An upgrade window (`when.start`)
    also has its start — or, not `approved` by both parties by then, its block — and its end,
    which go out at their moment whatever the hour."""
    if state == DONE:
        return Decision((), None)
    schedule = [(REMIND, when.remind), (OVERDUE, when.overdue), (ESCALATE, when.escalate)]
    if state == SUBMITTED:  # evidence is in: only the client's acknowledgement is awaited
        schedule = [(ESCALATE, when.escalate)]
    pending = [(notice, at) for notice, at in schedule if notice not in sent]
    due = [notice for notice, at in pending if at <= now]
    waiting = bool(due) and not is_open
    if waiting:
        due = []
    if REMIND in due and (OVERDUE in due or OVERDUE in sent):
        due.remove(REMIND)
    later = [at for notice, at in pending if at > now]
    timed = _window(sent, when, now, approved)
    if timed.next_check is not None:
        later.append(timed.next_check)
    return Decision((*timed.send, *due), min(later) if later else None, waiting)


def _window(sent: frozenset[str], when: Times, now: datetime, approved: bool) -> Decision:
    """An upgrade window's own notices due now, and when the next one is: the start (or the
    block, unsigned), then the end. A window that passed while nobody looked is told by its
    end alone."""
    if when.start is None or when.end is None or BLOCKED in sent or END in sent:
        return Decision((), None)
    if START in sent:
        return Decision((END,), None) if now >= when.end else Decision((), when.end)
    if now < when.start:
        return Decision((), when.start)
    if not approved:
        return Decision((BLOCKED,), None)
    return Decision((START,), when.end) if now < when.end else Decision((END,), None)


# -- compliance -------------------------------------------------------------------------------


def standing(due: date, performed_on: date | None, escalate_at: datetime, now: datetime) -> str:
    """On time (performed on or before the day its evidence was due — `evidence_due`), late
    (after it), missed (not performed and past its grace period), else pending."""
    if performed_on is not None:
        return ON_TIME if performed_on <= due else LATE
    return MISSED if now >= escalate_at else PENDING
