"""/closeout (/结项): what still stands between the engagement and its close — deliverables
awaiting acceptance, open tasks and tickets, months not signed by both parties, training."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from bot import clock
from bot.commands import Parsed
from bot.context import Context
from bot.i18n import join
from domain.lifecycles import periods as period_life
from domain.lifecycles import tasks as task_life
from handlers import delivery, statement
from handlers.ticket_states import OPEN_STATES, awaiting_confirmation
from storage.models import Engagement, Period, Task, Ticket, Training


@dataclass(frozen=True)
class Closeout:
    """What still stands between an engagement and its close (结项): refs, months, training."""

    awaiting: list[str]  # deliverables submitted, not yet accepted
    open_tasks: list[str]
    open_tickets: list[str]
    unconfirmed_tickets: list[str]  # of the open tickets: resolved, awaiting confirmation
    unsigned_months: list[str]  # ended months without a Period both parties signed
    trained: bool

    @property
    def ready(self) -> bool:
        return self.trained and not (
            self.awaiting or self.open_tasks or self.open_tickets or self.unsigned_months
        )


def months_to_sign(start: date, end: date, today: date) -> list[str]:
    """Every month of the engagement, from its start, that has ended by `today`."""
    months: list[str] = []
    year, month = start.year, start.month
    while True:
        first, last = statement.month_bounds(f"{year}-{month:02d}")
        if last >= today or first > end:
            return months
        months.append(f"{first:%Y-%m}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def closeout(session: Session, engagement: Engagement, today: date) -> Closeout:
    eid = engagement.id or 0
    tasks = select(Task).where(col(Task.engagement_id) == eid, col(Task.status) != task_life.DONE)
    tickets = select(Ticket).where(
        col(Ticket.engagement_id) == eid, col(Ticket.status).in_(OPEN_STATES)
    )
    signed = select(col(Period.month)).where(
        col(Period.engagement_id) == eid, col(Period.status) == period_life.LOCKED
    )
    trainings = select(col(Training.id)).where(col(Training.engagement_id) == eid).limit(1)
    locked = set(session.execute(signed).scalars())
    open_tickets = list(session.execute(tickets.order_by(col(Ticket.number))).scalars())
    return Closeout(
        awaiting=[d.ref for d in delivery.awaiting(session, eid)],
        open_tasks=[t.ref for t in session.execute(tasks.order_by(col(Task.number))).scalars()],
        open_tickets=[t.ref for t in open_tickets],
        unconfirmed_tickets=[t.ref for t in open_tickets if awaiting_confirmation(t.status)],
        unsigned_months=[m for m in months_to_sign(engagement.start_date, engagement.end_date, today)
                         if m not in locked],
        trained=session.execute(trainings).first() is not None,
    )  # fmt: skip


def show_closeout(ctx: Context, cmd: Parsed) -> None:
    state = closeout(ctx.session, ctx.eng, clock.local(ctx.now, ctx.eng.timezone).date())
    code = ctx.eng.code
    if state.ready:
        ctx.reply(ctx.tr("✅ {c} 可以结项：交付物均已验收，任务均已完成，已有培训记录，工单均已关闭，各月人天结算均已双方签署。",
                         "✅ {c} is ready to close: every deliverable accepted, every task done, training recorded, "
                         "no open tickets, every month signed by both parties.", c=code), "closeout", code)  # fmt: skip
        return
    tickets = join(ctx.locale, state.open_tickets)
    if state.unconfirmed_tickets:
        tickets += ctx.tr("（已解决·待确认：{x}，请报告人 /关闭 确认）",
                          " (resolved, awaiting confirmation: {x} — the reporter confirms with /close)",
                          x=join(ctx.locale, state.unconfirmed_tickets))  # fmt: skip
    gaps = [
        (join(ctx.locale, state.awaiting), "待验收的交付物：{x}（/验收 D-n）", "Deliverables awaiting acceptance: {x} (/accept D-n)"),
        (join(ctx.locale, state.open_tasks), "未完成的任务：{x}", "Tasks not done: {x}"),
        (tickets, "未关闭的工单：{x}", "Open tickets: {x}"),
        (join(ctx.locale, state.unsigned_months), "未双方签署的月度结算：{x}（/结算 关闭、/结算 确认）",
         "Months not signed by both parties: {x} (/period close, /period confirm)"),
    ]  # fmt: skip
    lines = [ctx.tr("{c} 结项前还差：", "Before {c} can close:", c=code)]
    lines += ["• " + ctx.tr(zh, en, x=x) for x, zh, en in gaps if x]
    if not state.trained:
        lines.append("• " + ctx.tr("还没有培训记录（知识转移：/培训）", "No training recorded (knowledge transfer: /training)"))  # fmt: skip
    ctx.reply("\n".join(lines), "closeout", code)
