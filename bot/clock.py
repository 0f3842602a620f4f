"""The one clock (invariant 3). All code asks `now()`; `--now` / `RENTIAN_NOW` or tests set it.

Times are aware datetimes in UTC; they are shown in an engagement's time zone at the edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_fixed: datetime | None = None


def now() -> datetime:
    """The current time, UTC, aware: the fixed time when one is set, else the real clock."""
    return _fixed if _fixed is not None else datetime.now(UTC)


def set_now(moment: datetime | str | None) -> None:
    """Fix the clock at `moment` (ISO-8601 text or a datetime); None returns to real time.

    A time without an offset is read as UTC.
    """
    global _fixed
    _fixed = None if moment is None else parse_instant(moment)


def advance(delta: timedelta) -> datetime:
    """Move a fixed clock forward (tests and demos); the real clock cannot be moved."""
    global _fixed
    if _fixed is None:
        raise RuntimeError("the clock is not fixed; set_now() first")
    _fixed = _fixed + delta
    return _fixed


@contextmanager
def frozen(moment: datetime | str) -> Iterator[datetime]:
    """Fix the clock for a block, then restore what it was."""
    global _fixed
    before = _fixed
    set_now(moment)
    try:
        yield now()
    finally:
        _fixed = before


def parse_instant(moment: datetime | str) -> datetime:
    """ISO-8601 text (a trailing Z allowed) or a datetime, as an aware UTC datetime."""
    value = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def local(moment: datetime, timezone: str) -> datetime:
    """`moment` in the given IANA time zone."""
    return as_utc(moment).astimezone(ZoneInfo(timezone))


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value (as SQLite returns) is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
