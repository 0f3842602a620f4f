"""SLA rules, pure: targets per severity, clocks that pause and stop, and the alert ladder.

A ticket has two clocks (legs): `response` (stopped by /ack) and `resolve` (paused while
pending on the client, stopped by /resolve). Each leg counts minutes on its calendar and
climbs the ladder warning (75% of the target) -> breach (100%) -> escalation (150%).
Nothing here reads the database or the clock: callers pass `now` and get decisions back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from domain import catalog
from domain.workcalendar import WorkCalendar, calendar_for

LEGS = ("response", "resolve")
STAGES = ("warning", "breach", "escalation")


@dataclass(frozen=True)
class Target:
    response: int  # minutes of its calendar
    resolve: int
    calendar: str  # 24x7 | business


@dataclass(frozen=True)
class Policy:
    """An engagement's SLA policy (as stored by `engagement apply`); part of its
    `domain.policy.EngagementPolicy`."""

    targets: Mapping[str, Target]
    warning_at: Fraction = Fraction(catalog.DEFAULT_WARNING_AT)
    escalate_at: Fraction = Fraction(catalog.DEFAULT_ESCALATE_AT)
    escalation_roles: tuple[str, ...] = catalog.DEFAULT_ESCALATION_ROLES
    auto_close_days: int = catalog.DEFAULT_AUTO_CLOSE_DAYS

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        targets = {
            severity: Target(int(t["response"]), int(t["resolve"]), str(t["calendar"]))
            for severity, t in (data.get("targets") or {}).items()
        }
        return cls(
            targets=MappingProxyType(targets),
            warning_at=Fraction(str(data.get("warning_at", catalog.DEFAULT_WARNING_AT))),
            escalate_at=Fraction(str(data.get("escalate_at", catalog.DEFAULT_ESCALATE_AT))),
            escalation_roles=tuple(data.get("escalation_roles", catalog.DEFAULT_ESCALATION_ROLES)),
            auto_close_days=int(data.get("auto_close_days", catalog.DEFAULT_AUTO_CLOSE_DAYS)),
        )

    def fraction(self, stage: str) -> Fraction:
        return {"warning": self.warning_at, "breach": Fraction(1), "escalation": self.escalate_at}[
            stage
        ]


@dataclass(frozen=True)
class LegClock:
    """One SLA clock: started, paused for `paused_minutes` so far (and maybe now), stopped."""

    target: int
    started_at: datetime
    paused_minutes: int = 0
    paused_since: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.paused_since is None and self.stopped_at is None


def threshold(target: int, fraction: Fraction) -> int:
    """Minutes into the target at which a stage is reached (rounded up to whole minutes)."""
    return math.ceil(target * fraction)


def elapsed(calendar: WorkCalendar, clock: LegClock, now: datetime) -> int:
    """Counted minutes so far, pauses excluded."""
    end = min(m for m in (clock.stopped_at, clock.paused_since, now) if m is not None)
    return max(calendar.between(clock.started_at, end) - clock.paused_minutes, 0)


def moment(calendar: WorkCalendar, clock: LegClock, minutes: int) -> datetime | None:
    """When the clock reaches `minutes`, if it keeps running; None while paused or stopped."""
    if not clock.running:
        return None
    return calendar.add(clock.started_at, minutes + clock.paused_minutes)


def due_at(calendar: WorkCalendar, clock: LegClock) -> datetime | None:
    return moment(calendar, clock, clock.target)


@dataclass(frozen=True)
class Alert:
    leg: str
    stage: str

    @property
    def key(self) -> str:
        return f"{self.leg}:{self.stage}"


@dataclass(frozen=True)
class Decision:
    """What the sweep must do now, and when to look again (None: nothing left to watch)."""

    alerts: list[Alert] = field(default_factory=list)
    settled: list[Alert] = field(default_factory=list)  # passed without an alert of their own
    next_check: datetime | None = None


def evaluate(
    policy: Policy,
    calendar: WorkCalendar,
    clocks: dict[str, LegClock],
    sent: set[str],
    now: datetime,
    *,
    urgent: bool,
    working_hours: WorkCalendar,
) -> Decision:
    """The alerts due at `now` on each leg, once each.

    A sweep that comes late (the bot was down) sends the highest stages reached, not a
    warning that a breach has overtaken. Alerts that are not `urgent` (everything but P1)
    wait for `working_hours` to be open.
    """
    alerts: list[Alert] = []
    settled: list[Alert] = []
    upcoming: list[datetime] = []
    for leg, clock in clocks.items():
        reached, next_at = _reached(policy, calendar, clock, leg, sent, now)
        if next_at is not None:
            upcoming.append(next_at)
        if len(reached) > 1 and reached[0].stage == "warning":
            settled.append(reached.pop(0))
        alerts.extend(reached)
    if alerts and not urgent and not working_hours.is_open(now):
        # Everything reached before the working day starts would wait too: look again then.
        return Decision(next_check=working_hours.next_open(now))
    return Decision(alerts, settled, min(upcoming) if upcoming else None)


def _reached(
    policy: Policy, calendar: WorkCalendar, clock: LegClock, leg: str, sent: set[str], now: datetime
) -> tuple[list[Alert], datetime | None]:
    reached: list[Alert] = []
    for stage in STAGES:
        alert = Alert(leg, stage)
        if alert.key in sent:
            continue
        at = moment(calendar, clock, threshold(clock.target, policy.fraction(stage)))
        if at is None:
            return reached, None
        if at > now:
            return reached, at
        reached.append(alert)
    return reached, None


def calendars(engagement_calendar: Mapping[str, Any], timezone: str) -> dict[str, WorkCalendar]:
    """Both calendars of an engagement, by kind (parsed once per engagement: `policy_of`)."""
    return {
        kind: calendar_for(
            kind,
            timezone=timezone,
            business_hours=engagement_calendar.get(
                "business_hours", catalog.DEFAULT_BUSINESS_HOURS
            ),
            holidays=_dates(engagement_calendar.get("holidays", ())),
            workdays=_dates(engagement_calendar.get("workdays", ())),
        )
        for kind in catalog.CALENDARS
    }


def _dates(values: Iterable[date | str]) -> list[date]:
    return [date.fromisoformat(v) if isinstance(v, str) else v for v in values]
