"""The portfolio: one row per engagement the viewer may see, the worst first.

"Worst" reads as a decider would: tickets running late first, then the month's SLA
attainment, then recurring obligations overdue (the SOW's other promises, broken), a budget
that runs out before the end, open blockers, signatures waited on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from handlers import statement
from storage.models import Engagement
from web.access import Viewer
from web.views import sla
from web.views.sla import Share, SpanAttainment
from web.views.summary import Summary, summary

SORTS = ("worst", "code", "phase", "budget", "runout", "sla", "open", "late", "obligations",
         "blockers", "waiting")  # fmt: skip


@dataclass(frozen=True)
class Row:
    summary: Summary
    sla: SpanAttainment  # this month's, by severity
    party: str  # the viewer's party in this engagement

    @property
    def sla_share(self) -> Share:
        return sla.overall([self.sla])


def rows(session: Session, viewer: Viewer, now: datetime, sort: str = "worst") -> list[Row]:
    """The viewer's engagements, sorted by `sort` (one of SORTS; anything else: worst)."""
    ids = [seat.engagement_id for seat in viewer.seats]
    if not ids:
        return []
    engagements = session.execute(
        select(Engagement).where(col(Engagement.id).in_(ids)).order_by(col(Engagement.code))
    ).scalars()  # fmt: skip
    found = []
    for engagement in engagements:
        seat = viewer.seat(engagement.id or 0)
        view = summary(session, engagement, now)
        first, last = statement.month_bounds(f"{view.today:%Y-%m}")
        month = sla.attainment(session, engagement, first, last, now, label=f"{first:%Y-%m}")
        found.append(Row(view, month, seat.party if seat else ""))
    return sorted(found, key=SORT_KEYS.get(sort, _worst))


def _missing_last(value: Any, missing: Any) -> Any:
    return (value is None, missing if value is None else value)


def _worst(row: Row) -> tuple[Any, ...]:
    view = row.summary
    return (
        -view.late_tickets,
        _missing_last(row.sla_share.percent, 101),
        -view.overdue_obligations,
        view.budget.runs_out is None,
        -view.open_blockers,
        -len(view.awaiting),
        -view.open_tickets,
        view.code,
    )


SORT_KEYS: dict[str, Callable[[Row], Any]] = {
    "worst": _worst,
    "code": lambda r: r.summary.code,
    "phase": lambda r: (r.summary.days_left, r.summary.code),
    "budget": lambda r: (-(r.summary.budget.percent or 0), r.summary.code),
    "runout": lambda r: (_missing_last(r.summary.budget.runs_out, None), r.summary.code),
    "sla": lambda r: (_missing_last(r.sla_share.percent, 101), r.summary.code),
    "open": lambda r: (-r.summary.open_tickets, r.summary.code),
    "late": lambda r: (-r.summary.late_tickets, r.summary.code),
    "obligations": lambda r: (-r.summary.overdue_obligations, r.summary.code),
    "blockers": lambda r: (-r.summary.open_blockers, r.summary.code),
    "waiting": lambda r: (-len(r.summary.awaiting), r.summary.code),
}
