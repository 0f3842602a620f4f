"""/checklist and /done (/清单 /完成): the phase-1 onboarding checklist (服务启动清单).

Each item belongs to one party and is ticked by someone of that party, with an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from base.errors import InvalidState, NotFound, PermissionDenied
from bot.commands import Parsed
from bot.context import Context
from bot.lexer import normalise
from domain.catalog import PARTIES
from handlers import checklist_text as text
from handlers import limits
from storage.db import insert_ignore
from storage.models import ChecklistItem, Person


@dataclass(frozen=True)
class ItemDef:
    key: str
    party: str
    zh: str
    en: str

    def title(self, locale: str) -> str:
        return self.en if locale == "en" else self.zh


# What the service guide's start phase asks of each party, in its order.
ITEMS: tuple[ItemDef, ...] = (
    ItemDef("contacts", "client", "联系人清单及职责", "contact list and responsibilities"),
    ItemDef("system_access", "client", "系统访问权限", "system access"),
    ItemDef("requirement_docs", "client", "需求文档", "requirement documents"),
    ItemDef("interface_docs", "client", "接口文档", "interface documents"),
    ItemDef("issue_history", "client", "历史问题记录", "history of issues"),
    ItemDef("engineer_list", "vendor", "工程师名单及简历", "engineer list with CVs"),
    ItemDef("nda", "vendor", "保密协议签署", "NDA signed"),
)
_BY_KEY = {item.key: item for item in ITEMS}


def ensure_items(session: Session, engagement_id: int) -> None:
    """Create any missing checklist items (engagement apply calls this)."""
    for position, item in enumerate(ITEMS, start=1):
        insert_ignore(
            session, ChecklistItem, engagement_id=engagement_id, key=item.key,
            party=item.party, position=position, note="",
        )  # fmt: skip


def items(session: Session, engagement_id: int) -> list[ChecklistItem]:
    query = select(ChecklistItem).where(col(ChecklistItem.engagement_id) == engagement_id)
    return list(session.execute(query.order_by(col(ChecklistItem.position))).scalars())


def progress(session: Session, engagement_id: int) -> tuple[int, int]:
    """(done, total)."""
    rows = items(session, engagement_id)
    return sum(1 for row in rows if row.done_at is not None), len(rows)


def show_checklist(ctx: Context, cmd: Parsed) -> None:
    rows = items(ctx.session, ctx.eng_id)
    done = sum(1 for row in rows if row.done_at)
    lines = [text.head(done, len(rows), ctx.locale)]
    for row in rows:
        lines.append(_item_line(ctx, row))
    if done < len(rows):
        lines.append(text.tick_hint(ctx.locale))
    ctx.reply("\n".join(lines), "checklist")


def _item_line(ctx: Context, row: ChecklistItem) -> str:
    item = _BY_KEY[row.key]
    party = PARTIES[item.party].name(ctx.locale)
    done: tuple[str, str, str] | None = None
    if row.done_at is not None:
        who = ctx.session.get(Person, row.done_by_id) if row.done_by_id else None
        done = (who.name if who else "?", ctx.when(row.done_at), row.note)
    return text.item_line(row.position, item.title(ctx.locale), party, ctx.locale, done)


def mark_done(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, note=cmd.arg("note"))
    rows = items(ctx.session, ctx.eng_id)
    row = _find(ctx, rows, cmd.arg("item"))
    item = _BY_KEY[row.key]
    if ctx.actor is None or ctx.actor.party != item.party:
        party = PARTIES[item.party].name(ctx.locale)
        raise PermissionDenied(text.other_party(item.title(ctx.locale), party, ctx.locale))
    if row.done_at is not None:
        who = ctx.session.get(Person, row.done_by_id) if row.done_by_id else None
        raise InvalidState(
            text.already_done(item.title(ctx.locale), who.name if who else "?",
                              ctx.when(row.done_at), ctx.locale)
        )  # fmt: skip
    row.done_at, row.done_by_id, row.note = ctx.now, ctx.person.id, cmd.arg("note") or ""
    ctx.session.add(row)
    ctx.audit("checklist.done", item=row.key, note=row.note)
    done = sum(1 for r in rows if r.done_at)
    ctx.reply(text.ticked(item.title(ctx.locale), done, len(rows), ctx.locale), "checklist.done")
    if done == len(rows):
        complete = text.complete(ctx.locale)
        ctx.reply(complete, "checklist.complete")
        ctx.notify_roles({"vendor_pm", "customer_manager"}, f"{ctx.eng.code}: {complete}",
                         "checklist.complete", dedupe_key=f"checklist:{ctx.eng.code}:complete")  # fmt: skip
        ctx.audit("phase.changed", phase="execution")


def _find(ctx: Context, rows: list[ChecklistItem], wanted: str) -> ChecklistItem:
    key = normalise(wanted)
    for row in rows:
        item = _BY_KEY[row.key]
        names = {str(row.position), row.key, normalise(item.zh), normalise(item.en)}
        if key in names:
            return row
    raise NotFound(text.not_found(wanted, len(rows), ctx.locale))
