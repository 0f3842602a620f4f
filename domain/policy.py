"""The engagement's policy, parsed once: its calendars, SLA policy, work-log rules, sync times,
budgets and escalation steps as one immutable `EngagementPolicy`.

An engagement row keeps what its file said as JSON (`engagement apply`); `policy_of` parses it
into typed values, cached by content, so a command or a job sweep parses each engagement once and
a re-applied file is seen at once. The defaults of every rule are here (the SLA targets and
thresholds in `domain.catalog`); the engagement-file validator fills in the same ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from fractions import Fraction
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final, Protocol

from domain import catalog, sla
from domain.workcalendar import BusinessCalendar, WorkCalendar

# -- defaults (what an engagement file that leaves a key out gets) -----------------------------

DEFAULT_TIMEZONE: Final = "Asia/Shanghai"
DEFAULT_LOCALE: Final = "zh-CN"
DEFAULT_HOURS_PER_DAY: Final = 8
DEFAULT_MIN_UNIT: Final = "1h"  # as written in the file; `d` is one person-day
DEFAULT_DAILY_CAP: Final = "1d"
# Overtime one entry may carry above the daily cap (ot=yes): a long evening (8 h + 4 h is a
# 12-hour day). More in one go is a typo or several days written as one (handlers/limits.py).
DEFAULT_OVERTIME_CEILING_MINUTES: Final = 4 * 60
DEFAULT_ALLOW_UNREGISTERED_REPORTERS: Final = True
DEFAULT_BACKDATE_DAYS: Final = 3  # working days back work may still be logged
DEFAULT_LOG_REMINDER: Final = time(18, 30)  # engineers with no entry that day hear then
DEFAULT_SYNC_TIME: Final = time(17, 30)  # the daily progress sync, on working days
DEFAULT_DIGEST_TIME: Final = time(9, 0)  # the customer manager's morning digest
DEFAULT_BUDGET_ALERTS: Final = ("0.8", "1")  # shares of a budget at which the PM hears
# Working hours after which an open blocker goes to the client approver and the customer
# manager (first), then to the vendor's director (second).
DEFAULT_BLOCKER_ESCALATION_HOURS: Final = (24, 72)
# Mail whose sender's domain vouched for it (DMARC, bot.assurance.DOMAIN) may sign.
DEFAULT_EMAIL_SIGNING: Final = False

# Parsed policies kept: far more than the engagements one instance serves.
_CACHE_SIZE = 256


class EngagementSource(Protocol):
    """What the policy is parsed from: an engagement row (`storage.models.Engagement`)."""

    @property
    def timezone(self) -> str: ...
    @property
    def locale(self) -> str: ...
    @property
    def hours_per_day(self) -> int: ...
    @property
    def min_unit_minutes(self) -> int: ...
    @property
    def daily_cap_minutes(self) -> int: ...
    @property
    def allow_unregistered_reporters(self) -> bool: ...
    @property
    def budget(self) -> Mapping[str, Any] | None: ...  # level -> contracted minutes
    @property
    def sla(self) -> Mapping[str, Any] | None: ...
    @property
    def calendar(self) -> Mapping[str, Any] | None: ...
    @property
    def rules(self) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True, kw_only=True)
class WorklogRules:
    """How work is logged (报工), in minutes of the engagement's person-day."""

    hours_per_day: int
    min_unit_minutes: int  # every entry is a multiple of it
    daily_cap_minutes: int  # more in one day needs ot=yes
    overtime_ceiling_minutes: int = DEFAULT_OVERTIME_CEILING_MINUTES
    backdate_days: int = DEFAULT_BACKDATE_DAYS
    log_reminder: time = DEFAULT_LOG_REMINDER


@dataclass(frozen=True, kw_only=True)
class SyncTimes:
    """Local times of the scheduled posts on working days."""

    daily: time = DEFAULT_SYNC_TIME  # the daily sync; a bound chat may set its own (`/同步 时间`)
    digest: time = DEFAULT_DIGEST_TIME  # the customer manager's morning digest


@dataclass(frozen=True, kw_only=True)
class Budgets:
    """The SOW's person-days by level (change requests add to them elsewhere) and the shares of
    a budget at which the PM and the customer manager hear, once each."""

    contracted: Mapping[str, int]  # level -> minutes
    alerts: tuple[Fraction, ...] = tuple(Fraction(share) for share in DEFAULT_BUDGET_ALERTS)


@dataclass(frozen=True, kw_only=True)
class EngagementPolicy:
    """An engagement's rules, parsed; reached as `ctx.policy` in commands and `policy_of` in
    jobs. `calendar` is the business calendar (working days and hours); `calendars` has both
    kinds an SLA target may name (`24x7`, `business`)."""

    timezone: str
    locale: str
    calendar: BusinessCalendar
    calendars: Mapping[str, WorkCalendar]
    sla: sla.Policy
    worklog: WorklogRules
    sync_times: SyncTimes
    budgets: Budgets
    blocker_escalation_minutes: tuple[int, ...]  # working minutes to each escalation step
    email_signing: bool = DEFAULT_EMAIL_SIGNING
    allow_unregistered_reporters: bool = DEFAULT_ALLOW_UNREGISTERED_REPORTERS


def policy_of(engagement: EngagementSource) -> EngagementPolicy:
    """The engagement's policy. Cached by the content it is parsed from, so an edited or
    re-applied engagement gets a fresh one and an unchanged one is never parsed again."""
    return _parse(_source(engagement))


def _source(engagement: EngagementSource) -> str:
    """Canonical JSON of every field the policy is parsed from: the cache key."""
    fields = {
        "timezone": engagement.timezone,
        "locale": engagement.locale,
        "hours_per_day": engagement.hours_per_day,
        "min_unit_minutes": engagement.min_unit_minutes,
        "daily_cap_minutes": engagement.daily_cap_minutes,
        "allow_unregistered_reporters": engagement.allow_unregistered_reporters,
        "budget": engagement.budget or {},
        "sla": engagement.sla or {},
        "calendar": engagement.calendar or {},
        "rules": engagement.rules or {},
    }
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)


@lru_cache(maxsize=_CACHE_SIZE)
def _parse(source: str) -> EngagementPolicy:
    fields: dict[str, Any] = json.loads(source)
    rules: dict[str, Any] = fields["rules"]
    calendars = sla.calendars(fields["calendar"], fields["timezone"])
    business = calendars["business"]
    assert isinstance(business, BusinessCalendar)
    return EngagementPolicy(
        timezone=fields["timezone"],
        locale=fields["locale"],
        calendar=business,
        calendars=MappingProxyType(calendars),
        sla=sla.Policy.from_json(fields["sla"]),
        worklog=WorklogRules(
            hours_per_day=int(fields["hours_per_day"]),
            min_unit_minutes=int(fields["min_unit_minutes"]),
            daily_cap_minutes=int(fields["daily_cap_minutes"]),
            overtime_ceiling_minutes=int(
                _rule(rules, "overtime_ceiling", DEFAULT_OVERTIME_CEILING_MINUTES)
            ),
            backdate_days=int(_rule(rules, "backdate_days", DEFAULT_BACKDATE_DAYS)),
            log_reminder=_clock_time(rules, "log_reminder", DEFAULT_LOG_REMINDER),
        ),
        sync_times=SyncTimes(
            daily=_clock_time(rules, "sync_time", DEFAULT_SYNC_TIME),
            digest=_clock_time(rules, "digest_time", DEFAULT_DIGEST_TIME),
        ),
        budgets=Budgets(
            contracted=MappingProxyType(_by_level(fields["budget"])),
            alerts=tuple(
                Fraction(str(share))
                for share in _rule(rules, "budget_alerts", DEFAULT_BUDGET_ALERTS)
            ),
        ),
        blocker_escalation_minutes=tuple(
            int(hours) * 60
            for hours in _rule(rules, "blocker_escalation_hours", DEFAULT_BLOCKER_ESCALATION_HOURS)
        ),
        email_signing=bool(_rule(rules, "email_signing", DEFAULT_EMAIL_SIGNING)),
        allow_unregistered_reporters=bool(fields["allow_unregistered_reporters"]),
    )


def _by_level(budget: Mapping[str, Any]) -> dict[str, int]:
    """Minutes by level, junior first (the cache key sorts them by name)."""
    order = list(catalog.LEVELS)
    levels = sorted(
        budget, key=lambda level: (order.index(level) if level in order else len(order), level)
    )
    return {level: int(budget[level]) for level in levels}


def _rule(rules: Mapping[str, Any], key: str, default: Any) -> Any:
    value = rules.get(key)
    return default if value is None else value


def _clock_time(rules: Mapping[str, Any], key: str, default: time) -> time:
    """`HH:MM` as stored; the default when absent or empty."""
    value = rules.get(key)
    return time.fromisoformat(value) if value else default
