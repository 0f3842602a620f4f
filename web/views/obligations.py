"""The SOW's recurring obligations (定期义务) in the console: the count of overdue ones for the
portfolio and the figures, and the engagement page's section — this month's and this quarter's
compliance (`handlers.obligations.compliance`), the occurrences overdue, coming due in the next
30 days and recently done, each with its evidence and who recorded or acknowledged it, and an
upgrade window's time and signing state.

"Overdue" is the rule of /进度 (`handlers.obligations.summary_lines`): not done, and its due
date (in the engagement's time zone) has passed. Only obligations still in the engagement file
count, as the sweep and compliance read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from domain import obligations as rules
from domain import signoff
from handlers import obligations as handler
from handlers import signatures
from storage.models import Engagement, Person
from storage.models_obligations import ObligationOccurrence as Occ
from web.views import obligation_records as records

SOON_DAYS = 30  # "upcoming": due within this many days
RECENT_DAYS = 30  # "recently done": due within this many days before today
LIST_LIMIT = 50  # each list shows at most this many


@dataclass(frozen=True)
class Window:
    """An upgrade window: when it runs (UTC; the page shows it in the engagement's time), its
    plan, and which parties' signatures hold on the plan as it stands."""

    start: datetime | None
    end: datetime | None
    state: str  # obligation_records.window_state
    state_name: str
    plan_link: str
    signed: tuple[str, ...]
    awaiting: tuple[str, ...]


@dataclass(frozen=True)
class Occurrence:
    ref: str
    key: str
    title: str
    due_on: date
    state: str  # open | submitted | done
    overdue: bool
    link: str
    note: str
    submitted_by: str
    submitted_at: datetime | None
    done_by: str  # who acknowledged it (or recorded it done, when it needs no acknowledgement)
    done_at: datetime | None
    window: Window | None


@dataclass(frozen=True)
class Standing:
    """Compliance over one period: the refs on time, late, missed and pending."""

    label: str
    start: date
    end: date
    met: handler.Compliance


@dataclass(frozen=True)
class Section:
    periods: tuple[Standing, ...]  # this month, this quarter
    overdue: tuple[Occurrence, ...]
    overdue_total: int
    upcoming: tuple[Occurrence, ...]
    recent: tuple[Occurrence, ...]


def keys(engagement: Engagement) -> list[str]:
    return [ob.key for ob in rules.obligations_of(engagement.rules)]


def overdue_count(session: Session, engagement: Engagement, today: date) -> int:
    """Occurrences not done whose due date has passed (`handlers.obligations.overdue`)."""
    return handler.overdue(session, engagement, today, show=0)[0]


def awaiting(
    session: Session, engagement: Engagement, now: datetime
) -> list[tuple[str, str, tuple[str, ...]]]:
    """(ref, kind, parties) of what waits for a signature: evidence the client approver is to
    acknowledge, and upgrade windows whose plan is not signed by both before their start."""
    if not keys(engagement):
        return []
    rows = session.execute(select(Occ).where(
        col(Occ.engagement_id) == engagement.id, col(Occ.state) == rules.SUBMITTED,
    ).order_by(col(Occ.number)).limit(LIST_LIMIT)).scalars()  # fmt: skip
    found: list[tuple[str, str, tuple[str, ...]]] = [
        (o.ref, "obligation", ("client",)) for o in rows
    ]
    windows = session.execute(select(Occ).where(
        col(Occ.engagement_id) == engagement.id, col(Occ.window_hash).is_not(None),
        col(Occ.approved_at).is_(None), col(Occ.window_start_at) > now,
    ).order_by(col(Occ.number)).limit(LIST_LIMIT)).scalars()  # fmt: skip
    for occ in windows:
        found.append((occ.ref, "window", unsigned(session, engagement, occ)))
    return found


def section(session: Session, engagement: Engagement, now: datetime, today: date,
            locale: str) -> Section | None:  # fmt: skip
    """The engagement page's section in `locale`; None when the engagement file lists no
    obligations."""
    wanted = keys(engagement)
    if not wanted:
        return None
    month_start = today.replace(day=1)
    quarter_start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    periods = (
        Standing(f"{today:%Y-%m}", month_start, _months_on(month_start, 1), handler.compliance(
            session, engagement, month_start, _months_on(month_start, 1))),
        Standing(f"{today.year} Q{(today.month - 1) // 3 + 1}", quarter_start,
                 _months_on(quarter_start, 3),
                 handler.compliance(session, engagement, quarter_start, _months_on(quarter_start, 3))),
    )  # fmt: skip
    base = select(Occ).where(col(Occ.engagement_id) == engagement.id, col(Occ.key).in_(wanted))
    overdue = base.where(col(Occ.state) != rules.DONE, col(Occ.due_on) < today)
    upcoming = base.where(
        col(Occ.due_on) >= today, col(Occ.due_on) <= today + timedelta(days=SOON_DAYS)
    )
    recent = base.where(col(Occ.state) == rules.DONE, col(Occ.due_on) < today,
                        col(Occ.due_on) >= today - timedelta(days=RECENT_DAYS))  # fmt: skip
    lists = [
        list(session.execute(query.order_by(col(Occ.due_on), col(Occ.number)).limit(LIST_LIMIT)).scalars())
        for query in (overdue, upcoming, recent)
    ]  # fmt: skip
    names = _names(session, engagement.id or 0)
    titles = records.titles(engagement)
    views = [tuple(_view(session, engagement, occ, titles, names, today, locale) for occ in found)
             for found in lists]  # fmt: skip
    return Section(periods, views[0], overdue_count(session, engagement, today), views[1],
                   views[2])  # fmt: skip


def _months_on(first: date, months: int) -> date:
    """The last day of the `months`-month period that begins on `first` (a month's first day)."""
    month = first.month - 1 + months
    return date(first.year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def _view(session: Session, engagement: Engagement, occ: Occ, titles: dict[str, str],
          names: dict[int, str], today: date, locale: str) -> Occurrence:  # fmt: skip
    window = None
    if occ.window_start_at is not None:
        missing = unsigned(session, engagement, occ)
        window = Window(occ.window_start_at, occ.window_end_at, records.window_state(occ),
                        records.window_state_name(occ, locale), occ.plan_link or "",
                        tuple(p for p in ("vendor", "client") if p not in missing),
                        missing)  # fmt: skip
    return Occurrence(
        ref=occ.ref, key=occ.key, title=titles.get(occ.key, occ.key), due_on=occ.due_on,
        state=occ.state, overdue=occ.state != rules.DONE and occ.due_on < today,
        link=occ.evidence_link or "", note=occ.evidence_note or "",
        submitted_by=names.get(occ.submitted_by_id or 0, ""), submitted_at=occ.submitted_at,
        done_by=names.get(occ.done_by_id or 0, ""), done_at=occ.done_at, window=window,
    )  # fmt: skip


def unsigned(session: Session, engagement: Engagement, occ: Occ) -> tuple[str, ...]:
    """The parties whose signature on the window's plan, as it stands, is missing."""
    if occ.plan_link is None:
        return tuple(seat.party for seat in signoff.BOTH_PARTIES)
    current = handler.window_hash(engagement.code, occ)
    held = {row.party for row in signatures.active(session, engagement.id or 0, occ.window_subject)
            if row.content_hash == current}  # fmt: skip
    return tuple(seat.party for seat in signoff.BOTH_PARTIES if seat.party not in held)


def _names(session: Session, engagement_id: int) -> dict[int, str]:
    rows = session.execute(
        select(col(Person.id), col(Person.name)).where(col(Person.engagement_id) == engagement_id)
    ).all()
    return {int(i): str(n) for i, n in rows}
