"""The knowledge base's commands: /ask (/问) answers with the best three articles, /kb add
(/知识 新增) writes one in chat, /kb adopt (/知识 采纳) drafts one from a resolved ticket for the
PM to /kb confirm (/知识 确认), and /answered (/已解决 T-12 知识库) lets the reporter close a
ticket the knowledge base answered — a deflection. Articles and search: `handlers.knowledge_base`.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlmodel import col

from base.errors import InvalidState, NotFound, UsageError
from bot.commands import Parsed
from bot.context import Context
from handlers import knowledge_text as text
from handlers import limits
from handlers.knowledge_base import PREFIX, search
from handlers.ticket_states import step
from handlers.tickets import find, record, sla_of
from storage import counters
from storage.models import TicketEvent
from storage.models_knowledge import ACTIVE, DRAFT, KbArticle, KbDeflection

# -- commands ---------------------------------------------------------------------------------


def ask(ctx: Context, cmd: Parsed) -> None:
    question = cmd.arg("question").strip()
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, question=question)
    offered, found = search(ctx.session, ctx.eng, question, ctx.now)
    if not offered:
        ctx.reply(text.nothing_found(ctx.locale, question), "kb.none")
        return
    ctx.reply(
        text.answers(ctx.locale, [(f.article, f.excerpt) for f in found]),
        "kb.answer",
        found[0].article.ref,
    )


def kb_command(ctx: Context, cmd: Parsed) -> None:
    """/知识 新增 "标题" 内容 | /知识 采纳 T-12 | /知识 确认 KB-3"""
    action, rest = cmd.arg("action"), (cmd.arg("rest") or "").strip()
    if action == "add":
        _add(ctx, rest)
    elif action == "adopt":
        _adopt(ctx, rest)
    else:
        _confirm(ctx, rest)


def split_title(rest: str) -> tuple[str, str]:
    """`"标题" 内容` (or “标题” 内容, or a first line and the rest) as (title, body)."""
    match = re.match(r"\s*[\"“「『](.+?)[\"”」』]\s*(.*)\Z", rest, re.S)
    if match:
        return match.group(1).strip(), match.group(2).strip()
    first, _, body = rest.partition("\n")
    return first.strip(), body.strip()


def _roles(ctx: Context, allowed: set[str], zh: str, en: str) -> None:
    from base.errors import PermissionDenied

    if ctx.actor is None or not ctx.actor.roles & allowed:
        raise PermissionDenied(ctx.tr(zh, en))


def _add(ctx: Context, rest: str) -> None:
    title, body = split_title(rest)
    if not title or not body:
        raise UsageError(text.add_usage(ctx.locale))
    limits.enforce_text(ctx.locale, limits.TITLE_MAX, title=title)
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, body=body)
    article = _new(ctx, title, body, ACTIVE, f"chat:{ctx.person.key}")
    ctx.audit("kb.added", article.ref, title=title)
    ctx.reply(text.added(ctx.locale, article), "kb.added", article.ref)


def _new(ctx: Context, title: str, body: str, status: str, source: str,
         ticket_id: int | None = None) -> KbArticle:  # fmt: skip
    number = counters.next_number(ctx.session, ctx.eng_id, PREFIX)
    article = KbArticle(engagement_id=ctx.eng_id, number=number, title=title, body=body,
                        source=source, status=status, created_by=ctx.person.key,
                        ticket_id=ticket_id, created_at=ctx.now, updated_at=ctx.now)  # fmt: skip
    ctx.session.add(article)
    ctx.session.flush()
    return article


def _adopt(ctx: Context, rest: str) -> None:
    ticket = find(ctx, rest.split()[0] if rest.split() else rest)
    if ticket.status not in ("resolved", "closed") or ticket.resolved_at is None:
        raise InvalidState(text.not_resolved(ctx.locale, ticket.ref))
    if ticket.assignee_id not in (None, ctx.person_id):
        _roles(ctx, {"vendor_pm"}, "只有工单的处理工程师或项目经理可以采纳。",
               "Only the ticket's engineer or the PM may adopt it.")  # fmt: skip
    note = ctx.session.execute(
        select(col(TicketEvent.text))
        .where(col(TicketEvent.ticket_id) == ticket.id, col(TicketEvent.kind) == "resolved")
        .order_by(col(TicketEvent.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    article = _new(ctx, ticket.title, note or ticket.title, DRAFT, f"ticket:{ticket.ref}",
                   ticket.id)  # fmt: skip
    ctx.audit("kb.drafted", article.ref, ticket=ticket.ref)
    ctx.reply(text.drafted(ctx.locale, article, ticket.ref), "kb.drafted", article.ref)


def _confirm(ctx: Context, rest: str) -> None:
    _roles(
        ctx, {"vendor_pm"}, "只有项目经理可以确认知识条目。", "Only the PM may confirm an article."
    )
    article = _article(ctx, rest.split()[0] if rest.split() else rest)
    if article.status != DRAFT:
        raise InvalidState(text.not_draft(ctx.locale, article.ref))
    article.status, article.updated_at = ACTIVE, ctx.now
    ctx.session.add(article)
    ctx.audit("kb.confirmed", article.ref)
    ctx.reply(text.confirmed(ctx.locale, article), "kb.confirmed", article.ref)


def _article(ctx: Context, ref: str) -> KbArticle:
    from bot.lexer import parse_ref

    parsed = parse_ref(ref, (PREFIX,))
    article: KbArticle | None = None
    if parsed is not None:
        article = ctx.session.execute(
            select(KbArticle).where(
                col(KbArticle.engagement_id) == ctx.eng_id, col(KbArticle.number) == parsed[1]
            )
        ).scalar_one_or_none()
    if article is None:
        raise NotFound(ctx.tr("没有知识条目 {r}。", "There is no article {r}.", r=ref))
    return article


def answered(ctx: Context, cmd: Parsed) -> None:
    """The reporter closes the ticket as answered by the knowledge base: the ticket life
    cycle's `close`, with a deflection counted."""
    ticket = find(ctx, cmd.arg("ticket"))
    state = step(ctx, ticket, "close", {"": ("{r} 已关闭。", "{r} is already closed.")},
                 ("只有报告人或甲方人员可以关闭 {r}。", "Only the reporter or client staff may close {r}."))  # fmt: skip
    if ticket.pending_since is not None:
        ticket.paused_minutes += sla_of(ctx).calendar(ticket).between(ticket.pending_since, ctx.now)
        ticket.pending_since = None
    ticket.status, ticket.closed_at = state, ctx.now
    sla_of(ctx).reschedule(ticket, ctx.now)
    ctx.session.add(ticket)
    record(ctx, ticket, "closed", ctx.tr("知识库已解答", "answered by the knowledge base"))
    actor = ctx.actor.key if ctx.actor else "system"
    ctx.session.add(KbDeflection(engagement_id=ctx.eng_id, ticket_id=ticket.id or 0, at=ctx.now,
                                 actor=actor))  # fmt: skip
    ctx.audit("ticket.closed", ticket.ref, withdrawn=False, answered_by="knowledge")
    ctx.reply(text.answered(ctx.locale, ticket.ref), "ticket.closed", ticket.ref)
