"""/deliver, /accept, /deliverables, /training (/交付 /验收 /交付列表 /培训): delivery and
acceptance (交付验收). The vendor PM submits a deliverable for a task or an effective change
request, the client approver signs its acceptance (验收单) or rejects it with a reason (through
the shared /reject, `handlers/signing.py`), and knowledge transfer is recorded. The states and
who may move them: `domain.lifecycles.deliverables`."""

from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from base.errors import InvalidState, NotFound, PermissionDenied, UsageError
from bot import clock
from bot.commands import Parsed, Ref
from bot.context import Context
from bot.i18n import join, tr
from domain import signoff
from domain.catalog import ROLES
from domain.lifecycles import change_requests as cr_life
from domain.lifecycles import deliverables as life
from domain.lifecycles import tasks as task_life
from handlers import change_requests, limits, signatures
from handlers import change_text as cr_text
from handlers import delivery_text as text
from handlers.declared.delivery import APPROVER
from handlers.scope import find_task
from storage.audit import canonical
from storage.counters import next_number
from storage.models import ChangeRequest, Deliverable, Engagement, Person, Task, Training

# -- lookups ----------------------------------------------------------------------------------


def find(ctx: Context, ref: Ref) -> Deliverable:
    """This engagement's deliverable `ref`; NotFound (never another engagement's) otherwise."""
    deliverable: Deliverable | None = ctx.session.execute(
        select(Deliverable).where(col(Deliverable.engagement_id) == ctx.eng.id, col(Deliverable.number) == ref.number)
    ).scalar_one_or_none()  # fmt: skip
    if deliverable is None:
        raise NotFound(ctx.tr("没有交付物 {r}。发送 /交付列表 查看。",
                              "There is no deliverable {r}. Send /deliverables to list them.", r=ref))  # fmt: skip
    return deliverable


def target_of(session: Session, deliverable: Deliverable) -> Task | ChangeRequest | None:
    if deliverable.task_id is not None:
        return session.get(Task, deliverable.task_id)
    if deliverable.change_request_id is not None:
        return session.get(ChangeRequest, deliverable.change_request_id)
    return None


def awaiting(session: Session, engagement_id: int) -> list[Deliverable]:
    """Deliverables submitted and not yet accepted or rejected."""
    return list(session.execute(select(Deliverable).where(
        col(Deliverable.engagement_id) == engagement_id, col(Deliverable.status) == life.SUBMITTED
    ).order_by(col(Deliverable.number))).scalars())  # fmt: skip


def content_hash(code: str, ref: str, target: str, name: str, link: str) -> str:
    """What the acceptance signs: sha256 of the canonical JSON of the submission."""
    return hashlib.sha256(canonical([code, ref, target, name, link]).encode()).hexdigest()


# -- /deliver ---------------------------------------------------------------------------------


def deliver(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TITLE_MAX, name=cmd.arg("name"))
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, link=cmd.arg("link"))
    ref: Ref = cmd.arg("target")
    target: Task | ChangeRequest
    if ref.prefix == "K":
        target = find_task(ctx, ref)
    else:
        target = change_requests.find_cr(ctx, ref)
        if not cr_life.CHANGE_REQUEST.can(target.status, cr_life.DELIVER):
            raise InvalidState(ctx.tr("{r} 还没有双方签署生效（{s}）：不能交付。签署：/签署 {r}",
                                      "{r} is not effective yet ({s}): nothing can be delivered for it. Sign: /sign {r}",
                                      r=target.ref, s=cr_text.status_name(target.status, ctx.locale)))  # fmt: skip
    name, link = cmd.arg("name").strip(), cmd.arg("link").strip()
    number = next_number(ctx.session, ctx.eng_id, "D")
    digest = content_hash(ctx.eng.code, f"D-{number}", target.ref, name, link)
    deliverable = Deliverable(
        engagement_id=ctx.eng_id, number=number, name=name, link=link, content_hash=digest,
        task_id=target.id if isinstance(target, Task) else None,
        change_request_id=target.id if isinstance(target, ChangeRequest) else None,
        submitted_by_id=ctx.person_id, submitted_at=ctx.now,
    )  # fmt: skip
    ctx.session.add(deliverable)
    ctx.session.flush()
    d, named = deliverable.ref, text.named(deliverable, ctx.locale)
    ctx.audit("delivery.submitted", d, target=target.ref, name=name, link=link, hash=digest)
    ctx.reply(ctx.tr("📦 已提交交付物 {n}（{t} {tt}），待甲方审批人验收。内容摘要 {h}",
                     "📦 Deliverable {n} submitted ({t} {tt}), awaiting the client approver's acceptance. Content hash {h}",
                     n=named, t=target.ref, tt=target.title, h=digest[:16]), "delivery.submitted", d)  # fmt: skip
    ctx.notify_roles({APPROVER}, ctx.tr("{c} 交付物 {n}（{t}）待验收：{l}\n验收：/验收 {d}　驳回：/驳回 {d} 原因",
                                        "{c}: deliverable {n} ({t}) awaits your acceptance: {l}\n"
                                        "Accept: /accept {d}  Reject: /reject {d} REASON", c=ctx.eng.code,
                                        n=named, d=d, t=target.ref, l=link), "delivery.submitted", d)  # fmt: skip


# -- /accept, and /reject D-n -----------------------------------------------------------------


def _decide(ctx: Context, ref: Ref, event: str, reason: str = "") -> Deliverable:
    """Record the client's decision (`event`) on a deliverable still awaiting one."""
    deliverable = find(ctx, ref)
    step = life.DELIVERABLE.step(deliverable.status, event, signatures.who(ctx))
    if step.target is None and deliverable.status == life.ACCEPTED:
        raise InvalidState(ctx.tr("{r} 已于 {t} 验收。", "{r} was accepted at {t}.",
                                  r=deliverable.ref, t=ctx.when(deliverable.decided_at or ctx.now)))  # fmt: skip
    if step.target is None and deliverable.status == life.REJECTED:
        raise InvalidState(ctx.tr("{r} 已被驳回（{w}）；修改后请用 /交付 重新提交为新的交付物。",
                                  "{r} was rejected ({w}); re-submit it as a new deliverable with /deliver.",
                                  r=deliverable.ref, w=deliverable.reason))  # fmt: skip
    if step.target is None:
        raise _only_the_approver(ctx, event)
    deliverable.status, deliverable.reason = step.target, reason
    deliverable.decided_by_id, deliverable.decided_at = ctx.person.id, ctx.now
    ctx.session.add(deliverable)
    return deliverable


def _only_the_approver(ctx: Context, event: str) -> PermissionDenied:
    if event == life.REJECT:
        return PermissionDenied(ctx.tr("只有{r}可以驳回交付物。", "Only the {r} may reject a deliverable.",
                                       r=ROLES[APPROVER].name(ctx.locale)))  # fmt: skip
    return PermissionDenied(ctx.tr("只有{r}可以验收交付物。", "Only the {r} may accept a deliverable.",
                                   r=ROLES[APPROVER].name(ctx.locale)))  # fmt: skip


def accept(ctx: Context, cmd: Parsed) -> None:
    """The acceptance (验收单) is the client's signature on the content hash."""
    deliverable = _decide(ctx, cmd.arg("ref"), life.ACCEPT)
    d, digest = deliverable.ref, deliverable.content_hash
    signatures.sign(ctx, d, signoff.CLIENT_ONLY, digest, d)
    assert ctx.actor is not None
    ctx.audit("delivery.accepted", d, hash=digest, person=ctx.actor.key, party=ctx.actor.party)
    target, done = target_of(ctx.session, deliverable), ""
    if isinstance(target, Task) and task_life.TASK.can(target.status, task_life.ACCEPT):
        target.status, target.done_at = task_life.DONE, ctx.now
        ctx.session.add(target)
        ctx.audit("task.done", target.ref, deliverable=d)
        done = ctx.tr("，{k} 已完成", "; {k} is done", k=target.ref)
    reply = ctx.tr("✅ {n} 已签署 {d}的验收单{k}。内容摘要 {h}", "✅ {n} signed the acceptance of {d}{k}. Content hash {h}",
                   n=ctx.actor.name, d=text.named(deliverable, ctx.locale), k=done, h=digest[:16])  # fmt: skip
    ctx.reply(reply, "delivery.accepted", d)
    ctx.notify_roles({"vendor_pm", "customer_manager"}, f"{ctx.eng.code} {reply}", "delivery.accepted", d)  # fmt: skip


def reject(ctx: Context, ref: Ref, reason: str) -> None:
    """/reject D-n REASON (/驳回): the client approver's, with the reason."""
    if not life.DELIVERABLE.permits(life.REJECT, signatures.who(ctx)):  # /reject admits the PM too
        raise _only_the_approver(ctx, life.REJECT)
    reason = (reason or "").strip()
    if not reason:
        raise UsageError(ctx.tr("请写明驳回原因，例如 /驳回 {r} 缺少部署文档",
                                "Give the reason, e.g. /reject {r} deployment guide missing", r=ref))  # fmt: skip
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, reason=reason)
    deliverable = _decide(ctx, ref, life.REJECT, reason)
    d, named = deliverable.ref, text.named(deliverable, ctx.locale)
    assert ctx.actor is not None
    ctx.audit("delivery.rejected", d, hash=deliverable.content_hash, reason=reason, party=ctx.actor.party)  # fmt: skip
    ctx.reply(ctx.tr("⛔ {n} 驳回了 {d}：{w}。修改后请重新提交（/交付）。", "⛔ {n} rejected {d}: {w}. Re-submit it with /deliver once fixed.",
                     n=ctx.actor.name, d=named, w=reason), "delivery.rejected", d)  # fmt: skip
    ctx.notify_roles({"vendor_pm"}, ctx.tr("{c} 交付物 {d}被驳回：{w}。修改后请 /交付 重新提交。",
                                           "{c}: deliverable {d} was rejected: {w}. Re-submit it with /deliver.",
                                           c=ctx.eng.code, d=named, w=reason), "delivery.rejected", d)  # fmt: skip


# -- /deliverables ----------------------------------------------------------------------------


def list_deliverables(ctx: Context, cmd: Parsed) -> None:
    rows = list(ctx.session.execute(
        select(Deliverable).where(col(Deliverable.engagement_id) == ctx.eng.id).order_by(col(Deliverable.number))
    ).scalars())  # fmt: skip
    if not rows:
        ctx.reply(ctx.tr("还没有交付物。项目经理提交：/交付 K-n \"名称\" 链接",
                         "No deliverables yet. The PM submits them: /deliver K-n \"name\" LINK"), "delivery.list")  # fmt: skip
        return
    names = {p.id: p.name for p in ctx.session.execute(
        select(Person).where(col(Person.engagement_id) == ctx.eng.id)).scalars()}  # fmt: skip
    lines = [ctx.tr("交付物（{n}）：", "Deliverables ({n}):", n=len(rows))]
    for row in rows:
        target = target_of(ctx.session, row)
        who = row.decided_by_id if row.decided_at else row.submitted_by_id
        lines.append(text.list_line(row, target.ref if target else "—", names.get(who, "?"), ctx.locale, ctx.when))  # fmt: skip
    ctx.reply("\n".join(lines), "delivery.list")


# -- /training --------------------------------------------------------------------------------


def record_training(ctx: Context, cmd: Parsed) -> None:
    held_on: date = cmd.arg("held_on")
    limits.enforce_text(ctx.locale, limits.TITLE_MAX, topic=cmd.arg("topic"))
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, attendees=cmd.options.get("attendees"),
                        manual=cmd.options.get("manual"))  # fmt: skip
    limits.enforce(
        limits.check_date(held_on, ctx.eng, ctx.locale, ctx.tr("培训日期", "training date"))
    )
    if held_on > clock.local(ctx.now, ctx.eng.timezone).date():
        raise InvalidState(ctx.tr("只记录已经举行的培训：{d} 还没到。", "Only training that has taken place is recorded: {d} is still ahead.",
                                  d=held_on))  # fmt: skip
    topic = cmd.arg("topic").strip()
    attendees, manual = cmd.options.get("attendees", ""), cmd.options.get("manual", "")
    ctx.session.add(Training(engagement_id=ctx.eng_id, topic=topic, held_on=held_on, attendees=attendees,
                             manual=manual, recorded_by_id=ctx.person_id, recorded_at=ctx.now))  # fmt: skip
    ctx.audit("training.recorded", f"{held_on}", topic=topic, attendees=attendees, manual=manual)
    ctx.reply(ctx.tr("🎓 已记录 {d} 的培训「{t}」（参加：{a}；手册：{m}）", "🎓 Training '{t}' on {d} recorded (attendees: {a}; manual: {m})",
                     d=held_on, t=topic, a=attendees or "—", m=manual or "—"), "training.recorded", f"{held_on}")  # fmt: skip


# -- for /status ------------------------------------------------------------------------------


def summary_lines(session: Session, engagement: Engagement, locale: str) -> list[str]:
    """One line on deliverables awaiting acceptance; none when nothing waits."""
    refs = [d.ref for d in awaiting(session, engagement.id or 0)]
    if not refs:
        return []
    return [tr(locale, "待验收交付物 {n} 个：{r}", "{n} deliverable(s) awaiting acceptance: {r}",
               n=len(refs), r=join(locale, refs))]  # fmt: skip
