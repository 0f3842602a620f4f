"""/period (/结算): the two-party monthly close. The vendor PM closes a month (the vendor's
signature), the client approver confirms it (the client's); then the month is locked and its
statement's hash is audited. Before the client has signed, either side can reopen it, which
voids the PM's signature. The states and who may move them: `domain.lifecycles.periods`."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from base.errors import InvalidState, PermissionDenied, UsageError
from bot import clock
from bot.commands import Parsed
from bot.context import Context
from domain import signoff
from domain.lifecycles import periods as life
from handlers import limits, signatures, statement
from handlers import period_text as text
from storage.models import Period, Person


def find(session: Session, engagement_id: int, month: str) -> Period | None:
    return session.execute(
        select(Period).where(col(Period.engagement_id) == engagement_id, col(Period.month) == month)
    ).scalar_one_or_none()


def _status(period: Period | None) -> str:
    return period.status if period is not None else life.OPEN


def is_closed(session: Session, engagement_id: int, day: date) -> bool:
    """True when `day`'s month is closed by the PM (awaiting confirmation) or locked: it takes
    no work logs, undos or adjustments."""
    period = find(session, engagement_id, f"{day:%Y-%m}")
    return not life.PERIOD.can(_status(period), life.LOG_WORK)


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
    return built, text.summary(built, ctx.locale)


def _state(ctx: Context, month: str, period: Period | None) -> str:
    signed = signatures.by_party(ctx.session, ctx.eng_id, month)
    closed, confirmed = (
        (row, ctx.session.get(Person, row.person_id)) if row else None
        for row in (signed.get("vendor"), signed.get("client"))
    )
    return text.state(_status(period), closed, confirmed, ctx.locale, ctx.when)


def show(ctx: Context, cmd: Parsed) -> None:
    month = _month(ctx, cmd, default_previous=True)
    _, summary = _summary(ctx, month)
    period = find(ctx.session, ctx.eng_id, month)
    ctx.reply(f"{summary}\n{_state(ctx, month, period)}", "period.status", month)


def close(ctx: Context, cmd: Parsed) -> None:
    month = _month(ctx, cmd)
    _, last = statement.month_bounds(month)
    if clock.local(ctx.now, ctx.eng.timezone).date() <= last:
        raise InvalidState(ctx.tr("{m} 还没结束（到 {d}），结束后才能结算。", "{m} has not ended yet (it runs to {d}).",
                                  m=month, d=last))  # fmt: skip
    period = find(ctx.session, ctx.eng_id, month) or Period(engagement_id=ctx.eng_id, month=month)
    step = life.PERIOD.step(_status(period), life.CLOSE, signatures.who(ctx))
    if step.target is None:
        raise InvalidState(_state(ctx, month, period))
    built, summary = _summary(ctx, month)
    signatures.sign(ctx, month, signoff.BOTH_PARTIES, built.content_hash, month)
    period.status = step.target
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
    period = find(ctx.session, ctx.eng_id, month)
    status = _status(period)
    step = life.PERIOD.step(status, life.CONFIRM, signatures.who(ctx))
    if period is None or status == life.OPEN:
        raise InvalidState(
            ctx.tr(
                "{m} 还没有由项目经理关闭，不能确认。",
                "{m} has not been closed by the PM yet.",
                m=month,
            )
        )
    if step.target is None:
        raise InvalidState(_state(ctx, month, period))
    built, summary = _summary(ctx, month)
    decision = signatures.ask(ctx, month, signoff.BOTH_PARTIES, built.content_hash, month)
    if not decision.complete:  # the PM's signature is on another statement: it must be redone
        raise InvalidState(ctx.tr("{m} 的结算单在关闭后有变化：请重开（/结算 重开 {m}）后由项目经理重新关闭。",
                                  "{m}'s statement changed after it was closed: reopen it (/period reopen {m}) "
                                  "and let the PM close it again.", m=month))  # fmt: skip
    signatures.record(ctx, month, decision)
    period.status, period.content_hash = step.target, built.content_hash
    ctx.session.add(period)
    ctx.audit("period.locked", month, hash=built.content_hash, minutes=built.total_minutes)
    reply = ctx.tr("🔏 {s}\n双方已签署，{m} 已锁定。内容摘要 {h}", "🔏 {s}\nSigned by both parties; {m} is locked. Content hash {h}",
                   s=summary, m=month, h=built.content_hash[:16])  # fmt: skip
    ctx.reply(reply, "period.confirmed", month)
    ctx.notify_roles(
        {"vendor_pm", "customer_manager"}, f"{ctx.eng.code} {reply}", "period.confirmed", month
    )


def reopen(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, reason=cmd.arg("reason"))
    month = _month(ctx, cmd)
    period = find(ctx.session, ctx.eng_id, month)
    status = _status(period)
    if period is None or status == life.OPEN:
        raise InvalidState(
            ctx.tr("{m} 没有关闭，无需重开。", "{m} is not closed; nothing to reopen.", m=month)
        )
    if not life.PERIOD.can(status, life.REOPEN):
        raise InvalidState(ctx.tr("{m} 已由双方签署锁定，不能重开；更正请用调整记录（/报工 调整）。",
                                  "{m} is signed by both parties and locked; corrections are adjustments "
                                  "(/log adjust).", m=month))  # fmt: skip
    assert ctx.actor is not None
    step = life.PERIOD.step(status, life.REOPEN, signatures.who(ctx))
    if step.target is None:
        raise PermissionDenied(
            ctx.tr(
                "只有项目经理或甲方审批人可以重开。",
                "Only the PM or the client approver may reopen.",
            )
        )
    reason = cmd.arg("reason") or ""
    signatures.void(ctx, month)  # the PM's close no longer holds
    period.status = step.target
    ctx.session.add(period)
    ctx.audit("period.reopened", month, reason=reason)
    ctx.reply(ctx.tr("↩️ {m} 已重开{r}，可继续补报和调整。", "↩️ {m} reopened{r}; work can be logged and corrected again.",
                     m=month, r=f"（{reason}）" if reason and ctx.locale != "en" else (f" ({reason})" if reason else "")),
              "period.reopened", month)  # fmt: skip
    ctx.notify_roles({"vendor_pm", "client_approver"} - set(ctx.actor.roles),
                     ctx.tr("{c} {m} 结算被 {n} 重开：{r}", "{c}: {m} was reopened by {n}: {r}", c=ctx.eng.code,
                            m=month, n=ctx.actor.name, r=reason or "—"), "period.reopened", month)  # fmt: skip
