"""The engagement's policy (domain/policy.py): defaults, parsing, caching, immutability. Pure: no
database; an engagement is any object with the row's fields."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import pytest

from domain import catalog
from domain.policy import EngagementPolicy, policy_of
from domain.sla import Target
from domain.workcalendar import AlwaysOpen, BusinessCalendar
from handlers.engagements import engagement_fields
from handlers.sow import parse_engagement

START, END = date(2026, 11, 1), date(2027, 4, 30)


def engagement(**changes: Any) -> SimpleNamespace:
    """An engagement row as `engagement apply` writes it for a file that leaves out every rule."""
    spec = parse_engagement(
        {
            "engagement": {
                "code": "ACME-1",
                "name": "Acme support",
                "client": "Acme",
                "vendor": "Example Tech",
                "start": START,
                "end": END,
            }
        }
    )
    return SimpleNamespace(**{**engagement_fields(spec), **changes})


def test_a_file_without_rules_gets_the_documented_defaults() -> None:
    policy = policy_of(engagement())
    assert (policy.timezone, policy.locale) == ("Asia/Shanghai", "zh-CN")
    worklog = policy.worklog
    assert (worklog.hours_per_day, worklog.min_unit_minutes, worklog.daily_cap_minutes) == (
        8,
        60,
        480,
    )
    assert worklog.overtime_ceiling_minutes == 240 and worklog.backdate_days == 3
    assert worklog.log_reminder == time(18, 30)
    assert (policy.sync_times.daily, policy.sync_times.digest) == (time(17, 30), time(9, 0))
    assert policy.budgets.alerts == (Fraction(4, 5), Fraction(1))
    assert dict(policy.budgets.contracted) == dict.fromkeys(catalog.LEVELS, 0)
    assert policy.blocker_escalation_minutes == (24 * 60, 72 * 60)
    assert policy.email_signing is False and policy.allow_unregistered_reporters is True
    sla = policy.sla
    assert (sla.warning_at, sla.escalate_at) == (Fraction(3, 4), Fraction(3, 2))
    assert sla.escalation_roles == ("director",) and sla.auto_close_days == 3
    assert sla.targets["P1"] == Target(15, 240, "24x7")
    assert sla.targets["P3"] == Target(240, 3 * 540, "business")  # 3 working days of 9 h
    assert policy.calendar.day_minutes == 540


def test_the_same_defaults_where_the_row_says_nothing() -> None:
    """A row written before a rule existed (or by hand) has no key for it: the same defaults."""
    bare = policy_of(engagement(rules={}, calendar={}))
    full = policy_of(engagement())
    for part in ("worklog", "sync_times", "budgets"):
        assert getattr(bare, part) == getattr(full, part)
    assert bare.blocker_escalation_minutes == full.blocker_escalation_minutes
    assert bare.email_signing == full.email_signing
    assert bare.calendar.day_minutes == full.calendar.day_minutes


def test_the_files_rules_are_parsed_into_typed_values() -> None:
    rules = {
        "backdate_days": 0,
        "log_reminder": "19:00",
        "sync_time": "16:45",
        "digest_time": "08:15",
        "budget_alerts": ["0.5", "0.9", "1.2"],
        "blocker_escalation_hours": [4, 8],
        "email_signing": True,
        "overtime_ceiling": 120,
    }
    calendar = {"business_hours": "08:30-17:30", "holidays": ["2026-12-31"], "workdays": []}
    policy = policy_of(engagement(rules=rules, calendar=calendar, timezone="Europe/Berlin",
                                  budget={"senior": 4800, "mid": 0}))  # fmt: skip
    assert policy.worklog.backdate_days == 0  # zero is a value, not "absent"
    assert (
        policy.worklog.log_reminder == time(19) and policy.worklog.overtime_ceiling_minutes == 120
    )
    assert (policy.sync_times.daily, policy.sync_times.digest) == (time(16, 45), time(8, 15))
    assert policy.budgets.alerts == (Fraction(1, 2), Fraction(9, 10), Fraction(6, 5))
    assert dict(policy.budgets.contracted) == {"senior": 4800, "mid": 0}
    assert policy.blocker_escalation_minutes == (240, 480) and policy.email_signing is True
    assert policy.timezone == "Europe/Berlin" and policy.calendar.day_minutes == 540
    assert not policy.calendar.is_working_day(date(2026, 12, 31))  # a Thursday, listed off
    assert policy.calendar.listed_in(2026) == 1 and policy.calendar.listed_in(2027) == 0
    opens = policy.calendar.next_open(datetime.fromisoformat("2026-12-30T07:00:00+01:00"))
    assert opens == datetime.fromisoformat("2026-12-30T08:30:00+01:00")


def test_both_calendars_an_sla_target_may_name() -> None:
    policy = policy_of(engagement())
    assert set(policy.calendars) == set(catalog.CALENDARS)
    assert isinstance(policy.calendars["24x7"], AlwaysOpen)
    assert policy.calendars["business"] is policy.calendar
    assert isinstance(policy.calendar, BusinessCalendar)


def test_an_unchanged_engagement_is_parsed_once() -> None:
    row = engagement()
    assert policy_of(row) is policy_of(row)
    assert policy_of(engagement()) is policy_of(row)  # the same content read again: a new row


def test_a_changed_engagement_is_seen_at_once() -> None:
    """`engagement apply` of an edited file rewrites the row's fields; an edit in place too."""
    row = engagement()
    before = policy_of(row)
    row.rules = {**row.rules, "sync_time": "18:00"}
    after = policy_of(row)
    assert after is not before and after.sync_times.daily == time(18)
    row.rules["backdate_days"] = 5  # mutated in place: the content is the key
    assert policy_of(row).worklog.backdate_days == 5
    row.calendar = {**row.calendar, "holidays": ["2026-11-25"]}
    assert not policy_of(row).calendar.is_working_day(date(2026, 11, 25))
    row.daily_cap_minutes = 600
    assert policy_of(row).worklog.daily_cap_minutes == 600
    row.sla = {**row.sla, "warning_at": "0.5"}
    assert policy_of(row).sla.warning_at == Fraction(1, 2)


def test_the_policy_is_immutable() -> None:
    policy = policy_of(engagement())
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.email_signing = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.worklog.backdate_days = 30  # type: ignore[misc]
    with pytest.raises(TypeError):
        policy.budgets.contracted["senior"] = 10**6  # type: ignore[index]
    with pytest.raises(TypeError):
        policy.sla.targets["P1"] = Target(1, 1, "24x7")  # type: ignore[index]
    with pytest.raises(TypeError):
        policy.calendars["business"] = AlwaysOpen()  # type: ignore[index]
    assert isinstance(policy, EngagementPolicy)


def test_a_row_without_json_fields_still_has_a_policy() -> None:
    """Columns a hand-made row leaves None count as empty: every default applies."""
    policy = policy_of(engagement(rules=None, calendar=None, budget=None))
    assert policy.worklog.backdate_days == 3 and dict(policy.budgets.contracted) == {}
    assert policy.calendar.is_working_day(date(2026, 11, 25))


def test_budgets_keep_the_level_order() -> None:
    policy = policy_of(engagement(budget={"senior": 4800, "junior": 960, "expert": 0}))
    assert list(policy.budgets.contracted) == ["junior", "senior", "expert"]
