"""Tests of the engagement file parser and validator (handlers/sow.py)."""

from __future__ import annotations

import contextlib
import copy
import tomllib
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from base.errors import ConfigError
from domain import catalog
from handlers.sow import (
    EngagementSpec,
    load_engagement_file,
    parse_engagement,
    spec_hash,
)

DEMO = Path(__file__).resolve().parent.parent / "config" / "demo-engagement.toml"
LEVELS = "(valid: junior, mid, senior, expert, principal)"
CHANNELS = "(valid: console, feishu, dingtalk, wecom, email)"


def minimal() -> dict[str, Any]:
    return {
        "engagement": {
            "code": "ACME-1",
            "name": "Acme support",
            "client": "Acme",
            "vendor": "Example Tech",
            "start": date(2026, 11, 1),
            "end": date(2027, 4, 30),
        }
    }


def person(key: str, party: str = "vendor", *roles: str, **extra: Any) -> dict[str, Any]:
    return {"id": key, "name": key.title(), "party": party, "roles": list(roles), **extra}


def engineer(key: str, level: str = "senior", console: str | None = None) -> dict[str, Any]:
    return person(
        key,
        "vendor",
        "engineer",
        level=level,
        identities={"console": console or key.replace(".", "")},
    )


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_engagement(data, "test.toml")
    assert caught.value.source == "test.toml"
    return caught.value.problems


# -- the demo file and defaults -----------------------------------------------------------------


def test_demo_file_parses_with_the_agreed_people() -> None:
    spec = load_engagement_file(DEMO)
    assert (spec.code, spec.timezone, spec.locale) == ("DEMO-2026", "Asia/Shanghai", "zh-CN")
    assert (spec.start, spec.end) == (date(2026, 11, 1), date(2027, 4, 30))
    assert spec.services == (
        "online_support", "response_sla", "ops_monitoring", "incident_recovery",
        "bigdata_dev", "training", "customer_manager",
    )  # fmt: skip
    assert (spec.hours_per_day, spec.min_unit_minutes, spec.daily_cap_minutes) == (8, 60, 480)
    days = {"junior": 40, "mid": 80, "senior": 60, "expert": 20, "principal": 5}
    assert spec.budget_minutes == {level: n * 8 * 60 for level, n in days.items()}
    assert spec.calendar.holidays == (date(2027, 1, 4),)
    assert spec.calendar.workdays == ()
    assert spec.calendar.business_day_minutes == 540
    assert spec.sla.escalation_roles == ("director",)
    assert spec.sla.targets["P1"] == catalog.SlaTarget(15, 240, "24x7")
    assert spec.sla.targets["P3"] == catalog.SlaTarget(240, 1620, "business")
    people = {p.key: (p.party, p.roles, p.level, p.identities["console"]) for p in spec.people}
    assert people == {
        "wang.li": ("client", ("client_approver",), None, "wangli"),
        "chen.jing": ("client", ("client_coordinator",), None, "chenjing"),
        "liu.yang": ("client", ("client_member",), None, "liuyang"),
        "sun.wei": ("vendor", ("vendor_pm", "admin"), None, "sunwei"),
        "zhou.min": ("vendor", ("customer_manager",), None, "zhoumin"),
        "qian.hao": ("vendor", ("director",), None, "qianhao"),
        "ma.lin": ("vendor", ("engineer",), "expert", "malin"),
        "zhao.gang": ("vendor", ("engineer",), "senior", "zhaogang"),
        "li.na": ("vendor", ("engineer",), "mid", "lina"),
        "he.jun": ("vendor", ("engineer",), "junior", "hejun"),
    }
    names = {p.key: p.name for p in spec.people}
    assert names["wang.li"] == "王丽" and names["zhao.gang"] == "赵刚"
    emails = [p.identities["email"] for p in spec.people if "email" in p.identities]
    assert "wang.li@client.example" in emails and "zhao.gang@vendor.example" in emails
    assert [(c.channel, c.id, c.name) for c in spec.chats] == [
        ("console", "demo-group", "示例集团运维群")
    ]


def test_minimal_file_gets_every_default() -> None:
    spec = parse_engagement(minimal())
    assert isinstance(spec, EngagementSpec)
    assert (spec.timezone, spec.locale) == ("Asia/Shanghai", "zh-CN")
    assert spec.services == ("online_support", "response_sla")
    assert (spec.hours_per_day, spec.min_unit_minutes, spec.daily_cap_minutes) == (8, 60, 480)
    assert spec.allow_unregistered_reporters is True
    assert spec.budget_minutes == dict.fromkeys(catalog.LEVELS, 0)
    assert (spec.sla.warning_at, spec.sla.escalate_at) == (Decimal("0.75"), Decimal("1.5"))
    assert spec.sla.escalation_roles == ("director",)
    assert spec.sla.targets == {
        "P1": catalog.SlaTarget(15, 240, "24x7"),
        "P2": catalog.SlaTarget(30, 480, "24x7"),
        "P3": catalog.SlaTarget(240, 3 * 540, "business"),
        "P4": catalog.SlaTarget(540, 5 * 540, "business"),
    }
    assert (spec.calendar.business_start, spec.calendar.business_end) == (time(9), time(18))
    assert (spec.calendar.holidays, spec.calendar.workdays) == ((), ())
    assert (spec.people, spec.chats) == ((), ())


def test_spec_is_frozen() -> None:
    spec = parse_engagement(minimal())
    with pytest.raises(AttributeError):
        spec.code = "OTHER"  # type: ignore[misc]


def test_dates_may_be_iso_strings() -> None:
    data = minimal()
    data["engagement"].update(start="2026-11-01", end="2027-04-30")
    data["calendar"] = {"holidays": ["2027-01-04"], "workdays": [date(2027, 2, 7)]}
    spec = parse_engagement(data)
    assert (spec.start, spec.end) == (date(2026, 11, 1), date(2027, 4, 30))
    assert (spec.calendar.holidays, spec.calendar.workdays) == (
        (date(2027, 1, 4),),
        (date(2027, 2, 7),),
    )


def test_daily_cap_and_min_unit_follow_hours_per_day() -> None:
    data = minimal()
    data["engagement"].update(hours_per_day=7, min_unit="0.5h", daily_cap="1.5d")
    spec = parse_engagement(data)
    assert (spec.min_unit_minutes, spec.daily_cap_minutes) == (30, 630)


# -- exact quantities ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "minutes"),
    [(2.5, 1200), (0.1, 48), (40, 19200), (Decimal("0.125"), 60), (0, 0)],
)
def test_budget_converts_person_days_exactly(days: Any, minutes: int) -> None:
    data = minimal() | {"budget": {"senior": days}}
    spec = parse_engagement(data)
    assert spec.budget_minutes["senior"] == minutes
    assert spec.budget_minutes["junior"] == 0


def test_budget_uses_hours_per_day() -> None:
    data = minimal() | {"budget": {"mid": 1.5}}
    data["engagement"]["hours_per_day"] = 6
    assert parse_engagement(data).budget_minutes["mid"] == 540


def test_budget_not_in_whole_minutes_is_refused() -> None:
    problems = problems_of(minimal() | {"budget": {"senior": 0.001}})
    assert problems == ["budget.senior: 0.001 person-days is not whole minutes at 8 h a day"]


def test_negative_budget_is_refused() -> None:
    assert problems_of(minimal() | {"budget": {"junior": -1}}) == [
        "budget.junior: -1 is negative (person-days must be >= 0)"
    ]


def test_business_day_is_the_length_of_business_hours() -> None:
    data = minimal() | {"sla": {"P3": {"resolve": "3d"}, "P2": {"resolve": "1d"}}}
    targets = parse_engagement(data).sla.targets
    assert targets["P3"].resolve_minutes == 1620
    assert targets["P2"].resolve_minutes == 24 * 60  # 24x7: a day is 24 hours
    data["calendar"] = {"business_hours": "09:00-17:30"}
    spec = parse_engagement(data)
    assert spec.calendar.business_day_minutes == 510
    assert spec.sla.targets["P3"].resolve_minutes == 3 * 510
    assert spec.sla.targets["P4"].response_minutes == 510


def test_severity_table_overrides_key_by_key() -> None:
    data = minimal() | {"sla": {"P1": {"response": "10m"}, "P4": {"calendar": "24x7"}}}
    targets = parse_engagement(data).sla.targets
    assert targets["P1"] == catalog.SlaTarget(10, 240, "24x7")
    assert targets["P4"] == catalog.SlaTarget(24 * 60, 5 * 24 * 60, "24x7")


def test_email_identities_are_lowercased() -> None:
    data = minimal() | {"people": [engineer("zhao.gang")]}
    data["people"][0]["identities"]["email"] = "Zhao.Gang@Vendor.Example"
    spec = parse_engagement(data)
    assert spec.people[0].identities["email"] == "zhao.gang@vendor.example"


# -- one problem of each kind -------------------------------------------------------------------


def _with(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the minimal file: set `value` at a dotted `path`."""

    def change(data: dict[str, Any]) -> None:
        *tables, key = path.split(".")
        target = data
        for name in tables:
            target = target.setdefault(name, {})
        target[key] = value

    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["engagement"].pop(key)


SERVICES = "(valid: " + ", ".join(catalog.SERVICES) + ")"
PROBLEMS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown top-level key": (_with("foo", 1), "foo: unknown key"),
    "unknown engagement key": (_with("engagement.colour", "red"), "engagement.colour: unknown key"),
    "required field": (_drop("start"), "engagement.start: required"),
    "bad code": (
        _with("engagement.code", "-x"),
        "engagement.code: bad code '-x' (2-40 letters, digits, '-', '_', '.')",
    ),
    "bad duration": (
        _with("engagement.min_unit", "1x"),
        "engagement.min_unit: bad duration '1x' (examples: 1h, 30m, 0.5d)",
    ),
    "duration not whole minutes": (
        _with("engagement.min_unit", "0.3m"),
        "engagement.min_unit: '0.3m' is not a positive whole number of minutes"
        " (examples: 1h, 30m, 0.5d)",
    ),
    "unknown service": (
        _with("engagement.services", ["online_support", "ops"]),
        f"engagement.services[1]: unknown service 'ops' {SERVICES}",
    ),
    "service twice": (
        _with("engagement.services", ["training", "training"]),
        "engagement.services[1]: 'training' is listed twice",
    ),
    "bool where a number is expected": (
        _with("engagement.hours_per_day", True),
        "engagement.hours_per_day: must be a whole number from 1 to 24, not true",
    ),
    "hours per day out of range": (
        _with("engagement.hours_per_day", 25),
        "engagement.hours_per_day: must be a whole number from 1 to 24, not 25",
    ),
    "bool budget": (_with("budget.mid", True), "budget.mid: must be a number, not true"),
    "unknown budget level": (
        _with("budget.seniour", 3),
        f"budget.seniour: unknown level 'seniour' {LEVELS}",
    ),
    "unknown time zone": (
        _with("engagement.timezone", "Mars/Base"),
        "engagement.timezone: unknown time zone 'Mars/Base' (examples: Asia/Shanghai, UTC)",
    ),
    "unknown locale": (
        _with("engagement.locale", "fr"),
        "engagement.locale: unknown locale 'fr' (valid: zh-CN, en)",
    ),
    "end before start": (
        _with("engagement.end", date(2026, 10, 1)),
        "engagement.end: 2026-10-01 is before start 2026-11-01 (end must be on or after start)",
    ),
    "bad date": (
        _with("engagement.start", "2026-13-01"),
        "engagement.start: bad date '2026-13-01' (format: YYYY-MM-DD)",
    ),
    "date-time instead of a date": (
        _with("engagement.start", datetime(2026, 11, 1, 9, 0)),
        "engagement.start: bad date 2026-11-01 09:00:00 (format: YYYY-MM-DD)",
    ),
    "not a bool": (
        _with("engagement.allow_unregistered_reporters", "yes"),
        "engagement.allow_unregistered_reporters: must be true or false, not 'yes'",
    ),
    "not a table": (_with("calendar", ["09:00"]), "calendar: must be a table, not a list"),
    "unknown severity": (
        _with("sla.P5", {"response": "1h"}),
        "sla.P5: unknown severity (valid: P1, P2, P3, P4)",
    ),
    "unknown sla key": (_with("sla.warn_at", 0.5), "sla.warn_at: unknown key"),
    "warning out of range": (
        _with("sla.warning_at", 1),
        "sla.warning_at: 1 is out of range (0 < warning_at < 1, e.g. 0.75)",
    ),
    "escalation not above one": (
        _with("sla.escalate_at", 0.9),
        "sla.escalate_at: 0.9 is out of range (escalate_at > 1, e.g. 1.5)",
    ),
    "client role in escalation": (
        _with("sla.escalation_roles", ["client_approver"]),
        "sla.escalation_roles[0]: unknown vendor role 'client_approver'"
        " (valid: engineer, vendor_pm, customer_manager, director, admin)",
    ),
    "unknown sla calendar": (
        _with("sla.P1", {"calendar": "weekdays"}),
        "sla.P1.calendar: unknown calendar 'weekdays' (valid: 24x7, business)",
    ),
    "response longer than resolve": (
        _with("sla.P2", {"response": "9h"}),
        "sla.P2.response: 540 minutes is longer than resolve, 480 minutes"
        " (response must be <= resolve)",
    ),
    "bad business hours": (
        _with("calendar.business_hours", "18:00-09:00"),
        "calendar.business_hours: bad hours '18:00-09:00' (HH:MM-HH:MM, e.g. 09:00-18:00)",
    ),
    "holiday and workday": (
        _with("calendar", {"holidays": ["2027-01-04"], "workdays": ["2027-01-04"]}),
        "calendar.workdays: 2027-01-04 is also in holidays (a date can be only one of them)",
    ),
    "unknown chat channel": (
        _with("chats", [{"channel": "qq", "id": "g1"}]),
        f"chats[0].channel: unknown channel 'qq' {CHANNELS}",
    ),
    "duplicate chat": (
        _with("chats", [{"channel": "console", "id": "g1"}, {"channel": "console", "id": "g1"}]),
        "chats[1].id: console chat 'g1' is already listed as chats[0]",
    ),
    "unknown level": (
        _with(
            "people",
            [engineer("ma.lin", "expert"), engineer("li.na", "mid"), engineer("he.jun", "seniour")],
        ),
        f"people[2].level: unknown level 'seniour' {LEVELS}",
    ),
    "identity used twice": (
        _with(
            "people",
            [
                *map(engineer, ["ma.lin", "zhao.gang", "li.na"]),
                engineer("he.jun", console="zhaogang"),
            ],
        ),
        "people[3].identities.console: 'zhaogang' is already used by people[1] (zhao.gang)",
    ),
    "person id used twice": (
        _with("people", [engineer("ma.lin"), engineer("ma.lin", console="other")]),
        "people[1].id: 'ma.lin' is already used by people[0]",
    ),
    "bad person id": (
        _with("people", [engineer("ma lin")]),
        "people[0].id: bad id 'ma lin' (letters, digits, '.', '_', '-'; e.g. wang.li)",
    ),
    "engineer without level": (
        _with("people", [person("li.na", "vendor", "engineer")]),
        f"people[0].level: required for an engineer {LEVELS}",
    ),
    "client with a level": (
        _with("people", [person("wang.li", "client", "client_member", level="mid")]),
        "people[0].level: only vendor people have a level (remove it)",
    ),
    "role of the other party": (
        _with("people", [person("wang.li", "client", "vendor_pm")]),
        "people[0].roles: 'vendor_pm' is a vendor role, but wang.li is client",
    ),
    "no role": (
        _with("people", [person("wang.li", "client")]),
        "people[0].roles: at least one role is required (valid: " + ", ".join(catalog.ROLES) + ")",
    ),
    "unknown party": (
        _with("people", [person("wang.li", "甲方", "admin")]),
        "people[0].party: unknown party '甲方' (valid: client, vendor)",
    ),
    "unknown identity channel": (
        _with("people", [engineer("ma.lin") | {"identities": {"qq": "12345"}}]),
        f"people[0].identities.qq: unknown channel 'qq' {CHANNELS}",
    ),
    "bad email": (
        _with("people", [engineer("ma.lin") | {"identities": {"email": "ma.lin"}}]),
        "people[0].identities.email: 'ma.lin' is not an email address (e.g. li@client.example)",
    ),
}


@pytest.mark.parametrize("kind", PROBLEMS)
def test_each_problem_names_its_field(kind: str) -> None:
    change, expected = PROBLEMS[kind]
    data = minimal()
    change(data)
    assert problems_of(data) == [expected]


def test_every_problem_of_a_file_is_listed() -> None:
    data = minimal()
    for kind in ("unknown top-level key", "bad duration", "unknown service", "unknown severity"):
        PROBLEMS[kind][0](data)
    del data["engagement"]["vendor"]
    data["people"] = [engineer("zhao.gang"), engineer("he.jun", "seniour", console="zhaogang")]
    data["chats"] = [{"channel": "qq", "id": "g1"}]
    problems = problems_of(data)
    assert problems == [
        "foo: unknown key",
        "engagement.vendor: required",
        f"engagement.services[1]: unknown service 'ops' {SERVICES}",
        "engagement.min_unit: bad duration '1x' (examples: 1h, 30m, 0.5d)",
        "sla.P5: unknown severity (valid: P1, P2, P3, P4)",
        f"people[1].level: unknown level 'seniour' {LEVELS}",
        "people[1].identities.console: 'zhaogang' is already used by people[0] (zhao.gang)",
        f"chats[0].channel: unknown channel 'qq' {CHANNELS}",
    ]
    with pytest.raises(ConfigError, match=r"^test\.toml: foo: unknown key; "):
        parse_engagement(data, "test.toml")


def test_missing_engagement_table_lists_every_required_field() -> None:
    fields = ("code", "name", "client", "vendor", "start", "end")
    assert problems_of({}) == [f"engagement.{name}: required" for name in fields]


def test_data_that_is_not_a_table_is_refused() -> None:
    assert problems_of([1, 2]) == ["(file): must be a table, not a list"]  # type: ignore[arg-type]


# -- files --------------------------------------------------------------------------------------


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[engagement]\ncode = "X-1"\nname = \n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_engagement_file(path)
    assert caught.value.source == str(path)
    assert caught.value.problems == ["line 3, column 8: TOML syntax error: Invalid value"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_engagement_file(tmp_path / "nope.toml")
    assert caught.value.problems == ["file not found"]


def test_file_problems_carry_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text('[engagement]\ncode = "ACME"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"acme\.toml: engagement\.name: required"):
        load_engagement_file(path)


def test_file_with_a_bom_loads(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufeff".encode() + DEMO.read_bytes())
    assert load_engagement_file(path).code == "DEMO-2026"


# -- spec_hash ----------------------------------------------------------------------------------


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed(value[key]) for key in reversed(value)}
    if isinstance(value, list):
        return [_reversed(item) for item in value]
    return value


def test_spec_hash_ignores_key_order_and_sees_budget_changes() -> None:
    data = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    digest = spec_hash(parse_engagement(data))
    assert len(digest) == 64
    assert spec_hash(parse_engagement(_reversed(data))) == digest
    assert spec_hash(load_engagement_file(DEMO)) == digest
    data["budget"]["senior"] = 61
    assert spec_hash(parse_engagement(data)) != digest


# -- robustness ---------------------------------------------------------------------------------

_PLAUSIBLE = st.sampled_from(
    ["", " ", "1h", "0.5d", "3d", "0d", "1x", "半天", "P1", "P5", "senior", "seniour", "engineer",
     "admin", "client", "vendor", "console", "qq", "wang.li", "09:00-18:00", "25:00-26:00",
     "2026-11-01", "2026-02-30", "x@y.example", "Asia/Shanghai", "Mars/Base", "America",
     "24x7", "business", "zh-CN"]
)  # fmt: skip
_SCALAR = st.one_of(
    _PLAUSIBLE, st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
    st.decimals(), st.dates(), st.datetimes(), st.times(),
)  # fmt: skip
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(_PLAUSIBLE | st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _table(*keys: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={key: _VALUE for key in keys})


_ENGAGEMENT_KEYS = (
    "code", "name", "client", "vendor", "timezone", "locale", "start", "end", "services",
    "hours_per_day", "min_unit", "daily_cap", "allow_unregistered_reporters", "colour",
)  # fmt: skip
_DATA = st.fixed_dictionaries(
    {},
    optional={
        "engagement": _table(*_ENGAGEMENT_KEYS),
        "budget": st.dictionaries(st.sampled_from([*catalog.LEVELS, "seniour", "P1"]), _VALUE),
        "sla": _table("warning_at", "escalate_at", "escalation_roles", "P1", "P3", "P5")
        | st.fixed_dictionaries({"P2": _table("response", "resolve", "calendar")}),
        "calendar": _table("business_hours", "holidays", "workdays"),
        "people": st.lists(_table("id", "name", "party", "roles", "level", "identities") | _VALUE),
        "chats": st.lists(_table("channel", "id", "name"), max_size=3) | _VALUE,
        "foo": _VALUE,
    },
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside the data of a TOML file."""
    if isinstance(value, dict):
        children = list(value.items())
    else:
        children = list(enumerate(value)) if isinstance(value, list) else []
    paths = []
    for key, child in children:
        paths += [(*prefix, key), *_paths(child, (*prefix, key))]
    return paths


_DEMO_DATA = tomllib.loads(DEMO.read_text(encoding="utf-8"))
_DEMO_PATHS = _paths(_DEMO_DATA)


def _assert_spec_or_config_error(data: Any) -> None:
    try:
        spec = parse_engagement(data)
    except ConfigError as error:
        assert error.problems
        assert all(isinstance(problem, str) and ": " in problem for problem in error.problems)
    else:
        assert len(spec_hash(spec)) == 64


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DATA)
def test_wrong_data_gives_a_spec_or_a_config_error(data: dict[str, Any]) -> None:
    _assert_spec_or_config_error(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_DEMO_PATHS), _VALUE), min_size=1, max_size=3))
def test_demo_with_wrong_values_gives_a_spec_or_a_config_error(
    changes: list[tuple[tuple[Any, ...], Any]],
) -> None:
    data = copy.deepcopy(_DEMO_DATA)
    for path, value in changes:
        target = data
        with contextlib.suppress(LookupError, TypeError):  # an earlier change removed the path
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
    _assert_spec_or_config_error(data)
