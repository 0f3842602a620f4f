"""The engagement file's [[obligations]] (see handlers.sow.SECTIONS): the SOW's recurring duties
(定期义务) — health checks, security patches, upgrade windows, training. Read back by
`domain.obligations.obligations_of`.

    [[obligations]]
    key = "health_check"            # unique in the file
    service = "health_check"        # a catalogue service
    title = "月度系统健康检查"
    owner = "vendor_pm"             # a role, or a person's id
    every = "monthly"               # monthly | quarterly | weekly | dates
    day = "first_working_day"       # monthly/quarterly: first_working_day | last_working_day |
                                    # 1..28; weekly: mon..sun
    dates = []                      # with every = "dates"
    evidence = "report"             # report | acknowledgement | both
    remind_days = 3                 # working days before the due date
    grace_days = 2                  # working days after it before escalating
"""

from __future__ import annotations

import re
from typing import Any

from domain import catalog
from domain.obligations import EVERY, EVIDENCE, MONTH_DAYS, WEEKDAYS
from handlers.filereader import Node, show, valid_choices

_KEYS = frozenset({
    "key", "service", "title", "owner", "every", "day", "dates", "evidence", "remind_days",
    "grace_days",
})  # fmt: skip
_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
MAX_OBLIGATIONS = 50
MAX_DATES = 400


def parse_obligations(root: Node) -> dict[str, Any] | None:
    """The section as JSON-ready data (`{"items": [...]}`), or None when the file has none."""
    if root.get("obligations") is None:
        return None
    items = root.sequence("obligations")
    if len(items.data) > MAX_OBLIGATIONS:
        items.problems.append(f"{items.path}: at most {MAX_OBLIGATIONS} obligations")
        return {"items": []}
    people = _people(root)
    found: list[dict[str, Any]] = []
    keys: set[str] = set()
    for i in items.data:
        item = items.table(i, _KEYS)
        if item.valid:
            parsed = _one(item, people)
            if parsed is not None and parsed["key"] in keys:
                item.add("key", f"{show(parsed['key'])} is used twice")
            elif parsed is not None:
                keys.add(parsed["key"])
                found.append(parsed)
    return {"items": found}


def _one(t: Node, people: set[str]) -> dict[str, Any] | None:
    key = t.text("key", required=True)
    if key and not _KEY.fullmatch(key):
        t.add("key", f"bad key {show(key)} (lower-case letters, digits, _ . -; at most 40)")
    title = t.text("title", required=True)
    if len(title) > 200:
        t.add("title", "at most 200 characters")
    service = t.choice("service", tuple(catalog.SERVICES), "service", required=True)
    owner = t.text("owner", required=True)
    if owner and owner not in catalog.ROLES and owner not in people:
        t.add("owner", f"{show(owner)} is neither a role {valid_choices(catalog.ROLES)} "
                       "nor the id of someone in [[people]]")  # fmt: skip
    every = t.choice("every", EVERY, "recurrence", required=True)
    day = _day(t, every)
    dates = t.days("dates")
    if every == "dates" and not dates:
        t.add("dates", 'required with every = "dates": at least one date')
    elif every != "dates" and dates:
        t.add("dates", 'only with every = "dates"')
    if len(dates) > MAX_DATES:
        t.add("dates", f"at most {MAX_DATES} dates")
    evidence = t.choice("evidence", EVIDENCE, "evidence", "report")
    remind = t.whole("remind_days", 0, 20, 3)
    grace = t.whole("grace_days", 0, 20, 2)
    if not (key and title and service and owner and every):
        return None
    return {
        "key": key, "service": service, "title": title, "owner": owner, "every": every,
        "day": day, "dates": [d.isoformat() for d in dates], "evidence": evidence,
        "remind_days": remind, "grace_days": grace,
    }  # fmt: skip


def _day(t: Node, every: str) -> str:
    value = t.get("day")
    if every == "weekly":
        return t.choice("day", WEEKDAYS, "weekday", required=True)
    if every in ("monthly", "quarterly"):
        if value is None:
            return "first_working_day"
        if isinstance(value, int) and not isinstance(value, bool):
            return str(t.whole("day", 1, 28, 1))
        return t.choice("day", MONTH_DAYS, "day of the month (or a number 1..28)", MONTH_DAYS[0])
    if value is not None:
        t.add("day", f"not used with every = {show(every)}")
    return ""


def _people(root: Node) -> set[str]:
    """The ids of [[people]] (read raw here: sow_people validates them)."""
    listed = root.get("people")
    if not isinstance(listed, list):
        return set()
    return {
        str(p["id"]).strip() for p in listed if isinstance(p, dict) and isinstance(p.get("id"), str)
    }
