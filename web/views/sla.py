"""SLA attainment for the console: of the tickets opened in a span, how many met their
first-response and resolution targets, by severity — on each severity's calendar (business
hours where the SLA says so), paused time excluded. The rule is the weekly report's
(`handlers.progress_weekly`): a leg still running within its target has no outcome yet."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot import clock
from domain.catalog import SEVERITIES
from domain.policy import policy_of
from handlers import progress_weekly
from handlers.progress import day_bounds
from handlers.progress_weekly import Attainment, week_of
from handlers.ticket_sla import TicketSla
from storage.models import Engagement, Ticket

# What the SLA clocks read of a ticket (TicketSla.clocks): no title, no history.
_CLOCK_COLUMNS = (
    col(Ticket.severity), col(Ticket.status), col(Ticket.opened_at), col(Ticket.acked_at),
    col(Ticket.resolved_at), col(Ticket.closed_at), col(Ticket.pending_since),
    col(Ticket.paused_minutes),
)  # fmt: skip
# A month of tickets is read at most this far: beyond it the figures say they are partial.
MAX_TICKETS = 20_000


@dataclass(frozen=True)
class Share:
    """Met of total, with the share in whole percent (None when nothing has an outcome)."""

    met: int = 0
    total: int = 0

    @property
    def percent(self) -> int | None:
        return None if not self.total else (self.met * 100) // self.total

    @classmethod
    def of(cls, attainment: Attainment | None) -> Share:
        return cls() if attainment is None else cls(attainment.met, attainment.total)


@dataclass(frozen=True)
class SeverityAttainment:
    severity: str
    response: Share
    resolution: Share
    tickets: Share  # tickets whose response AND resolution met their targets


@dataclass(frozen=True)
class SpanAttainment:
    """One span (a week, a month) by severity, P1 first."""

    label: str
    start: date
    end: date
    by_severity: tuple[SeverityAttainment, ...]
    opened: int = 0
    partial: bool = False  # more tickets than MAX_TICKETS were opened: the first ones counted

    def severity(self, key: str) -> SeverityAttainment:
        return next(s for s in self.by_severity if s.severity == key)


@dataclass
class _Tally:
    response: dict[str, list[int]] = field(default_factory=dict)
    resolution: dict[str, list[int]] = field(default_factory=dict)
    tickets: dict[str, list[int]] = field(default_factory=dict)

    def add(self, table: dict[str, list[int]], severity: str, met: bool) -> None:
        cell = table.setdefault(severity, [0, 0])
        cell[0] += met
        cell[1] += 1

    def copy(self) -> _Tally:
        return _Tally({k: list(v) for k, v in self.response.items()},
                      {k: list(v) for k, v in self.resolution.items()},
                      {k: list(v) for k, v in self.tickets.items()})  # fmt: skip

    def span(
        self, label: str, start: date, end: date, opened: int, partial: bool
    ) -> SpanAttainment:
        def share(table: dict[str, list[int]], severity: str) -> Share:
            met, total = table.get(severity, (0, 0))
            return Share(met, total)

        rows = tuple(
            SeverityAttainment(s, share(self.response, s), share(self.resolution, s),
                               share(self.tickets, s))
            for s in SEVERITIES
        )  # fmt: skip
        return SpanAttainment(label, start, end, rows, opened, partial)


_STOPPED = ("resolved", "closed")  # both clocks stopped (TicketSla.clocks)


def _in_span(engagement: Engagement, first: date, last: date) -> list[Any]:
    start = day_bounds(first, engagement.timezone)[0]
    end = day_bounds(last, engagement.timezone)[1]
    return [col(Ticket.engagement_id) == engagement.id, col(Ticket.opened_at) >= start,
            col(Ticket.opened_at) < end]  # fmt: skip


def _clock_rows(session: Session, where: list[Any], limit: int) -> list[Any]:
    """The clock columns of the tickets `where` says, oldest first, at most `limit` + 1."""
    query = select(*_CLOCK_COLUMNS).where(*where).order_by(col(Ticket.opened_at)).limit(limit + 1)
    return list(session.execute(query).all())


Outcomes = tuple[bool | None, bool | None]


def _outcomes(ticket_sla: TicketSla, row: Any, now: datetime) -> Outcomes:
    """Each leg's outcome by the weekly report's rule: met, missed, or None (still running
    within its target)."""
    response, resolution = progress_weekly.attainment(ticket_sla, [cast(Ticket, row)], now)
    legs = (response.get(row.severity), resolution.get(row.severity))
    return (None if legs[0] is None else legs[0].met == 1,
            None if legs[1] is None else legs[1].met == 1)  # fmt: skip


def _settled(row: Any, now: datetime) -> bool:
    """Both clocks stopped before `now` (resolved or closed; see TicketSla.clocks): the
    outcomes no longer depend on the time."""
    if row.status not in _STOPPED:
        return False
    stopped = row.resolved_at or (row.closed_at if row.status == "closed" else None)
    return stopped is not None and stopped <= now and (row.acked_at is None or row.acked_at <= now)


class _Memo:
    """What settled tickets came to, remembered (bounded, least recently used out first).

    Two levels, each keyed by everything its value depends on, so neither is ever stale:
    a settled ticket's outcomes by its clock columns and the engagement's SLA policy; and a
    span's tallies of its settled tickets by a fingerprint of them that SQL takes in one
    indexed aggregate (how many, how many acknowledged or paused, the paused minutes, the
    highest id and the latest acknowledgement, resolution and close: a ticket settles or
    settles again only by a resolution or a close at the present moment, which moves a
    maximum). A month of 25 000 tickets is then one aggregate, not 25 000 clock readings."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._memo: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            found = self._memo.get(key)
            if found is not None:
                self._memo.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > self.size:
                self._memo.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._memo.clear()


MEMO = _Memo(100_000)


def _settled_outcomes(policy: tuple[Any, ...], ticket_sla: TicketSla, row: Any,
                      now: datetime) -> Outcomes:  # fmt: skip
    if not _settled(row, now):
        return _outcomes(ticket_sla, row, now)
    key = ("ticket", policy, tuple(row))
    found: Outcomes | None = MEMO.get(key)
    if found is None:
        found = _outcomes(ticket_sla, row, now)
        MEMO.put(key, found)
    return found


def _fingerprint(session: Session, where: list[Any]) -> tuple[Any, ...]:
    row = session.execute(
        select(func.count(), func.count(col(Ticket.acked_at)), func.count(col(Ticket.pending_since)),
               func.sum(col(Ticket.paused_minutes)), func.max(col(Ticket.id)),
               func.max(col(Ticket.acked_at)), func.max(col(Ticket.resolved_at)),
               func.max(col(Ticket.closed_at)))
        .where(*where, col(Ticket.status).in_(_STOPPED))
    ).one()  # fmt: skip
    return tuple(row)


def _tally(tally: _Tally, outcomes: Outcomes, severity: str) -> None:
    response, resolution = outcomes
    if response is not None:
        tally.add(tally.response, severity, response)
    if resolution is not None:
        tally.add(tally.resolution, severity, resolution)
    if response is False or resolution is False:
        tally.add(tally.tickets, severity, False)
    elif response and resolution:
        tally.add(tally.tickets, severity, True)


def attainment(
    session: Session, engagement: Engagement, first: date, last: date, now: datetime,
    label: str = "",
) -> SpanAttainment:  # fmt: skip
    """The tickets opened on the local days first..last."""
    return weekly(session, engagement, first, last, now, label=label, by_week=False)[0]


def weekly(
    session: Session, engagement: Engagement, first: date, last: date, now: datetime, *,
    label: str = "", by_week: bool = True,
) -> list[SpanAttainment]:  # fmt: skip
    """Each ISO week that meets first..last (whole weeks), or the span itself."""
    ticket_sla = TicketSla.of(policy_of(engagement))
    policy = _policy_key(engagement)
    spans = list(_weeks(first, last)) if by_week else [(label, first, last)]
    where = _in_span(engagement, spans[0][1], spans[-1][2])
    settled = _settled_tallies(session, engagement, spans, where, policy, ticket_sla, now)
    tallies = [tally.copy() for tally in settled.tallies]
    opened = list(settled.opened)
    live = _clock_rows(session, [*where, col(Ticket.status).not_in(_STOPPED)], MAX_TICKETS)
    for index, row in _placed(live[:MAX_TICKETS], spans, engagement.timezone):
        opened[index] += 1
        _tally(tallies[index], _outcomes(ticket_sla, row, now), row.severity)
    partial = settled.partial or len(live) > MAX_TICKETS
    return [
        tally.span(name, start, end, count, partial)
        for tally, (name, start, end), count in zip(tallies, spans, opened, strict=True)
    ]


@dataclass(frozen=True)
class _SettledTallies:
    tallies: tuple[_Tally, ...]
    opened: tuple[int, ...]
    partial: bool


def _settled_tallies(
    session: Session, engagement: Engagement, spans: list[tuple[str, date, date]],
    where: list[Any], policy: tuple[Any, ...], ticket_sla: TicketSla, now: datetime,
) -> _SettledTallies:  # fmt: skip
    key = ("span", policy, tuple(spans), _fingerprint(session, where))
    found: _SettledTallies | None = MEMO.get(key)
    if found is not None:
        return found
    rows = _clock_rows(session, [*where, col(Ticket.status).in_(_STOPPED)], MAX_TICKETS)
    tallies = [_Tally() for _ in spans]
    opened = [0] * len(spans)
    timeless = True
    for index, row in _placed(rows[:MAX_TICKETS], spans, engagement.timezone):
        opened[index] += 1
        timeless = timeless and _settled(row, now)
        _tally(tallies[index], _settled_outcomes(policy, ticket_sla, row, now), row.severity)
    found = _SettledTallies(tuple(tallies), tuple(opened), len(rows) > MAX_TICKETS)
    if timeless:
        MEMO.put(key, found)
    return found


def _placed(rows: list[Any], spans: list[tuple[str, date, date]],
            timezone: str) -> Iterable[tuple[int, Any]]:  # fmt: skip
    """Each row (oldest first) with the index of the span it was opened in."""
    index = 0
    for row in rows:
        day = clock.local(row.opened_at, timezone).date()
        while index < len(spans) - 1 and day > spans[index][2]:
            index += 1
        yield index, row


def _policy_key(engagement: Engagement) -> tuple[Any, ...]:
    """What a settled ticket's outcome depends on besides its own columns."""
    return (engagement.id, engagement.timezone, json.dumps(engagement.sla, sort_keys=True, default=str),
            json.dumps(engagement.calendar, sort_keys=True, default=str))  # fmt: skip


def _weeks(first: date, last: date) -> Iterable[tuple[str, date, date]]:
    day = first - timedelta(days=first.weekday())
    while day <= last:
        yield week_of(day)
        day += timedelta(days=7)


def overall(spans: Sequence[SpanAttainment]) -> Share:
    """Tickets met of tickets with an outcome, every severity together."""
    met = sum(s.tickets.met for span in spans for s in span.by_severity)
    total = sum(s.tickets.total for span in spans for s in span.by_severity)
    return Share(met, total)
