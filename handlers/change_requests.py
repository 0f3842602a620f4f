"""/cr, /cr estimate, /sign, /reject (/变更 /评估 /签署 /驳回): change requests (变更管理).

"书面变更单是唯一依据": new scope is filed in writing, the PM estimates extra person-days by
level, then the vendor PM and the client approver sign, in either order. Once both have
signed the change request is effective: the budget grows by its estimate and tasks can be
added under it. Changing an estimate voids the signatures; an effective CR never changes.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlmodel import Session

from bot.assurance import SIGNING
from bot.commands import Arg, Command, Option, Parsed, Ref
from bot.context import Context
from bot.durations import format_person_days
from bot.errors import InvalidState, NotFound, PermissionDenied, UsageError
from bot.i18n import tr
from bot.lexer import parse_ref
from domain import labels
from domain.catalog import LEVELS
from handlers import budget, limits, worktargets
from handlers.scope import LEVEL_WORDS, PARTIES, SIGNERS, _check_signer, person_days
from storage.audit import canonical
from storage.counters import next_number
from storage.models import AuditEntry, ChangeRequest, Engagement, Person, Signature

FILERS = frozenset({"client", "vendor_pm"})
STATUS = {"filed": ("待评估", "filed"), "estimated": ("待签署", "awaiting signatures"),
          "effective": ("已生效", "effective"), "rejected": ("已驳回", "rejected")}  # fmt: skip


def find_cr(ctx: Context, ref: Ref | str) -> ChangeRequest:
    parsed = parse_ref(str(ref), ("CR",))
    cr = None
    if parsed is not None:
        cr = ctx.session.execute(
            select(ChangeRequest).where(
                ChangeRequest.engagement_id == ctx.eng.id, ChangeRequest.number == parsed[1]
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


def effective_extra(session: Session, engagement: Engagement) -> dict[str, int]:
    """What effective change requests add to the budget, by level."""
    extra: dict[str, int] = {}
    crs = session.execute(
        select(ChangeRequest).where(
            ChangeRequest.engagement_id == engagement.id, ChangeRequest.status == "effective"
        )
    ).scalars()
    for cr in crs:
        for level, minutes in cr.estimate.items():
            extra[level] = extra.get(level, 0) + int(minutes)
    return extra


def _cr_target(ctx: Context, ref: Ref) -> worktargets.WorkTarget:
    cr = find_cr(ctx, ref)
    if cr.status != "effective":
        raise InvalidState(ctx.tr("{r} 还没有双方签署生效（{s}）：不能报工。签署：/签署 {r}",
                                  "{r} is not effective yet ({s}): no work against it. Sign: /sign {r}",
                                  r=cr.ref, s=ctx.tr(*STATUS[cr.status])))  # fmt: skip
    return worktargets.WorkTarget("cr", cr.ref, f"{cr.ref} {cr.title}")


budget.CONTRACT_EXTRAS.append(effective_extra)
worktargets.RESOLVERS["CR"] = _cr_target


def _signatures(ctx: Context, cr: ChangeRequest) -> list[Signature]:
    return list(ctx.session.execute(
        select(Signature).where(Signature.engagement_id == ctx.eng.id, Signature.subject == cr.ref,
                                Signature.voided_at.is_(None))  # type: ignore[union-attr]
    ).scalars())  # fmt: skip


def _estimate_text(ctx: Context, estimate: dict[str, int]) -> str:
    parts = [f"{LEVELS[k].name(ctx.locale)} {format_person_days(v, ctx.eng.hours_per_day)}"
             for k, v in estimate.items() if v]  # fmt: skip
    total = format_person_days(sum(estimate.values()), ctx.eng.hours_per_day)
    return ctx.tr(
        "{p}，合计 {t} 人天", "{p}; {t} person-days in all", p=", ".join(parts) or "—", t=total
    )


def _hash(cr: ChangeRequest) -> str:
    content = canonical(
        [cr.ref, cr.title, cr.description, cr.estimate, cr.impact, cr.estimate_version]
    )
    return hashlib.sha256(content.encode()).hexdigest()


def file_cr(ctx: Context, cmd: Parsed) -> None:
    title: str = cmd.arg("title")
    if cmd.arg("description") is None and parse_ref(title, ("CR",)):
        show_cr(ctx, find_cr(ctx, title))
        return
    limits.enforce_text(ctx.locale, limits.TITLE_MAX, title=title)
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, description=cmd.arg("description"))
    assert ctx.inbound is not None
    cr = ChangeRequest(
        engagement_id=ctx.eng.id or 0, number=next_number(ctx.session, ctx.eng.id or 0, "CR"), title=title.strip(),
        description=(cmd.arg("description") or "").strip(), filed_by_id=ctx.person.id or 0, filed_at=ctx.now,
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
    if cr.status in ("effective", "rejected"):
        raise InvalidState(ctx.tr("{r} {s}，不能再修改；新的变化请另提变更单。", "{r} is {s} and cannot change; file a new change request.",
                                  r=cr.ref, s=ctx.tr(*STATUS[cr.status])))  # fmt: skip
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
    before, voided = dict(cr.estimate), _signatures(ctx, cr)
    cr.estimate, cr.impact = estimate, cmd.options.get("due", cr.impact)
    cr.estimate_version += 1
    cr.status = "estimated"
    ctx.session.add(cr)
    ctx.audit(
        "cr.estimated", cr.ref, estimate=estimate, impact=cr.impact, version=cr.estimate_version
    )
    text = ctx.tr("📐 {r} 评估：{e}{i}。双方签署：/签署 {r}", "📐 {r} estimated: {e}{i}. Both parties sign: /sign {r}",
                  r=cr.ref, e=_estimate_text(ctx, estimate),
                  i=ctx.tr("，计划影响 {d}", ", plan impact {d}", d=cr.impact) if cr.impact else "")  # fmt: skip
    ctx.reply(text, "cr.estimated", cr.ref)
    if voided:
        diff = ctx.tr("{r} 的评估已修改：{a} → {b}。你之前的签署已作废，请重新确认。",
                      "{r}'s estimate changed: {a} → {b}. Your earlier signature is void; please review again.",
                      r=cr.ref, a=_estimate_text(ctx, before), b=_estimate_text(ctx, estimate))  # fmt: skip
        for signature in voided:
            signature.voided_at = ctx.now
            ctx.session.add(signature)
            signer = ctx.session.get(Person, signature.person_id)
            if signer is not None:
                ctx.notify(signer, f"{ctx.eng.code} {diff}", "cr.voided", cr.ref)
        ctx.audit("cr.signatures_voided", cr.ref, count=len(voided))
        ctx.reply(diff.replace(ctx.tr("你之前的签署", "Your earlier signature"), ctx.tr("之前的签署", "Earlier signatures")),
                  "cr.voided", cr.ref)  # fmt: skip


def sign(ctx: Context, cmd: Parsed) -> None:
    cr = find_cr(ctx, cmd.arg("ref"))
    if cr.status != "estimated":
        why = {"filed": ctx.tr("还没有评估（/评估）", "it has no estimate yet (/cr estimate)"),
               "effective": ctx.tr("已经生效", "it is already effective"),
               "rejected": ctx.tr("已被驳回", "it was rejected")}[cr.status]  # fmt: skip
        raise InvalidState(
            ctx.tr("{r} 不能签署：{w}。", "{r} cannot be signed: {w}.", r=cr.ref, w=why)
        )
    signatures = _signatures(ctx, cr)
    _check_signer(ctx, signatures, cr.ref)
    assert ctx.actor is not None and ctx.actor.party is not None
    digest = _hash(cr)
    ctx.session.add(Signature(engagement_id=ctx.eng.id or 0, subject=cr.ref, person_id=ctx.person.id or 0,
                              party=ctx.actor.party, content_hash=digest, at=ctx.now))  # fmt: skip
    ctx.audit("cr.signed", cr.ref, party=ctx.actor.party, hash=digest, estimate=cr.estimate)
    if not signatures:
        other = (
            ctx.tr("甲方审批人", "the client approver")
            if ctx.actor.party == "vendor"
            else ctx.tr("厂商项目经理", "the vendor PM")
        )
        ctx.reply(ctx.tr("✍️ {n} 已签署 {r}；等待{o}签署。", "✍️ {n} signed {r}; waiting for {o}.", n=ctx.actor.name,
                         r=cr.ref, o=other), "cr.signed", cr.ref)  # fmt: skip
        return
    cr.status, cr.effective_at = "effective", ctx.now
    ctx.session.add(cr)
    ctx.audit("cr.effective", cr.ref, hash=digest, estimate=cr.estimate)
    text = ctx.tr("✅ {r}「{t}」双方已签署，生效：预算增加 {e}。可在其下新增任务：/任务 新增 … cr={r}",
                  "✅ {r} '{t}' is signed by both parties and effective: the budget grows by {e}. Tasks can be "
                  "added under it: /task add … cr={r}", r=cr.ref, t=cr.title, e=_estimate_text(ctx, cr.estimate))  # fmt: skip
    ctx.reply(text, "cr.effective", cr.ref)
    ctx.announce(text, "cr.effective", cr.ref, dedupe_key=f"cr:{ctx.eng.code}:{cr.ref}:effective")
    ctx.notify_roles({"customer_manager"}, f"{ctx.eng.code} {text}", "cr.effective", cr.ref)
    budget.alert_crossings(ctx.session, ctx.eng, ctx.now, ctx.locale)


def reject(ctx: Context, cmd: Parsed) -> None:
    ref: Ref = cmd.arg("ref")
    if ref.prefix == "D":
        from handlers import delivery

        delivery.reject_deliverable(ctx, ref, cmd.arg("reason"))
        return
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, reason=cmd.arg("reason"))
    cr = find_cr(ctx, ref)
    assert ctx.actor is not None
    if not SIGNERS & ctx.actor.roles:
        raise PermissionDenied(
            ctx.tr(
                "只有厂商项目经理或甲方审批人可以驳回变更单。",
                "Only the vendor PM or the client approver may reject a change request.",
            )
        )
    if cr.status in ("effective", "rejected"):
        raise InvalidState(
            ctx.tr(
                "{r} {s}，不能驳回。",
                "{r} is {s}; it cannot be rejected.",
                r=cr.ref,
                s=ctx.tr(*STATUS[cr.status]),
            )
        )
    reason = cmd.arg("reason").strip()
    cr.status, cr.rejected_at, cr.rejected_by_id, cr.rejected_reason = (
        "rejected",
        ctx.now,
        ctx.person.id,
        reason,
    )
    ctx.session.add(cr)
    ctx.audit("cr.rejected", cr.ref, party=ctx.actor.party, reason=reason)
    ctx.reply(
        ctx.tr(
            "⛔ {n} 驳回了 {r}：{w}",
            "⛔ {n} rejected {r}: {w}",
            n=ctx.actor.name,
            r=cr.ref,
            w=reason,
        ),
        "cr.rejected",
        cr.ref,
    )


def show_cr(ctx: Context, cr: ChangeRequest) -> None:
    filer = ctx.session.get(Person, cr.filed_by_id)
    lines = [f"{cr.ref}「{cr.title}」· {ctx.tr(*STATUS[cr.status])}" if ctx.locale != "en"
             else f"{cr.ref} '{cr.title}' · {ctx.tr(*STATUS[cr.status])}",
             ctx.tr("提出：{n} {t}", "Filed by {n} at {t}", n=filer.name if filer else "?", t=ctx.when(cr.filed_at))]  # fmt: skip
    if cr.description:
        lines.append(cr.description)
    if cr.estimate:
        lines.append(
            ctx.tr(
                "评估 v{v}：{e}",
                "Estimate v{v}: {e}",
                v=cr.estimate_version,
                e=_estimate_text(ctx, cr.estimate),
            )
        )
    for signature in _signatures(ctx, cr):
        signer = ctx.session.get(Person, signature.person_id)
        lines.append(
            ctx.tr(
                "✍️ {n} 签署于 {t}",
                "✍️ signed by {n} at {t}",
                n=signer.name if signer else "?",
                t=ctx.when(signature.at),
            )
        )
    if cr.status == "rejected":
        lines.append(ctx.tr("驳回原因：{r}", "Rejected: {r}", r=cr.rejected_reason))
    lines.append(ctx.tr("记录：", "History:"))
    entries = ctx.session.execute(
        select(AuditEntry).where(AuditEntry.engagement_id == ctx.eng.id, AuditEntry.ref == cr.ref)
        .order_by(AuditEntry.id)  # type: ignore[arg-type]
    ).scalars()  # fmt: skip
    names = {
        p.key: p.name
        for p in ctx.session.execute(
            select(Person).where(Person.engagement_id == ctx.eng.id)
        ).scalars()
    }
    lines += [f"  {ctx.when(e.at)} {names.get(e.actor, e.actor)} {labels.event(e.action, ctx.locale)}"
              for e in entries]  # fmt: skip
    ctx.reply("\n".join(lines), "cr.show", cr.ref)


def list_crs(ctx: Context, cmd: Parsed) -> None:
    rows = list(ctx.session.execute(
        select(ChangeRequest).where(ChangeRequest.engagement_id == ctx.eng.id).order_by(ChangeRequest.number)  # type: ignore[arg-type]
    ).scalars())  # fmt: skip
    if not rows:
        ctx.reply(ctx.tr("还没有变更单。", "No change requests yet."), "cr.list")
        return
    lines = [ctx.tr("变更单：", "Change requests:")]
    for cr in rows:
        estimate = (
            format_person_days(sum(cr.estimate.values()), ctx.eng.hours_per_day)
            if cr.estimate
            else "—"
        )
        lines.append(f"{cr.ref} {ctx.tr(*STATUS[cr.status])} · {estimate} · {cr.title}")
    ctx.reply("\n".join(lines), "cr.list")


def awaiting_signature_lines(session: Session, engagement: Engagement, locale: str) -> list[str]:
    """For /status and the progress sync: CRs waiting for a signature and whose."""
    lines = []
    crs = session.execute(
        select(ChangeRequest).where(
            ChangeRequest.engagement_id == engagement.id, ChangeRequest.status == "estimated"
        )
    ).scalars()
    for cr in crs:
        signed = {s.party for s in session.execute(
            select(Signature).where(Signature.engagement_id == engagement.id, Signature.subject == cr.ref,
                                    Signature.voided_at.is_(None))  # type: ignore[union-attr]
        ).scalars()}  # fmt: skip
        waiting = [tr(locale, "厂商项目经理", "vendor PM") if "vendor" not in signed else "",
                   tr(locale, "甲方审批人", "client approver") if "client" not in signed else ""]  # fmt: skip
        lines.append(
            tr(
                locale,
                "{r} 待签署：{w}",
                "{r} awaiting: {w}",
                r=cr.ref,
                w=", ".join(w for w in waiting if w),
            )
        )
    return lines


_LEVEL_OPTIONS = tuple(
    Option(key, "word", ("人天", "DAYS"), aliases=(term.zh,)) for key, term in LEVELS.items()
)
COMMANDS = [
    Command("cr list", ("变更 列表",), ("变更单列表", "change requests and their status"), list_crs, roles=PARTIES,
            example="/变更 列表", example_en="/cr list"),
    Command("cr estimate", ("评估", "变更 评估"), ("项目经理按级别评估人天", "the PM estimates person-days by level"),
            estimate_cr, roles=frozenset({"vendor_pm"}), args=(Arg("cr", "ref", ("CR-n", "CR-n"), prefixes=("CR",)),),
            options=(*_LEVEL_OPTIONS, Option("due", "word", ("计划影响", "IMPACT"), aliases=("影响",))),
            example="/评估 CR-1 senior=3 mid=2 due=+5d", example_en="/cr estimate CR-1 senior=3 mid=2 due=+5d", needs=SIGNING),
    Command("cr", ("变更",), ("提出变更单（书面），或查看 CR-n", "file a change request in writing, or show CR-n"),
            file_cr, roles=FILERS,
            args=(Arg("title", "word", ("\"标题\"", "\"TITLE\"")), Arg("description", "text", ("说明", "DESCRIPTION"), required=False)),
            example='/变更 "新增库存报表" 每日 8 点推送库存汇总', example_en='/cr "inventory report" daily stock summary at 8am'),
    Command("sign", ("签署",), ("签署变更单（双方各一人）", "sign a change request (one person per party)"), sign,
            roles=SIGNERS, args=(Arg("ref", "ref", ("CR-n", "CR-n"), prefixes=("CR",)),),
            example="/签署 CR-1", example_en="/sign CR-1", needs=SIGNING),
    Command("reject", ("驳回",), ("驳回变更单或交付物（注明原因）", "reject a change request or a deliverable, with the reason"),
            reject, roles=SIGNERS,
            args=(Arg("ref", "ref", ("CR-n|D-n", "CR-n|D-n"), prefixes=("CR", "D")), Arg("reason", "text", ("原因", "REASON"))),
            example="/驳回 CR-1 超出本期预算", example_en="/reject CR-1 beyond this quarter's budget", needs=SIGNING),
]  # fmt: skip
