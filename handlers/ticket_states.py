"""A ticket's states, the one notion of open (未关闭), and the step a command or the sweep
takes by the ticket's life cycle (`domain.lifecycles.tickets`).

A ticket is open until it is closed. A resolved ticket is still open: it awaits the reporter's
confirmation (已解决·待确认) or its auto-close. Its SLA clocks have stopped all the same (see
`ticket_sla`): this is only what lists and counts call open.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from base.errors import InvalidState, PermissionDenied
from bot.context import Context
from domain.lifecycles import tickets as lifecycle
from handlers import ticket_text as text
from handlers.ticket_sla import TicketSla
from storage.models import Ticket

STATES: Final = lifecycle.STATES
CLOSED: Final = lifecycle.CLOSED
AWAITING_CONFIRMATION: Final = lifecycle.RESOLVED
OPEN_STATES: Final = lifecycle.OPEN_STATES

# A refusal's text by the ticket's state ("": any other), formatted with r (ref), s (state).
Refusals = Mapping[str, tuple[str, str]]


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


def who(ctx: Context, ticket: Ticket) -> frozenset[str]:
    """Who is acting, as the life cycle names them: roles, party, and `reporter`."""
    assert ctx.actor is not None
    mine = frozenset({lifecycle.REPORTER}) if ctx.actor.key == ticket.reporter_key else frozenset()
    return ctx.actor.who | mine


def step(
    ctx: Context,
    ticket: Ticket,
    event: str,
    refusals: Refusals,
    denied: tuple[str, str] | None = None,
) -> str:
    """The state `event` takes `ticket` to; InvalidState with the text `refusals` has for its
    state, or PermissionDenied with `denied` when the actor may not cause it."""
    taken = lifecycle.TICKET.step(ticket.status, event, who(ctx, ticket))
    if taken.reason == "wrong_state":
        raise refusal(ctx, ticket, refusals)
    if taken.reason == "not_allowed":
        assert denied is not None, taken  # else the command's roles already refused them
        raise PermissionDenied(ctx.tr(*denied, r=ticket.ref))
    assert taken.target is not None
    return taken.target


def refusal(ctx: Context, ticket: Ticket, refusals: Refusals) -> InvalidState:
    zh, en = refusals.get(ticket.status) or refusals[""]
    return InvalidState(ctx.tr(zh, en, r=ticket.ref, s=text.status_name(ticket.status, ctx.locale)))
