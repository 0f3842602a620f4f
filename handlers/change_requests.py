"""/cr, /cr estimate (/变更 /评估), and signing or rejecting a change request (变更管理) through
the shared /sign and /reject (`handlers/signing.py`).

"书面变更单是唯一依据": new scope is filed in writing, the PM estimates extra person-days by
level, then the vendor PM and the client approver sign, in either order. Once both have
signed the change request is effective: the budget grows by its estimate and tasks can be
added under it. Changing an estimate voids the signatures; an effective CR never changes.
The states and who may move them: `domain.lifecycles.change_requests`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from base.errors import InvalidState, NotFound, PermissionDenied, UsageError
from bot.commands import Parsed, Ref
from bot.context import Context
from bot.lexer import parse_ref
from domain import signoff
from domain.catalog import LEVELS
from domain.lifecycles import change_requests as life
from handlers import budget, limits, signatures
from handlers import change_text as text
from handlers.scope import LEVEL_WORDS, person_days
from storage.audit import canonical
from storage.counters import next_number
from storage.models import AuditEntry, ChangeRequest, Person


def find_cr(ctx: Context, ref: Ref | str) -> ChangeRequest:
    parsed = parse_ref(str(ref), ("CR",))
    cr: ChangeRequest | None = None
    if parsed is not None:
        cr = ctx.session.execute(
            select(ChangeRequest).where(
                col(ChangeRequest.engagement_id) == ctx.eng.id,
                col(ChangeRequest.number) == parsed[1],
            )
        ).scalar_one_or_none()
    if cr is None:
        raise NotFound(
            ctx.tr(
                "没有变更单 {r}。发送 /变更 列表 查看。",
                "There is no change request {r}. Send /cr list.",
                r=ref,
            )
        )
    return cr


def _estimate_text(ctx: Context, estimate: dict[str, int]) -> str:
    return text.estimate_text(estimate, ctx.locale, ctx.eng.hours_per_day)


def signed_content(cr: ChangeRequest) -> list[Any]:
    """What both parties sign: the request and its current estimate."""
    return [cr.ref, cr.title, cr.description, cr.estimate, cr.impact, cr.estimate_version]


def _hash(cr: ChangeRequest) -> str:
    return hashlib.sha256(canonical(signed_content(cr)).encode()).hexdigest()


def file_cr(ctx: Context, cmd: Parsed) -> None:
    title: str = cmd.arg("title")
    if cmd.arg("description") is None and parse_ref(title, ("CR",)):
        show_cr(ctx, find_cr(ctx, title))
        return
    limits.enforce_text(ctx.locale, limits.TITLE_MAX, title=title)
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, description=cmd.arg("description"))
    assert ctx.inbound is not None
    cr = ChangeRequest(
        engagement_id=ctx.eng_id, number=next_number(ctx.session, ctx.eng_id, "CR"), title=title.strip(),
        description=(cmd.arg("description") or "").strip(), filed_by_id=ctx.person_id, filed_at=ctx.now,
        channel=ctx.inbound.channel, chat_id=ctx.inbound.chat_id, message_id=ctx.inbound.message_id,
    )  # fmt: skip
    ctx.session.add(cr)
    ctx.session.flush()
    ctx.audit("cr.filed", cr.ref, title=cr.title, description=cr.description)
    ctx.reply(ctx.tr("📝 已登记变更单 {r}「{t}」。项目经理评估：/评估 {r} senior=3 mid=2",
                     "📝 Change request {r} '{t}' filed. The PM estimates it: /cr estimate {r} senior=3 mid=2",
                     r=cr.ref, t=cr.title), "cr.filed", cr.ref)  # fmt: skip
    ctx.notify_roles({"vendor_pm"}, ctx.tr("{c} 新变更单 {r}「{t}」待评估", "{c}: new change request {r} '{t}' to estimate",
                                           c=ctx.eng.code, r=cr.ref, t=cr.title), "cr.filed", cr.ref)  # fmt: skip


def estimate_cr(ctx: Context, cmd: Parsed) -> None:
    cr = find_cr(ctx, cmd.arg("cr"))
    step = life.CHANGE_REQUEST.step(cr.status, life.ESTIMATE, signatures.who(ctx))
    if not step.allowed:
        raise InvalidState(ctx.tr("{r} {s}，不能再修改；新的变化请另提变更单。", "{r} is {s} and cannot change; file a new change request.",
                                  r=cr.ref, s=text.status_name(cr.status, ctx.locale)))  # fmt: skip
    limits.enforce_text(ctx.locale, limits.TITLE_MAX, impact=cmd.options.get("due"))
    estimate = {
        LEVEL_WORDS[key]: person_days(ctx, value)
        for key, value in cmd.options.items()
        if key in LEVEL_WORDS
    }
    for level, minutes in estimate.items():
        limits.enforce(limits.check_cr_estimate(level, LEVELS[level].name(ctx.locale), minutes,
                                                ctx.eng, ctx.locale))  # fmt: skip
    if not estimate:
        raise UsageError(ctx.tr("请按级别给出人天，例如 /评估 {r} senior=3 mid=2", "Give person-days by level, e.g. /cr estimate {r} senior=3 mid=2",
                                r=cr.ref))  # fmt: skip
    before = dict(cr.estimate)
    cr.estimate, cr.impact = estimate, cmd.options.get("due", cr.impact)
    cr.estimate_version += 1
    cr.status = step.target or cr.status
    ctx.session.add(cr)
    voided = signatures.void(ctx, cr.ref)  # the signed content changed
    ctx.audit(
        "cr.estimated", cr.ref, estimate=estimate, impact=cr.impact, version=cr.estimate_version
    )
    reply = ctx.tr("📐 {r} 评估：{e}{i}。双方签署：/签署 {r}", "📐 {r} estimated: {e}{i}. Both parties sign: /sign {r}",
                   r=cr.ref, e=_estimate_text(ctx, estimate),
                   i=ctx.tr("，计划影响 {d}", ", plan impact {d}", d=cr.impact) if cr.impact else "")  # fmt: skip
    ctx.reply(reply, "cr.estimated", cr.ref)
    if voided:
        diff = text.voided_text(cr, before, ctx.locale, ctx.eng.hours_per_day)
        for signature in voided:
            signer = ctx.session.get(Person, signature.person_id)
            if signer is not None:
                ctx.notify(signer, f"{ctx.eng.code} {diff}", "cr.voided", cr.ref)
        ctx.audit("cr.signatures_voided", cr.ref, count=len(voided))
        ctx.reply(text.voided_reply(diff, ctx.locale), "cr.voided", cr.ref)


def sign(ctx: Context, ref: Ref) -> None:
    """/sign CR-n (/签署): one party's signature; the second makes the change request effective."""
    cr = find_cr(ctx, ref)
    if not life.CHANGE_REQUEST.can(cr.status, life.SIGN):
        why = {"filed": ctx.tr("还没有评估（/评估）", "it has no estimate yet (/cr estimate)"),
               "effective": ctx.tr("已经生效", "it is already effective"),
               "rejected": ctx.tr("已被驳回", "it was rejected")}[cr.status]  # fmt: skip
        raise InvalidState(
            ctx.tr("{r} 不能签署：{w}。", "{r} cannot be signed: {w}.", r=cr.ref, w=why)
        )
    digest = _hash(cr)
    decision = signatures.sign(ctx, cr.ref, signoff.BOTH_PARTIES, digest, cr.ref)
    assert ctx.actor is not None
    ctx.audit("cr.signed", cr.ref, party=ctx.actor.party, hash=digest, estimate=cr.estimate)
    step = life.CHANGE_REQUEST.step(
        cr.status, life.signing_event(decision.complete), signatures.who(ctx)
    )
    if step.target != life.EFFECTIVE:
        ctx.reply(ctx.tr("✍️ {n} 已签署 {r}；等待{o}签署。", "✍️ {n} signed {r}; waiting for {o}.", n=ctx.actor.name,
                         r=cr.ref, o=signatures.awaited(decision, ctx.locale)), "cr.signed", cr.ref)  # fmt: skip
        return
    cr.status, cr.effective_at = step.target, ctx.now
    ctx.session.add(cr)
    ctx.audit("cr.effective", cr.ref, hash=digest, estimate=cr.estimate)
    reply = ctx.tr("✅ {r}「{t}」双方已签署，生效：预算增加 {e}。可在其下新增任务：/任务 新增 … cr={r}",
                   "✅ {r} '{t}' is signed by both parties and effective: the budget grows by {e}. Tasks can be "
                   "added under it: /task add … cr={r}", r=cr.ref, t=cr.title, e=_estimate_text(ctx, cr.estimate))  # fmt: skip
    ctx.reply(reply, "cr.effective", cr.ref)
    ctx.announce(reply, "cr.effective", cr.ref, dedupe_key=f"cr:{ctx.eng.code}:{cr.ref}:effective")
    ctx.notify_roles({"customer_manager"}, f"{ctx.eng.code} {reply}", "cr.effective", cr.ref)
    budget.alert_crossings(ctx)


def reject(ctx: Context, ref: Ref, reason: str) -> None:
    """/reject CR-n REASON (/驳回): by either signer, before it is effective."""
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, reason=reason)
    cr = find_cr(ctx, ref)
    assert ctx.actor is not None
    if not life.CHANGE_REQUEST.permits(life.REJECT, signatures.who(ctx)):
        raise PermissionDenied(
            ctx.tr(
                "只有厂商项目经理或甲方审批人可以驳回变更单。",
                "Only the vendor PM or the client approver may reject a change request.",
            )
        )
    step = life.CHANGE_REQUEST.step(cr.status, life.REJECT, signatures.who(ctx))
    if not step.allowed:
        raise InvalidState(ctx.tr("{r} {s}，不能驳回。", "{r} is {s}; it cannot be rejected.",
                                  r=cr.ref, s=text.status_name(cr.status, ctx.locale)))  # fmt: skip
    reason = reason.strip()
    cr.status, cr.rejected_at, cr.rejected_by_id, cr.rejected_reason = (
        step.target or cr.status, ctx.now, ctx.person.id, reason,
    )  # fmt: skip
    ctx.session.add(cr)
    ctx.audit("cr.rejected", cr.ref, party=ctx.actor.party, reason=reason)
    ctx.reply(ctx.tr("⛔ {n} 驳回了 {r}：{w}", "⛔ {n} rejected {r}: {w}", n=ctx.actor.name, r=cr.ref, w=reason),
              "cr.rejected", cr.ref)  # fmt: skip


def show_cr(ctx: Context, cr: ChangeRequest) -> None:
    rows = signatures.active(ctx.session, ctx.eng_id, cr.ref)
    signed = [(row, ctx.session.get(Person, row.person_id)) for row in rows]
    entries = list(ctx.session.execute(
        select(AuditEntry).where(col(AuditEntry.engagement_id) == ctx.eng.id, col(AuditEntry.ref) == cr.ref)
        .order_by(col(AuditEntry.id))
    ).scalars())  # fmt: skip
    names = {p.key: p.name for p in ctx.session.execute(
        select(Person).where(col(Person.engagement_id) == ctx.eng.id)).scalars()}  # fmt: skip
    filer = ctx.session.get(Person, cr.filed_by_id)
    ctx.reply(text.card(cr, filer, signed, entries, names, ctx.locale, ctx.eng.hours_per_day, ctx.when),
              "cr.show", cr.ref)  # fmt: skip


def list_crs(ctx: Context, cmd: Parsed) -> None:
    rows = list(ctx.session.execute(
        select(ChangeRequest).where(col(ChangeRequest.engagement_id) == ctx.eng.id).order_by(col(ChangeRequest.number))
    ).scalars())  # fmt: skip
    if not rows:
        ctx.reply(ctx.tr("还没有变更单。", "No change requests yet."), "cr.list")
        return
    lines = [ctx.tr("变更单：", "Change requests:")]
    lines += [text.list_line(cr, ctx.locale, ctx.eng.hours_per_day) for cr in rows]
    ctx.reply("\n".join(lines), "cr.list")
