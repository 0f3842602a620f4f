"""A ticket's life cycle: /ack /pending /resume /resolve /close /reopen
(/响应 /挂起 /恢复 /解决 /关闭 /重开). Each change stops, pauses or restarts an SLA clock,
reschedules the sweep, leaves a history line and an audit entry, and says so in the chat."""

from __future__ import annotations

from base.errors import InvalidState
from bot.commands import Parsed
from bot.context import Context
from bot.durations import format_span
from domain.lifecycles.tickets import settle
from handlers import limits
from handlers import ticket_text as text
from handlers.ticket_states import refusal, step
from handlers.tickets import find, record, sla_of
from storage.models import Person, Ticket

# Why an event does not fit the ticket's state, by state ("": any other).
_ALREADY_CLOSED = ("{r} 已关闭；要重新处理请 /重开 {r} 原因。", "{r} is closed; /reopen {r} REASON to work on it again.")  # fmt: skip
_NOT_PENDING = {"": ("{r} 没有挂起（{s}）。", "{r} is not pending ({s}).")}
_NOT_YOURS = ("只有报告人或甲方人员可以关闭或重开 {r}。", "Only the reporter or client staff may close or reopen {r}.")  # fmt: skip


def _save(ctx: Context, ticket: Ticket, kind: str, history: str = "", **audit: object) -> None:
    sla_of(ctx).reschedule(ticket, ctx.now)
    ctx.session.add(ticket)
    record(ctx, ticket, kind, history)
    ctx.audit(f"ticket.{kind}", ticket.ref, **audit)


def _first_response(ctx: Context, ticket: Ticket) -> None:
    """Any vendor action on a new ticket is its first response."""
    if ticket.acked_at is None:
        ticket.acked_at = ctx.now
        if ticket.assignee_id is None and "engineer" in (ctx.actor.roles if ctx.actor else ()):
            ticket.assignee_id = ctx.person.id


def ack(ctx: Context, cmd: Parsed) -> None:
    ticket = find(ctx, cmd.arg("ticket"))
    if ticket.acked_at is not None:
        raise InvalidState(ctx.tr("{r} 已于 {t} 响应过。", "{r} was acknowledged at {t}.", r=ticket.ref,
                                  t=text.when(ticket.acked_at, ctx.eng.timezone)))  # fmt: skip
    state = step(ctx, ticket, "ack", {"": ("{r} {s}，无需响应。", "{r} is {s}; nothing to acknowledge.")})  # fmt: skip
    _first_response(ctx, ticket)
    ticket.status = state
    _save(ctx, ticket, "acked")
    used = sla_of(ctx).elapsed(ticket, "response", ctx.now)
    target = sla_of(ctx).target(ticket.severity).response
    mark = "✅" if used <= target else ctx.tr("🔴 已超时", "🔴 late")
    ctx.reply(ctx.tr("👋 {n} 已响应 {r}，用时 {u}（时限 {t}）{m}", "👋 {n} acknowledged {r} after {u} (target {t}) {m}",
                     n=ctx.person.name, r=ticket.ref, u=format_span(used, ctx.locale),
                     t=format_span(target, ctx.locale), m=mark), "ticket.acked", ticket.ref)  # fmt: skip


def pending(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, note=cmd.arg("note"))
    ticket = find(ctx, cmd.arg("ticket"))
    state = step(ctx, ticket, "pending", {
        "pending": ("{r} 已经挂起；恢复用 /恢复 {r}。", "{r} is already pending; /resume {r} to restart it."),
        "": ("{r} {s}，不能挂起。", "{r} is {s} and cannot be paused."),
    })  # fmt: skip
    reason, note = cmd.arg("reason"), (cmd.arg("note") or "").strip()
    _first_response(ctx, ticket)
    ticket.status, ticket.pending_since = state, ctx.now
    ticket.pending_reason = f"{reason}:{note}" if note else reason
    _save(ctx, ticket, "pending", text.reason_text(ticket, ctx.locale), reason=reason, note=note)
    ctx.reply(ctx.tr("⏸ {r} 解决计时已暂停 {t}：{why}。恢复请发送 /恢复 {r}",
                     "⏸ {r}: resolution clock paused at {t}: {why}. Send /resume {r} to restart it.",
                     r=ticket.ref, t=text.when(ctx.now, ctx.eng.timezone),
                     why=text.reason_text(ticket, ctx.locale)), "ticket.pending", ticket.ref)  # fmt: skip


def resume(ctx: Context, cmd: Parsed) -> None:
    ticket = find(ctx, cmd.arg("ticket"))
    state = step(ctx, ticket, "resume", _NOT_PENDING)
    if ticket.pending_since is None:  # pending always has it; a row without it is refused
        raise refusal(ctx, ticket, _NOT_PENDING)
    sla = sla_of(ctx)
    paused = sla.calendar(ticket).between(ticket.pending_since, ctx.now)
    ticket.paused_minutes += paused
    ticket.pending_since, ticket.pending_reason, ticket.status = None, "", state
    _save(ctx, ticket, "resumed", format_span(paused, ctx.locale), paused_minutes=paused)
    ctx.reply(ctx.tr("▶️ {r} 解决计时已恢复（暂停 {p}）；新的解决截止 {d}。",
                     "▶️ {r}: resolution clock restarted (paused {p}); now due {d}.", r=ticket.ref,
                     p=format_span(paused, ctx.locale), d=text.when(ticket.resolve_due_at, ctx.eng.timezone)),
              "ticket.resumed", ticket.ref)  # fmt: skip


def resolve(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, note=cmd.arg("note"))
    ticket = find(ctx, cmd.arg("ticket"))
    state = step(ctx, ticket, "resolve", {
        "resolved": ("{r} 已解决，等待甲方确认关闭。", "{r} is already resolved, awaiting the client's confirmation."),
        "closed": _ALREADY_CLOSED,
    })  # fmt: skip
    sla = sla_of(ctx)
    if ticket.pending_since is not None:
        ticket.paused_minutes += sla.calendar(ticket).between(ticket.pending_since, ctx.now)
        ticket.pending_since, ticket.pending_reason = None, ""
    _first_response(ctx, ticket)
    ticket.status, ticket.resolved_at = state, ctx.now
    note = cmd.arg("note").strip()
    _save(ctx, ticket, "resolved", note, note=note)
    used, target = sla.elapsed(ticket, "resolve", ctx.now), sla.target(ticket.severity).resolve
    lines = [ctx.tr("✅ {r} 已解决：{n}", "✅ {r} resolved: {n}", r=ticket.ref, n=note),
             ctx.tr("用时 {u}（时限 {t}）{m}", "Took {u} (target {t}) {m}", u=format_span(used, ctx.locale),
                    t=format_span(target, ctx.locale), m="✅" if used <= target else "🔴")]  # fmt: skip
    closes = sla.auto_close_at(ticket)
    if closes is not None:
        lines.append(ctx.tr("请报告人确认：/关闭 {r}；如未解决：/重开 {r} 原因。{t} 起自动关闭。",
                            "Reporter, please confirm with /close {r}, or /reopen {r} REASON. "
                            "It closes by itself at {t}.", r=ticket.ref, t=text.when(closes, ctx.eng.timezone)))  # fmt: skip
    ctx.reply("\n".join(lines), "ticket.resolved", ticket.ref)


def close(ctx: Context, cmd: Parsed) -> None:
    ticket = find(ctx, cmd.arg("ticket"))
    state = step(ctx, ticket, "close", {"": ("{r} 已关闭。", "{r} is already closed.")}, _NOT_YOURS)
    withdrawn = ticket.status != "resolved"
    if ticket.pending_since is not None:
        ticket.paused_minutes += sla_of(ctx).calendar(ticket).between(ticket.pending_since, ctx.now)
        ticket.pending_since = None
    ticket.status, ticket.closed_at = state, ctx.now
    _save(
        ctx, ticket, "closed", ctx.tr("撤回", "withdrawn") if withdrawn else "", withdrawn=withdrawn
    )
    ctx.reply(ctx.tr("🔒 {r} 已关闭{w}。", "🔒 {r} closed{w}.", r=ticket.ref,
                     w=ctx.tr("（撤回，未解决）", " (withdrawn before resolution)") if withdrawn else ""),
              "ticket.closed", ticket.ref)  # fmt: skip


def reopen(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, reason=cmd.arg("reason"))
    ticket = find(ctx, cmd.arg("ticket"))
    state = step(ctx, ticket, "reopen", {"": ("{r} 还没有解决（{s}），不需要重开。",
                                              "{r} is not resolved ({s}); nothing to reopen.")}, _NOT_YOURS)  # fmt: skip
    sla = sla_of(ctx)
    if ticket.resolved_at is not None:  # the time it sat resolved does not count against the vendor
        ticket.paused_minutes += sla.calendar(ticket).between(ticket.resolved_at, ctx.now)
    ticket.status = settle(state, acknowledged=ticket.acked_at is not None)
    ticket.resolved_at = ticket.closed_at = None
    reason = cmd.arg("reason").strip()
    _save(ctx, ticket, "reopened", reason, reason=reason)
    ctx.reply(ctx.tr("↩️ {r} 已重开：{why}。解决截止 {d}。", "↩️ {r} reopened: {why}. Resolution now due {d}.",
                     r=ticket.ref, why=reason, d=text.when(ticket.resolve_due_at, ctx.eng.timezone)),
              "ticket.reopened", ticket.ref)  # fmt: skip
    if ticket.assignee_id and (assignee := ctx.session.get(Person, ticket.assignee_id)):
        ctx.notify(assignee, ctx.tr("{h} 被重开：{why}", "{h} was reopened: {why}",
                                    h=text.headline(ticket, ctx.locale), why=reason), "ticket.reopened", ticket.ref)  # fmt: skip
