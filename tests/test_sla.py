"""The pure SLA engine: thresholds, clocks that pause and stop, and the alert ladder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from domain.sla import (
    Alert,
    LegClock,
    Policy,
    Target,
    due_at,
    elapsed,
    evaluate,
    threshold,
)
from domain.workcalendar import AlwaysOpen, BusinessCalendar

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Wednesday
H24 = AlwaysOpen()
BUSINESS = BusinessCalendar("Asia/Shanghai")
POLICY = Policy(targets={"P2": Target(30, 480, "24x7"), "P3": Target(240, 1620, "business")})


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def run(
    clocks: dict[str, LegClock],
    now: datetime,
    sent: set[str] = frozenset(),
    *,
    urgent: bool = False,
    calendar=H24,
):  # type: ignore[no-untyped-def]
    return evaluate(POLICY, calendar, clocks, set(sent), now, urgent=urgent, working_hours=BUSINESS)


def test_thresholds_round_up_to_whole_minutes() -> None:
    assert threshold(30, Fraction(3, 4)) == 23
    assert threshold(15, Fraction(3, 2)) == 23
    assert threshold(240, Fraction(1)) == 240


def test_policy_from_the_stored_json() -> None:
    policy = Policy.from_json(
        {
            "warning_at": "0.8",
            "escalate_at": "2",
            "escalation_roles": ["director"],
            "targets": {"P1": {"response": 15, "resolve": 240, "calendar": "24x7"}},
        }
    )
    assert policy.warning_at == Fraction(4, 5) and policy.escalate_at == 2
    assert policy.targets["P1"] == Target(15, 240, "24x7") and policy.auto_close_days == 3


def test_elapsed_excludes_pauses_and_stops() -> None:
    clock = LegClock(480, T0, paused_minutes=60)
    assert elapsed(H24, clock, T0 + minutes(200)) == 140
    paused = LegClock(480, T0, paused_since=T0 + minutes(100))
    assert elapsed(H24, paused, T0 + minutes(300)) == 100
    assert due_at(H24, paused) is None
    stopped = LegClock(480, T0, stopped_at=T0 + minutes(50))
    assert elapsed(H24, stopped, T0 + minutes(999)) == 50


def test_the_ladder_one_stage_at_a_time() -> None:
    clocks = {"response": LegClock(30, T0)}
    early = run(clocks, T0 + minutes(22))
    assert early.alerts == [] and early.next_check == T0 + minutes(23)
    warn = run(clocks, T0 + minutes(23))
    assert warn.alerts == [Alert("response", "warning")] and warn.next_check == T0 + minutes(30)
    breach = run(clocks, T0 + minutes(30), {"response:warning"})
    assert breach.alerts == [Alert("response", "breach")] and breach.next_check == T0 + minutes(45)
    escalate = run(clocks, T0 + minutes(45), {"response:warning", "response:breach"})
    assert escalate.alerts == [Alert("response", "escalation")] and escalate.next_check is None


def test_a_late_sweep_skips_the_overtaken_warning() -> None:
    decision = run({"response": LegClock(30, T0)}, T0 + minutes(50))
    assert decision.alerts == [Alert("response", "breach"), Alert("response", "escalation")]
    assert decision.settled == [Alert("response", "warning")]


def test_paused_and_stopped_legs_raise_nothing() -> None:
    clocks = {
        "response": LegClock(30, T0, stopped_at=T0 + minutes(5)),
        "resolve": LegClock(480, T0, paused_since=T0 + minutes(10)),
    }
    decision = run(clocks, T0 + minutes(2000))
    assert decision.alerts == [] and decision.next_check is None


def test_non_urgent_alerts_wait_for_working_hours() -> None:
    night = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    clocks = {"response": LegClock(30, night)}
    deferred = run(clocks, night + minutes(40))
    assert deferred.alerts == []
    assert deferred.next_check == datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 09:00 next day
    urgent = run(clocks, night + minutes(40), urgent=True)
    assert [a.stage for a in urgent.alerts] == ["breach"]


def test_business_calendar_clock() -> None:
    friday = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)  # Friday 16:30 in Shanghai
    clock = LegClock(240, friday)
    assert due_at(BUSINESS, clock) == datetime(2026, 11, 23, 3, 30, tzinfo=UTC)  # Monday 11:30
    decision = run({"response": clock}, friday + timedelta(hours=2), calendar=BUSINESS)
    assert decision.alerts == []
    assert decision.next_check == BUSINESS.add(friday, 180)  # the warning at 75%
