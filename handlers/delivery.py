"""/deliver, /accept, /deliverables, /training, /closeout (/交付 /验收 /交付列表 /培训 /结项):
delivery and acceptance (交付验收). The vendor PM submits a deliverable for a task or an
effective change request, the client approver signs its acceptance (验收单) or rejects it with
a reason (through the shared /reject), knowledge transfer is recorded, and /closeout lists
what still stands between the engagement and its close."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from bot import clock
from bot.assurance import SIGNING
from bot.commands import Arg, Command, Option, Parsed, Ref
from bot.context import Context
from bot.errors import InvalidState, NotFound, PermissionDenied, UsageError
from bot.i18n import join, tr
from domain.catalog import ROLES
from handlers import change_requests, limits, statement
from handlers.scope import find_task
from handlers.ticket_states import OPEN_STATES, awaiting_confirmation
from storage.audit import canonical
from storage.counters import next_number
from storage.models import (
    ChangeRequest,
    Deliverable,
    Engagement,
    Period,
    Person,
    Signature,
    Task,
    Ticket,
    Training,
)

PM = frozenset({"vendor_pm"})
APPROVER = "client_approver"
RECORDERS = frozenset({"vendor_pm", APPROVER})
PARTIES = frozenset({"client", "vendor"})
STATUS = {"submitted": ("待验收", "awaiting acceptance"), "accepted": ("已验收", "accepted"),
          "rejected": ("已驳回", "rejected")}  # fmt: skip


# -- lookups ----------------------------------------------------------------------------------


def find(ctx: Context, ref: Ref) -> Deliverable:
    """This engagement's deliverable `ref`; NotFound (never another engagement's) otherwise."""
    deliverable = ctx.session.execute(
        select(Deliverable).where(Deliverable.engagement_id == ctx.eng.id, Deliverable.number == ref.number)
    ).scalar_one_or_none()  # fmt: skip
    if deliverable is None:
        raise NotFound(ctx.tr("没有交付物 {r}。发送 /交付列表 查看。",
                              "There is no deliverable {r}. Send /deliverables to list them.", r=ref))  # fmt: skip
    return deliverable


def _target(session: Session, deliverable: Deliverable) -> Task | ChangeRequest | None:
    if deliverable.task_id is not None:
        return session.get(Task, deliverable.task_id)
    if deliverable.change_request_id is not None:
        return session.get(ChangeRequest, deliverable.change_request_id)
    return None


def _named(ctx: Context, deliverable: Deliverable) -> str:
    return ctx.tr("{r}「{n}」", "{r} '{n}'", r=deliverable.ref, n=deliverable.name)


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
        if target.status != "effective":
            raise InvalidState(ctx.tr("{r} 还没有双方签署生效（{s}）：不能交付。签署：/签署 {r}",
                                      "{r} is not effective yet ({s}): nothing can be delivered for it. Sign: /sign {r}",
                                      r=target.ref, s=ctx.tr(*change_requests.STATUS[target.status])))  # fmt: skip
    name, link = cmd.arg("name").strip(), cmd.arg("link").strip()
    number = next_number(ctx.session, ctx.eng.id or 0, "D")
    digest = content_hash(ctx.eng.code, f"D-{number}", target.ref, name, link)
    deliverable = Deliverable(
        engagement_id=ctx.eng.id or 0, number=number, name=name, link=link, content_hash=digest,
        task_id=target.id if isinstance(target, Task) else None,
        change_request_id=target.id if isinstance(target, ChangeRequest) else None,
        submitted_by_id=ctx.person.id or 0, submitted_at=ctx.now,
    )  # fmt: skip
    ctx.session.add(deliverable)
    ctx.session.flush()
    d = deliverable.ref
    ctx.audit("delivery.submitted", d, target=target.ref, name=name, link=link, hash=digest)
    ctx.reply(ctx.tr("📦 已提交交付物 {n}（{t} {tt}），待甲方审批人验收。内容摘要 {h}",
                     "📦 Deliverable {n} submitted ({t} {tt}), awaiting the client approver's acceptance. Content hash {h}",
                     n=_named(ctx, deliverable), t=target.ref, tt=target.title, h=digest[:16]), "delivery.submitted", d)  # fmt: skip
    ctx.notify_roles({APPROVER}, ctx.tr("{c} 交付物 {n}（{t}）待验收：{l}\n验收：/验收 {d}　驳回：/驳回 {d} 原因",
                                        "{c}: deliverable {n} ({t}) awaits your acceptance: {l}\n"
                                        "Accept: /accept {d}  Reject: /reject {d} REASON", c=ctx.eng.code,
                                        n=_named(ctx, deliverable), d=d, t=target.ref, l=link), "delivery.submitted", d)  # fmt: skip


# -- /accept and the /reject hook -------------------------------------------------------------


def _decide(ctx: Context, ref: Ref, status: str, reason: str = "") -> Deliverable:
    """Record the client's decision on a deliverable still awaiting one."""
    deliverable = find(ctx, ref)
    if deliverable.status == "accepted":
        raise InvalidState(ctx.tr("{r} 已于 {t} 验收。", "{r} was accepted at {t}.",
                                  r=deliverable.ref, t=ctx.when(deliverable.decided_at or ctx.now)))  # fmt: skip
    if deliverable.status == "rejected":
        raise InvalidState(ctx.tr("{r} 已被驳回（{w}）；修改后请用 /交付 重新提交为新的交付物。",
                                  "{r} was rejected ({w}); re-submit it as a new deliverable with /deliver.",
                                  r=deliverable.ref, w=deliverable.reason))  # fmt: skip
    deliverable.status, deliverable.reason = status, reason
    deliverable.decided_by_id, deliverable.decided_at = ctx.person.id, ctx.now
    ctx.session.add(deliverable)
    return deliverable


def accept(ctx: Context, cmd: Parsed) -> None:
    """The acceptance (验收单) is the client's signature on the content hash."""
    deliverable = _decide(ctx, cmd.arg("ref"), "accepted")
    assert ctx.actor is not None and ctx.actor.party is not None
    d, digest = deliverable.ref, deliverable.content_hash
    ctx.session.add(Signature(engagement_id=ctx.eng.id or 0, subject=d, person_id=ctx.person.id or 0,
                              party=ctx.actor.party, content_hash=digest, at=ctx.now))  # fmt: skip
    ctx.audit("delivery.accepted", d, hash=digest, person=ctx.actor.key, party=ctx.actor.party)
    target, done = _target(ctx.session, deliverable), ""
    if isinstance(target, Task) and target.status != "done":
        target.status, target.done_at = "done", ctx.now
        ctx.session.add(target)
        ctx.audit("task.done", target.ref, deliverable=d)
        done = ctx.tr("，{k} 已完成", "; {k} is done", k=target.ref)
    text = ctx.tr("✅ {n} 已签署 {d}的验收单{k}。内容摘要 {h}", "✅ {n} signed the acceptance of {d}{k}. Content hash {h}",
                  n=ctx.actor.name, d=_named(ctx, deliverable), k=done, h=digest[:16])  # fmt: skip
    ctx.reply(text, "delivery.accepted", d)
    ctx.notify_roles({"vendor_pm", "customer_manager"}, f"{ctx.eng.code} {text}", "delivery.accepted", d)  # fmt: skip


def reject_deliverable(ctx: Context, ref: Ref, reason: str) -> None:
    """/reject D-n REASON (/驳回): the shared /reject dispatcher calls this for deliverables."""
    assert ctx.actor is not None
    if APPROVER not in ctx.actor.roles:  # /reject itself also admits the PM, for change requests
        raise PermissionDenied(ctx.tr("只有{r}可以驳回交付物。", "Only the {r} may reject a deliverable.",
                                      r=ROLES[APPROVER].name(ctx.locale)))  # fmt: skip
    reason = (reason or "").strip()
    if not reason:
        raise UsageError(ctx.tr("请写明驳回原因，例如 /驳回 {r} 缺少部署文档",
                                "Give the reason, e.g. /reject {r} deployment guide missing", r=ref))  # fmt: skip
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, reason=reason)
    deliverable = _decide(ctx, ref, "rejected", reason)
    d, named = deliverable.ref, _named(ctx, deliverable)
    ctx.audit("delivery.rejected", d, hash=deliverable.content_hash, reason=reason, party=ctx.actor.party)  # fmt: skip
    ctx.reply(ctx.tr("⛔ {n} 驳回了 {d}：{w}。修改后请重新提交（/交付）。", "⛔ {n} rejected {d}: {w}. Re-submit it with /deliver once fixed.",
                     n=ctx.actor.name, d=named, w=reason), "delivery.rejected", d)  # fmt: skip
    ctx.notify_roles({"vendor_pm"}, ctx.tr("{c} 交付物 {d}被驳回：{w}。修改后请 /交付 重新提交。",
                                           "{c}: deliverable {d} was rejected: {w}. Re-submit it with /deliver.",
                                           c=ctx.eng.code, d=named, w=reason), "delivery.rejected", d)  # fmt: skip


# -- /deliverables ----------------------------------------------------------------------------


def list_deliverables(ctx: Context, cmd: Parsed) -> None:
    rows = list(ctx.session.execute(
        select(Deliverable).where(Deliverable.engagement_id == ctx.eng.id).order_by(Deliverable.number)  # type: ignore[arg-type]
    ).scalars())  # fmt: skip
    if not rows:
        ctx.reply(ctx.tr("还没有交付物。项目经理提交：/交付 K-n \"名称\" 链接",
                         "No deliverables yet. The PM submits them: /deliver K-n \"name\" LINK"), "delivery.list")  # fmt: skip
        return
    names = {p.id: p.name for p in ctx.session.execute(
        select(Person).where(Person.engagement_id == ctx.eng.id)).scalars()}  # fmt: skip
    lines = [ctx.tr("交付物（{n}）：", "Deliverables ({n}):", n=len(rows))]
    for row in rows:
        target = _target(ctx.session, row)
        who, at = (row.decided_by_id, row.decided_at) if row.decided_at else (row.submitted_by_id, row.submitted_at)  # fmt: skip
        lines.append(f"{_named(ctx, row)} → {target.ref if target else '—'} · {ctx.tr(*STATUS[row.status])} · "
                     f"{names.get(who, '?')} {ctx.when(at)}" + (f" · {row.reason}" if row.reason else ""))  # fmt: skip
    ctx.reply("\n".join(lines), "delivery.list")


# -- /training --------------------------------------------------------------------------------


def record_training(ctx: Context, cmd: Parsed) -> None:
    held_on: date = cmd.arg("held_on")
    limits.enforce_text(ctx.locale, limits.TITLE_MAX, topic=cmd.arg("topic"))
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, attendees=cmd.options.get("attendees"),
                        manual=cmd.options.get("manual"))  # fmt: skip
    limits.enforce(limits.check_date(held_on, ctx.eng, ctx.locale, ctx.tr("培训日期", "training date")))
    if held_on > clock.local(ctx.now, ctx.eng.timezone).date():
        raise InvalidState(ctx.tr("只记录已经举行的培训：{d} 还没到。", "Only training that has taken place is recorded: {d} is still ahead.",
                                  d=held_on))  # fmt: skip
    topic = cmd.arg("topic").strip()
    attendees, manual = cmd.options.get("attendees", ""), cmd.options.get("manual", "")
    ctx.session.add(Training(engagement_id=ctx.eng.id or 0, topic=topic, held_on=held_on, attendees=attendees,
                             manual=manual, recorded_by_id=ctx.person.id or 0, recorded_at=ctx.now))  # fmt: skip
    ctx.audit("training.recorded", f"{held_on}", topic=topic, attendees=attendees, manual=manual)
    ctx.reply(ctx.tr("🎓 已记录 {d} 的培训「{t}」（参加：{a}；手册：{m}）", "🎓 Training '{t}' on {d} recorded (attendees: {a}; manual: {m})",
                     d=held_on, t=topic, a=attendees or "—", m=manual or "—"), "training.recorded", f"{held_on}")  # fmt: skip


# -- /closeout --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Closeout:
    """What still stands between an engagement and its close (结项): refs, months, training."""

    awaiting: list[str]  # deliverables submitted, not yet accepted
    open_tasks: list[str]
    open_tickets: list[str]
    unconfirmed_tickets: list[str]  # of the open tickets: resolved, awaiting confirmation
    unsigned_months: list[str]  # ended months without a Period both parties signed
    trained: bool

    @property
    def ready(self) -> bool:
        return self.trained and not (
            self.awaiting or self.open_tasks or self.open_tickets or self.unsigned_months
        )


def months_to_sign(start: date, end: date, today: date) -> list[str]:
    """Every month of the engagement, from its start, that has ended by `today`."""
    months: list[str] = []
    year, month = start.year, start.month
    while True:
        first, last = statement.month_bounds(f"{year}-{month:02d}")
        if last >= today or first > end:
            return months
        months.append(f"{first:%Y-%m}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def closeout(session: Session, engagement: Engagement, today: date) -> Closeout:
    eid = engagement.id or 0
    tasks = select(Task).where(Task.engagement_id == eid, Task.status != "done")
    tickets = select(Ticket).where(Ticket.engagement_id == eid, Ticket.status.in_(OPEN_STATES))  # type: ignore[attr-defined]
    signed = select(Period.month).where(Period.engagement_id == eid, Period.confirmed_at.is_not(None))  # type: ignore[union-attr]  # fmt: skip
    trainings = select(Training.id).where(Training.engagement_id == eid).limit(1)
    confirmed = set(session.execute(signed).scalars())
    open_tickets = list(session.execute(tickets.order_by(Ticket.number)).scalars())  # type: ignore[arg-type]
    return Closeout(
        awaiting=[d.ref for d in _awaiting(session, eid)],
        open_tasks=[t.ref for t in session.execute(tasks.order_by(Task.number)).scalars()],  # type: ignore[arg-type]
        open_tickets=[t.ref for t in open_tickets],
        unconfirmed_tickets=[t.ref for t in open_tickets if awaiting_confirmation(t.status)],
        unsigned_months=[m for m in months_to_sign(engagement.start_date, engagement.end_date, today)
                         if m not in confirmed],
        trained=session.execute(trainings).first() is not None,
    )  # fmt: skip


def show_closeout(ctx: Context, cmd: Parsed) -> None:
    state = closeout(ctx.session, ctx.eng, clock.local(ctx.now, ctx.eng.timezone).date())
    code = ctx.eng.code
    if state.ready:
        ctx.reply(ctx.tr("✅ {c} 可以结项：交付物均已验收，任务均已完成，已有培训记录，工单均已关闭，各月人天结算均已双方签署。",
                         "✅ {c} is ready to close: every deliverable accepted, every task done, training recorded, "
                         "no open tickets, every month signed by both parties.", c=code), "closeout", code)  # fmt: skip
        return
    tickets = join(ctx.locale, state.open_tickets)
    if state.unconfirmed_tickets:
        tickets += ctx.tr("（已解决·待确认：{x}，请报告人 /关闭 确认）",
                          " (resolved, awaiting confirmation: {x} — the reporter confirms with /close)",
                          x=join(ctx.locale, state.unconfirmed_tickets))  # fmt: skip
    gaps = [
        (join(ctx.locale, state.awaiting), "待验收的交付物：{x}（/验收 D-n）", "Deliverables awaiting acceptance: {x} (/accept D-n)"),
        (join(ctx.locale, state.open_tasks), "未完成的任务：{x}", "Tasks not done: {x}"),
        (tickets, "未关闭的工单：{x}", "Open tickets: {x}"),
        (join(ctx.locale, state.unsigned_months), "未双方签署的月度结算：{x}（/结算 关闭、/结算 确认）",
         "Months not signed by both parties: {x} (/period close, /period confirm)"),
    ]  # fmt: skip
    lines = [ctx.tr("{c} 结项前还差：", "Before {c} can close:", c=code)]
    lines += ["• " + ctx.tr(zh, en, x=x) for x, zh, en in gaps if x]
    if not state.trained:
        lines.append("• " + ctx.tr("还没有培训记录（知识转移：/培训）", "No training recorded (knowledge transfer: /training)"))  # fmt: skip
    ctx.reply("\n".join(lines), "closeout", code)


# -- for /status ------------------------------------------------------------------------------


def _awaiting(session: Session, engagement_id: int) -> list[Deliverable]:
    return list(session.execute(select(Deliverable).where(
        Deliverable.engagement_id == engagement_id, Deliverable.status == "submitted"
    ).order_by(Deliverable.number)).scalars())  # type: ignore[arg-type]  # fmt: skip


def summary_lines(session: Session, engagement: Engagement, locale: str) -> list[str]:
    """One line on deliverables awaiting acceptance; none when nothing waits."""
    refs = [d.ref for d in _awaiting(session, engagement.id or 0)]
    if not refs:
        return []
    return [tr(locale, "待验收交付物 {n} 个：{r}", "{n} deliverable(s) awaiting acceptance: {r}",
               n=len(refs), r=join(locale, refs))]  # fmt: skip


COMMANDS = [
    Command("deliver", ("交付",), ("为任务或已生效变更单提交交付物", "submit a deliverable for a task or an effective CR"),
            deliver, roles=PM,
            args=(Arg("target", "ref", ("K-n|CR-n", "K-n|CR-n"), prefixes=("K", "CR")),
                  Arg("name", "word", ("\"名称\"", "\"NAME\"")), Arg("link", "text", ("链接或说明", "LINK-OR-NOTE"))),
            example='/交付 K-1 "数据同步设计文档" https://docs.example/sync', example_en='/deliver K-1 "sync design" https://docs.example/sync'),
    Command("accept", ("验收",), ("甲方审批人签署验收单", "the client approver signs a deliverable's acceptance"),
            accept, roles=frozenset({APPROVER}), args=(Arg("ref", "ref", ("D-n", "D-n"), prefixes=("D",)),),
            example="/验收 D-1", example_en="/accept D-1", needs=SIGNING),
    Command("deliverables", ("交付列表",), ("交付物及验收状态", "deliverables and their acceptance"),
            list_deliverables, roles=PARTIES, example="/交付列表", example_en="/deliverables"),
    Command("training", ("培训",), ("记录已举行的培训（知识转移）", "record a training held (knowledge transfer)"),
            record_training, roles=RECORDERS,
            args=(Arg("topic", "word", ("\"主题\"", "\"TOPIC\"")), Arg("held_on", "date", ("日期", "YYYY-MM-DD"))),
            options=(Option("attendees", "word", ("参加人", "PEOPLE"), aliases=("参加人", "参训人")),
                     Option("manual", "word", ("手册链接", "LINK"), aliases=("手册",))),
            example='/培训 "运维交接" 2026-11-20 参加人=王丽,刘洋 手册=https://docs.example/ops',
            example_en='/training "ops handover" 2026-11-20 attendees=wangli,liuyang manual=https://docs.example/ops'),
    Command("closeout", ("结项",), ("结项前还差什么", "what is still missing before the engagement can close"),
            show_closeout, roles=PARTIES, example="/结项", example_en="/closeout"),
]  # fmt: skip
