"""Person-day budgets by resource level: contracted, used, left, burn rate, run-out date,
and the 80% / 100% alerts. Quantities are integer minutes; rates are exact fractions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot import notify
from bot.context import Context
from bot.i18n import tr
from domain.catalog import LEVELS
from domain.lifecycles.change_requests import EFFECTIVE
from domain.policy import policy_of
from domain.workcalendar import BusinessCalendar
from handlers import budget_text
from storage.models import ChangeRequest, Engagement, WorkLog

BURN_WINDOW_DAYS = 10
TOTAL = "total"


@dataclass(frozen=True)
class Position:
    """One level's (or the total's) budget position."""

    level: str
    contracted: int
    used: int

    @property
    def left(self) -> int:
        return self.contracted - self.used

    @property
    def share(self) -> Fraction | None:
        return Fraction(self.used, self.contracted) if self.contracted else None


def contracted(session: Session, engagement: Engagement) -> dict[str, int]:
    """The SOW's minutes by level plus what effective change requests added."""
    sow = policy_of(engagement).budgets.contracted
    total = {level: sow.get(level, 0) for level in LEVELS}
    for level, minutes in change_requests_added(session, engagement).items():
        total[level] = total.get(level, 0) + minutes
    return total


def change_requests_added(session: Session, engagement: Engagement) -> dict[str, int]:
    """What effective change requests add to the budget, by level."""
    extra: dict[str, int] = {}
    crs = session.execute(
        select(ChangeRequest).where(
            col(ChangeRequest.engagement_id) == engagement.id,
            col(ChangeRequest.status) == EFFECTIVE,
        )
    ).scalars()
    for cr in crs:
        for level, minutes in cr.estimate.items():
            extra[level] = extra.get(level, 0) + int(minutes)
    return extra


def used(
    session: Session, engagement_id: int, since: date | None = None, until: date | None = None
) -> dict[str, int]:
    """Minutes logged by level (voided entries excluded), optionally between two dates."""
    query = select(col(WorkLog.level), func.sum(col(WorkLog.minutes))).where(
        col(WorkLog.engagement_id) == engagement_id, col(WorkLog.voided_at).is_(None)
    )
    if since is not None:
        query = query.where(col(WorkLog.work_date) >= since)
    if until is not None:
        query = query.where(col(WorkLog.work_date) <= until)
    rows = session.execute(query.group_by(col(WorkLog.level))).all()
    return {str(level): int(minutes or 0) for level, minutes in rows}


def positions(session: Session, engagement: Engagement) -> list[Position]:
    """Each level with a budget or use, then the total."""
    budget, spent = contracted(session, engagement), used(session, engagement.id or 0)
    levels = [Position(level, budget.get(level, 0), spent.get(level, 0)) for level in LEVELS
              if budget.get(level, 0) or spent.get(level, 0)]  # fmt: skip
    total = Position(TOTAL, sum(budget.values()), sum(spent.values()))
    return [*levels, total]


def working_days_back(business: BusinessCalendar, today: date, count: int) -> date:
    """The `count`-th working day before `today` (today itself when count is 0)."""
    day = today
    for _ in range(count):
        day = day.fromordinal(day.toordinal() - 1)
        while not business.is_working_day(day):
            day = day.fromordinal(day.toordinal() - 1)
    return day


@dataclass(frozen=True)
class Burn:
    """Minutes used per working day over the window, and when the budget runs out at that rate."""

    per_day: Fraction
    runs_out: date | None


def burn(session: Session, engagement: Engagement, business: BusinessCalendar, today: date,
         left: int) -> Burn:  # fmt: skip
    """The burn rate over the last 10 working days (today included when it is one)."""
    back = BURN_WINDOW_DAYS - 1 if business.is_working_day(today) else BURN_WINDOW_DAYS
    start = working_days_back(business, today, back)
    spent = sum(used(session, engagement.id or 0, since=start, until=today).values())
    per_day = Fraction(spent, BURN_WINDOW_DAYS)
    if per_day <= 0 or left <= 0:
        return Burn(per_day, today if left <= 0 else None)
    return Burn(per_day, business.add_working_days(today, math.ceil(Fraction(left) / per_day)))


def alert_crossings(ctx: Context) -> None:
    """Tell the PM and the customer manager, once per level and share, when use reaches a share
    of a budget (default 80% and 100%) — of each level and of the total."""
    session, engagement, locale = ctx.session, ctx.eng, ctx.locale
    shares = policy_of(engagement).budgets.alerts
    people = notify.people_with_roles(
        session, engagement.id or 0, {"vendor_pm", "customer_manager"}
    )
    for position in positions(session, engagement):
        if not position.contracted:
            continue
        for share in shares:
            if position.used * share.denominator < position.contracted * share.numerator:
                continue
            text = budget_text.alert(engagement.code, level_name(position.level, locale), share,
                                     position.used, position.contracted, position.left, locale,
                                     engagement.hours_per_day)  # fmt: skip
            key = f"budget:{engagement.code}:{position.level}:{share}"
            for person in people:
                ctx.notify(person, text, "budget.alert", position.level, key)


def level_name(level: str, locale: str) -> str:
    return tr(locale, "合计", "total") if level == TOTAL else LEVELS[level].name(locale)


def percent(position: Position) -> str:
    """Share used with one decimal, from exact integers."""
    if position.share is None:
        return "—"
    tenths = round(position.share * 1000)
    return f"{tenths // 10}.{tenths % 10}%"
