"""The engagement file (SOW as code): validate it into an immutable `EngagementSpec`.

Pure: a dict as `tomllib` gives it goes in, a spec or one `ConfigError` listing every problem
(`field.path: problem (what would be valid)`) comes out. Only `load_engagement_file` reads a file.
The `[calendar]` and `[sla]` sections are read by `sow_sla`, `[[people]]` and `[[chats]]` by
`sow_people`; a key left out gets the default of `domain.policy` (`domain.catalog` for the SLA).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from base.errors import ConfigError
from domain import catalog, policy
from handlers.filereader import Node, show, valid_choices
from handlers.sow_alerts import parse_alerts
from handlers.sow_knowledge import parse_knowledge
from handlers.sow_obligations import parse_obligations
from handlers.sow_people import ChatSpec, PersonSpec, parse_chats, parse_people
from handlers.sow_sla import CalendarSpec, SlaPolicy, parse_calendar, parse_sla

__all__ = [
    "CalendarSpec",
    "ChatSpec",
    "EngagementSpec",
    "PersonSpec",
    "SlaPolicy",
    "load_engagement_file",
    "parse_engagement",
    "spec_hash",
]

LOCALES = ("zh-CN", "en")
DEFAULT_SERVICES = ("online_support", "response_sla")
# The file's optional sections beyond the core, each parsed by its own module into JSON-ready
# data kept in the engagement's `rules` under the section's name (None: the file has none).
SECTIONS: dict[str, Callable[[Node], dict[str, Any] | None]] = {
    "knowledge": parse_knowledge,
    "alerts": parse_alerts,
    "obligations": parse_obligations,
}
_TOP_KEYS = frozenset({"engagement", "budget", "sla", "calendar", "people", "chats", *SECTIONS})
_ENGAGEMENT_KEYS = frozenset(
    {"code", "name", "client", "vendor", "timezone", "locale", "start", "end", "services",
     "hours_per_day", "min_unit", "daily_cap", "overtime_ceiling", "allow_unregistered_reporters", "email_signing",
     "backdate_days", "log_reminder", "budget_alerts", "blocker_escalation_hours",
     "sync_time", "digest_time"}
)  # fmt: skip
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,39}")
_OVERTIME_DEFAULT = policy.DEFAULT_OVERTIME_CEILING_MINUTES


@dataclass(frozen=True, kw_only=True)
class EngagementSpec:
    """A valid engagement file; quantities in integer minutes (the budget per level)."""

    code: str
    name: str
    client: str
    vendor: str
    timezone: str
    locale: str
    start: date
    end: date
    services: tuple[str, ...]
    hours_per_day: int
    min_unit_minutes: int
    daily_cap_minutes: int
    allow_unregistered_reporters: bool
    budget_minutes: dict[str, int]
    sla: SlaPolicy
    calendar: CalendarSpec
    people: tuple[PersonSpec, ...]
    chats: tuple[ChatSpec, ...]
    backdate_days: int = policy.DEFAULT_BACKDATE_DAYS
    log_reminder: time = policy.DEFAULT_LOG_REMINDER
    budget_alerts: tuple[Decimal, ...] = tuple(Decimal(s) for s in policy.DEFAULT_BUDGET_ALERTS)
    blocker_escalation_hours: tuple[int, int] = policy.DEFAULT_BLOCKER_ESCALATION_HOURS
    sync_time: time = policy.DEFAULT_SYNC_TIME
    digest_time: time = policy.DEFAULT_DIGEST_TIME
    email_signing: bool = policy.DEFAULT_EMAIL_SIGNING
    overtime_ceiling_minutes: int = policy.DEFAULT_OVERTIME_CEILING_MINUTES
    sections: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


def parse_engagement(data: dict[str, Any], source: str = "") -> EngagementSpec:
    """Validate an engagement file's data; raise `ConfigError` listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError([f"(file): must be a table, not {show(data)}"], source)
    problems: list[str] = []
    root = Node(data, "", problems, _TOP_KEYS)
    head = root.table("engagement", _ENGAGEMENT_KEYS)
    spec = _header(head)
    hours_per_day = head.whole("hours_per_day", 1, 24, policy.DEFAULT_HOURS_PER_DAY)
    spec["hours_per_day"] = hours_per_day
    spec.update(_work_units(head, hours_per_day))
    spec.update(_work_rules(head))
    spec["budget_minutes"] = _budget(root.table("budget"), hours_per_day)
    calendar = spec["calendar"] = parse_calendar(root)
    spec["sla"] = parse_sla(root, calendar)
    spec["people"] = parse_people(root)
    spec["chats"] = parse_chats(root)
    sections = {name: parse(root) for name, parse in SECTIONS.items()}
    spec["sections"] = {name: data for name, data in sections.items() if data is not None}
    if problems:
        raise ConfigError(problems, source)
    return EngagementSpec(**spec)


def load_engagement_file(path: str | Path) -> EngagementSpec:
    """Read and validate a TOML engagement file (UTF-8; a BOM is allowed)."""
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(["file not found"], source) from None
    except UnicodeDecodeError:
        raise ConfigError(["not UTF-8 text"], source) from None
    except OSError as error:
        raise ConfigError([f"cannot read the file ({error.strerror or error})"], source) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([_syntax_problem(str(error))], source) from None
    return parse_engagement(data, source)


def spec_hash(spec: EngagementSpec) -> str:
    """sha256 of the spec's canonical JSON: equal specs hash equal, whatever the key order."""
    canonical = json.dumps(
        dataclasses.asdict(spec), sort_keys=True, ensure_ascii=False, default=_json_value
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _json_value(value: object) -> str:
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    raise TypeError(f"not serialisable: {type(value).__name__}")


def _syntax_problem(message: str) -> str:
    where = re.search(r"\s*\(at (line \d+, column \d+|end of document)\)$", message)
    if where is None:
        return f"TOML syntax error: {message}"
    return f"{where.group(1)}: TOML syntax error: {message[: where.start()]}"


# -- sections ---------------------------------------------------------------------------------


def _header(t: Node) -> dict[str, Any]:
    code = t.text("code", required=True)
    if code and not _CODE.fullmatch(code):
        t.add("code", f"bad code {show(code)} (2-40 letters, digits, '-', '_', '.')")
    name, client, vendor = (t.text(key, required=True) for key in ("name", "client", "vendor"))
    timezone = t.text("timezone") or policy.DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        t.add("timezone", f"unknown time zone {show(timezone)} (examples: Asia/Shanghai, UTC)")
    locale = t.choice("locale", LOCALES, "locale", policy.DEFAULT_LOCALE)
    start, end = t.day("start", required=True), t.day("end", required=True)
    if start and end and end < start:
        t.add("end", f"{end} is before start {start} (end must be on or after start)")
    services = t.choices("services", catalog.SERVICES, "service")
    if services == () and not t.get("services"):
        t.add("services", f"must list at least one service {valid_choices(catalog.SERVICES)}")
    return {
        "code": code,
        "name": name,
        "client": client,
        "vendor": vendor,
        "timezone": timezone,
        "locale": locale,
        "start": start,
        "end": end,
        "services": DEFAULT_SERVICES if services is None else services,
        "allow_unregistered_reporters": t.flag(
            "allow_unregistered_reporters", policy.DEFAULT_ALLOW_UNREGISTERED_REPORTERS
        ),
        "email_signing": t.flag("email_signing", policy.DEFAULT_EMAIL_SIGNING),
    }


def _work_units(t: Node, hours_per_day: int) -> dict[str, int]:
    day = hours_per_day * 60
    minimum = t.minutes("min_unit", policy.DEFAULT_MIN_UNIT, day)
    cap = t.minutes("daily_cap", policy.DEFAULT_DAILY_CAP, day)
    if cap and cap > 24 * 60:
        t.add("daily_cap", "more than 24 hours (at most 24h)")
    if minimum and cap and minimum > cap:
        t.add("min_unit", "larger than daily_cap (min_unit must be <= daily_cap)")
    # Overtime one entry may carry beyond daily_cap (ot=yes); a person's day stays <= 24 h.
    overtime = t.minutes("overtime_ceiling", f"{_OVERTIME_DEFAULT}m", day)
    if overtime is not None and overtime > 24 * 60:
        t.add("overtime_ceiling", "more than 24 hours (at most 24h)")
    return {"min_unit_minutes": minimum or 60, "daily_cap_minutes": cap or day,
            "overtime_ceiling_minutes": _OVERTIME_DEFAULT if overtime is None else overtime}  # fmt: skip


def _work_rules(t: Node) -> dict[str, Any]:
    rules: dict[str, Any] = {
        "backdate_days": t.whole("backdate_days", 0, 31, policy.DEFAULT_BACKDATE_DAYS)
    }
    for key, at in (
        ("log_reminder", policy.DEFAULT_LOG_REMINDER),
        ("sync_time", policy.DEFAULT_SYNC_TIME),
        ("digest_time", policy.DEFAULT_DIGEST_TIME),
    ):
        default = f"{at:%H:%M}"
        value = _clock_time(t.get(key, default))
        if value is None:
            t.add(key, f"bad time {show(t.get(key))} (HH:MM, e.g. {default})")
        else:
            rules[key] = value
    if t.get("budget_alerts") is not None:
        items = t.sequence("budget_alerts")
        shares = sorted({share for i in items.data if (share := items.number(i)) is not None})
        for share in shares:
            if not 0 < share <= 2:
                items.add(
                    shares.index(share), f"{share} is out of range (0 < share <= 2, e.g. 0.8)"
                )
        rules["budget_alerts"] = tuple(shares)
    if t.get("blocker_escalation_hours") is not None:
        items = t.sequence("blocker_escalation_hours")
        hours = [items.whole(i, 1, 10000, 24) for i in items.data]
        if len(hours) != 2 or hours[0] >= hours[1]:
            t.add(
                "blocker_escalation_hours",
                "must be two increasing numbers of working hours, e.g. [24, 72]",
            )
        else:
            rules["blocker_escalation_hours"] = (hours[0], hours[1])
    return rules


def _clock_time(value: object) -> time | None:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value) if isinstance(value, str) else None
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    return None


def _budget(t: Node, hours_per_day: int) -> dict[str, int]:
    """Person-days by level, converted exactly (Decimal of the written number) to minutes."""
    budget = dict.fromkeys(catalog.LEVELS, 0)
    for level in t.data:
        if level not in catalog.LEVELS:
            t.add(level, f"unknown level {show(level)} {valid_choices(catalog.LEVELS)}")
            continue
        days = t.number(level)
        if days is None:
            continue
        minutes = Fraction(days) * hours_per_day * 60
        if days < 0:
            t.add(level, f"{days} is negative (person-days must be >= 0)")
        elif minutes.denominator > 1:
            t.add(level, f"{days} person-days is not whole minutes at {hours_per_day} h a day")
        else:
            budget[level] = int(minutes)
    return budget
