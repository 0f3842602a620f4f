"""Durations as people write them (`0.5d`, `4h`, `90m`, `1h30m`, `半天`, `1天`, `2小时`), exact.

A duration is kept as a `Fraction` of days, hours and minutes until it is turned into
integer minutes for a given length of the working day (invariant 4: no floats).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

_UNITS = {
    "d": "d", "day": "d", "days": "d", "天": "d", "人天": "d", "日": "d",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h", "小时": "h", "时": "h",
    "个小时": "h",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m", "分钟": "m", "分": "m",
}  # fmt: skip
_CN_NUMBERS = {
    "半": Fraction(1, 2), "一": Fraction(1), "两": Fraction(2), "二": Fraction(2),
    "三": Fraction(3), "四": Fraction(4), "五": Fraction(5), "六": Fraction(6),
    "七": Fraction(7), "八": Fraction(8), "九": Fraction(9), "十": Fraction(10),
}  # fmt: skip
_UNIT_PATTERN = "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True))
_NUMBER_PATTERN = r"\d+(?:\.\d+)?|\.\d+|[半一两二三四五六七八九十]"
_PART = re.compile(rf"({_NUMBER_PATTERN})\s*({_UNIT_PATTERN})")
_MAX_DIGITS = 12
# A token meaning more than this many minutes even on the shortest person-day an engagement may
# have (1 hour) is a typo on every engagement, not a duration: `999999999999d` gets the usage
# line, and no later arithmetic or column sees it. The domain's own, tighter bounds (one log
# entry, one estimate) are in handlers/limits.py.
MAX_MINUTES = 10**6


@dataclass(frozen=True)
class Duration:
    """An exact amount of time as written: days (of the working day), hours and minutes."""

    days: Fraction = Fraction(0)
    hours: Fraction = Fraction(0)
    minutes: Fraction = Fraction(0)

    def exact_minutes(self, hours_per_day: int) -> Fraction:
        return (self.days * hours_per_day + self.hours) * 60 + self.minutes

    def to_minutes(self, hours_per_day: int) -> int | None:
        """Whole minutes for a working day of `hours_per_day` hours; None if not whole."""
        total = self.exact_minutes(hours_per_day)
        return int(total) if total.denominator == 1 else None


def _number(text: str) -> Fraction:
    return _CN_NUMBERS[text] if text in _CN_NUMBERS else Fraction(text)


def parse_duration(text: str) -> Duration | None:
    """Parse one duration token; None if it is not one.

    Accepts a sequence of number+unit parts (`1d4h`, `1h30m`), half-width or full-width,
    with Chinese units and the small Chinese numerals people type (`半天`, `两小时`),
    plus `半小时` and a bare `半天`. Negative amounts are not durations, nor amounts beyond
    `MAX_MINUTES`.
    """
    token = unicodedata.normalize("NFKC", text).strip().lower()
    if not token or len(token) > 40:
        return None
    if token == "半小时":
        return Duration(hours=Fraction(1, 2))
    parts: dict[str, Fraction] = {"d": Fraction(0), "h": Fraction(0), "m": Fraction(0)}
    position = 0
    for match in _PART.finditer(token):
        if match.start() != position:
            return None
        number, unit = match.groups()
        if len(number) > _MAX_DIGITS:
            return None
        parts[_UNITS[unit]] += _number(number)
        position = match.end()
    if position == 0 or position != len(token):
        return None
    duration = Duration(days=parts["d"], hours=parts["h"], minutes=parts["m"])
    return None if duration.exact_minutes(hours_per_day=1) > MAX_MINUTES else duration


def parse_minutes(text: str, hours_per_day: int) -> int | None:
    """A duration token straight to whole minutes, or None."""
    duration = parse_duration(text)
    return None if duration is None else duration.to_minutes(hours_per_day)


def format_person_days(minutes: int, hours_per_day: int) -> str:
    """Person-days with at most three decimals, trailing zeros dropped (`1.5`, `0.125`)."""
    if minutes < 0:
        return "-" + format_person_days(-minutes, hours_per_day)
    days = Fraction(minutes, hours_per_day * 60)
    whole, rest = divmod(days.numerator, days.denominator)
    thousandths = round(Fraction(rest * 1000, days.denominator))
    if thousandths == 1000:
        whole, thousandths = whole + 1, 0
    return f"{whole}.{thousandths:03d}".rstrip("0").rstrip(".") if thousandths else str(whole)


def format_minutes(minutes: int, locale: str = "zh-CN") -> str:
    """A span of time for people: `2小时30分` / `2h 30m`, `3天4小时` / `3d 4h` (24-hour days)."""
    sign = "-" if minutes < 0 else ""
    days, rest = divmod(abs(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    if locale == "en":
        parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (mins, "m")) if v]
        return sign + (" ".join(parts) or "0m")
    parts = [f"{v}{u}" for v, u in ((days, "天"), (hours, "小时"), (mins, "分")) if v]
    return sign + ("".join(parts) or "0分")


def format_span(minutes: int, locale: str = "zh-CN") -> str:
    """Counted working time in hours and minutes (`13小时30分` / `13h 30m`): no days, because a
    business day is not 24 hours."""
    sign = "-" if minutes < 0 else ""
    hours, mins = divmod(abs(minutes), 60)
    if locale == "en":
        parts = [f"{v}{u}" for v, u in ((hours, "h"), (mins, "m")) if v]
        return sign + (" ".join(parts) or "0m")
    parts = [f"{v}{u}" for v, u in ((hours, "小时"), (mins, "分")) if v]
    return sign + ("".join(parts) or "0分")
