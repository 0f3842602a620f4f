"""/timesheet and /budget (/工时 /预算): who worked how much, when, and what is left of the
person-days bought, by resource level."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlmodel import col

from base.errors import PermissionDenied, UsageError
from bot.commands import Parsed
from bot.context import Context
from bot.lexer import normalise
from domain.catalog import LEVELS
from domain.policy import EngagementPolicy
from handlers import budget, budget_text, limits, statement
from handlers import timesheet_text as text
from handlers.tickets import person_for
from handlers.worklog import pd, today
from storage.models import Person, WorkLog

SEE_ALL = frozenset({"vendor_pm", "customer_manager", "director", "client_approver", "admin"})


def _span(ctx: Context, word: str | None) -> tuple[date, date, str]:
    day = today(ctx)
    wanted = normalise(word or "week")
    if wanted in ("week", "本周", "周"):
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6), text.this_week(ctx.locale)
    if wanted in ("month", "本月", "月"):
        first, last = statement.month_bounds(f"{day:%Y-%m}")
        return first, last, text.this_month(ctx.locale)
    try:
        first, last = statement.month_bounds(wanted)
    except ValueError:
        raise UsageError(text.bad_span(word, ctx.locale)) from None
    limits.enforce(limits.check_span(first, last, ctx.eng, ctx.locale))
    return first, last, f"{first:%Y-%m}"


def show_timesheet(ctx: Context, cmd: Parsed) -> None:
    first, last, label = _span(ctx, cmd.arg("span"))
    assert ctx.actor is not None
    everyone = bool(SEE_ALL & ctx.actor.roles)
    who = person_for(ctx, cmd.arg("who")) if cmd.arg("who") else (None if everyone else ctx.person)
    if who is not None and who.id != ctx.person.id and not everyone:
        raise PermissionDenied(text.own_only(ctx.locale))
    query = select(WorkLog).where(
        col(WorkLog.engagement_id) == ctx.eng.id, col(WorkLog.voided_at).is_(None),
        col(WorkLog.work_date) >= first, col(WorkLog.work_date) <= last,
    )  # fmt: skip
    if who is not None:
        query = query.where(col(WorkLog.person_id) == who.id)
    logs = list(ctx.session.execute(query.order_by(col(WorkLog.work_date))).scalars())
    head = text.head(first, last, label, ctx.locale)
    if not logs:
        ctx.reply(f"{head}\n" + text.nothing_logged(ctx.locale), "timesheet")
        return
    people = {
        p.id: p
        for p in ctx.session.execute(
            select(Person).where(col(Person.engagement_id) == ctx.eng.id)
        ).scalars()
    }
    by_person: dict[int, dict[date, int]] = {}
    for log in logs:
        days = by_person.setdefault(log.person_id, {})
        days[log.work_date] = days.get(log.work_date, 0) + log.minutes
    lines = [head]
    for person_id, days in sorted(by_person.items(), key=lambda item: people[item[0]].key):
        person = people[person_id]
        level = LEVELS[person.level].name(ctx.locale) if person.level in LEVELS else "—"
        lines.append(text.person_line(person.name, level, pd(ctx, sum(days.values())), ctx.locale))
        lines.append(text.days_line(days, lambda minutes: pd(ctx, minutes), ctx.locale))
    if who is None:
        lines.append(text.all_together(pd(ctx, sum(log.minutes for log in logs)), ctx.locale))
    ctx.reply("\n".join(lines), "timesheet")


def budget_lines(ctx: Context) -> list[str]:
    positions = budget.positions(ctx.session, ctx.eng)
    lines = []
    for position in positions:
        lines.append(budget_text.position_line(
            budget.level_name(position.level, ctx.locale), pd(ctx, position.contracted),
            pd(ctx, position.used), pd(ctx, position.left), budget.percent(position), ctx.locale,
        ))  # fmt: skip
    total = positions[-1]
    policy: EngagementPolicy = ctx.policy
    burn = budget.burn(ctx.session, ctx.eng, policy.calendar, today(ctx), total.left)
    rate = pd(ctx, round(burn.per_day)) if burn.per_day else "0"
    runs_out = budget_text.runs_out(burn.runs_out, ctx.eng.end_date, ctx.locale)
    lines.append(budget_text.burn_line(budget.BURN_WINDOW_DAYS, rate, runs_out, ctx.locale))
    return lines


def show_budget(ctx: Context, cmd: Parsed) -> None:
    ctx.reply("\n".join([budget_text.report_head(ctx.locale), *budget_lines(ctx)]), "budget")
