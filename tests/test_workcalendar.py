"""Working-time calendars against the real chinese-calendar data (2004-2026 in version 1.11.0)."""

from __future__ import annotations

import time as timer
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.workcalendar import AlwaysOpen, BusinessCalendar, calendar_for, known_years

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 60
DAY = 540  # 09:00-18:00


def sh(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


def local(moment: datetime) -> datetime:
    assert moment.tzinfo is UTC
    return moment.astimezone(SHANGHAI)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


@pytest.fixture
def business() -> BusinessCalendar:
    return BusinessCalendar()


def test_known_years_come_from_the_package() -> None:
    years = known_years()
    assert years.start == 2004
    assert 2025 in years and 2026 in years
    assert 2027 not in years  # chinese-calendar 1.11.0 stops at 2026
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(years.stop, 1, 1))


def test_p3_opened_friday_afternoon(business: BusinessCalendar) -> None:
    opened = sh(2026, 11, 20, 16, 30)  # a Friday
    assert business.day_minutes == DAY
    # response, 4 business hours: 90 minutes on Friday, 150 on Monday
    assert business.add(opened, 4 * HOUR) == sh(2026, 11, 23, 11, 30)
    # resolution, 3 business days: 90 Fri + 540 Mon + 540 Tue + 450 Wed -> Wed 16:30
    assert business.add(opened, 3 * DAY) == sh(2026, 11, 25, 16, 30)
    assert local(business.add(opened, 3 * DAY)).weekday() == 2
    assert business.between(opened, sh(2026, 11, 25, 16, 30)) == 3 * DAY
    assert business.unknown_years == set()


def test_national_day_holiday(business: BusinessCalendar) -> None:
    # 2026: 1-7 October off, 8 October back to work, make-up days Sun 20 Sep and Sat 10 Oct
    off = [
        d for d in days(date(2026, 10, 1), date(2026, 10, 8)) if not chinese_calendar.is_workday(d)
    ]
    assert off == days(date(2026, 10, 1), date(2026, 10, 7))
    assert chinese_calendar.is_workday(date(2026, 10, 8))
    assert chinese_calendar.is_workday(date(2026, 9, 20))  # a Sunday
    assert chinese_calendar.is_workday(date(2026, 10, 10))  # a Saturday
    assert not any(business.is_working_day(d) for d in off)

    opened = sh(2026, 9, 30, 17, 0)  # one working hour left before the holiday
    assert business.add(opened, 4 * HOUR) == sh(2026, 10, 8, 12, 0)
    assert business.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert business.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert business.next_open(sh(2026, 10, 3, 10, 0)) == sh(2026, 10, 8, 9, 0)
    assert business.between(opened, sh(2026, 10, 8, 12, 0)) == 4 * HOUR


def test_saturday_make_up_day_counts(business: BusinessCalendar) -> None:
    saturday = date(2026, 2, 14)  # 调休 before the Spring Festival
    assert saturday.weekday() == 5
    assert chinese_calendar.is_workday(saturday)
    assert business.is_working_day(saturday)

    opened = sh(2026, 2, 13, 19, 45)  # Friday evening, after hours
    assert not business.is_open(opened)
    assert business.next_open(opened) == sh(2026, 2, 14, 9, 0)
    assert business.add(opened, 0) == sh(2026, 2, 14, 9, 0)
    assert business.add(opened, 4 * HOUR) == sh(2026, 2, 14, 13, 0)
    assert business.is_open(sh(2026, 2, 14, 9, 0))


def test_unknown_year_falls_back_to_monday_to_friday() -> None:
    new_year = date(2031, 1, 1)  # a Wednesday
    make_up = date(2031, 1, 4)  # a Saturday
    calendar = BusinessCalendar(holidays=[new_year], workdays=[make_up])
    assert 2031 not in known_years()

    assert calendar.is_working_day(date(2031, 1, 6))  # Monday
    assert not calendar.is_working_day(date(2031, 1, 5))  # Sunday
    assert calendar.unknown_years == {2031}
    assert not calendar.is_working_day(new_year)
    assert calendar.is_working_day(make_up)
    assert calendar.add(datetime(2030, 12, 31, 17, 0, tzinfo=SHANGHAI), 2 * HOUR) == sh(
        2031, 1, 2, 10, 0
    )
    assert calendar.add_working_days(date(2031, 1, 2), 2) == date(2031, 1, 4)


def test_engagement_overrides_beat_the_package() -> None:
    statutory_workday = date(2026, 11, 23)  # a Monday
    statutory_holiday = date(2026, 10, 2)
    calendar = BusinessCalendar(holidays=[statutory_workday], workdays=[statutory_holiday])
    assert not calendar.is_working_day(statutory_workday)
    assert calendar.is_working_day(statutory_holiday)
    assert calendar.add(sh(2026, 11, 20, 17, 0), 2 * HOUR) == sh(2026, 11, 24, 10, 0)
    assert calendar.next_open(sh(2026, 10, 1, 12, 0)) == sh(2026, 10, 2, 9, 0)


def test_workdays_win_over_holidays() -> None:
    day = date(2026, 11, 21)
    assert BusinessCalendar(holidays=[day], workdays=[day]).is_working_day(day)


def test_custom_hours_and_zone() -> None:
    calendar = calendar_for("business", timezone="Asia/Shanghai", business_hours="08:30-17:30")
    assert isinstance(calendar, BusinessCalendar)
    assert calendar.day_minutes == DAY
    assert calendar.add(sh(2026, 11, 20, 17, 0), HOUR) == sh(2026, 11, 23, 9, 0)


def test_wall_clock_hours_follow_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # clocks go forward on Sunday 2026-03-29
    calendar = BusinessCalendar("Europe/Berlin")
    due = calendar.add(datetime(2026, 3, 27, 17, 0, tzinfo=berlin), 2 * HOUR)
    assert due == datetime(2026, 3, 30, 10, 0, tzinfo=berlin)
    assert due.utcoffset() == timedelta(0) and due.hour == 8


def test_outputs_are_utc_whatever_the_input_zone(business: BusinessCalendar) -> None:
    opened_utc = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)  # 16:30 in Shanghai
    opened_ny = opened_utc.astimezone(ZoneInfo("America/New_York"))
    for opened in (opened_utc, opened_ny):
        due = business.add(opened, 4 * HOUR)
        assert due.tzinfo is UTC
        assert due == datetime(2026, 11, 23, 3, 30, tzinfo=UTC)


def test_seconds_are_kept(business: BusinessCalendar) -> None:
    opened = sh(2026, 11, 20, 17, 59, 30, 250)
    assert business.add(opened, 1) == sh(2026, 11, 23, 9, 0, 30, 250)
    assert business.between(opened, sh(2026, 11, 23, 9, 0, 30)) == 0  # 59.99975 s, rounded down
    assert business.between(opened, sh(2026, 11, 23, 9, 0, 30, 250)) == 1


def test_boundaries(business: BusinessCalendar) -> None:
    assert business.is_open(sh(2026, 11, 20, 9, 0))
    assert not business.is_open(sh(2026, 11, 20, 18, 0))
    assert not business.is_open(sh(2026, 11, 20, 8, 59, 59))
    assert business.next_open(sh(2026, 11, 20, 12, 0)) == sh(2026, 11, 20, 12, 0)
    assert business.next_open(sh(2026, 11, 20, 7, 0)) == sh(2026, 11, 20, 9, 0)
    assert business.add(sh(2026, 11, 20, 16, 30), 90) == sh(2026, 11, 20, 18, 0)
    assert business.add(sh(2026, 11, 20, 18, 0), 0) == sh(2026, 11, 23, 9, 0)
    assert business.between(sh(2026, 11, 23, 10, 0), sh(2026, 11, 20, 10, 0)) == 0
    assert business.add_working_days(date(2026, 11, 21), 0) == date(2026, 11, 23)
    assert business.add_working_days(date(2026, 11, 20), 0) == date(2026, 11, 20)


def test_always_open_is_plain_arithmetic() -> None:
    calendar = calendar_for("24x7", timezone="Asia/Shanghai")
    opened = sh(2026, 10, 1, 23, 50, 15)  # a holiday, late at night
    assert calendar.is_open(opened)
    assert calendar.next_open(opened) == opened
    assert calendar.add(opened, 0) == opened
    due = calendar.add(opened, 15)
    assert due == sh(2026, 10, 2, 0, 5, 15) and due.tzinfo is UTC
    assert calendar.between(opened, due) == 15
    assert calendar.between(due, opened) == 0
    assert calendar.between(opened, opened + timedelta(minutes=4, seconds=59)) == 4


@pytest.mark.parametrize("calendar", [AlwaysOpen(), BusinessCalendar()])
def test_rejects_naive_datetimes_and_negative_minutes(
    calendar: AlwaysOpen | BusinessCalendar,
) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add(datetime(2026, 11, 20, 9, 0), 10)
    with pytest.raises(ValueError, match=">= 0"):
        calendar.add(sh(2026, 11, 20, 9, 0), -1)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("18:00-09:00", "end after they start"),
        ("09:00-09:00", "end after they start"),
        ("9-18", "HH:MM-HH:MM"),
        ("09:00-25:00", "not valid times"),
    ],
)
def test_bad_business_hours(hours: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calendar_for("business", timezone="Asia/Shanghai", business_hours=hours)


def test_bad_kind_and_zone() -> None:
    with pytest.raises(ValueError, match="unknown calendar"):
        calendar_for("weekdays", timezone="Asia/Shanghai")
    with pytest.raises(ValueError, match="unknown time zone"):
        calendar_for("business", timezone="Mars/Olympus_Mons")


def test_a_calendar_without_working_days_stops() -> None:
    everything = days(date(2026, 11, 20), date(2030, 1, 1))
    calendar = BusinessCalendar(holidays=everything)
    with pytest.raises(ValueError, match="no working day"):
        calendar.add(sh(2026, 11, 20, 10, 0), 60)


START = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 12, 31, 23, 59, 59),
    timezones=st.sampled_from([SHANGHAI, UTC]),
)
MINUTES = st.integers(min_value=0, max_value=20000)
# The conftest's autouse fixtures (clock, environment) are harmless to share across examples.
PROPERTY = settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(start=START, minutes=MINUTES)
def test_between_inverts_add(start: datetime, minutes: int) -> None:
    calendar = BusinessCalendar()
    due = calendar.add(start, minutes)
    assert calendar.between(start, due) == minutes
    assert due >= calendar.next_open(start)
    assert AlwaysOpen().between(start, AlwaysOpen().add(start, minutes)) == minutes


@PROPERTY
@given(start=START, first=MINUTES, second=MINUTES)
def test_add_is_monotonic(start: datetime, first: int, second: int) -> None:
    calendar = BusinessCalendar()
    low, high = sorted((first, second))
    assert calendar.add(start, low) <= calendar.add(start, high)
    if low < high:
        assert calendar.add(start, low) < calendar.add(start, high)


def test_adds_spanning_weeks_are_fast(business: BusinessCalendar) -> None:
    opened = sh(2026, 11, 20, 16, 30)
    for minutes in (5 * DAY, 60 * DAY):
        began = timer.perf_counter()
        for _ in range(1000):
            business.add(opened, minutes)
        assert timer.perf_counter() - began < 1.0
    assert business.add(opened, 60 * DAY) == sh(2027, 2, 12, 16, 30)
    assert business.unknown_years == {2027}


def test_hours_must_be_whole_minutes() -> None:
    with pytest.raises(ValueError, match="whole minutes"):
        BusinessCalendar(start=time(9, 0, 30))
    assert BusinessCalendar(start=time(8), end=time(12, 30)).day_minutes == 270
