"""The SLA sweep: every minute, the tickets whose `next_check_at` has come — nothing else.

Sends each warning, breach and escalation once (dedupe keys such as
`sla:DEMO-2026:T-7:resolve:breach`), auto-closes resolved tickets after the engagement's
business days, and once a day warns when a calendar runs past what chinese-calendar knows.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from bot import notify
from bot.context import Context
from bot.durations import format_span
from bot.i18n import tr
from bot.message import Target
from bot.scheduler import Run
from bot.sweep import BATCH, due_ids
from bot.sweep import sweep as sweep_due
from domain import labels, sla
from domain.lifecycles.tickets import CLOSED, TICKET
from domain.policy import policy_of
from domain.workcalendar import known_years
from handlers import ticket_text as text
from handlers.ticket_sla import TicketSla
from handlers.ticket_states import who
from handlers.tickets import record, sla_of
from storage.db import transaction
from storage.models import Engagement, Person, Ticket

log = logging.getLogger("rentian.sla")
_ICONS = {"warning": "⏰", "breach": "🔴", "escalation": "🚨"}


def sweep(run: Run) -> None:
    """Handle every ticket whose `next_check_at` has come, each in a transaction of its own."""
    sweep_due(run, Ticket, col(Ticket.next_check_at), _check)


def due_tickets(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Ids of the tickets due at `now`: the one indexed query of the sweep
    (ix_ticket_next_check_at)."""
    return [i for _, i in due_ids(session, Ticket, col(Ticket.next_check_at), now, limit=limit)]


def _check(ctx: Context, ticket: Ticket) -> None:
    ticket_sla = sla_of(ctx)
    if TICKET.can(ticket.status, "auto_close"):  # resolved: closes itself in time
        closes = ticket_sla.auto_close_at(ticket)
        if closes is not None and closes <= ctx.now:
            _auto_close(ctx, ticket)
        else:
            ticket.next_check_at = closes
        return
    if ticket.status == CLOSED:
        ticket.next_check_at = None
        return
    decision = ticket_sla.evaluate(ticket, ctx.now)
    for alert in decision.alerts:
        _send_alert(ctx, ticket_sla, ticket, alert)
    done = [a.key for a in (*decision.alerts, *decision.settled)]
    if done:
        ticket.alerts = [*ticket.alerts, *done]
    ticket.next_check_at = decision.next_check
    ctx.session.add(ticket)


def _send_alert(ctx: Context, ticket_sla: TicketSla, ticket: Ticket, alert: sla.Alert) -> None:
    code = ctx.eng.code
    kind, key = f"sla.{alert.stage}", f"sla:{code}:{ticket.ref}:{alert.key}"
    message = _alert_text(ticket_sla, ticket, alert, ctx)
    for person in _recipients(ctx, ticket, alert.stage, ticket_sla.policy):
        ctx.notify(person, f"{code} {message}", kind, ticket.ref, key)
    target = Target.of(ticket)
    if alert.stage in ("warning", "breach") and target is not None:
        ctx.post(target, message, kind, ticket.ref, key)
    record(ctx, ticket, "alert", f"{kind} {alert.leg}")


def _alert_text(ticket_sla: TicketSla, ticket: Ticket, alert: sla.Alert, ctx: Context) -> str:
    locale, tz = ctx.locale, ctx.eng.timezone
    leg = labels.clock(alert.leg, locale)
    target = ticket_sla.target(ticket.severity)
    limit = format_span(target.response if alert.leg == "response" else target.resolve, locale)
    due = ticket.response_due_at if alert.leg == "response" else ticket.resolve_due_at
    left = text.time_left(ticket_sla, ticket, alert.leg, ctx.now, locale)
    head = {
        "warning": tr(locale, "即将超时", "about to breach"),
        "breach": tr(locale, "已超时", "SLA breached"),
        "escalation": tr(locale, "超时升级", "escalation"),
    }[alert.stage]
    return tr(locale, "{i} {h}：{t}｜{leg}时限 {lim}，截止 {d}，{left}",
              "{i} {h}: {t} | {leg} target {lim}, due {d}, {left}", i=_ICONS[alert.stage], h=head,
              t=text.headline(ticket, locale), leg=leg, lim=limit, d=text.when(due, tz), left=left)  # fmt: skip


def _recipients(ctx: Context, ticket: Ticket, stage: str, policy: sla.Policy) -> list[Person]:
    """Warning: the assignee (or the PM); breach: the customer manager and the PM;
    escalation: the engagement's escalation ladder (default: the delivery director)."""
    session, engagement_id = ctx.session, ctx.eng_id
    if stage == "warning":
        assignee = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
        if assignee is not None and assignee.active:
            return [assignee]
        return notify.people_with_roles(session, engagement_id, {"vendor_pm"})
    if stage == "breach":
        return notify.people_with_roles(session, engagement_id, {"customer_manager", "vendor_pm"})
    return notify.people_with_roles(session, engagement_id, set(policy.escalation_roles))


def _auto_close(ctx: Context, ticket: Ticket) -> None:
    step = TICKET.step(ticket.status, "auto_close", who(ctx, ticket))
    assert step.target is not None, step
    ticket.status, ticket.closed_at, ticket.next_check_at = step.target, ctx.now, None
    ctx.session.add(ticket)
    record(ctx, ticket, "closed", ctx.tr("自动关闭", "closed automatically"))
    target = Target.of(ticket)
    if target is not None:
        ctx.post(target, ctx.tr("🔒 {r} 解决后无异议，已自动关闭。",
                                "🔒 {r} was resolved with no objection and is now closed.", r=ticket.ref),
                 "ticket.closed", ticket.ref, f"ticket:{ctx.eng.code}:{ticket.ref}:autoclose")  # fmt: skip


def calendar_check(run: Run) -> None:
    """Warn (once a day, by the job's interval) about engagement days chinese-calendar does not
    know and that the engagement's own lists do not cover: they count Monday to Friday."""
    known = known_years()
    with transaction(run.engine) as session:
        engagements = list(session.execute(select(Engagement)).scalars())
    today = run.now.date()
    for engagement in engagements:
        horizon = min(engagement.end_date, today + timedelta(days=60))
        years = range(max(engagement.start_date, today).year, horizon.year + 1)
        for year in (y for y in years if y not in known):
            listed = policy_of(engagement).calendar.listed_in(year)
            log.warning(
                "%s: chinese-calendar has no holiday data for %s: business days there are "
                "Monday to Friday%s. Upgrade chinese-calendar, or list that year's holidays and "
                "make-up workdays in the engagement file.",
                engagement.code, year, f", with the {listed} date(s) the engagement lists" if listed else "",
            )  # fmt: skip
