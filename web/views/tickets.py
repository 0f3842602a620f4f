"""The engagement's ticket list (filtered, a page at a time) and one ticket with its timeline
and its three clocks, as the chat's `/工单 T-n` tells them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from domain.catalog import SEVERITIES
from domain.policy import policy_of
from handlers import ticket_text
from handlers.ticket_sla import TicketSla
from handlers.ticket_states import OPEN_STATES, STATES, awaiting_confirmation
from storage.models import Engagement, Person, Ticket, TicketEvent
from web.views.summary import late_tickets

PER_PAGE = 50
MAX_PAGE = 10_000
TIMELINE_LIMIT = 200  # a ticket's newest history lines shown
STATE_CHOICES = ("unclosed", *STATES)  # "unclosed": every open state (未关闭)
_REF = re.compile(r"[Tt]-([1-9][0-9]{0,8})")
_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


@dataclass(frozen=True)
class Filters:
    """The list's filters, each already checked (an unknown value is no filter)."""

    severity: str = ""
    state: str = ""
    breached: bool = False
    assignee: str = ""  # a person key
    page: int = 1

    @classmethod
    def parse(cls, query: Mapping[str, str], assignees: Mapping[str, str]) -> Filters:
        """From the query string: values not among the choices are dropped, never an error."""
        severity = query.get("severity", "")
        state = query.get("state", "")
        assignee = query.get("assignee", "")
        page = query.get("page", "1")
        return cls(
            severity=severity if severity in SEVERITIES else "",
            state=state if state in STATE_CHOICES else "",
            breached=query.get("breached", "") in ("1", "yes", "true", "on"),
            assignee=assignee if _KEY.fullmatch(assignee) and assignee in assignees else "",
            page=int(page) if page.isdigit() and 0 < len(page) <= 5 and 1 <= int(page) <= MAX_PAGE else 1,
        )  # fmt: skip

    def query(self, **changes: Any) -> dict[str, str]:
        """The query string of these filters (with changes), without empty values."""
        values = {"severity": self.severity, "state": self.state,
                  "breached": "1" if self.breached else "", "assignee": self.assignee,
                  "page": str(self.page) if self.page > 1 else ""}  # fmt: skip
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}


@dataclass(frozen=True)
class TicketRow:
    ref: str
    severity: str
    title: str
    status: str
    assignee: str
    opened_at: datetime
    breached: bool  # a leg past its target (now, or when it stopped)
    left: str  # time left on the running leg, as the chat says it; "" when none runs


@dataclass(frozen=True)
class TicketPage:
    rows: tuple[TicketRow, ...]
    total: int
    page: int
    pages: int
    capped: bool = False  # the breached filter looked at a bounded number of open tickets


def assignees(session: Session, engagement_id: int) -> dict[str, str]:
    """Who tickets may be assigned to (vendor people), key -> name, by name."""
    rows = session.execute(
        select(col(Person.key), col(Person.name))
        .where(col(Person.engagement_id) == engagement_id, col(Person.party) == "vendor")
        .order_by(col(Person.key))
    ).all()  # fmt: skip
    return {str(k): str(n) for k, n in rows}


def ticket_page(session: Session, engagement: Engagement, filters: Filters, now: datetime,
                locale: str) -> TicketPage:  # fmt: skip
    """One page of tickets, newest first."""
    engagement_id = engagement.id or 0
    people = _people(session, engagement_id)
    conditions: list[Any] = [col(Ticket.engagement_id) == engagement_id]
    if filters.severity:
        conditions.append(col(Ticket.severity) == filters.severity)
    if filters.state == "unclosed":
        conditions.append(col(Ticket.status).in_(OPEN_STATES))
    elif filters.state:
        conditions.append(col(Ticket.status) == filters.state)
    if filters.assignee:
        wanted = [pid for pid, (key, _) in people.items() if key == filters.assignee]
        conditions.append(col(Ticket.assignee_id).in_(wanted))
    offset = (filters.page - 1) * PER_PAGE
    capped = False
    if filters.breached:  # running late: decided by the clocks over the open tickets
        late, capped = late_tickets(session, engagement, now)
        matching = [t for t in late if _matches(t, filters, people)]
        total = len(matching)
        tickets = matching[offset : offset + PER_PAGE]
    else:
        total = int(session.execute(
            select(func.count()).select_from(Ticket).where(*conditions)
        ).scalar_one())  # fmt: skip
        tickets = list(session.execute(
            select(Ticket).where(*conditions).order_by(col(Ticket.number).desc())
            .offset(offset).limit(PER_PAGE)
        ).scalars())  # fmt: skip
    ticket_sla = TicketSla.of(policy_of(engagement))
    rows = tuple(_row(ticket_sla, t, people, now, locale) for t in tickets)
    pages = max(1, -(-total // PER_PAGE))
    return TicketPage(rows, total, min(filters.page, pages), pages, capped)


def _matches(ticket: Ticket, filters: Filters, people: dict[int, tuple[str, str]]) -> bool:
    if filters.severity and ticket.severity != filters.severity:
        return False
    if filters.state == "unclosed" and ticket.status not in OPEN_STATES:
        return False
    if filters.state not in ("", "unclosed") and ticket.status != filters.state:
        return False
    owner = people.get(ticket.assignee_id or 0, ("", ""))[0]
    return not filters.assignee or owner == filters.assignee


def _people(session: Session, engagement_id: int) -> dict[int, tuple[str, str]]:
    rows = session.execute(
        select(col(Person.id), col(Person.key), col(Person.name))
        .where(col(Person.engagement_id) == engagement_id)
    ).all()  # fmt: skip
    return {int(i): (str(k), str(n)) for i, k, n in rows}


def _row(ticket_sla: TicketSla, ticket: Ticket, people: dict[int, tuple[str, str]],
         now: datetime, locale: str) -> TicketRow:  # fmt: skip
    leg = "response" if ticket.acked_at is None else "resolve"
    running = ticket.status in OPEN_STATES and not awaiting_confirmation(ticket.status)
    left = ticket_text.time_left(ticket_sla, ticket, leg, now, locale) if running else ""
    return TicketRow(
        ticket.ref, ticket.severity, ticket.title, ticket.status,
        people.get(ticket.assignee_id or 0, ("", "—"))[1], ticket.opened_at,
        ticket_sla.breached(ticket, now), left,
    )  # fmt: skip


# -- one ticket -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    who: str
    text: str


@dataclass(frozen=True)
class TicketView:
    ref: str
    severity: str
    title: str
    status: str
    service: str
    reporter: str
    assignee: str
    opened_at: datetime
    acked_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    clocks: tuple[str, ...]  # response, resolution, paused: the chat's lines
    breached: bool
    timeline: tuple[TimelineLine, ...]
    earlier: int  # history lines older than those shown


def parse_ref(ref: str) -> int | None:
    found = _REF.fullmatch(ref)
    return int(found.group(1)) if found else None


def ticket_view(session: Session, engagement: Engagement, number: int, now: datetime,
                locale: str) -> TicketView | None:  # fmt: skip
    ticket = session.execute(
        select(Ticket).where(col(Ticket.engagement_id) == engagement.id,
                             col(Ticket.number) == number)
    ).scalar_one_or_none()  # fmt: skip
    if ticket is None:
        return None
    ticket_sla = TicketSla.of(policy_of(engagement))
    people = _people(session, engagement.id or 0)
    by_key = {key: name for key, name in people.values()}
    by_key["system"] = "系统" if locale != "en" else "system"
    count = int(session.execute(
        select(func.count()).select_from(TicketEvent).where(col(TicketEvent.ticket_id) == ticket.id)
    ).scalar_one())  # fmt: skip
    events = list(session.execute(
        select(TicketEvent).where(col(TicketEvent.ticket_id) == ticket.id)
        .order_by(col(TicketEvent.id).desc()).limit(TIMELINE_LIMIT)
    ).scalars())  # fmt: skip
    timeline = tuple(
        TimelineLine(e.at, by_key.get(e.actor, e.actor), ticket_text.event_text(e, locale))
        for e in reversed(events)
    )  # fmt: skip
    clocks = ticket_text.clocks_text(ticket_sla, ticket, now, locale, engagement.timezone)
    return TicketView(
        ref=ticket.ref, severity=ticket.severity, title=ticket.title, status=ticket.status,
        service=ticket_text.service_text(ticket, locale), reporter=ticket.reporter_name,
        assignee=people.get(ticket.assignee_id or 0, ("", "—"))[1], opened_at=ticket.opened_at,
        acked_at=ticket.acked_at, resolved_at=ticket.resolved_at, closed_at=ticket.closed_at,
        clocks=tuple(clocks), breached=ticket_sla.breached(ticket, now), timeline=timeline,
        earlier=max(count - len(events), 0),
    )  # fmt: skip
