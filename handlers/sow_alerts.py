"""The engagement file's [alerts] section (see handlers.sow.SECTIONS): how monitoring alerts
become tickets. Read back by `domain.alerts.AlertSettings.of`.

    [alerts]
    severity_map = { critical = "P1", warning = "P3" }  # the alert's severity label -> P1-P4
    default_severity = "P3"                             # no label, or one the map lacks
    severity_label = "severity"                         # the label holding it
    routes = [{ match = { team = "bigdata" }, service = "bigdata_dev" }]  # first match wins
    resolve_on_recovery = false   # a recovery resolves the ticket, pending the client's word
    flap_minutes = 30             # firing again this soon after resolving reopens the ticket
    max_posts_per_minute = 5      # chat posts about alerts; the rest go into one summary
"""

from __future__ import annotations

from typing import Any

from domain import catalog
from handlers.filereader import Node

_KEYS = frozenset({
    "severity_map", "default_severity", "severity_label", "routes", "resolve_on_recovery",
    "flap_minutes", "max_posts_per_minute",
})  # fmt: skip
_ROUTE_KEYS = frozenset({"match", "service"})
DEFAULTS: dict[str, Any] = {
    "severity_map": {"critical": "P1", "warning": "P3"},
    "default_severity": "P3",
    "severity_label": "severity",
    "routes": [],
    "resolve_on_recovery": False,
    "flap_minutes": 30,
    "max_posts_per_minute": 5,
}


def parse_alerts(root: Node) -> dict[str, Any] | None:
    """The section as JSON-ready data, or None when the file has none."""
    if root.get("alerts") is None:
        return None
    t = root.table("alerts", _KEYS)
    severities = tuple(catalog.SEVERITIES)
    mapping: dict[str, str] = dict(DEFAULTS["severity_map"])
    if t.get("severity_map") is not None:
        table = t.table("severity_map")
        mapping = {}
        for key in table.data:
            severity = table.choice(key, severities, "severity")
            if severity:
                mapping[str(key).strip().lower()] = severity
    label = t.get("severity_label", DEFAULTS["severity_label"])
    if not isinstance(label, str) or not label.strip():
        t.add("severity_label", "must be a non-empty string (a label name, e.g. 'severity')")
        label = DEFAULTS["severity_label"]
    return {
        "severity_map": mapping,
        "default_severity": t.choice(
            "default_severity", severities, "severity", DEFAULTS["default_severity"]
        ),
        "severity_label": label.strip(),
        "routes": _routes(t),
        "resolve_on_recovery": t.flag("resolve_on_recovery", DEFAULTS["resolve_on_recovery"]),
        "flap_minutes": t.whole("flap_minutes", 0, 24 * 60, DEFAULTS["flap_minutes"]),
        "max_posts_per_minute": t.whole(
            "max_posts_per_minute", 1, 60, DEFAULTS["max_posts_per_minute"]
        ),
    }


def _routes(t: Node) -> list[dict[str, Any]]:
    routes = []
    items = t.sequence("routes")
    for i in items.data:
        route = items.table(i, _ROUTE_KEYS)
        if not route.valid:
            continue
        match = route.table("match")
        labels = {}
        for key, value in match.data.items():
            if isinstance(value, str) and value:
                labels[str(key)] = value
            else:
                match.add(key, "must be a non-empty string (the label's value)")
        if not labels:
            route.add("match", "required: at least one label = value")
        service = route.choice("service", tuple(catalog.SERVICES), "service", required=True)
        if labels and service:
            routes.append({"match": labels, "service": service})
    return routes
