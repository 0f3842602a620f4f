"""The demo engagement, dated around the day it is first created.

`config/demo-engagement.toml` is written with fixed dates, as a model to copy. `rentian init
--demo` moves them so that the demo's term runs from the first day of the previous month for
six months: whatever today is, last month can be closed, this month has work to log and the
end is months away. Once created the demo keeps its dates; applying it again changes nothing.
"""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date

from handlers.sow import CalendarSpec, EngagementSpec

TERM_MONTHS = 6


def demo_start(today: date) -> date:
    """The first day of the month before `today`'s."""
    return _add_months(today.replace(day=1), -1)


def dated(spec: EngagementSpec, start: date) -> EngagementSpec:
    """`spec` moved by whole months so that it starts on `start` (a first of the month) and
    runs TERM_MONTHS; its own holidays and workdays move with it."""
    months = (start.year - spec.start.year) * 12 + start.month - spec.start.month
    end = date.fromordinal(_add_months(start, TERM_MONTHS).toordinal() - 1)
    moved = CalendarSpec(
        business_start=spec.calendar.business_start,
        business_end=spec.calendar.business_end,
        holidays=tuple(_add_months(day, months) for day in spec.calendar.holidays),
        workdays=tuple(_add_months(day, months) for day in spec.calendar.workdays),
    )
    return replace(spec, start=start, end=end, calendar=moved)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))
