"""/timesheet and /budget (/工时 /预算): who worked how much, when, and what is left of the
person-days bought, by resource level."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlmodel import col

from bot.commands import Arg, Command, Parsed
from bot.context import Context
from bot.errors import PermissionDenied, UsageError
from bot.lexer import normalise
from domain.catalog import LEVELS
from domain.policy import EngagementPolicy
from handlers import budget, limits, statement
from handlers.tickets import person_for
from handlers.worklog import pd, today
from storage.models import Person, WorkLog

SEE_ALL = frozenset({"vendor_pm", "customer_manager", "director", "client_approver", "admin"})
VIEWERS = frozenset({"vendor", "client_approver"})
_WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _span(ctx: Context, word: str | None) -> tuple[date, date, str]:
    day = today(ctx)
    wanted = normalise(word or "week")
    if wanted in ("week", "本周", "周"):
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6), ctx.tr("本周", "this week")
    if wanted in ("month", "本月", "月"):
        first, last = statement.month_bounds(f"{day:%Y-%m}")
        return first, last, ctx.tr("本月", "this month")
    try:
        first, last = statement.month_bounds(wanted)
    except ValueError:
        raise UsageError(ctx.tr("时间范围是 week（本周）、month（本月）或 YYYY-MM，不是“{w}”。",
                                "The span is week, month or YYYY-MM, not '{w}'.", w=word)) from None  # fmt: skip
    limits.enforce(limits.check_span(first, last, ctx.eng, ctx.locale))
    return first, last, f"{first:%Y-%m}"


def show_timesheet(ctx: Context, cmd: Parsed) -> None:
    first, last, label = _span(ctx, cmd.arg("span"))
    assert ctx.actor is not None
    everyone = bool(SEE_ALL & ctx.actor.roles)
    who = person_for(ctx, cmd.arg("who")) if cmd.arg("who") else (None if everyone else ctx.person)
    if who is not None and who.id != ctx.person.id and not everyone:
        raise PermissionDenied(
            ctx.tr("工程师只能查看自己的工时。", "Engineers see their own timesheet only.")
        )
    query = select(WorkLog).where(
        col(WorkLog.engagement_id) == ctx.eng.id, col(WorkLog.voided_at).is_(None),
        col(WorkLog.work_date) >= first, col(WorkLog.work_date) <= last,
    )  # fmt: skip
    if who is not None:
        query = query.where(col(WorkLog.person_id) == who.id)
    logs = list(ctx.session.execute(query.order_by(col(WorkLog.work_date))).scalars())
    head = ctx.tr("工时 {a} → {b}（{l}）", "Timesheet {a} → {b} ({l})", a=first, b=last, l=label)
    if not logs:
        ctx.reply(f"{head}\n" + ctx.tr("没有记录。", "Nothing logged."), "timesheet")
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
        lines.append(ctx.tr("{n}（{l}）合计 {t} 人天", "{n} ({l}): {t} person-days", n=person.name, l=level,
                            t=pd(ctx, sum(days.values()))))  # fmt: skip
        names = _WEEKDAYS_EN if ctx.locale == "en" else _WEEKDAYS
        lines.append(
            "  "
            + " · ".join(
                f"{d:%m-%d} {names[d.weekday()]} {pd(ctx, m)}" for d, m in sorted(days.items())
            )
        )
    if who is None:
        lines.append(
            ctx.tr(
                "全部合计 {t} 人天",
                "All together: {t} person-days",
                t=pd(ctx, sum(log.minutes for log in logs)),
            )
        )
    ctx.reply("\n".join(lines), "timesheet")


def budget_lines(ctx: Context) -> list[str]:
    positions = budget.positions(ctx.session, ctx.eng)
    lines = []
    for position in positions:
        lines.append(ctx.tr("{l}：合同 {c} · 已用 {u} · 剩 {r} · {p}", "{l}: contracted {c} · used {u} · left {r} · {p}",
                            l=budget.level_name(position.level, ctx.locale), c=pd(ctx, position.contracted),
                            u=pd(ctx, position.used), r=pd(ctx, position.left), p=budget.percent(position)))  # fmt: skip
    total = positions[-1]
    policy: EngagementPolicy = ctx.policy
    burn = budget.burn(ctx.session, ctx.eng, policy.calendar, today(ctx), total.left)
    rate = pd(ctx, round(burn.per_day)) if burn.per_day else "0"
    if burn.runs_out is None:
        runs_out = ctx.tr("按此速度用不完", "not at this rate")
    elif burn.runs_out > ctx.eng.end_date:
        runs_out = ctx.tr("{d}，晚于项目结束（{e}）", "{d}, after the engagement ends ({e})", d=burn.runs_out,
                          e=ctx.eng.end_date)  # fmt: skip
    else:
        runs_out = str(burn.runs_out)
    lines.append(ctx.tr("近 {n} 个工作日日均 {r} 人天；预计用完：{d}", "Burn over the last {n} working days: {r} person-days a day; runs out: {d}",
                        n=budget.BURN_WINDOW_DAYS, r=rate, d=runs_out))  # fmt: skip
    return lines


def show_budget(ctx: Context, cmd: Parsed) -> None:
    head = ctx.tr(
        "人天预算（SOW + 已生效变更）", "Person-day budget (SOW + effective change requests)"
    )
    ctx.reply("\n".join([head, *budget_lines(ctx)]), "budget")


COMMANDS = [
    Command("timesheet", ("工时",), ("按人按天的工时表", "person-by-day timesheet"), show_timesheet, roles=VIEWERS,
            args=(Arg("span", "word", ("week|month|YYYY-MM", "week|month|YYYY-MM"), required=False),
                  Arg("who", "person", ("@某人", "@PERSON"), required=False)),
            example="/工时 本月 @zhaogang", example_en="/timesheet month @zhaogang"),
    Command("budget", ("预算",), ("各级别人天预算、消耗和预计用完日期", "budget by level: used, left, burn, run-out"),
            show_budget, roles=VIEWERS, example="/预算", example_en="/budget"),
]  # fmt: skip
