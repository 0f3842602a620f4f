"""Durations as people write them, exact to the minute; person-days shown with three decimals."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.durations import format_minutes, format_person_days, parse_duration, parse_minutes


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("1d", 480),
        ("0.5d", 240),
        ("半天", 240),
        ("1天", 480),
        ("1人天", 480),
        ("两天", 960),
        ("4h", 240),
        ("2小时", 120),
        ("半小时", 30),
        ("90m", 90),
        ("30分钟", 30),
        ("1h30m", 90),
        ("１ｄ", 480),
        ("0.125d", 60),
        ("1.5 h", 90),
        ("1D4H", 720),
    ],
)
def test_parse_minutes(text: str, minutes: int) -> None:
    assert parse_minutes(text, hours_per_day=8) == minutes


@pytest.mark.parametrize(
    "text", ["", "d", "4", "-1h", "1x", "h4", "1h 2x", "1e3h", "nan h", "1/2d"]
)
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_day_length_is_the_engagements() -> None:
    assert parse_minutes("1d", hours_per_day=7) == 420
    assert parse_minutes("0.1d", hours_per_day=7) == 42
    assert parse_minutes("0.01h", hours_per_day=8) is None  # 0.6 minutes: not whole


def test_format_person_days() -> None:
    assert format_person_days(480, 8) == "1"
    assert format_person_days(720, 8) == "1.5"
    assert format_person_days(60, 8) == "0.125"
    assert format_person_days(20, 8) == "0.042"
    assert format_person_days(98400, 8) == "205"
    assert format_person_days(-90, 8) == "-0.188" and format_person_days(-480, 8) == "-1"


def test_format_minutes() -> None:
    assert format_minutes(150) == "2小时30分" and format_minutes(150, "en") == "2h 30m"
    assert format_minutes(0, "en") == "0m" and format_minutes(-61) == "-1小时1分"
    assert format_minutes(1440 * 3 + 60, "en") == "3d 1h"


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=24))
def test_minutes_round_trip_through_text(minutes: int, hours_per_day: int) -> None:
    assert parse_minutes(f"{minutes}m", hours_per_day) == minutes
    days = Fraction(minutes, hours_per_day * 60)
    if days.denominator in (1, 2, 4, 5, 8, 10):
        text = f"{float(days):.3f}".rstrip("0").rstrip(".") + "d"
        assert parse_minutes(text, hours_per_day) == minutes
