"""An engagement's figures that the portfolio and the engagement page both show: phase and
days left, the budget and its burn forecast, open and late tickets, open blockers, overdue
recurring obligations, and what waits for whose signature. Each comes from the handler that
owns its rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from bot import clock
from domain.lifecycles import change_requests as cr_life
from domain.lifecycles import deliverables as deliverable_life
from domain.lifecycles import periods as period_life
from domain.policy import policy_of
from handlers import budget, checklist, scope, signatures, status
from handlers.ticket_sla import TicketSla
from handlers.ticket_states import AWAITING_CONFIRMATION, OPEN_STATES, running_late
from storage.models import Blocker, ChangeRequest, Deliverable, Engagement, Period, Task, Ticket
from web.views import obligations

PARTIES = ("vendor", "client")
# The open tickets looked at for "running late" at most: more than this many open tickets
# past a due time are counted as this many (the page says "≥").
MAX_LATE_CANDIDATES = 5_000


@dataclass(frozen=True)
class Awaiting:
    """A record waiting for signatures: what it is, and which parties have yet to sign."""

    ref: str
    kind: str  # scope | cr | deliverable | period | obligation | window
    parties: tuple[str, ...]


@dataclass(frozen=True)
class Budget:
    positions: tuple[budget.Position, ...]  # each level, then the total
    per_day: float  # minutes a working day over the burn window
    runs_out: date | None  # at that rate; None when it lasts past the end (or nothing burns)

    @property
    def total(self) -> budget.Position:
        return self.positions[-1]

    @property
    def percent(self) -> int | None:
        share = self.total.share
        return None if share is None else int(share * 100)


@dataclass(frozen=True)
class Summary:
    code: str
    name: str
    client: str
    vendor: str
    locale: str
    timezone: str
    start: date
    end: date
    today: date
    phase: str  # handlers.status.phase_of
    hours_per_day: int
    budget: Budget
    open_tickets: int
    late_tickets: int  # open, not resolved, past a target (handlers.ticket_states.running_late)
    late_capped: bool
    open_blockers: int
    awaiting: tuple[Awaiting, ...]
    overdue_obligations: int = 0  # recurring obligations not done past their due date

    @property
    def days_left(self) -> int:
        return max((self.end - self.today).days, 0)

    def awaiting_party(self, party: str) -> int:
        return sum(party in item.parties for item in self.awaiting)


def today_of(engagement: Engagement) -> date:
    return clock.local(clock.now(), engagement.timezone).date()


def summary(session: Session, engagement: Engagement, now: datetime) -> Summary:
    engagement_id = engagement.id or 0
    today = clock.local(now, engagement.timezone).date()
    done, total = checklist.progress(session, engagement_id)
    late, capped = late_tickets(session, engagement, now)
    return Summary(
        code=engagement.code, name=engagement.name, client=engagement.client,
        vendor=engagement.vendor, locale=engagement.locale, timezone=engagement.timezone,
        start=engagement.start_date, end=engagement.end_date, today=today,
        phase=status.phase_of(today, engagement.start_date, engagement.end_date,
                              total > 0 and done == total),
        hours_per_day=engagement.hours_per_day, budget=budget_of(session, engagement, today),
        open_tickets=open_ticket_count(session, engagement_id), late_tickets=len(late),
        late_capped=capped, open_blockers=open_blocker_count(session, engagement_id),
        awaiting=awaiting_signatures(session, engagement, now),
        overdue_obligations=obligations.overdue_count(session, engagement, today),
    )  # fmt: skip


def budget_of(session: Session, engagement: Engagement, today: date) -> Budget:
    positions = budget.positions(session, engagement)
    burn = budget.burn(session, engagement, policy_of(engagement).calendar, today,
                       positions[-1].left)  # fmt: skip
    runs_out = burn.runs_out if burn.runs_out and burn.runs_out <= engagement.end_date else None
    return Budget(tuple(positions), float(burn.per_day), runs_out)


def open_ticket_count(session: Session, engagement_id: int) -> int:
    return int(session.execute(
        select(func.count()).select_from(Ticket)
        .where(col(Ticket.engagement_id) == engagement_id, col(Ticket.status).in_(OPEN_STATES))
    ).scalar_one())  # fmt: skip


def late_tickets(
    session: Session, engagement: Engagement, now: datetime
) -> tuple[list[Ticket], bool]:
    """The open tickets running late, newest first, and whether the look was capped.

    SQL narrows the open tickets to those a stored due time says may be late (or whose
    resolution clock is paused, which stores none); the SLA clocks then decide each."""
    working = [s for s in OPEN_STATES if s != AWAITING_CONFIRMATION]
    query = (
        select(Ticket)
        .where(
            col(Ticket.engagement_id) == engagement.id, col(Ticket.status).in_(working),
            or_(
                col(Ticket.acked_at).is_(None) & (col(Ticket.response_due_at) < now),
                col(Ticket.acked_at) > col(Ticket.response_due_at),
                col(Ticket.resolve_due_at).is_(None),
                col(Ticket.resolve_due_at) < now,
            ),
        )
        .order_by(col(Ticket.number).desc())
        .limit(MAX_LATE_CANDIDATES + 1)
    )  # fmt: skip
    candidates = list(session.execute(query).scalars())
    ticket_sla = TicketSla.of(policy_of(engagement))
    late = [t for t in candidates[:MAX_LATE_CANDIDATES] if running_late(ticket_sla, t, now)]
    return late, len(candidates) > MAX_LATE_CANDIDATES


def open_blocker_count(session: Session, engagement_id: int) -> int:
    return int(session.execute(
        select(func.count()).select_from(Blocker)
        .where(col(Blocker.engagement_id) == engagement_id, col(Blocker.cleared_at).is_(None))
    ).scalar_one())  # fmt: skip


def awaiting_signatures(
    session: Session, engagement: Engagement, now: datetime
) -> tuple[Awaiting, ...]:
    """Change requests estimated and not signed by both, deliverables awaiting the client's
    acceptance, months the PM closed for the client to confirm, a scope draft to sign,
    obligations' evidence to acknowledge and upgrade windows' plans to sign."""
    engagement_id = engagement.id or 0
    items: list[Awaiting] = []
    if scope.baseline(session, engagement_id) is None and _has_draft(session, engagement_id):
        items.append(Awaiting(scope.SCOPE, "scope", _unsigned(session, engagement_id, scope.SCOPE)))
    crs = session.execute(
        select(col(ChangeRequest.number))
        .where(col(ChangeRequest.engagement_id) == engagement_id,
               col(ChangeRequest.status) == cr_life.ESTIMATED)
        .order_by(col(ChangeRequest.number))
    ).scalars()  # fmt: skip
    for number in crs:
        ref = f"CR-{number}"
        items.append(Awaiting(ref, "cr", _unsigned(session, engagement_id, ref)))
    submitted = session.execute(  # undecided: through the index on the decision time
        select(col(Deliverable.number))
        .where(col(Deliverable.engagement_id) == engagement_id,
               col(Deliverable.decided_at).is_(None),
               col(Deliverable.status) == deliverable_life.SUBMITTED)
    ).scalars()  # fmt: skip
    items += [Awaiting(f"D-{n}", "deliverable", ("client",)) for n in sorted(submitted)]
    months = session.execute(
        select(col(Period.month))
        .where(col(Period.engagement_id) == engagement_id, col(Period.status) == period_life.CLOSED)
        .order_by(col(Period.month))
    ).scalars()  # fmt: skip
    items += [Awaiting(str(month), "period", ("client",)) for month in months]
    items += [Awaiting(*item) for item in obligations.awaiting(session, engagement, now)]
    return tuple(items)


def _has_draft(session: Session, engagement_id: int) -> bool:
    """A task of the scope (not of a change request) exists: the draft `/范围 签署` signs."""
    first = session.execute(
        select(col(Task.id))
        .where(col(Task.engagement_id) == engagement_id, col(Task.change_request_id).is_(None))
        .order_by(col(Task.number))  # the first, through the index on the numbers
        .limit(1)
    ).first()
    return first is not None


def _unsigned(session: Session, engagement_id: int, subject: str) -> tuple[str, ...]:
    signed = signatures.by_party(session, engagement_id, subject)
    return tuple(p for p in PARTIES if p not in signed)
