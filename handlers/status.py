"""/status (/进度): the engagement at a glance. Content (data, here) and rendering (text, in
`status_text`) are apart, so the same overview can later become a card or a scheduled progress
sync."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot import clock
from bot.commands import Parsed
from bot.context import Context
from domain.catalog import SEVERITIES
from domain.policy import policy_of
from handlers import budget, checklist
from handlers import status_text as text
from handlers.status_text import Overview
from handlers.ticket_sla import TicketSla
from handlers.ticket_states import OPEN_STATES, awaiting_confirmation, running_late
from storage.models import ChatBinding, Engagement, Person, Ticket


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


def render(view: Overview, locale: str) -> str:
    """The overview as text (`status_text`), with the budget's share used."""
    used = budget.Position("total", view.budget_contracted, view.budget_used)
    return text.overview_text(view, budget.percent(used), locale)


def show_status(ctx: Context, cmd: Parsed) -> None:
    """The engagement at a glance, then today's progress: what the daily sync would post."""
    from handlers import delivery, knowledge_base, obligations, progress, progress_text, scope

    today = clock.local(ctx.now, ctx.eng.timezone).date()
    sync = progress.daily(ctx.session, ctx.eng, today, ctx.now)
    lines = [
        render(overview(ctx.session, ctx.eng), ctx.locale),
        scope.status_line(ctx.session, ctx.eng, ctx.locale),
        progress_text.daily_text(sync, ctx.locale, with_budget=False),
        *delivery.summary_lines(ctx.session, ctx.eng, ctx.locale),
        *obligations.summary_lines(ctx.session, ctx.eng, today, ctx.locale),
    ]
    month = today.replace(day=1)
    first = progress.day_bounds(month, ctx.eng.timezone)[0]
    after = progress.day_bounds((month + timedelta(days=32)).replace(day=1), ctx.eng.timezone)[0]
    if answered := knowledge_base.deflections(ctx.session, ctx.eng_id, first, after):
        lines.append(ctx.tr("📚 本月知识库解答 {n} 个工单", "📚 Answered by the knowledge base this month: {n} tickets",
                            n=answered))  # fmt: skip
    ctx.reply("\n".join(lines), "status", ctx.eng.code)
