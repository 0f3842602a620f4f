"""A ticket's SLA clocks under its engagement's policy and calendars (no I/O).

Builds the pure `sla` clocks from a `Ticket` row and keeps the row's due times and
`next_check_at` up to date after every change, so the sweep reads only what is due.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from domain import sla
from domain.policy import EngagementPolicy
from domain.workcalendar import WorkCalendar
from storage.models import Ticket


@dataclass(frozen=True)
class TicketSla:
    """The SLA view of one engagement: its SLA policy and both of its calendars."""

    policy: sla.Policy
    calendars: Mapping[str, WorkCalendar]

    @classmethod
    def of(cls, policy: EngagementPolicy) -> TicketSla:
        """From the engagement's parsed policy (`ctx.policy`, `policy_of(engagement)`)."""
        return cls(policy.sla, policy.calendars)

    @property
    def business(self) -> WorkCalendar:
        return self.calendars["business"]

    def target(self, severity: str) -> sla.Target:
        return self.policy.targets[severity]

    def calendar(self, ticket: Ticket) -> WorkCalendar:
        return self.calendars[self.target(ticket.severity).calendar]

    def clocks(self, ticket: Ticket) -> dict[str, sla.LegClock]:
        target = self.target(ticket.severity)
        stopped = ticket.resolved_at if ticket.status in ("resolved", "closed") else None
        if ticket.status == "closed" and stopped is None:  # closed without a resolution
            stopped = ticket.closed_at
        return {
            "response": sla.LegClock(
                target.response, ticket.opened_at, stopped_at=ticket.acked_at or stopped
            ),
            "resolve": sla.LegClock(
                target.resolve,
                ticket.opened_at,
                paused_minutes=ticket.paused_minutes,
                paused_since=ticket.pending_since,
                stopped_at=stopped,
            ),
        }

    def elapsed(self, ticket: Ticket, leg: str, now: datetime) -> int:
        return sla.elapsed(self.calendar(ticket), self.clocks(ticket)[leg], now)

    def remaining(self, ticket: Ticket, leg: str, now: datetime) -> int:
        """Counted minutes left on a leg (negative once breached)."""
        clock = self.clocks(ticket)[leg]
        return clock.target - sla.elapsed(self.calendar(ticket), clock, now)

    def evaluate(self, ticket: Ticket, now: datetime) -> sla.Decision:
        return sla.evaluate(
            self.policy,
            self.calendar(ticket),
            self.clocks(ticket),
            set(ticket.alerts),
            now,
            urgent=ticket.severity == "P1",
            working_hours=self.business,
        )

    def auto_close_at(self, ticket: Ticket) -> datetime | None:
        days = self.policy.auto_close_days
        if not days or ticket.resolved_at is None:
            return None
        minutes = days * getattr(self.business, "day_minutes", 540)
        return self.business.add(ticket.resolved_at, minutes)

    def reschedule(self, ticket: Ticket, now: datetime) -> None:
        """Recompute the resolution due time and when the sweep must look next."""
        clocks = self.clocks(ticket)
        ticket.resolve_due_at = sla.due_at(self.calendar(ticket), clocks["resolve"])
        if ticket.status == "resolved":
            ticket.next_check_at = self.auto_close_at(ticket)
        elif ticket.status == "closed":
            ticket.next_check_at = None
        else:
            decision = self.evaluate(ticket, now)
            ticket.next_check_at = now if decision.alerts else decision.next_check

    def breached(self, ticket: Ticket, now: datetime) -> bool:
        return any(
            clock.target - sla.elapsed(self.calendar(ticket), clock, now) < 0
            for clock in self.clocks(ticket).values()
        )
