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
    window = { start = "22:00", hours = 4 }   # an upgrade window: both parties sign its plan
                                    # before it starts; evidence "acknowledgement" or "both"
                                    # (the default for a window): the client confirms the end
"""

from __future__ import annotations

import re
from typing import Any

from domain import catalog
from domain.obligations import EVERY, EVIDENCE, MONTH_DAYS, WEEKDAYS, WINDOW_HOURS_MAX
from handlers.filereader import Node, show, valid_choices

_KEYS = frozenset({
    "key", "service", "title", "owner", "every", "day", "dates", "evidence", "remind_days",
    "grace_days", "window",
})  # fmt: skip
_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
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
    window, windowed = _window(t), t.get("window") is not None
    evidence = t.choice("evidence", EVIDENCE, "evidence", "both" if windowed else "report")
    if windowed and evidence == "report":
        t.add("evidence", 'an upgrade window ends with the client\'s acknowledgement: '
                          '"acknowledgement" or "both"')  # fmt: skip
    remind = t.whole("remind_days", 0, 20, 3)
    grace = t.whole("grace_days", 0, 20, 2)
    if not (key and title and service and owner and every):
        return None
    parsed = {
        "key": key, "service": service, "title": title, "owner": owner, "every": every,
        "day": day, "dates": [d.isoformat() for d in dates], "evidence": evidence,
        "remind_days": remind, "grace_days": grace,
    }  # fmt: skip
    if window:
        parsed["window"] = window
    return parsed


def _window(t: Node) -> dict[str, Any] | None:
    """`window = { start = "HH:MM", hours = N }`: an upgrade window, or None."""
    if t.get("window") is None:
        return None
    span = t.table("window", ("start", "hours"))
    if not span.valid:
        return None
    start = span.text("start", required=True)
    if start and not _CLOCK.fullmatch(start):
        span.add("start", f'bad time {show(start)} (HH:MM, 24-hour, e.g. "22:00")')
    hours = 0
    if span.get("hours") is None:
        span.add("hours", f"required: how long the window is (1..{WINDOW_HOURS_MAX} hours)")
    else:
        hours = span.whole("hours", 1, WINDOW_HOURS_MAX, 0)
    return {"start": start, "hours": hours} if start and hours else None


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
