"""/period (/结算): the two-party monthly close. The vendor PM closes a month, the client
approver confirms it; then the month is locked and its statement's hash is audited. Before
the other side has signed, either side can reopen it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from bot import clock
from bot.assurance import SIGNING
from bot.commands import Arg, Command, Parsed
from bot.context import Context
from bot.durations import format_person_days
from bot.errors import InvalidState, PermissionDenied, UsageError
from handlers import limits, statement
from storage.models import Period, Person

VIEWERS = frozenset({"vendor", "client_approver"})
SIGNERS = frozenset({"vendor_pm", "client_approver"})


def find(session: Session, engagement_id: int, month: str) -> Period | None:
    return session.execute(
        select(Period).where(Period.engagement_id == engagement_id, Period.month == month)
    ).scalar_one_or_none()


def is_closed(session: Session, engagement_id: int, day: date) -> bool:
    """True when `day`'s month is closed by the PM (awaiting confirmation) or locked."""
    period = find(session, engagement_id, f"{day:%Y-%m}")
    return period is not None and period.closed_at is not None


def _month(ctx: Context, cmd: Parsed, default_previous: bool = False) -> str:
    word = cmd.arg("month")
    today = clock.local(ctx.now, ctx.eng.timezone).date()
    if word is None:
        if not default_previous:
            raise UsageError(
                ctx.tr(
                    "请写明月份，例如 /结算 关闭 上月 或 /结算 关闭 2026-11",
                    "Name the month, e.g. /period close last or /period close 2026-11",
                )
            )
        return statement.month_named("last", today)
    try:
        month = statement.month_named(word, today)
    except ValueError:
        raise UsageError(ctx.tr("“{w}”不是月份（YYYY-MM，例如 2026-11；或 上月、本月）。",
                                "'{w}' is not a month (YYYY-MM, e.g. 2026-11; or last, this).",
                                w=word)) from None  # fmt: skip
    limits.enforce(limits.check_span(*statement.month_bounds(month), ctx.eng, ctx.locale))
    return month


def _summary(ctx: Context, month: str) -> tuple[statement.Statement, str]:
    built = statement.build(ctx.session, ctx.eng, month)
    days = format_person_days(built.total_minutes, ctx.eng.hours_per_day)
    people = len({row.person_key for row in built.rows})
    return built, ctx.tr("{m} 合计 {d} 人天（{p} 人，{e} 条记录）", "{m}: {d} person-days ({p} people, {e} entries)",
                         m=month, d=days, p=people, e=len(built.entries))  # fmt: skip


def show(ctx: Context, cmd: Parsed) -> None:
    month = _month(ctx, cmd, default_previous=True)
    _, summary = _summary(ctx, month)
    period = find(ctx.session, ctx.eng.id or 0, month)
    ctx.reply(f"{summary}\n{_state(ctx, period)}", "period.status", month)


def _state(ctx: Context, period: Period | None) -> str:
    if period is None or period.closed_at is None:
        return ctx.tr(
            "状态：未结算（项目经理 /结算 关闭 月份）",
            "State: open (the PM closes it with /period close MONTH)",
        )
    closer = ctx.session.get(Person, period.closed_by_id)
    if period.confirmed_at is None:
        return ctx.tr("状态：{n} 已于 {t} 关闭，待甲方确认（/结算 确认 月份）",
                      "State: closed by {n} at {t}, awaiting the client's confirmation (/period confirm MONTH)",
                      n=closer.name if closer else "?", t=ctx.when(period.closed_at))  # fmt: skip
    confirmer = ctx.session.get(Person, period.confirmed_by_id)
    return ctx.tr("状态：已锁定 — {a} {t1} 关闭，{b} {t2} 确认",
                  "State: locked — closed by {a} at {t1}, confirmed by {b} at {t2}",
                  a=closer.name if closer else "?", t1=ctx.when(period.closed_at),
                  b=confirmer.name if confirmer else "?", t2=ctx.when(period.confirmed_at))  # fmt: skip


def close(ctx: Context, cmd: Parsed) -> None:
    month = _month(ctx, cmd)
    _, last = statement.month_bounds(month)
    if clock.local(ctx.now, ctx.eng.timezone).date() <= last:
        raise InvalidState(ctx.tr("{m} 还没结束（到 {d}），结束后才能结算。", "{m} has not ended yet (it runs to {d}).",
                                  m=month, d=last))  # fmt: skip
    period = find(ctx.session, ctx.eng.id or 0, month) or Period(
        engagement_id=ctx.eng.id or 0, month=month
    )
    if period.closed_at is not None:
        raise InvalidState(_state(ctx, period))
    built, summary = _summary(ctx, month)
    period.closed_by_id, period.closed_at = ctx.person.id, ctx.now
    ctx.session.add(period)
    ctx.audit("period.closed", month, hash=built.content_hash, minutes=built.total_minutes)
    ctx.reply(ctx.tr("📒 {s}\n已关闭，待甲方审批人确认：/结算 确认 {m}", "📒 {s}\nClosed; the client approver confirms with /period confirm {m}",
                     s=summary, m=month), "period.closed", month)  # fmt: skip
    ctx.notify_roles({"client_approver"}, ctx.tr("{c} 请确认人天结算单：{s}。确认：/结算 确认 {m}",
                                                 "{c}: please confirm the person-day statement: {s}. /period confirm {m}",
                                                 c=ctx.eng.code, s=summary, m=month),
                     "period.closed", month)  # fmt: skip


def confirm(ctx: Context, cmd: Parsed) -> None:
    month = _month(ctx, cmd)
    period = find(ctx.session, ctx.eng.id or 0, month)
    if period is None or period.closed_at is None:
        raise InvalidState(
            ctx.tr(
                "{m} 还没有由项目经理关闭，不能确认。",
                "{m} has not been closed by the PM yet.",
                m=month,
            )
        )
    if period.confirmed_at is not None:
        raise InvalidState(_state(ctx, period))
    built, summary = _summary(ctx, month)
    period.confirmed_by_id, period.confirmed_at = ctx.person.id, ctx.now
    period.content_hash = built.content_hash
    ctx.session.add(period)
    ctx.audit("period.locked", month, hash=built.content_hash, minutes=built.total_minutes)
    text = ctx.tr("🔏 {s}\n双方已签署，{m} 已锁定。内容摘要 {h}", "🔏 {s}\nSigned by both parties; {m} is locked. Content hash {h}",
                  s=summary, m=month, h=built.content_hash[:16])  # fmt: skip
    ctx.reply(text, "period.confirmed", month)
    ctx.notify_roles(
        {"vendor_pm", "customer_manager"}, f"{ctx.eng.code} {text}", "period.confirmed", month
    )


def reopen(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, reason=cmd.arg("reason"))
    month = _month(ctx, cmd)
    period = find(ctx.session, ctx.eng.id or 0, month)
    if period is None or period.closed_at is None:
        raise InvalidState(
            ctx.tr("{m} 没有关闭，无需重开。", "{m} is not closed; nothing to reopen.", m=month)
        )
    if period.confirmed_at is not None:
        raise InvalidState(ctx.tr("{m} 已由双方签署锁定，不能重开；更正请用调整记录（/报工 调整）。",
                                  "{m} is signed by both parties and locked; corrections are adjustments "
                                  "(/log adjust).", m=month))  # fmt: skip
    assert ctx.actor is not None
    if not SIGNERS.intersection(ctx.actor.roles):
        raise PermissionDenied(
            ctx.tr(
                "只有项目经理或甲方审批人可以重开。",
                "Only the PM or the client approver may reopen.",
            )
        )
    reason = cmd.arg("reason") or ""
    period.closed_by_id = period.closed_at = None
    ctx.session.add(period)
    ctx.audit("period.reopened", month, reason=reason)
    ctx.reply(ctx.tr("↩️ {m} 已重开{r}，可继续补报和调整。", "↩️ {m} reopened{r}; work can be logged and corrected again.",
                     m=month, r=f"（{reason}）" if reason and ctx.locale != "en" else (f" ({reason})" if reason else "")),
              "period.reopened", month)  # fmt: skip
    ctx.notify_roles({"vendor_pm", "client_approver"} - set(ctx.actor.roles),
                     ctx.tr("{c} {m} 结算被 {n} 重开：{r}", "{c}: {m} was reopened by {n}: {r}", c=ctx.eng.code,
                            m=month, n=ctx.actor.name, r=reason or "—"), "period.reopened", month)  # fmt: skip


_MONTH = Arg("month", "word", ("月份", "YYYY-MM"))
COMMANDS = [
    Command("period close", ("结算 关闭",), ("项目经理关闭月度人天结算", "the PM closes a month"), close,
            args=(_MONTH,), roles=frozenset({"vendor_pm"}), example="/结算 关闭 2026-11", example_en="/period close 2026-11", needs=SIGNING),
    Command("period confirm", ("结算 确认",), ("甲方审批人确认月度结算", "the client approver confirms a month"), confirm,
            args=(_MONTH,), roles=frozenset({"client_approver"}), example="/结算 确认 2026-11",
            example_en="/period confirm 2026-11", needs=SIGNING),
    Command("period reopen", ("结算 重开",), ("对方签署前重开月度结算", "reopen a month before the other side signs"), reopen,
            args=(_MONTH, Arg("reason", "text", ("原因", "REASON"), required=False)), roles=SIGNERS,
            example="/结算 重开 2026-11 漏报两天", example_en="/period reopen 2026-11 two days missing", needs=SIGNING),
    Command("period", ("结算",), ("月度结算状态", "a month's close and its totals"), show,
            args=(Arg("month", "word", ("月份", "YYYY-MM"), required=False),), roles=VIEWERS,
            example="/结算 2026-11", example_en="/period 2026-11"),
]  # fmt: skip
