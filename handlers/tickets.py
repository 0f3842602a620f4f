"""/ticket, /tickets, /note, /assign (/工单 /工单列表 /备注 /指派): opening, showing and routing
support tickets. The life cycle (ack, pending, resolve, close, reopen) is in `ticket_flow`."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import insert, select
from sqlmodel import col

from base.errors import InvalidState, NotFound, UsageError
from bot.commands import Parsed, Ref
from bot.context import Context
from bot.lexer import normalise, parse_ref
from bot.message import Mention
from domain.catalog import SERVICES
from domain.lifecycles.tickets import RESPONDERS
from handlers import limits
from handlers import ticket_text as text
from handlers.ticket_sla import TicketSla
from handlers.ticket_states import OPEN_STATES, awaiting_confirmation, running_late, step
from storage.counters import next_number
from storage.models import Identity, Person, Ticket, TicketEvent

_SEVERITY_LIKE = re.compile(r"^p\d+$")
_LIST_LIMIT = 30
# Built once: a statement built per call costs more than the database takes to run it.
_TICKETS = Ticket.__table__  # type: ignore[attr-defined]
_TICKET_COLUMNS = tuple(c.key for c in _TICKETS.columns if c.key != "id")
_INSERT_TICKET = insert(_TICKETS).returning(_TICKETS.c.id)
_INSERT_EVENT = insert(TicketEvent.__table__)  # type: ignore[attr-defined]


# -- shared by the ticket commands ------------------------------------------------------------


def find(ctx: Context, ref: Ref | str) -> Ticket:
    """This engagement's ticket `ref`; NotFound (never another engagement's) otherwise."""
    parsed = parse_ref(str(ref), ("T",))
    ticket: Ticket | None = None
    if parsed is not None:
        ticket = ctx.session.execute(
            select(Ticket).where(
                col(Ticket.engagement_id) == ctx.eng.id, col(Ticket.number) == parsed[1]
            )
        ).scalar_one_or_none()
    if ticket is None:
        raise NotFound(ctx.tr("没有工单 {r}。发送 /工单列表 查看未关闭的工单。",
                              "There is no ticket {r}. Send /tickets to list the open ones.", r=ref))  # fmt: skip
    return ticket


def record(ctx: Context, ticket: Ticket, kind: str, note: str = "") -> None:
    """A line of the ticket's history: written at once, as a row nothing reads back here."""
    actor = ctx.actor.key if ctx.actor else "system"
    values = dict(ticket_id=ticket.id or 0, at=ctx.now, actor=actor, kind=kind, text=note)
    ctx.session.execute(_INSERT_EVENT, values)


def person_for(ctx: Context, mention: Mention) -> Person:
    """The engagement's person behind an @-mention: by channel identity, id or name."""
    channel = ctx.inbound.channel if ctx.inbound else "console"
    person: Person | None = ctx.session.execute(
        select(Person)
        .join(Identity, col(Identity.person_id) == col(Person.id))
        .where(col(Identity.engagement_id) == ctx.eng.id, col(Identity.channel) == channel,
               col(Identity.external_id) == mention.external_id, col(Person.active))
    ).scalar_one_or_none()  # fmt: skip
    if person is None:
        person = ctx.session.execute(
            select(Person).where(
                col(Person.engagement_id) == ctx.eng.id, col(Person.active),
                (col(Person.key) == mention.external_id) | (col(Person.name) == mention.name),
            )
        ).scalars().first()  # fmt: skip
    if person is None:
        raise NotFound(
            ctx.tr("项目里没有 @{n}。", "No one called @{n} in this engagement.", n=mention.name)
        )
    return person


def sla_of(ctx: Context) -> TicketSla:
    return TicketSla.of(ctx.policy)


# -- /ticket ----------------------------------------------------------------------------------


def ticket_command(ctx: Context, cmd: Parsed) -> None:
    """`/ticket T-7` shows a ticket; anything else opens one."""
    title: str = cmd.arg("title", "")
    if cmd.arg("severity") is None and not cmd.options and parse_ref(title.strip(), ("T",)):
        show_ticket(ctx, find(ctx, title.strip()))
        return
    open_ticket(ctx, cmd.arg("severity") or "P3", cmd.options.get("svc"), title)


def open_ticket(ctx: Context, severity: str, service_word: str | None, title: str) -> None:
    limits.enforce_text(ctx.locale, limits.TITLE_MAX, title=title)
    first = normalise(title.split()[0]) if title.split() else ""
    if _SEVERITY_LIKE.match(first):
        raise UsageError(ctx.tr("严重级别只能是 P1-P4（或 紧急/高/中/低），不是“{s}”。例如：/工单 P2 报表导出超时",
                                "Severity is P1-P4 (or urgent/high/medium/low), not '{s}'. "
                                "Example: /ticket P2 report export times out", s=title.split()[0]))  # fmt: skip
    service = _service(ctx, service_word)
    in_scope = service is None or service in ctx.eng.services
    sla = sla_of(ctx)
    assert ctx.actor is not None and ctx.inbound is not None
    ticket = Ticket(
        engagement_id=ctx.eng_id, number=0,  # numbered last, below
        severity=severity, service=service, in_scope=in_scope, title=title.strip(),
        reporter_key=ctx.actor.key, reporter_name=ctx.actor.name,
        reporter_id=ctx.actor.person.id if ctx.actor.person else None, opened_at=ctx.now,
        response_due_at=ctx.now, channel=ctx.inbound.channel, chat_id=ctx.inbound.chat_id,
        message_id=ctx.inbound.message_id, alerts=[],
    )  # fmt: skip
    _create(ctx, ticket, title.strip())
    tz, locale = ctx.eng.timezone, ctx.locale
    lines = [
        ctx.tr("🎫 已开单 {h}", "🎫 Opened {h}", h=text.headline(ticket, locale)),
        ctx.tr("首次响应截止 {r}，解决截止 {d}（{c}）", "First response due {r}, resolution due {d} ({c})",
               r=text.when(ticket.response_due_at, tz), d=text.when(ticket.resolve_due_at, tz),
               c=ctx.tr(*text.CALENDAR[sla.target(severity).calendar])),
    ]  # fmt: skip
    if not in_scope:
        lines.append(ctx.tr("⚠️ 服务“{s}”不在 SOW 范围内：需要变更单（/变更）才能计入工作量。",
                            "⚠️ '{s}' is out of scope: it needs a change request (/cr) before work counts.",
                            s=text.service_text(ticket, locale).split("（")[0].split(" (")[0]))  # fmt: skip
        ctx.notify_roles({"vendor_pm"}, ctx.tr("{h}：服务不在 SOW 范围内，需要变更单。",
                                               "{h}: service out of scope, needs a change request.",
                                               h=text.headline(ticket, locale)),
                         "ticket.out_of_scope", ticket.ref)  # fmt: skip
    answers = _answers(ctx, ticket) if ctx.actor.party != "vendor" else []
    # A reply that suggests articles has a kind of its own: its card gets the "answered" button.
    kind = "ticket.suggested" if answers else "ticket.opened"
    ctx.reply("\n".join([*lines, *answers]), kind, ticket.ref)
    if severity in ("P1", "P2"):
        ctx.notify_roles({"vendor_pm", "customer_manager"},
                         ctx.tr("新的 {s} 工单 {h}（{c}）", "New {s} ticket {h} ({c})", s=severity,
                                h=text.headline(ticket, locale), c=ctx.eng.code),
                         "ticket.opened", ticket.ref)  # fmt: skip


def _answers(ctx: Context, ticket: Ticket) -> list[str]:
    """What the knowledge base may already answer, for a client's new ticket: up to three
    articles, and how to close the ticket if one does (`/已解决 T-n 知识库`, also the button of
    the reply's card, kind `ticket.suggested`). Only where the engagement file has a
    `[knowledge]` section: elsewhere it costs `/工单` nothing."""
    if "knowledge" not in (ctx.eng.rules or {}):
        return []
    from handlers import knowledge_base  # loaded when a client opens a ticket, not before

    found = knowledge_base.suggestions(ctx.session, ctx.eng, ticket.title, ctx.locale, now=ctx.now)
    if not found:
        return []
    return [*found, ctx.tr("若已解答：/已解决 {r} 知识库", "If one answers it: /answered {r}",
                           r=ticket.ref)]  # fmt: skip


def _create(ctx: Context, ticket: Ticket, history: str, **audit: object) -> None:
    """Clocks from `ticket.opened_at`, the sweep's next look, a number, the row, its first
    history line and the audit entry: what every new ticket gets, whoever opens it."""
    sla = sla_of(ctx)
    clocks = sla.clocks(ticket)
    ticket.response_due_at = sla.calendar(ticket).add(ticket.opened_at, clocks["response"].target)
    sla.reschedule(ticket, ctx.now)
    # The engagement's counter row stays locked until commit: take it as late as possible.
    ticket.number = next_number(ctx.session, ctx.eng_id, "T")
    ticket.id = _insert(ctx, ticket)
    record(ctx, ticket, "opened", history)
    ctx.audit("ticket.opened", ticket.ref, severity=ticket.severity, service=ticket.service,
              in_scope=ticket.in_scope, **audit)  # fmt: skip


def open_for_system(
    ctx: Context, *, severity: str, service: str | None, title: str, opened_at: datetime,
    reporter: tuple[str, str], where: tuple[str, str], history: str, **audit: object,
) -> Ticket:  # fmt: skip
    """A ticket the system opens (a monitoring alert): its SLA clocks start at `opened_at`
    (when the problem began, not when we heard of it); `reporter` is (key, name), `where`
    the (channel, chat id) later posts about it go to. Posts nothing: the caller does."""
    ticket = Ticket(
        engagement_id=ctx.eng_id, number=0, severity=severity, service=service,
        in_scope=service is None or service in ctx.eng.services,
        title=title[: limits.TITLE_MAX].strip(), reporter_key=reporter[0],
        reporter_name=reporter[1], opened_at=opened_at, response_due_at=opened_at,
        channel=where[0], chat_id=where[1], alerts=[],
    )  # fmt: skip
    _create(ctx, ticket, history, **audit)
    return ticket


def _insert(ctx: Context, ticket: Ticket) -> int:
    """Write a new ticket with one INSERT … RETURNING: it is not changed again in this command,
    so it needs no place in the session (and no flush)."""
    values = {name: getattr(ticket, name) for name in _TICKET_COLUMNS}
    return int(ctx.session.execute(_INSERT_TICKET, values).scalar_one())


def _service(ctx: Context, word: str | None) -> str | None:
    if word is None:
        return None
    wanted = normalise(word)
    for key, term in SERVICES.items():
        if wanted in (key, normalise(term.zh), normalise(term.en)):
            return key
    raise UsageError(ctx.tr("没有服务“{w}”。本项目范围内的服务：{s}", "No service '{w}'. In scope here: {s}",
                            w=word, s=", ".join(ctx.eng.services)))  # fmt: skip


def show_ticket(ctx: Context, ticket: Ticket) -> None:
    sla, tz, locale = sla_of(ctx), ctx.eng.timezone, ctx.locale
    assignee = ctx.session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    lines = [
        f"{text.headline(ticket, locale)} · {text.status_name(ticket.status, locale)}",
        ctx.tr("服务：{s} · 报告人 {r} · 处理人 {a}", "Service: {s} · reported by {r} · assignee {a}",
               s=text.service_text(ticket, locale), r=ticket.reporter_name,
               a=assignee.name if assignee else "—"),
        *text.clocks_text(sla, ticket, ctx.now, locale, tz),
        ctx.tr("记录：", "History:"),
    ]  # fmt: skip
    events = list(ctx.session.execute(
        select(TicketEvent)
        .where(col(TicketEvent.ticket_id) == ticket.id)
        .order_by(col(TicketEvent.id))
    ).scalars())  # fmt: skip
    names = _names(ctx)
    for event in events[-15:]:
        who = names.get(event.actor, event.actor)
        lines.append(f"  {text.when(event.at, tz)} {who} {text.event_text(event, locale)}")
    ctx.reply("\n".join(lines), "ticket.show", ticket.ref)


def _names(ctx: Context) -> dict[str, str]:
    rows = ctx.session.execute(
        select(col(Person.key), col(Person.name)).where(col(Person.engagement_id) == ctx.eng.id)
    )
    names = {str(key): str(name) for key, name in rows.all()}
    names["system"] = ctx.tr("系统", "system")
    return names


# -- /tickets ---------------------------------------------------------------------------------


def list_tickets(ctx: Context, cmd: Parsed) -> None:
    scope = cmd.arg("scope") or "open"
    query = select(Ticket).where(
        col(Ticket.engagement_id) == ctx.eng.id, col(Ticket.status).in_(OPEN_STATES)
    )
    if scope == "mine":
        assert ctx.actor is not None
        me = ctx.actor.person.id if ctx.actor.person else None
        query = query.where(
            (col(Ticket.assignee_id) == me) | (col(Ticket.reporter_key) == ctx.actor.key)
        )
    sla = sla_of(ctx)
    tickets = list(ctx.session.execute(query).scalars())
    if scope == "breached":
        tickets = [t for t in tickets if running_late(sla, t, ctx.now)]
    # Work still to do first; then what waits for the client side to confirm.
    tickets.sort(key=lambda t: (awaiting_confirmation(t.status), t.severity,
                                sla.remaining(t, "resolve", ctx.now), t.number))  # fmt: skip
    title = {"open": ("未关闭的工单", "Open tickets"), "mine": ("我的工单", "My tickets"),
             "breached": ("已超时的工单", "Breached tickets")}[scope]  # fmt: skip
    if not tickets:
        ctx.reply(ctx.tr("{t}：无。", "{t}: none.", t=ctx.tr(*title)), "tickets.list")
        return
    people = {p.id: p.name for p in ctx.session.execute(
        select(Person).where(col(Person.engagement_id) == ctx.eng.id)).scalars()}  # fmt: skip
    lines = [ctx.tr("{t}（{n}）：", "{t} ({n}):", t=ctx.tr(*title), n=len(tickets))]
    for ticket in tickets[:_LIST_LIMIT]:
        leg = "response" if ticket.acked_at is None else "resolve"
        owner = people.get(ticket.assignee_id, "—")
        cells = [ticket.ref, ticket.severity, text.status_name(ticket.status, ctx.locale), owner]
        if not awaiting_confirmation(ticket.status):  # its clocks stopped at the resolution
            cells.append(text.time_left(sla, ticket, leg, ctx.now, ctx.locale))
        lines.append(f"{' '.join(cells)} · {ticket.title}")
    if len(tickets) > _LIST_LIMIT:
        lines.append(ctx.tr("……另有 {n} 张", "… and {n} more", n=len(tickets) - _LIST_LIMIT))
    ctx.reply("\n".join(lines), "tickets.list")


# -- /note, /assign ---------------------------------------------------------------------------


def note_ticket(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TICKET_NOTE_MAX, note=cmd.arg("text"))
    ticket = find(ctx, cmd.arg("ticket"))
    record(ctx, ticket, "note", cmd.arg("text"))
    ctx.reply(
        ctx.tr("📝 已记入 {r} 的记录。", "📝 Added to {r}'s history.", r=ticket.ref),
        "ticket.note",
        ticket.ref,
    )


def assign_ticket(ctx: Context, cmd: Parsed) -> None:
    ticket = find(ctx, cmd.arg("ticket"))
    step(ctx, ticket, "assign", {"": ("{r} 已关闭；要重新处理请先 /重开 {r} 原因。",
                                      "{r} is closed; /reopen {r} REASON first.")})  # fmt: skip
    person = person_for(ctx, cmd.arg("who"))
    if person.party != "vendor" or not RESPONDERS.intersection(person.roles):
        raise InvalidState(ctx.tr("只能指派给厂商工程师或项目经理，{n} 不是。",
                                  "Tickets go to a vendor engineer or PM; {n} is neither.", n=person.name))  # fmt: skip
    ticket.assignee_id = person.id
    ctx.session.add(ticket)
    record(ctx, ticket, "assigned", person.name)
    ctx.audit("ticket.assigned", ticket.ref, assignee=person.key)
    ctx.reply(ctx.tr("👤 {r} 已指派给 {n}。", "👤 {r} assigned to {n}.", r=ticket.ref, n=person.name),
              "ticket.assigned", ticket.ref)  # fmt: skip
    ctx.notify(person, ctx.tr("你被指派处理 {h}（{c}）", "You were assigned {h} ({c})",
                              h=text.headline(ticket, ctx.locale), c=ctx.eng.code),
               "ticket.assigned", ticket.ref)  # fmt: skip
