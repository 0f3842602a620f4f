"""The engagement file (SOW as code): validate it into an immutable `EngagementSpec`.

Pure: a dict as `tomllib` gives it goes in, a spec or one `ConfigError` listing every problem
(`field.path: problem (what would be valid)`) comes out. Only `load_engagement_file` reads a file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError
from domain import catalog
from handlers.filereader import Node, show, valid_choices

LOCALES = ("zh-CN", "en")
DEFAULT_SERVICES = ("online_support", "response_sla")
_TOP_KEYS = frozenset({"engagement", "budget", "sla", "calendar", "people", "chats"})
_ENGAGEMENT_KEYS = frozenset(
    {"code", "name", "client", "vendor", "timezone", "locale", "start", "end", "services",
     "hours_per_day", "min_unit", "daily_cap", "overtime_ceiling", "allow_unregistered_reporters", "email_signing",
     "backdate_days", "log_reminder", "budget_alerts", "blocker_escalation_hours",
     "sync_time", "digest_time"}
)  # fmt: skip
_SLA_KEYS = frozenset(
    {"warning_at", "escalate_at", "escalation_roles", "auto_close_days", *catalog.SEVERITIES}
)
_TARGET_KEYS = frozenset({"response", "resolve", "calendar"})
_CALENDAR_KEYS = frozenset({"business_hours", "holidays", "workdays"})
_PERSON_KEYS = frozenset({"id", "name", "party", "roles", "level", "identities"})
_CHAT_KEYS = frozenset({"channel", "id", "name"})
# Roles an SLA breach may escalate to: the vendor's, and admins (who may sit on either side).
_ESCALATION_ROLES = tuple(role for role, party in catalog.ROLE_PARTY.items() if party != "client")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,39}")
_PERSON_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
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


@dataclass(frozen=True, kw_only=True)
class PersonSpec:
    """One person of either party; `key` is the file's `id`."""

    key: str
    name: str
    party: str
    roles: tuple[str, ...]
    level: str | None = None
    identities: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ChatSpec:
    """A group chat (or mailbox) bound to the engagement."""

    channel: str
    id: str
    name: str = ""


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
    backdate_days: int = 3  # work may be logged this many working days back
    log_reminder: time = time(18, 30)  # engineers with no entry that day are reminded then
    budget_alerts: tuple[Decimal, ...] = (Decimal("0.8"), Decimal("1"))  # shares of a budget
    # Working hours after which an open blocker goes to the client approver and the customer
    # manager (first), then to the vendor's director (second).
    blocker_escalation_hours: tuple[int, int] = (24, 72)
    sync_time: time = time(17, 30)  # the daily progress sync, on working days
    digest_time: time = time(9, 0)  # the customer manager's morning digest
    # Mail whose sender's domain vouched for it (DMARC, bot.assurance.DOMAIN) may sign.
    email_signing: bool = False
    overtime_ceiling_minutes: int = 240  # one entry: at most daily_cap plus this, with ot=yes


def parse_engagement(data: dict[str, Any], source: str = "") -> EngagementSpec:
    """Validate an engagement file's data; raise `ConfigError` listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError([f"(file): must be a table, not {show(data)}"], source)
    problems: list[str] = []
    root = Node(data, "", problems, _TOP_KEYS)
    head = root.table("engagement", _ENGAGEMENT_KEYS)
    spec = _header(head)
    hours_per_day = spec["hours_per_day"] = head.whole("hours_per_day", 1, 24, 8)
    spec.update(_work_units(head, hours_per_day))
    spec.update(_work_rules(head))
    spec["budget_minutes"] = _budget(root.table("budget"), hours_per_day)
    calendar = spec["calendar"] = _calendar(root.table("calendar", _CALENDAR_KEYS))
    spec["sla"] = _sla(root.table("sla"), calendar)
    spec["people"] = _people(root.sequence("people"))
    spec["chats"] = _chats(root.sequence("chats"))
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
    timezone = t.text("timezone") or "Asia/Shanghai"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        t.add("timezone", f"unknown time zone {show(timezone)} (examples: Asia/Shanghai, UTC)")
    locale = t.choice("locale", LOCALES, "locale", "zh-CN")
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
        "allow_unregistered_reporters": t.flag("allow_unregistered_reporters", True),
        "email_signing": t.flag("email_signing", False),
    }


def _work_units(t: Node, hours_per_day: int) -> dict[str, int]:
    day = hours_per_day * 60
    minimum, cap = t.minutes("min_unit", "1h", day), t.minutes("daily_cap", "1d", day)
    if cap and cap > 24 * 60:
        t.add("daily_cap", "more than 24 hours (at most 24h)")
    if minimum and cap and minimum > cap:
        t.add("min_unit", "larger than daily_cap (min_unit must be <= daily_cap)")
    # Overtime one entry may carry beyond daily_cap (ot=yes); a person's day stays <= 24 h.
    overtime = t.minutes("overtime_ceiling", "4h", day)
    if overtime is not None and overtime > 24 * 60:
        t.add("overtime_ceiling", "more than 24 hours (at most 24h)")
    return {"min_unit_minutes": minimum or 60, "daily_cap_minutes": cap or day,
            "overtime_ceiling_minutes": 240 if overtime is None else overtime}  # fmt: skip


def _work_rules(t: Node) -> dict[str, Any]:
    rules: dict[str, Any] = {"backdate_days": t.whole("backdate_days", 0, 31, 3)}
    for key, default in (
        ("log_reminder", "18:30"),
        ("sync_time", "17:30"),
        ("digest_time", "09:00"),
    ):
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


def _sla(t: Node, calendar: CalendarSpec) -> SlaPolicy:
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


def _calendar(t: Node) -> CalendarSpec:
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


def _people(items: Node) -> tuple[PersonSpec, ...]:
    people: list[PersonSpec] = []
    ids: dict[str, str] = {}  # casefolded id -> "people[0]"
    owners: dict[tuple[str, str], str] = {}  # (channel, external id) -> "people[1] (zhao.gang)"
    for i in items.data:
        t = items.table(i, _PERSON_KEYS)
        person = _person(t) if t.valid else None
        if person is None:
            continue
        folded = person.key.casefold()
        if folded in ids:
            t.add("id", f"{person.key!r} is already used by {ids[folded]}")
        if folded:
            ids.setdefault(folded, t.path)
        me = f"{t.path} ({person.key})"
        for channel, external in person.identities.items():
            owner = owners.setdefault((channel, external), me)
            if owner != me:
                t.add(f"identities.{channel}", f"{external!r} is already used by {owner}")
        people.append(person)
    return tuple(people)


def _person(t: Node) -> PersonSpec:
    key, name = t.text("id", required=True), t.text("name", required=True)
    if key and not _PERSON_ID.fullmatch(key):
        t.add("id", f"bad id {show(key)} (letters, digits, '.', '_', '-'; e.g. wang.li)")
    party = t.choice("party", catalog.PARTIES, "party", required=True)
    roles = t.choices("roles", catalog.ROLES, "role") or ()
    if not t.get("roles"):
        t.add("roles", f"at least one role is required {valid_choices(catalog.ROLES)}")
    for role in roles:
        if party and catalog.ROLE_PARTY[role] not in (None, party):
            who = key or "this person"
            t.add("roles", f"{role!r} is a {catalog.ROLE_PARTY[role]} role, but {who} is {party}")
    level = t.choice("level", catalog.LEVELS, "level") or None
    if "engineer" in roles and t.get("level") is None:
        t.add("level", f"required for an engineer {valid_choices(catalog.LEVELS)}")
    if party == "client" and t.get("level") is not None:
        t.add("level", "only vendor people have a level (remove it)")
    identities = _identities(t.table("identities"))
    return PersonSpec(
        key=key, name=name, party=party, roles=roles, level=level, identities=identities
    )


def _identities(t: Node) -> dict[str, str]:
    identities: dict[str, str] = {}
    for channel in t.data:
        if channel not in catalog.CHANNELS:
            t.add(channel, f"unknown channel {show(channel)} {valid_choices(catalog.CHANNELS)}")
            continue
        external = t.text(channel)
        if channel == "email":
            external = external.lower()
            if external and not _EMAIL.fullmatch(external):
                t.add(channel, f"{external!r} is not an email address (e.g. li@client.example)")
        if external:
            identities[channel] = external
    return identities


def _chats(items: Node) -> tuple[ChatSpec, ...]:
    chats: list[ChatSpec] = []
    seen: dict[tuple[str, str], str] = {}  # (channel, id) -> "chats[0]"
    for i in items.data:
        t = items.table(i, _CHAT_KEYS)
        if not t.valid:
            continue
        channel = t.choice("channel", catalog.CHANNELS, "channel", required=True)
        chat = ChatSpec(channel=channel, id=t.text("id", required=True), name=t.text("name"))
        if channel and chat.id and (channel, chat.id) in seen:
            t.add("id", f"{channel} chat {chat.id!r} is already listed as {seen[channel, chat.id]}")
            continue
        seen[channel, chat.id] = t.path
        chats.append(chat)
    return tuple(chats)
