"""Monitoring alerts into tickets: carrying out `domain.alerts`' decisions as the system
(`Context.system`), in the webhook's transaction. One ticket per alert group; a re-fire is a
note; a recovery a note or, as the engagement says, a resolution pending the client's
confirmation (as /解决 does); a flap reopens the same ticket. Chat posts about alerts obey the
storm limit; what it holds back goes into one summary (`JOBS`, every minute)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot.context import Context
from bot.message import Target
from bot.notify import bound_chats
from bot.scheduler import Run
from domain import alerts as rules
from domain.lifecycles import tickets as lifecycle
from domain.lifecycles.tickets import settle
from handlers import ticket_text as text
from handlers.tickets import open_for_system, record, sla_of
from storage import signin
from storage.models import OutboxMessage, Ticket
from storage.models_alerts import AlertGroup, AlertToken

SOURCE_NAMES = {"alertmanager": "Alertmanager", "zabbix": "Zabbix", "generic": "Monitoring"}
_SUMMARY_LIMIT = 20  # tickets named in one summary


def settings_of(ctx: Context) -> rules.AlertSettings:
    return rules.AlertSettings.of(ctx.eng.rules)


def handle(ctx: Context, event: rules.AlertEvent, settings: rules.AlertSettings) -> str:
    """Carry out what `event` does to its group's ticket; returns the action taken."""
    group = ctx.session.execute(
        select(AlertGroup).where(col(AlertGroup.engagement_id) == ctx.eng_id,
                                 col(AlertGroup.key_hash) == event.key_hash)
    ).scalar_one_or_none()  # fmt: skip
    ticket = ctx.session.get(Ticket, group.ticket_id) if group else None
    known = None
    if group is not None and ticket is not None:
        state: rules.Status = "resolved" if group.state == "resolved" else "firing"
        known = rules.GroupState(state, group.resolved_at, ticket.status)
    action = rules.decide(event, known, ctx.now, settings)
    if action == "ignore":
        return action
    if action == "open":
        ticket = _open(ctx, event, settings)
        if group is None:
            group = AlertGroup(engagement_id=ctx.eng_id, source=event.source,
                               key_hash=event.key_hash, group_key=event.group_key,
                               ticket_id=ticket.id or 0, first_fired_at=ctx.now,
                               last_fired_at=ctx.now, fires=0)  # fmt: skip
        group.ticket_id = ticket.id or 0
    assert group is not None and ticket is not None
    if event.status == "firing":
        group.state, group.last_fired_at, group.fires = "firing", ctx.now, group.fires + 1
    else:
        group.state, group.resolved_at = "resolved", ctx.now
    if action == "note":
        record(
            ctx, ticket, "note", _fired(event) if event.status == "firing" else _recovered(event)
        )
        if event.status == "resolved":
            _post(ctx, settings, group, ticket, "alert.recovered", ctx.tr(
                "🟢 告警已恢复 {h}（工单仍待处理）", "🟢 Alert recovered {h} (the ticket stays open)",
                h=text.headline(ticket, ctx.locale)))  # fmt: skip
    elif action == "resolve":
        _resolve(ctx, ticket, event)
        _post(ctx, settings, group, ticket, "alert.resolved", ctx.tr(
            "✅ 告警已恢复，{h} 已解决，请甲方确认：/关闭 {r}；如未恢复：/重开 {r} 原因",
            "✅ Alert recovered: {h} resolved. Client, please confirm with /close {r}, "
            "or /reopen {r} REASON", h=text.headline(ticket, ctx.locale), r=ticket.ref))  # fmt: skip
    elif action == "reopen":
        _reopen(ctx, ticket, event)
        _post(ctx, settings, group, ticket, "alert.reopened", ctx.tr(
            "🔁 告警再次触发，{h} 已重开", "🔁 Alert firing again: {h} reopened",
            h=text.headline(ticket, ctx.locale)))  # fmt: skip
    else:  # open
        _post(ctx, settings, group, ticket, "alert.opened", ctx.tr(
            "🚨 监控告警已开单 {h}\n开始于 {s}，首次响应截止 {r}",
            "🚨 Monitoring alert opened {h}\nStarted {s}; first response due {r}",
            h=text.headline(ticket, ctx.locale), s=text.when(ticket.opened_at, ctx.eng.timezone),
            r=text.when(ticket.response_due_at, ctx.eng.timezone)))  # fmt: skip
    ctx.session.add(group)
    ctx.session.flush()
    return action


def _open(ctx: Context, event: rules.AlertEvent, settings: rules.AlertSettings) -> Ticket:
    service = rules.service(event, settings)
    if service is None and "ops_monitoring" in ctx.eng.services:
        service = "ops_monitoring"
    started = rules.bounded_start(event.starts_at, ctx.now)
    chats = bound_chats(ctx.session, ctx.eng_id)
    where = (chats[0].channel, chats[0].chat_id) if chats else ("alerts", "")
    labels = " ".join(f"{k}={v}" for k, v in sorted(event.labels.items()) if k != "alertname")
    title = f"[{SOURCE_NAMES[event.source]}] {event.title}" + (f" ({labels})" if labels else "")
    history = _details(event)
    if event.starts_at is not None and started != event.starts_at:
        history += "\n" + ctx.tr("startsAt {a} 超出范围，SLA 计时从 {b} 开始",
                                 "startsAt {a} out of bounds; SLA clocks start at {b}",
                                 a=event.starts_at.isoformat(), b=started.isoformat())  # fmt: skip
    return open_for_system(
        ctx, severity=rules.severity(event, settings), service=service, title=title,
        opened_at=started, reporter=(f"alert:{event.source}", SOURCE_NAMES[event.source]),
        where=where, history=history, source=event.source, group=event.group_key[:200],
    )  # fmt: skip


def _details(event: rules.AlertEvent) -> str:
    lines = [event.title]
    if event.labels:
        lines.append("labels: " + ", ".join(f"{k}={v}" for k, v in sorted(event.labels.items())))
    for key, value in sorted(event.annotations.items()):
        lines.append(f"{key}: {value}")
    if event.starts_at is not None:
        lines.append(f"startsAt: {event.starts_at.isoformat()}")
    if event.count > 1:
        lines.append(f"alerts: {event.count}")
    if event.link:
        lines.append(f"link: {event.link}")
    return "\n".join(lines)


def _fired(event: rules.AlertEvent) -> str:
    return "firing again · " + _details(event)


def _recovered(event: rules.AlertEvent) -> str:
    end = f" at {event.ends_at.isoformat()}" if event.ends_at else ""
    return f"recovered{end} · {event.title}"


def _resolve(ctx: Context, ticket: Ticket, event: rules.AlertEvent) -> None:
    """As /解决: the clocks stop, the client confirms (or the ticket closes by itself)."""
    taken = lifecycle.TICKET.step(ticket.status, "resolve", lifecycle.MONITORING)
    if taken.target is None:  # resolved or closed already
        return
    sla = sla_of(ctx)
    if ticket.pending_since is not None:
        ticket.paused_minutes += sla.calendar(ticket).between(ticket.pending_since, ctx.now)
        ticket.pending_since, ticket.pending_reason = None, ""
    ticket.status, ticket.resolved_at = taken.target, ctx.now
    _save(ctx, ticket, "resolved", _recovered(event))


def _reopen(ctx: Context, ticket: Ticket, event: rules.AlertEvent) -> None:
    """As /重开: the time it sat resolved does not count against the vendor."""
    taken = lifecycle.TICKET.step(ticket.status, "reopen", lifecycle.MONITORING)
    if taken.target is None:  # not resolved or closed
        return
    if ticket.resolved_at is not None:
        ticket.paused_minutes += sla_of(ctx).calendar(ticket).between(ticket.resolved_at, ctx.now)
    ticket.status = settle(taken.target, acknowledged=ticket.acked_at is not None)
    ticket.resolved_at = ticket.closed_at = None
    _save(ctx, ticket, "reopened", "flapping · " + _details(event))


def _save(ctx: Context, ticket: Ticket, kind: str, history: str) -> None:
    sla_of(ctx).reschedule(ticket, ctx.now)
    ctx.session.add(ticket)
    record(ctx, ticket, kind, history)
    ctx.audit(f"ticket.{kind}", ticket.ref, source="alert")


# -- the storm limit --------------------------------------------------------------------------


def posted_last_minute(ctx: Context) -> int:
    """Posts about alerts in the busiest of the engagement's chats in the last minute."""
    rows = ctx.session.execute(
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.engagement_id) == ctx.eng_id,
               col(OutboxMessage.created_at) > ctx.now - timedelta(minutes=1),
               col(OutboxMessage.kind).startswith("alert."),
               col(OutboxMessage.recipient_type) == "chat")
        .group_by(col(OutboxMessage.recipient))
    ).scalars()  # fmt: skip
    return max((int(n) for n in rows), default=0)


def _post(ctx: Context, settings: rules.AlertSettings, group: AlertGroup, ticket: Ticket,
          kind: str, message: str) -> None:  # fmt: skip
    if rules.may_post(posted_last_minute(ctx), settings):
        ctx.announce(message, kind, ticket.ref)
    elif group.held_at is None:
        group.held_at = ctx.now


def summarise(ctx: Context) -> int:
    """One post naming the alert tickets whose posts the storm limit held back; 0 if none."""
    groups = list(ctx.session.execute(
        select(AlertGroup).where(col(AlertGroup.engagement_id) == ctx.eng_id,
                                 col(AlertGroup.held_at).is_not(None))
        .order_by(col(AlertGroup.id))
    ).scalars())  # fmt: skip
    if not groups:
        return 0
    tickets = {t.id: t for t in ctx.session.execute(
        select(Ticket).where(col(Ticket.id).in_([g.ticket_id for g in groups]))).scalars()}  # fmt: skip
    since = min(g.held_at for g in groups if g.held_at is not None)
    lines = [ctx.tr("⚠️ 告警风暴：{t} 起另有 {n} 组告警未逐条发送（每分钟最多 {m} 条）：",
                    "⚠️ Alert storm: {n} more alert groups since {t}, not posted one by one "
                    "(at most {m} a minute):", n=len(groups), t=ctx.when(since),
                    m=settings_of(ctx).max_posts_per_minute)]  # fmt: skip
    for group in groups[:_SUMMARY_LIMIT]:
        ticket = tickets.get(group.ticket_id)
        if ticket is not None:
            state = (
                ctx.tr("触发", "firing")
                if group.state == "firing"
                else ctx.tr("已恢复", "recovered")
            )
            lines.append(f"  {text.headline(ticket, ctx.locale)} · {state} ×{group.fires}")
        group.held_at = None
        ctx.session.add(group)
    for group in groups[_SUMMARY_LIMIT:]:
        group.held_at = None
        ctx.session.add(group)
    if len(groups) > _SUMMARY_LIMIT:
        lines.append(ctx.tr("……另有 {n} 组，见 /工单列表", "… and {n} more: see /tickets",
                            n=len(groups) - _SUMMARY_LIMIT))  # fmt: skip
    for chat in bound_chats(ctx.session, ctx.eng_id):
        ctx.post(Target(chat.channel, chat.chat_id), "\n".join(lines), "alert.summary")
    return len(groups)


def summary_job(run: Run) -> None:
    """Every minute: each engagement's held-back alert posts, summarised once."""
    with run.context() as ctx:
        ids = sorted({int(i) for i in ctx.session.execute(
            select(col(AlertGroup.engagement_id)).where(col(AlertGroup.held_at).is_not(None))
        ).scalars()})  # fmt: skip
    for engagement_id in ids:
        with run.context(engagement_id) as ctx:
            summarise(ctx)




# -- the monitoring systems' tokens -----------------------------------------------------------

TOKEN_PREFIX = "ra_"


def create_token(session: Session, engagement_id: int, name: str, now: datetime) -> str:
    """A new token for `engagement_id`, returned once: only its SHA-256 is kept."""
    return signin.issue_token(session, AlertToken, engagement_id, name, now, TOKEN_PREFIX)


def token_engagement(session: Session, token: str, now: datetime) -> int | None:
    """The engagement a live token names (its last use noted); None when unknown or revoked."""
    row = signin.live_token(session, AlertToken, token, now, TOKEN_PREFIX)
    return None if row is None else int(row.engagement_id)


def tokens(session: Session, engagement_id: int | None = None) -> list[AlertToken]:
    return signin.listed_tokens(session, AlertToken, engagement_id)


def revoke_token(session: Session, token_id: int, now: datetime) -> bool:
    """Revoke token `token_id`; False if there is no such live token."""
    return signin.revoke_token(session, AlertToken, token_id, now)
