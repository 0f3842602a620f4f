"""/status (/进度): the engagement at a glance. Content (data) and rendering (text) are apart,
so the same overview can later become a card or a scheduled progress sync."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot import clock
from bot.commands import Command, Parsed
from bot.context import Context
from bot.durations import format_person_days
from bot.i18n import join, tr
from domain.catalog import LEVELS, SERVICES, SEVERITIES
from domain.policy import policy_of
from handlers import budget, checklist
from handlers.ticket_sla import TicketSla
from handlers.ticket_states import OPEN_STATES, awaiting_confirmation, running_late
from storage.models import ChatBinding, Engagement, Person, Ticket


@dataclass(frozen=True)
class Overview:
    code: str
    name: str
    client: str
    vendor: str
    start: date
    end: date
    today: date
    phase: str  # not_started | start | execution | ended
    checklist_done: int
    checklist_total: int
    services: tuple[str, ...]
    budget_minutes: dict[str, int]
    hours_per_day: int
    client_people: int
    vendor_people: int
    chats: int
    budget_used: int  # minutes, all levels
    budget_contracted: int
    runs_out: date | None
    open_tickets: dict[str, int]  # severity -> open tickets
    awaiting_confirmation: int  # of the open tickets: resolved, not yet confirmed
    breached_tickets: tuple[str, ...]  # refs of open tickets running late


def phase_of(today: date, start: date, end: date, checklist_complete: bool) -> str:
    """The service guide's phase, as far as the records show it."""
    if today < start:
        return "not_started"
    if today > end:
        return "ended"
    return "execution" if checklist_complete else "start"


def overview(session: Session, engagement: Engagement) -> Overview:
    engagement_id = engagement.id or 0
    done, total = checklist.progress(session, engagement_id)
    today = clock.local(clock.now(), engagement.timezone).date()
    parties: dict[str, int] = {
        party: count
        for party, count in session.execute(
            select(col(Person.party), func.count())
            .where(col(Person.engagement_id) == engagement_id, col(Person.active))
            .group_by(col(Person.party))
        ).all()
    }
    tickets = open_tickets(session, engagement_id)
    overall = budget.positions(session, engagement)[-1]
    policy = policy_of(engagement)
    burn = budget.burn(session, engagement, policy.calendar, today, overall.left)
    ticket_sla = TicketSla.of(policy)
    chats = session.execute(
        select(func.count())
        .select_from(ChatBinding)
        .where(col(ChatBinding.engagement_id) == engagement_id)
    ).scalar_one()
    return Overview(
        code=engagement.code, name=engagement.name, client=engagement.client,
        vendor=engagement.vendor, start=engagement.start_date, end=engagement.end_date,
        today=today, phase=phase_of(today, engagement.start_date, engagement.end_date,
                                    total > 0 and done == total),
        checklist_done=done, checklist_total=total, services=tuple(engagement.services),
        budget_minutes=dict(policy.budgets.contracted), hours_per_day=engagement.hours_per_day,
        client_people=int(parties.get("client", 0)), vendor_people=int(parties.get("vendor", 0)),
        chats=int(chats), open_tickets=open_by_severity(tickets),
        awaiting_confirmation=sum(awaiting_confirmation(t.status) for t in tickets),
        budget_used=overall.used, budget_contracted=overall.contracted,
        runs_out=burn.runs_out if burn.runs_out and burn.runs_out <= engagement.end_date else None,
        breached_tickets=tuple(t.ref for t in tickets if running_late(ticket_sla, t, clock.now())),
    )  # fmt: skip


def open_tickets(session: Session, engagement_id: int) -> list[Ticket]:
    query = select(Ticket).where(
        col(Ticket.engagement_id) == engagement_id, col(Ticket.status).in_(OPEN_STATES)
    )
    return list(session.execute(query).scalars())


def open_by_severity(tickets: list[Ticket]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for ticket in tickets:
        counts[ticket.severity] += 1
    return counts


_PHASES = {
    "not_started": ("未开始", "not started"),
    "start": ("1 服务启动", "1 start-up"),
    "execution": ("2 日常执行", "2 daily execution"),
    "ended": ("已结束", "ended"),
}


def render(view: Overview, locale: str) -> str:
    days_total = (view.end - view.start).days + 1
    day = min(max((view.today - view.start).days + 1, 0), days_total)
    phase = tr(locale, _PHASES[view.phase][0], _PHASES[view.phase][1])
    contracted = sum(view.budget_minutes.values())
    levels = [
        f"{LEVELS[key].name(locale)} {format_person_days(minutes, view.hours_per_day)}"
        for key, minutes in view.budget_minutes.items()
        if minutes and key in LEVELS
    ]
    services = [SERVICES[key].name(locale) for key in view.services if key in SERVICES]
    unconfirmed = ""
    if view.awaiting_confirmation:
        unconfirmed = tr(locale, "，其中已解决·待确认 {n}", ", {n} resolved, awaiting confirmation",
                         n=view.awaiting_confirmation)  # fmt: skip
    lines = [
        f"{view.code} {view.name}",
        tr(locale, "甲方 {c} · 厂商 {v}", "Client {c} · vendor {v}", c=view.client, v=view.vendor),
        tr(locale, "周期 {s} → {e}（第 {d}/{t} 天）", "Term {s} → {e} (day {d} of {t})",
           s=view.start, e=view.end, d=day, t=days_total),
        tr(locale, "阶段：{p}（启动清单 {a}/{b}）", "Phase: {p} (onboarding checklist {a}/{b})",
           p=phase, a=view.checklist_done, b=view.checklist_total),
        tr(locale, "合同人天：{n}（{l}）", "Contracted person-days: {n} ({l})",
           n=format_person_days(contracted, view.hours_per_day), l=join(locale, levels) or "—"),
        tr(locale, "人天消耗：已用 {u} / {c}（{p}）{r}", "Person-days: {u} of {c} used ({p}){r}",
           u=format_person_days(view.budget_used, view.hours_per_day),
           c=format_person_days(view.budget_contracted, view.hours_per_day),
           p=budget.percent(budget.Position("total", view.budget_contracted, view.budget_used)),
           r=tr(locale, "，预计 {d} 用完", ", runs out {d}", d=view.runs_out) if view.runs_out else ""),
        tr(locale, "服务范围：{s}", "Services in scope: {s}", s=join(locale, services) or "—"),
        tr(locale, "人员：甲方 {c} 人，厂商 {v} 人；绑定群 {g} 个",
           "People: {c} client, {v} vendor; {g} bound chat(s)",
           c=view.client_people, v=view.vendor_people, g=view.chats),
        tr(locale, "未关闭工单 {n}（{s}）", "Open tickets: {n} ({s})", n=sum(view.open_tickets.values()),
           s=" · ".join(f"{k} {v}" for k, v in view.open_tickets.items())) + unconfirmed,
    ]  # fmt: skip
    if view.breached_tickets:
        lines.append(
            tr(
                locale,
                "🔴 已超时：{r}",
                "🔴 Breached: {r}",
                r=join(locale, list(view.breached_tickets)),
            )
        )
    return "\n".join(lines)


def show_status(ctx: Context, cmd: Parsed) -> None:
    """The engagement at a glance, then today's progress: what the daily sync would post."""
    from handlers import delivery, progress, progress_text, scope

    today = clock.local(ctx.now, ctx.eng.timezone).date()
    sync = progress.daily(ctx.session, ctx.eng, today, ctx.now)
    lines = [
        render(overview(ctx.session, ctx.eng), ctx.locale),
        scope.status_line(ctx.session, ctx.eng, ctx.locale),
        progress_text.daily_text(sync, ctx.locale, with_budget=False),
        *delivery.summary_lines(ctx.session, ctx.eng, ctx.locale),
    ]
    ctx.reply("\n".join(lines), "status", ctx.eng.code)


COMMANDS = [
    Command(
        name="status",
        aliases=("进度", "状态"),
        summary=("项目概况", "the engagement at a glance"),
        handler=show_status,
        example="/进度",
        example_en="/status",
    ),
]
