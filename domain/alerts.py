"""Monitoring alerts (运维监控 智能预警), pure: the three payloads read into alert events, the
severity and service line an event gets, what it does to its group's ticket, and the storm
limit on chat posts. No I/O; `handlers.alerts` carries the decisions out.

One ticket per alert group. For Alertmanager the group is the notification group
(`groupKey`): Alertmanager already groups alerts by the route's `group_by`, and a group's
status turns `resolved` only when all of its alerts have; a ticket per fingerprint would open
one ticket per host in an outage. Zabbix's group is the problem's event id; the generic
payload's is its `dedupe_key`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

Status = Literal["firing", "resolved"]
Action = Literal["open", "note", "resolve", "reopen", "ignore"]
SOURCES = ("alertmanager", "zabbix", "generic")
# A startsAt older than this is bounded to it: a zero time ("0001-01-01") or a clock gone
# wrong must not open a ticket already days past its SLA.
MAX_AGE = timedelta(days=1)
_TEXT_MAX = 2000  # per label or annotation value kept


class PayloadError(ValueError):
    """The body is not the format the endpoint takes (HTTP 400)."""


@dataclass(frozen=True)
class AlertEvent:
    """One group's news: firing or resolved, with what the alert says about itself."""

    source: str
    group_key: str
    status: Status
    title: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    link: str = ""
    count: int = 1  # alerts in it (Alertmanager: the group's)

    @property
    def key_hash(self) -> str:
        return hashlib.sha256(f"{self.source}\n{self.group_key}".encode()).hexdigest()


@dataclass(frozen=True)
class AlertSettings:
    """The engagement's [alerts] (`handlers.sow_alerts`), with its defaults."""

    severity_map: Mapping[str, str]
    default_severity: str = "P3"
    severity_label: str = "severity"
    routes: tuple[tuple[Mapping[str, str], str], ...] = ()
    resolve_on_recovery: bool = False
    flap_minutes: int = 30
    max_posts_per_minute: int = 5

    @classmethod
    def of(cls, rules: Mapping[str, Any]) -> AlertSettings:
        """From the engagement's `rules` (the section parsed when the file was applied)."""
        data = rules.get("alerts") or {}
        return cls(
            severity_map=dict(data.get("severity_map", {"critical": "P1", "warning": "P3"})),
            default_severity=data.get("default_severity", "P3"),
            severity_label=data.get("severity_label", "severity"),
            routes=tuple((dict(r["match"]), r["service"]) for r in data.get("routes", ())),
            resolve_on_recovery=bool(data.get("resolve_on_recovery", False)),
            flap_minutes=int(data.get("flap_minutes", 30)),
            max_posts_per_minute=int(data.get("max_posts_per_minute", 5)),
        )


@dataclass(frozen=True)
class GroupState:
    """What is known of an event's group: its state, when it last resolved, its ticket's."""

    state: Status
    resolved_at: datetime | None
    ticket_status: str


def severity(event: AlertEvent, settings: AlertSettings) -> str:
    value = event.labels.get(settings.severity_label, "").strip().lower()
    return settings.severity_map.get(value, settings.default_severity)


def service(event: AlertEvent, settings: AlertSettings) -> str | None:
    """The service line of the first route whose labels all match; None: no route matches."""
    for match, line in settings.routes:
        if all(event.labels.get(key) == value for key, value in match.items()):
            return line
    return None


def bounded_start(starts_at: datetime | None, now: datetime) -> datetime:
    """When the SLA clocks start: the alert's startsAt, but never in the future (a skewed
    clock) and never more than `MAX_AGE` ago; receipt when the payload has none."""
    if starts_at is None or starts_at > now:
        return now
    return max(starts_at, now - MAX_AGE)


def decide(event: AlertEvent, group: GroupState | None, now: datetime,
           settings: AlertSettings) -> Action:  # fmt: skip
    """What `event` does to its group's ticket.

    - a new group firing opens a ticket; a recovery of a group never seen is ignored;
    - firing again while firing is a note (a re-fire: no new ticket);
    - firing again within `flap_minutes` of resolving reopens a resolved or closed ticket
      (flapping); later, a closed ticket's group opens a new one, an open ticket gets a note;
    - a recovery resolves the ticket (pending the client's confirmation) when the engagement
      says so and the ticket is still being worked on, else it is a note; a second recovery
      is ignored.
    """
    if group is None:
        return "open" if event.status == "firing" else "ignore"
    finished = group.ticket_status in ("resolved", "closed")
    if event.status == "resolved":
        if group.state == "resolved":
            return "ignore"
        return "resolve" if settings.resolve_on_recovery and not finished else "note"
    if group.state == "firing":
        return "reopen" if group.ticket_status == "closed" else "note"
    flapping = group.resolved_at is not None and now - group.resolved_at <= timedelta(
        minutes=settings.flap_minutes
    )
    if finished and flapping:
        return "reopen"
    if group.ticket_status == "closed":
        return "open"
    return "reopen" if finished else "note"


def may_post(posted_last_minute: int, settings: AlertSettings) -> bool:
    """The storm limit: a chat gets at most `max_posts_per_minute` posts about alerts; what
    is held back goes into one summary (`handlers.alerts.summarise`)."""
    return posted_last_minute < settings.max_posts_per_minute


def delivery_key(source: str, body: Any) -> str:
    """The same webhook delivered twice has the same key (whitespace and key order aside)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{source}\n{canonical}".encode()).hexdigest()


# -- the payloads -----------------------------------------------------------------------------


def parse(source: str, body: Any, zone: str = "Asia/Shanghai") -> list[AlertEvent]:
    """The events of a payload; PayloadError when it is not the source's format. `zone` reads
    Zabbix's local dates."""
    if not isinstance(body, dict):
        raise PayloadError("the body must be a JSON object")
    if source == "alertmanager":
        return [alertmanager(body)]
    if source == "zabbix":
        return [zabbix(body, zone)]
    return [generic(body)]


def alertmanager(body: dict[str, Any]) -> AlertEvent:
    """Alertmanager's webhook, version 4: one notification group and its alerts."""
    if str(body.get("version", "")) != "4":
        raise PayloadError('Alertmanager webhook: version must be "4"')
    group_key, status, alerts = body.get("groupKey"), body.get("status"), body.get("alerts")
    if not isinstance(group_key, str) or not group_key:
        raise PayloadError("Alertmanager webhook: groupKey is required")
    if status not in ("firing", "resolved"):
        raise PayloadError("Alertmanager webhook: status must be firing or resolved")
    if not isinstance(alerts, list) or not alerts or not all(isinstance(a, dict) for a in alerts):
        raise PayloadError("Alertmanager webhook: alerts must be a non-empty list of objects")
    firing = [a for a in alerts if a.get("status", status) == "firing"] or alerts
    first = firing[0]
    labels = {**_strings(body.get("commonLabels"), "commonLabels"),
              **_strings(first.get("labels"), "labels")}  # fmt: skip
    annotations = {**_strings(body.get("commonAnnotations"), "commonAnnotations"),
                   **_strings(first.get("annotations"), "annotations")}  # fmt: skip
    starts = [s for a in firing if (s := _instant(a.get("startsAt"), "startsAt")) is not None]
    ends = [e for a in alerts if (e := _instant(a.get("endsAt"), "endsAt")) is not None]
    name = labels.get("alertname", "alert")
    summary = annotations.get("summary") or annotations.get("description") or ""
    return AlertEvent(
        source="alertmanager", group_key=group_key, status=status,
        title=f"{name}: {summary}" if summary else name, labels=labels, annotations=annotations,
        starts_at=min(starts) if starts else None, ends_at=max(ends) if ends else None,
        link=_text(first.get("generatorURL") or body.get("externalURL") or ""), count=len(alerts),
    )  # fmt: skip


def zabbix(body: dict[str, Any], zone: str) -> AlertEvent:
    """Zabbix's webhook media type with the parameters documented in docs/operations.md:
    event_id, event_value (1 problem, 0 recovery) or event_status, event_name, event_severity,
    host_name, event_date + event_time (the server's local time), event_tags, event_url."""
    event_id = body.get("event_id")
    if not isinstance(event_id, str | int) or not str(event_id).strip():
        raise PayloadError("Zabbix webhook: event_id is required")
    value = str(body.get("event_value", "")).strip()
    word = str(body.get("event_status", "")).strip().upper()
    if value in ("0", "1"):
        status: Status = "firing" if value == "1" else "resolved"
    elif word in ("PROBLEM", "RESOLVED", "OK"):
        status = "firing" if word == "PROBLEM" else "resolved"
    else:
        raise PayloadError("Zabbix webhook: event_value must be 1 (problem) or 0 (recovery)")
    labels = _zabbix_tags(body.get("event_tags"))
    for key in ("host_name", "trigger_id", "event_severity"):
        if body.get(key) not in (None, ""):
            labels[key.removeprefix("event_")] = _text(body[key])
    if "severity" in labels:
        labels["severity"] = labels["severity"].lower()
    name = _text(body.get("event_name") or body.get("trigger_name") or "Zabbix problem")
    host = labels.get("host_name", "")
    starts = _zabbix_time(body.get("event_date"), body.get("event_time"), zone)
    return AlertEvent(
        source="zabbix", group_key=str(event_id).strip(), status=status,
        title=f"{host}: {name}" if host else name, labels=labels,
        annotations={k: _text(body[k]) for k in ("event_opdata", "message") if body.get(k)},
        starts_at=starts, link=_text(body.get("event_url") or body.get("zabbix_url") or ""),
    )  # fmt: skip


def generic(body: dict[str, Any]) -> AlertEvent:
    """The generic payload (docs/operations.md): dedupe_key and title required; status
    (firing | resolved, default firing), severity, labels, annotations, starts_at (ISO 8601),
    link."""
    key, title = body.get("dedupe_key"), body.get("title")
    if not isinstance(key, str) or not key.strip():
        raise PayloadError("generic alert: dedupe_key is required")
    if not isinstance(title, str) or not title.strip():
        raise PayloadError("generic alert: title is required")
    status = body.get("status", "firing")
    if status not in ("firing", "resolved"):
        raise PayloadError("generic alert: status must be firing or resolved")
    labels = _strings(body.get("labels"), "labels")
    if isinstance(body.get("severity"), str):
        labels.setdefault("severity", body["severity"])
    return AlertEvent(
        source="generic", group_key=key.strip(), status=status, title=_text(title.strip()),
        labels=labels, annotations=_strings(body.get("annotations"), "annotations"),
        starts_at=_instant(body.get("starts_at"), "starts_at"), link=_text(body.get("link", "")),
    )  # fmt: skip


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be an object")
    return {str(k): _text(v) for k, v in value.items()}


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[:_TEXT_MAX]


def _instant(value: Any, what: str) -> datetime | None:
    """An RFC 3339 time; Go's zero time (an alert with no end) is None."""
    if value in (None, "") or (isinstance(value, str) and value.startswith("0001-01-01")):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{what} must be an RFC 3339 time")
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Go writes nanoseconds; Python reads at most microseconds
        head, _, tail = text.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = f"{head}.{tail[: min(digits, 6)]:0<6}{tail[digits:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise PayloadError(f"{what}: {value!r} is not an RFC 3339 time") from error
    if moment.tzinfo is None:
        raise PayloadError(f"{what}: {value!r} has no time zone")
    return moment


def _zabbix_time(day: Any, time: Any, zone: str) -> datetime | None:
    """`{EVENT.DATE}` `{EVENT.TIME}`: 2026.11.25 09:58:00, in the server's (the engagement's)
    time zone."""
    if not isinstance(day, str) or not isinstance(time, str):
        return None
    try:
        local = datetime.strptime(f"{day.strip()} {time.strip()}", "%Y.%m.%d %H:%M:%S")
    except ValueError as error:
        raise PayloadError(f"Zabbix webhook: bad event_date/event_time {day!r} {time!r}") from error
    return local.replace(tzinfo=ZoneInfo(zone))


def _zabbix_tags(value: Any) -> dict[str, str]:
    """`{EVENT.TAGSJSON}` (a list of {tag, value}, as a list or as its JSON text) or
    `{EVENT.TAGS}` ("team:bigdata,service:hive")."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise PayloadError("Zabbix webhook: event_tags is not valid JSON") from error
    if isinstance(value, list):
        return {_text(t.get("tag", "")): _text(t.get("value", ""))
                for t in value if isinstance(t, dict) and t.get("tag")}  # fmt: skip
    if isinstance(value, str):
        pairs = (part.partition(":") for part in value.split(",") if part.strip())
        return {k.strip(): v.strip() for k, _, v in pairs if k.strip()}
    return {}
