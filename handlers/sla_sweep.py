"""The SLA sweep: every minute, the tickets whose `next_check_at` has come — nothing else.

Sends each warning, breach and escalation once (dedupe keys such as
`sla:DEMO-2026:T-7:resolve:breach`), auto-closes resolved tickets after the engagement's
business days, and once a day warns when a calendar runs past what chinese-calendar knows.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select
from sqlmodel import Session

from bot import notify
from bot.durations import format_span
from bot.i18n import tr
from bot.scheduler import Job, JobContext
from domain import labels, sla
from domain.workcalendar import known_years
from handlers import ticket_text as text
from handlers.ticket_sla import TicketSla
from storage.db import transaction
from storage.models import ChatBinding, Engagement, Person, Ticket, TicketEvent

log = logging.getLogger("rentian.sla")
BATCH = 500
_ICONS = {"warning": "⏰", "breach": "🔴", "escalation": "🚨"}


def sweep(job: JobContext) -> None:
    """Handle what is due; each batch in its own transaction, until nothing is due."""
    while _sweep_batch(job) == BATCH:
        pass


def due_tickets(session: Session, now: object, limit: int = BATCH) -> list[Ticket]:
    """The one indexed query of the sweep (ix_ticket_next_check_at)."""
    query = (
        select(Ticket)
        .where(Ticket.next_check_at <= now)  # type: ignore[operator]
        .order_by(Ticket.next_check_at)  # type: ignore[arg-type]
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(query).scalars())


def _sweep_batch(job: JobContext) -> int:
    with transaction(job.engine) as session:
        tickets = due_tickets(session, job.now)
        engagements: dict[int, tuple[Engagement, TicketSla]] = {}
        for ticket in tickets:
            if ticket.engagement_id not in engagements:
                engagement = session.get(Engagement, ticket.engagement_id)
                assert engagement is not None
                engagements[ticket.engagement_id] = (engagement, TicketSla.of(engagement))
            engagement, ticket_sla = engagements[ticket.engagement_id]
            _check(session, engagement, ticket_sla, ticket, job)
        return len(tickets)


def _check(
    session: Session, engagement: Engagement, ticket_sla: TicketSla, ticket: Ticket, job: JobContext
) -> None:
    if ticket.status == "resolved":
        closes = ticket_sla.auto_close_at(ticket)
        if closes is not None and closes <= job.now:
            _auto_close(session, engagement, ticket, job)
        else:
            ticket.next_check_at = closes
        return
    if ticket.status == "closed":
        ticket.next_check_at = None
        return
    decision = ticket_sla.evaluate(ticket, job.now)
    for alert in decision.alerts:
        _send_alert(session, engagement, ticket_sla, ticket, alert, job)
    done = [a.key for a in (*decision.alerts, *decision.settled)]
    if done:
        ticket.alerts = [*ticket.alerts, *done]
    ticket.next_check_at = decision.next_check
    session.add(ticket)


def _send_alert(session: Session, engagement: Engagement, ticket_sla: TicketSla, ticket: Ticket,
                alert: sla.Alert, job: JobContext) -> None:  # fmt: skip
    locale, tz = engagement.locale, engagement.timezone
    kind, key = f"sla.{alert.stage}", f"sla:{engagement.code}:{ticket.ref}:{alert.key}"
    message = _alert_text(ticket_sla, ticket, alert, job, locale, tz)
    recipients = _recipients(session, engagement, ticket, alert.stage, ticket_sla.policy)
    for person in recipients:
        notify.to_person(session, engagement, person, now=job.now, kind=kind, ref=ticket.ref,
                         text=f"{engagement.code} {message}", dedupe_key=key)  # fmt: skip
    if alert.stage in ("warning", "breach"):
        chat = ChatBinding(
            engagement_id=engagement.id or 0, channel=ticket.channel, chat_id=ticket.chat_id
        )
        notify.to_chat(
            session, chat, now=job.now, kind=kind, ref=ticket.ref, text=message, dedupe_key=key
        )
    session.add(TicketEvent(ticket_id=ticket.id or 0, at=job.now, actor="system", kind="alert",
                            text=f"{kind} {alert.leg}"))  # fmt: skip


def _alert_text(ticket_sla: TicketSla, ticket: Ticket, alert: sla.Alert, job: JobContext,
                locale: str, tz: str) -> str:  # fmt: skip
    leg = labels.clock(alert.leg, locale)
    target = ticket_sla.target(ticket.severity)
    limit = format_span(target.response if alert.leg == "response" else target.resolve, locale)
    due = ticket.response_due_at if alert.leg == "response" else ticket.resolve_due_at
    left = text.time_left(ticket_sla, ticket, alert.leg, job.now, locale)
    head = {
        "warning": tr(locale, "即将超时", "about to breach"),
        "breach": tr(locale, "已超时", "SLA breached"),
        "escalation": tr(locale, "超时升级", "escalation"),
    }[alert.stage]
    return tr(locale, "{i} {h}：{t}｜{leg}时限 {lim}，截止 {d}，{left}",
              "{i} {h}: {t} | {leg} target {lim}, due {d}, {left}", i=_ICONS[alert.stage], h=head,
              t=text.headline(ticket, locale), leg=leg, lim=limit, d=text.when(due, tz), left=left)  # fmt: skip


def _recipients(session: Session, engagement: Engagement, ticket: Ticket, stage: str,
                policy: sla.Policy) -> list[Person]:  # fmt: skip
    """Warning: the assignee (or the PM); breach: the customer manager and the PM;
    escalation: the engagement's escalation ladder (default: the delivery director)."""
    engagement_id = engagement.id or 0
    if stage == "warning":
        assignee = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
        if assignee is not None and assignee.active:
            return [assignee]
        return notify.people_with_roles(session, engagement_id, {"vendor_pm"})
    if stage == "breach":
        return notify.people_with_roles(session, engagement_id, {"customer_manager", "vendor_pm"})
    return notify.people_with_roles(session, engagement_id, set(policy.escalation_roles))


def _auto_close(session: Session, engagement: Engagement, ticket: Ticket, job: JobContext) -> None:
    ticket.status, ticket.closed_at, ticket.next_check_at = "closed", job.now, None
    session.add(ticket)
    session.add(TicketEvent(ticket_id=ticket.id or 0, at=job.now, actor="system", kind="closed",
                            text=tr(engagement.locale, "自动关闭", "closed automatically")))  # fmt: skip
    chat = ChatBinding(
        engagement_id=engagement.id or 0, channel=ticket.channel, chat_id=ticket.chat_id
    )
    notify.to_chat(session, chat, now=job.now, kind="ticket.closed", ref=ticket.ref,
                   text=tr(engagement.locale, "🔒 {r} 解决后无异议，已自动关闭。",
                           "🔒 {r} was resolved with no objection and is now closed.", r=ticket.ref),
                   dedupe_key=f"ticket:{engagement.code}:{ticket.ref}:autoclose")  # fmt: skip


def calendar_check(job: JobContext) -> None:
    """Warn (once a day, by the job's interval) about engagement days chinese-calendar does not
    know and that the engagement's own lists do not cover: they count Monday to Friday."""
    known = known_years()
    with transaction(job.engine) as session:
        engagements = list(session.execute(select(Engagement)).scalars())
    today = job.now.date()
    for engagement in engagements:
        horizon = min(engagement.end_date, today + timedelta(days=60))
        years = range(max(engagement.start_date, today).year, horizon.year + 1)
        for year in (y for y in years if y not in known):
            listed = _listed_in(engagement.calendar, year)
            log.warning(
                "%s: chinese-calendar has no holiday data for %s: business days there are "
                "Monday to Friday%s. Upgrade chinese-calendar, or list that year's holidays and "
                "make-up workdays in the engagement file.",
                engagement.code, year, f", with the {listed} date(s) the engagement lists" if listed else "",
            )  # fmt: skip


def _listed_in(calendar: dict[str, object], year: int) -> int:
    days = [*calendar.get("holidays", ()), *calendar.get("workdays", ())]  # type: ignore[misc]
    return sum(1 for d in days if date.fromisoformat(str(d)).year == year)


JOBS = [
    Job(
        "sla.sweep", timedelta(minutes=1), sweep, "SLA warnings, breaches, escalations, auto-close"
    ),
    Job(
        "calendar.check", timedelta(days=1), calendar_check, "warn about years without holiday data"
    ),
]
