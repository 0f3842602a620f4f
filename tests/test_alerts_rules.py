"""The [alerts] section and the pure decisions of `domain.alerts`."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta

from domain import alerts as rules
from handlers.filereader import Node
from handlers.sow_alerts import parse_alerts

NOW = datetime(2026, 11, 25, 2, tzinfo=UTC)
SETTINGS = rules.AlertSettings(severity_map={"critical": "P1"}, flap_minutes=30)


def parse(text: str) -> tuple[dict[str, object] | None, list[str]]:
    problems: list[str] = []
    return parse_alerts(Node(tomllib.loads(text), "", problems)), problems


def test_section_defaults_and_problems_with_paths() -> None:
    data, problems = parse("[alerts]\n")
    assert problems == [] and data is not None and data["default_severity"] == "P3"
    _, problems = parse('[alerts]\nseverity_map = { critical = "P9" }\nflap_minutes = -1\n'
                        'routes = [{ match = {}, service = "nope" }]\ncolour = 1\n')  # fmt: skip
    text = "\n".join(problems)
    for path in ("alerts.colour", "alerts.severity_map.critical", "alerts.flap_minutes",
                 "alerts.routes[0].match", "alerts.routes[0].service"):  # fmt: skip
        assert path in text
    assert parse("")[0] is None


def event(status: rules.Status = "firing") -> rules.AlertEvent:
    return rules.AlertEvent("generic", "k", status, "t", labels={"severity": "critical"})


def test_decisions() -> None:
    resolved = rules.GroupState("resolved", NOW - timedelta(minutes=10), "resolved")
    assert rules.decide(event(), None, NOW, SETTINGS) == "open"
    assert rules.decide(event("resolved"), None, NOW, SETTINGS) == "ignore"
    assert rules.decide(event(), rules.GroupState("firing", None, "open"), NOW, SETTINGS) == "note"
    assert rules.decide(event(), resolved, NOW, SETTINGS) == "reopen"
    closed_long_ago = rules.GroupState("resolved", NOW - timedelta(hours=2), "closed")
    assert rules.decide(event(), closed_long_ago, NOW, SETTINGS) == "open"
    firing = rules.GroupState("firing", None, "in_progress")
    assert rules.decide(event("resolved"), firing, NOW, SETTINGS) == "note"
    resolving = rules.AlertSettings(severity_map={}, resolve_on_recovery=True)
    assert rules.decide(event("resolved"), firing, NOW, resolving) == "resolve"
    assert rules.decide(event("resolved"), resolved, NOW, resolving) == "ignore"


def test_severity_start_and_storm_limit() -> None:
    assert rules.severity(event(), SETTINGS) == "P1"
    assert rules.bounded_start(NOW + timedelta(hours=1), NOW) == NOW
    assert rules.bounded_start(NOW - timedelta(days=30), NOW) == NOW - rules.MAX_AGE
    assert rules.bounded_start(None, NOW) == NOW
    assert rules.may_post(4, SETTINGS) and not rules.may_post(5, SETTINGS)
    assert rules.delivery_key("generic", {"a": 1, "b": 2}) == rules.delivery_key(
        "generic", {"b": 2, "a": 1})  # fmt: skip
