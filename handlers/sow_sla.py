"""The engagement file's `[calendar]` and `[sla]`: working hours with the engagement's own
holidays and make-up workdays, and the SLA targets of each severity, filled in key by key from
the defaults of `domain.catalog`. Pure; every problem is reported with its path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from domain import catalog
from handlers.filereader import Node, show, valid_choices

_CALENDAR_KEYS = frozenset({"business_hours", "holidays", "workdays"})
_SLA_KEYS = frozenset(
    {"warning_at", "escalate_at", "escalation_roles", "auto_close_days", *catalog.SEVERITIES}
)
_TARGET_KEYS = frozenset({"response", "resolve", "calendar"})
# Roles an SLA breach may escalate to: the vendor's, and admins (who may sit on either side).
_ESCALATION_ROLES = tuple(role for role, party in catalog.ROLE_PARTY.items() if party != "client")
_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_SEVERITY_LIKE = re.compile(r"[Pp]\d+")


@dataclass(frozen=True, kw_only=True)
class CalendarSpec:
    """Working hours and the engagement's own extra holidays and (make-up) workdays."""

    business_start: time
    business_end: time
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()

    @property
    def business_day_minutes(self) -> int:
        """Length of one working day: what `d` means on the business calendar."""
        end, start = self.business_end, self.business_start
        return (end.hour - start.hour) * 60 + end.minute - start.minute


@dataclass(frozen=True, kw_only=True)
class SlaPolicy:
    """Targets of all four severities and the warning and escalation thresholds."""

    warning_at: Decimal
    escalate_at: Decimal
    escalation_roles: tuple[str, ...]
    targets: dict[str, catalog.SlaTarget]
    auto_close_days: int = catalog.DEFAULT_AUTO_CLOSE_DAYS  # a resolved ticket closes itself


def parse_calendar(root: Node) -> CalendarSpec:
    """The file's `[calendar]`."""
    t = root.table("calendar", _CALENDAR_KEYS)
    hours = t.get("business_hours", catalog.DEFAULT_BUSINESS_HOURS)
    business = _business_hours(hours)
    if business is None:
        t.add("business_hours", f"bad hours {show(hours)} (HH:MM-HH:MM, e.g. 09:00-18:00)")
    start, end = business or (time(9), time(18))
    holidays, workdays = t.days("holidays"), t.days("workdays")
    for day in sorted(set(holidays) & set(workdays)):
        t.add("workdays", f"{day} is also in holidays (a date can be only one of them)")
    return CalendarSpec(
        business_start=start, business_end=end, holidays=holidays, workdays=workdays
    )


def _business_hours(text: object) -> tuple[time, time] | None:
    match = _HOURS.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    h1, m1, h2, m2 = map(int, match.groups())
    if max(h1, h2) > 23 or max(m1, m2) > 59 or (h1, m1) >= (h2, m2):
        return None
    return time(h1, m1), time(h2, m2)


def parse_sla(root: Node, calendar: CalendarSpec) -> SlaPolicy:
    """The file's `[sla]`; `d` in a business-calendar target is one working day of `calendar`."""
    t = root.table("sla")
    for key in t.data:
        if key not in _SLA_KEYS and isinstance(key, str) and _SEVERITY_LIKE.fullmatch(key):
            t.add(key, f"unknown severity {valid_choices(catalog.SEVERITIES)}")
        elif key not in _SLA_KEYS:
            t.add(key, "unknown key")
    warning = t.ratio("warning_at", catalog.DEFAULT_WARNING_AT)
    if not 0 < warning < 1:
        t.add("warning_at", f"{warning} is out of range (0 < warning_at < 1, e.g. 0.75)")
    escalate = t.ratio("escalate_at", catalog.DEFAULT_ESCALATE_AT)
    if not escalate > 1:
        t.add("escalate_at", f"{escalate} is out of range (escalate_at > 1, e.g. 1.5)")
    roles = t.choices("escalation_roles", _ESCALATION_ROLES, "vendor role")
    return SlaPolicy(
        warning_at=warning,
        escalate_at=escalate,
        escalation_roles=catalog.DEFAULT_ESCALATION_ROLES if roles is None else roles,
        targets={sev: _target(t, sev, calendar) for sev in catalog.SEVERITIES},
        auto_close_days=t.whole("auto_close_days", 0, 30, catalog.DEFAULT_AUTO_CLOSE_DAYS),
    )


def _target(sla: Node, severity: str, calendar: CalendarSpec) -> catalog.SlaTarget:
    """File values override the default target key by key; `d` depends on the calendar."""
    t = sla.table(severity, _TARGET_KEYS)
    response, resolve, kind = catalog.DEFAULT_SLA[severity]
    kind = t.choice("calendar", catalog.CALENDARS, "calendar", kind)
    day = 24 * 60 if kind == "24x7" else calendar.business_day_minutes
    response_minutes = t.minutes("response", response, day)
    resolve_minutes = t.minutes("resolve", resolve, day)
    if response_minutes and resolve_minutes and response_minutes > resolve_minutes:
        longer = f"{response_minutes} minutes is longer than resolve, {resolve_minutes} minutes"
        t.add("response", f"{longer} (response must be <= resolve)")
    return catalog.SlaTarget(response_minutes or 1, resolve_minutes or 1, kind)
