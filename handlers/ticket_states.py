"""A ticket's states and the one notion of open (未关闭): a ticket is open until it is closed.

A resolved ticket is still open: it awaits the reporter's confirmation (已解决·待确认) or its
auto-close. Its SLA clocks have stopped all the same (see `ticket_sla`): this is only what
lists and counts call open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from handlers.ticket_sla import TicketSla
from storage.models import Ticket

STATES: Final = ("open", "in_progress", "pending", "resolved", "closed")
CLOSED: Final = "closed"
AWAITING_CONFIRMATION: Final = "resolved"
OPEN_STATES: Final = tuple(state for state in STATES if state != CLOSED)


def is_open(status: str) -> bool:
    return status in OPEN_STATES


def awaiting_confirmation(status: str) -> bool:
    """Resolved by the vendor, not yet confirmed (or reopened) by the client side."""
    return status == AWAITING_CONFIRMATION


def running_late(ticket_sla: TicketSla, ticket: Ticket, now: datetime) -> bool:
    """Open, past a target and not yet resolved: what breach lists show. A resolution, even a
    late one, stops the clocks; the breach then counts in the SLA report, not as an alarm."""
    status = ticket.status
    return (
        is_open(status) and not awaiting_confirmation(status) and ticket_sla.breached(ticket, now)
    )
