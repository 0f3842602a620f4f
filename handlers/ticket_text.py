"""How tickets read in a chat: one-line summaries, the clocks, the history. Text only."""

from __future__ import annotations

from datetime import datetime

from bot import clock
from bot.durations import format_span
from bot.i18n import tr
from domain import labels
from domain.catalog import SERVICES, SEVERITIES
from handlers.ticket_sla import TicketSla
from storage.models import Ticket, TicketEvent

STATUS = {
    "open": ("待响应", "open"),
    "in_progress": ("处理中", "in progress"),
    "pending": ("挂起", "pending"),
    "resolved": ("已解决·待确认", "resolved, awaiting confirmation"),
    "closed": ("已关闭", "closed"),
}
PENDING_REASONS = {
    "client": ("等待甲方", "waiting on the client"),
    "third_party": ("等待第三方", "waiting on a third party"),
    "freeze": ("甲方变更冻结", "client change freeze"),
}
CALENDAR = {"24x7": ("7×24 小时", "24x7"), "business": ("工作时间", "business hours")}


def when(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return "—"
    return clock.local(moment, timezone).strftime("%Y-%m-%d %H:%M")


def severity_name(severity: str, locale: str) -> str:
    return f"{severity} {SEVERITIES[severity].name(locale)}"


def status_name(status: str, locale: str) -> str:
    zh, en = STATUS[status]
    return tr(locale, zh, en)


def headline(ticket: Ticket, locale: str) -> str:
    return f"{ticket.ref} · {severity_name(ticket.severity, locale)} · {ticket.title}"


def event_text(event: TicketEvent, locale: str) -> str:
    """One history entry: `开单：报表导出超时`, `SLA 告警：首次响应即将超时`."""
    label = labels.event(f"ticket.{event.kind}", locale)
    note = labels.sla_alert(event.text, locale) if event.kind == "alert" else event.text
    if not note:
        return label
    return tr(locale, "{l}：{n}", "{l}: {n}", l=label, n=note)


def time_left(sla: TicketSla, ticket: Ticket, leg: str, now: datetime, locale: str) -> str:
    left = sla.remaining(ticket, leg, now)
    if left >= 0:
        return tr(locale, "剩 {t}", "{t} left", t=format_span(left, locale))
    return tr(locale, "已超时 {t}", "breached by {t}", t=format_span(-left, locale))


def clocks_text(sla: TicketSla, ticket: Ticket, now: datetime, locale: str, tz: str) -> list[str]:
    """The three clocks: first response, resolution, time paused."""
    target = sla.target(ticket.severity)
    calendar = tr(locale, *CALENDAR[target.calendar])
    lines = []
    if ticket.acked_at is not None:
        used = sla.elapsed(ticket, "response", now)
        mark = "✅" if used <= target.response else "🔴"
        lines.append(tr(locale, "首次响应：{at} 已响应，用时 {u} / 时限 {t} {m}",
                        "First response: {at}, took {u} of {t} {m}", at=when(ticket.acked_at, tz),
                        u=format_span(used, locale), t=format_span(target.response, locale), m=mark))  # fmt: skip
    else:
        lines.append(tr(locale, "首次响应：截止 {d}，{left}（{c}）", "First response: due {d}, {left} ({c})",
                        d=when(ticket.response_due_at, tz), c=calendar,
                        left=time_left(sla, ticket, "response", now, locale)))  # fmt: skip
    if ticket.status in ("resolved", "closed") and ticket.resolved_at is not None:
        used = sla.elapsed(ticket, "resolve", now)
        mark = "✅" if used <= target.resolve else "🔴"
        lines.append(tr(locale, "解决：{at} 已解决，用时 {u} / 时限 {t} {m}",
                        "Resolution: {at}, took {u} of {t} {m}", at=when(ticket.resolved_at, tz),
                        u=format_span(used, locale), t=format_span(target.resolve, locale), m=mark))  # fmt: skip
    elif ticket.pending_since is not None:
        lines.append(tr(locale, "解决：计时暂停中（{r}），{left}", "Resolution: clock paused ({r}), {left}",
                        r=reason_text(ticket, locale),
                        left=time_left(sla, ticket, "resolve", now, locale)))  # fmt: skip
    else:
        lines.append(tr(locale, "解决：截止 {d}，{left}（{c}）", "Resolution: due {d}, {left} ({c})",
                        d=when(ticket.resolve_due_at, tz), c=calendar,
                        left=time_left(sla, ticket, "resolve", now, locale)))  # fmt: skip
    paused = ticket.paused_minutes + _paused_now(sla, ticket, now)
    lines.append(tr(locale, "暂停累计：{p}", "Time paused: {p}", p=format_span(paused, locale)))
    return lines


def _paused_now(sla: TicketSla, ticket: Ticket, now: datetime) -> int:
    if ticket.pending_since is None:
        return 0
    return sla.calendar(ticket).between(ticket.pending_since, now)


def reason_text(ticket: Ticket, locale: str) -> str:
    kind, _, note = ticket.pending_reason.partition(":")
    name = tr(locale, *PENDING_REASONS.get(kind, (kind, kind)))
    return f"{name} — {note}" if note else name


def service_text(ticket: Ticket, locale: str) -> str:
    if not ticket.service:
        return "—"
    name = SERVICES[ticket.service].name(locale) if ticket.service in SERVICES else ticket.service
    if ticket.in_scope:
        return name
    return name + tr(
        locale, "（不在 SOW 范围内：需要变更单）", " (out of scope: needs a change request)"
    )
