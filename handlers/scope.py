"""/task, /scope, /delay (/任务 /范围 /延期): the requirement breakdown, the two-party signed
scope baseline (需求澄清 -> 范围基线), and early warning of delays with the plan's history.

Before both parties sign, tasks change freely; after, new work comes only through an
effective change request and a baselined estimate changes only through /cr.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from bot.assurance import SIGNING
from bot.commands import Arg, Command, Option, Parsed, Ref
from bot.context import Context
from bot.durations import format_person_days, parse_duration
from bot.errors import InvalidState, NotFound, UsageError
from bot.i18n import tr
from bot.lexer import parse_ref
from domain.catalog import LEVELS
from handlers import budget, limits, worktargets
from handlers.tickets import person_for
from storage.audit import canonical
from storage.counters import next_number
from storage.models import (
    Baseline,
    ChangeRequest,
    Engagement,
    Person,
    PlanChange,
    Signature,
    Task,
    WorkLog,
)

PM = frozenset({"vendor_pm"})
SIGNERS = frozenset({"vendor_pm", "client_approver"})
PARTIES = frozenset({"client", "vendor"})
PRIORITIES = {
    "high": "high",
    "高": "high",
    "medium": "medium",
    "中": "medium",
    "low": "low",
    "低": "low",
}
PRIORITY_NAMES = {"high": ("高", "high"), "medium": ("中", "medium"), "low": ("低", "low")}
_BARE_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")  # person-days, no sign, no exponent
LEVEL_WORDS = {**{k: k for k in LEVELS}, **{t.zh: k for k, t in LEVELS.items()},
               "初级": "junior", "中级": "mid", "高级": "senior", "资深": "expert", "专家": "principal"}  # fmt: skip
SCOPE = "scope"


# -- lookups ----------------------------------------------------------------------------------


def find_task(ctx: Context, ref: Ref | str) -> Task:
    number = ref.number if isinstance(ref, Ref) else int(str(ref).split("-")[-1])
    task = ctx.session.execute(
        select(Task).where(Task.engagement_id == ctx.eng.id, Task.number == number)
    ).scalar_one_or_none()
    if task is None:
        raise NotFound(
            ctx.tr(
                "没有任务 {r}。发送 /任务 列表 查看。",
                "There is no task {r}. Send /task list.",
                r=ref,
            )
        )
    return task


def baseline(session: Session, engagement_id: int) -> Baseline | None:
    return session.execute(
        select(Baseline).where(Baseline.engagement_id == engagement_id).order_by(Baseline.version.desc())  # type: ignore[attr-defined]
    ).scalars().first()  # fmt: skip


def tasks(session: Session, engagement_id: int) -> list[Task]:
    query = select(Task).where(Task.engagement_id == engagement_id).order_by(Task.number)  # type: ignore[arg-type]
    return list(session.execute(query).scalars())


def logged(session: Session, engagement_id: int) -> dict[str, int]:
    """Minutes logged per task ref."""
    rows = session.execute(
        select(WorkLog.target_ref, func.sum(WorkLog.minutes)).where(
            WorkLog.engagement_id == engagement_id, WorkLog.target_kind == "task",
            WorkLog.voided_at.is_(None),  # type: ignore[union-attr]
        ).group_by(WorkLog.target_ref)  # type: ignore[arg-type]
    ).all()  # fmt: skip
    return {str(ref): int(minutes or 0) for ref, minutes in rows}


def _task_target(ctx: Context, ref: Ref) -> worktargets.WorkTarget:
    task = find_task(ctx, ref)
    in_scope = task.baseline_version is not None
    if task.change_request_id is not None:
        cr = ctx.session.get(ChangeRequest, task.change_request_id)
        in_scope = cr is not None and cr.status == "effective"
    if not in_scope:
        raise InvalidState(ctx.tr("{r} 还不在双方签署的范围内：先 /范围 签署。",
                                  "{r} is not in the signed scope yet: /scope sign first.", r=ref))  # fmt: skip
    return worktargets.WorkTarget("task", task.ref, f"{task.ref} {task.title}")


worktargets.RESOLVERS["K"] = _task_target


# -- /task ------------------------------------------------------------------------------------


def person_days(ctx: Context, word: str) -> int:
    """`2`, `2d`, `1.5`, `4h` as minutes of person-days: a bare number is person-days, read by
    the duration parser and its bounds (so `1e99`, `NaN` and `-1` are not amounts)."""
    text = unicodedata.normalize("NFKC", word).strip()
    duration = parse_duration(text + "d" if _BARE_NUMBER.fullmatch(text) else text)
    minutes = duration.to_minutes(ctx.eng.hours_per_day) if duration else None
    if minutes is None or minutes <= 0:
        raise UsageError(ctx.tr("“{w}”不是有效的人天数（例如 2、1.5、2d、4h）。",
                                "'{w}' is not a number of person-days (e.g. 2, 1.5, 2d, 4h).", w=word))  # fmt: skip
    return minutes


def _task_estimate(ctx: Context, word: str) -> int:
    minutes = person_days(ctx, word)
    contract = sum(budget.contracted(ctx.session, ctx.eng).values())
    limits.enforce(limits.check_task_estimate(minutes, contract, ctx.eng, ctx.locale))
    return minutes


def check_plan_date(ctx: Context, day: date | None) -> None:
    """A plan date people gave must lie within the engagement's dates (handlers/limits.py)."""
    if day is not None:
        limits.enforce(limits.check_date(day, ctx.eng, ctx.locale, ctx.tr("计划日期", "plan date")))


def _level(ctx: Context, word: str | None) -> str:
    level = LEVEL_WORDS.get((word or "").strip().lower()) or LEVEL_WORDS.get((word or "").strip())
    if level is None:
        raise UsageError(ctx.tr("级别是 {v}。", "The level is one of {v}.", v=", ".join(LEVELS)))
    return level


def add_task(ctx: Context, cmd: Parsed) -> None:
    if "est" not in cmd.options or "level" not in cmd.options:
        raise UsageError(ctx.tr("需要 est=人天 和 level=级别，例如 /任务 新增 \"数据同步\" est=2d level=senior prio=high",
                                "est= and level= are required, e.g. /task add \"data sync\" est=2d level=senior prio=high"))  # fmt: skip
    limits.enforce_text(ctx.locale, limits.TITLE_MAX, title=cmd.arg("title"))
    estimate = _task_estimate(ctx, cmd.options["est"])
    check_plan_date(ctx, cmd.options.get("due"))
    cr = None
    if baseline(ctx.session, ctx.eng.id or 0) is not None:
        cr = _effective_cr(ctx, cmd.options.get("cr"))
    owner = person_for(ctx, cmd.options["owner"]) if cmd.options.get("owner") else None
    task = Task(
        engagement_id=ctx.eng.id or 0, number=next_number(ctx.session, ctx.eng.id or 0, "K"),
        title=cmd.arg("title").strip(), level=_level(ctx, cmd.options["level"]),
        estimate_minutes=estimate, priority=cmd.options.get("prio", "medium"),
        plan_date=cmd.options.get("due"), change_request_id=cr.id if cr else None,
        assignee_id=owner.id if owner else None, created_by_id=ctx.person.id or 0, created_at=ctx.now,
    )  # fmt: skip
    ctx.session.add(task)
    ctx.session.flush()
    _void_scope_signatures(ctx)
    ctx.audit("task.added", task.ref, title=task.title, level=task.level, estimate=task.estimate_minutes,
              priority=task.priority, plan=str(task.plan_date), cr=cr.ref if cr else None)  # fmt: skip
    under = ctx.tr("（变更 {c}）", " (under {c})", c=cr.ref) if cr else ""
    ctx.reply(
        ctx.tr("🧩 已添加 {t}{u}", "🧩 Added {t}{u}", t=_task_line(ctx, task, {}), u=under),
        "task.added",
        task.ref,
    )


def _effective_cr(ctx: Context, word: str | None) -> ChangeRequest:
    ref = None
    if word:
        ref = parse_ref(word, ("CR",))
    if ref is None:
        raise InvalidState(ctx.tr("范围基线已签署：新任务需要 cr=CR-n（已生效的变更单）。先 /变更 提出变更。",
                                  "The scope baseline is signed: new tasks need cr=CR-n, an effective change "
                                  "request. File one with /cr."))  # fmt: skip
    cr = ctx.session.execute(
        select(ChangeRequest).where(
            ChangeRequest.engagement_id == ctx.eng.id, ChangeRequest.number == ref[1]
        )
    ).scalar_one_or_none()
    if cr is None or cr.status != "effective":
        raise InvalidState(ctx.tr("CR-{n} 不存在或尚未由双方签署生效（/签署 CR-{n}）。",
                                  "CR-{n} does not exist or is not signed by both parties yet (/sign CR-{n}).",
                                  n=ref[1]))  # fmt: skip
    return cr


def edit_task(ctx: Context, cmd: Parsed) -> None:
    task = find_task(ctx, cmd.arg("task"))
    if not cmd.options:
        raise UsageError(
            ctx.tr("要修改什么？est= level= prio= due=", "Change what? est= level= prio= due=")
        )
    frozen = task.baseline_version is not None or task.change_request_id is not None
    if frozen and ({"est", "level"} & set(cmd.options)):
        raise InvalidState(ctx.tr("{r} 已在签署的范围内，估算只能通过变更单修改（/变更）。",
                                  "{r} is in the signed scope: its estimate changes only through a change "
                                  "request (/cr).", r=task.ref))  # fmt: skip
    if frozen and "due" in cmd.options:
        raise InvalidState(ctx.tr("{r} 已签署：改计划日期请发延期通知（/延期 {r} 日期 原因）。",
                                  "{r} is signed: move its plan with a delay notice (/delay {r} DATE REASON).",
                                  r=task.ref))  # fmt: skip
    if "est" in cmd.options:
        task.estimate_minutes = _task_estimate(ctx, cmd.options["est"])
    if "level" in cmd.options:
        task.level = _level(ctx, cmd.options["level"])
    task.priority = cmd.options.get("prio", task.priority)
    check_plan_date(ctx, cmd.options.get("due"))
    task.plan_date = cmd.options.get("due", task.plan_date)
    if cmd.options.get("owner"):
        task.assignee_id = person_for(ctx, cmd.options["owner"]).id
    ctx.session.add(task)
    _void_scope_signatures(ctx)
    ctx.audit("task.edited", task.ref, estimate=task.estimate_minutes, level=task.level,
              priority=task.priority, plan=str(task.plan_date))  # fmt: skip
    ctx.reply(
        ctx.tr("✏️ 已修改 {t}", "✏️ Changed {t}", t=_task_line(ctx, task, {})),
        "task.edited",
        task.ref,
    )


def done_task(ctx: Context, cmd: Parsed) -> None:
    task = find_task(ctx, cmd.arg("task"))
    if task.status == "done":
        raise InvalidState(ctx.tr("{r} 已完成。", "{r} is already done.", r=task.ref))
    task.status, task.done_at = "done", ctx.now
    ctx.session.add(task)
    ctx.audit("task.done", task.ref)
    ctx.reply(ctx.tr("✅ {r} 已完成。", "✅ {r} is done.", r=task.ref), "task.done", task.ref)


def show_tasks(ctx: Context, cmd: Parsed) -> None:
    ref = cmd.arg("task")
    spent = logged(ctx.session, ctx.eng.id or 0)
    if ref is not None:
        task = find_task(ctx, ref)
        history = ctx.session.execute(
            select(PlanChange).where(PlanChange.task_id == task.id).order_by(PlanChange.version)  # type: ignore[arg-type]
        ).scalars()  # fmt: skip
        lines = [_task_line(ctx, task, spent)]
        for change in history:
            lines.append(ctx.tr("  计划 v{v}：{a} → {b}（{r}）", "  plan v{v}: {a} → {b} ({r})", v=change.version,
                                a=change.old_date or "—", b=change.new_date, r=change.reason))  # fmt: skip
        ctx.reply("\n".join(lines), "task.show", task.ref)
        return
    rows = tasks(ctx.session, ctx.eng.id or 0)
    if not rows:
        ctx.reply(ctx.tr("还没有任务。项目经理：/任务 新增 \"标题\" est=2d level=senior",
                         "No tasks yet. PM: /task add \"title\" est=2d level=senior"), "task.list")  # fmt: skip
        return
    total = sum(t.estimate_minutes for t in rows)
    lines = [ctx.tr("任务（估算合计 {e} 人天）：", "Tasks (estimates total {e} person-days):",
                    e=format_person_days(total, ctx.eng.hours_per_day))]  # fmt: skip
    lines += [_task_line(ctx, task, spent) for task in rows]
    ctx.reply("\n".join(lines), "task.list")


def _task_line(ctx: Context, task: Task, spent: dict[str, int]) -> str:
    days = ctx.eng.hours_per_day
    mark = (
        "✅"
        if task.status == "done"
        else ("🔒" if task.baseline_version or task.change_request_id else "📝")
    )
    return ctx.tr("{m} {r} {t} · {l} · 优先级{p} · 已用 {u} / 估算 {e} 人天 · 计划 {d}",
                  "{m} {r} {t} · {l} · {p} priority · {u} of {e} person-days · plan {d}",
                  m=mark, r=task.ref, t=task.title, l=LEVELS[task.level].name(ctx.locale),
                  p=ctx.tr(*PRIORITY_NAMES.get(task.priority, (task.priority, task.priority))),
                  u=format_person_days(spent.get(task.ref, 0), days),
                  e=format_person_days(task.estimate_minutes, days), d=task.plan_date or "—")  # fmt: skip


# -- /scope -----------------------------------------------------------------------------------


def scope_snapshot(rows: list[Task]) -> str:
    return canonical(
        [[t.ref, t.title, t.level, t.estimate_minutes, t.priority, str(t.plan_date)] for t in rows]
    )


def _draft(ctx: Context) -> list[Task]:
    return [t for t in tasks(ctx.session, ctx.eng.id or 0) if t.change_request_id is None]


def _scope_signatures(ctx: Context) -> list[Signature]:
    return list(ctx.session.execute(
        select(Signature).where(Signature.engagement_id == ctx.eng.id, Signature.subject == SCOPE,
                                Signature.voided_at.is_(None))  # type: ignore[union-attr]
    ).scalars())  # fmt: skip


def _void_scope_signatures(ctx: Context) -> None:
    """The task list changed before both signed: earlier scope signatures no longer hold."""
    if baseline(ctx.session, ctx.eng.id or 0) is not None:
        return
    for signature in _scope_signatures(ctx):
        signature.voided_at = ctx.now
        ctx.session.add(signature)
        signer = ctx.session.get(Person, signature.person_id)
        if signer is not None and signer.id != (
            ctx.actor.person.id if ctx.actor and ctx.actor.person else None
        ):
            ctx.notify(signer, ctx.tr("{c} 任务清单已变更，你对范围的签署已作废，请重新确认后 /范围 签署。",
                                      "{c}: the task list changed; your scope signature is void. Review and "
                                      "/scope sign again.", c=ctx.eng.code), "scope.voided")  # fmt: skip


def sign_scope(ctx: Context, cmd: Parsed) -> None:
    current = baseline(ctx.session, ctx.eng.id or 0)
    if current is not None:
        raise InvalidState(ctx.tr("范围基线 v{v} 已于 {t} 签署；新增范围请走变更单（/变更）。",
                                  "Scope baseline v{v} was signed at {t}; new scope goes through /cr.",
                                  v=current.version, t=ctx.when(current.created_at)))  # fmt: skip
    rows = _draft(ctx)
    if not rows:
        raise InvalidState(
            ctx.tr("还没有任务可签署：先 /任务 新增。", "No tasks to sign yet: /task add first.")
        )
    snapshot = scope_snapshot(rows)
    digest = hashlib.sha256(snapshot.encode()).hexdigest()
    signatures = _scope_signatures(ctx)
    assert ctx.actor is not None and ctx.actor.party is not None
    _check_signer(ctx, signatures, "scope")
    ctx.session.add(Signature(engagement_id=ctx.eng.id or 0, subject=SCOPE, person_id=ctx.person.id or 0,
                              party=ctx.actor.party, content_hash=digest, at=ctx.now))  # fmt: skip
    ctx.audit("scope.signed", "scope", party=ctx.actor.party, hash=digest, tasks=len(rows))
    if not any(s.party != ctx.actor.party for s in signatures):
        other = (
            ctx.tr("甲方审批人", "the client approver")
            if ctx.actor.party == "vendor"
            else ctx.tr("厂商项目经理", "the vendor PM")
        )
        ctx.reply(ctx.tr("✍️ {n} 已签署范围（{k} 个任务，摘要 {h}）；等待{o}签署。",
                         "✍️ {n} signed the scope ({k} tasks, hash {h}); waiting for {o}.",
                         n=ctx.actor.name, k=len(rows), h=digest[:12], o=other), "scope.signed")  # fmt: skip
        return
    version = 1
    ctx.session.add(Baseline(engagement_id=ctx.eng.id or 0, version=version, snapshot=snapshot,
                             content_hash=digest, created_at=ctx.now))  # fmt: skip
    for task in rows:
        task.baseline_version = version
        ctx.session.add(task)
    ctx.audit("scope.baselined", f"v{version}", hash=digest, tasks=len(rows))
    total = format_person_days(sum(t.estimate_minutes for t in rows), ctx.eng.hours_per_day)
    ctx.reply(ctx.tr("📜 双方已签署：范围基线 v{v} 生效（{k} 个任务，估算 {e} 人天，摘要 {h}）。此后新增范围需变更单。",
                     "📜 Signed by both parties: scope baseline v{v} is in force ({k} tasks, {e} person-days, "
                     "hash {h}). New scope now needs a change request.",
                     v=version, k=len(rows), e=total, h=digest[:12]), "scope.baselined", f"v{version}")  # fmt: skip


def _check_signer(ctx: Context, signatures: list[Signature], what: str) -> None:
    """Two signatures: two different people, one of each party."""
    assert ctx.actor is not None
    for signature in signatures:
        if signature.person_id == ctx.person.id:
            raise InvalidState(ctx.tr("你已签署过 {w}。", "You have already signed {w}.", w=what))
        if signature.party == ctx.actor.party:
            signer = ctx.session.get(Person, signature.person_id)
            raise InvalidState(ctx.tr("{n} 已代表本方签署 {w}；还需要另一方签署。",
                                      "{n} already signed {w} for your party; the other party must sign.",
                                      n=signer.name if signer else "?", w=what))  # fmt: skip


def show_scope(ctx: Context, cmd: Parsed) -> None:
    current = baseline(ctx.session, ctx.eng.id or 0)
    if current is not None:
        ctx.reply(ctx.tr("范围基线 v{v}：{t} 双方签署，摘要 {h}", "Scope baseline v{v}: signed by both at {t}, hash {h}",
                         v=current.version, t=ctx.when(current.created_at), h=current.content_hash[:12]),
                  "scope.status")  # fmt: skip
        return
    signed = [ctx.session.get(Person, s.person_id) for s in _scope_signatures(ctx)]
    names = ", ".join(p.name for p in signed if p) or "—"
    ctx.reply(ctx.tr("范围草稿：{k} 个任务，尚未形成基线；已签署：{n}。双方 /范围 签署 后生效。",
                     "Scope draft: {k} tasks, no baseline yet; signed by: {n}. It takes effect when both "
                     "parties /scope sign.", k=len(_draft(ctx)), n=names), "scope.status")  # fmt: skip


_TASK = Arg("task", "ref", ("K-n", "K-n"), prefixes=("K",))
_TASK_OPTIONS = (
    Option("est", "word", ("人天", "DAYS"), aliases=("估算",)),
    Option("level", "word", ("级别", "LEVEL"), aliases=("级别",)),
    Option(
        "prio", "choice", ("高|中|低", "high|medium|low"), aliases=("优先级",), choices=PRIORITIES
    ),
    Option("due", "date", ("计划日期", "YYYY-MM-DD"), aliases=("计划",)),
    Option("owner", "person", ("@工程师", "@ENGINEER"), aliases=("负责",)),
)
COMMANDS = [
    Command("task add", ("任务 新增",), ("新增任务（估算人天、级别、优先级）", "add a task with estimate, level, priority"),
            add_task, roles=PM, args=(Arg("title", "text", ("标题", "TITLE")),),
            options=(*_TASK_OPTIONS, Option("cr", "word", ("CR-n", "CR-n"), aliases=("变更",))),
            example='/任务 新增 "订单数据同步" est=2d level=senior prio=high due=2026-12-10',
            example_en='/task add "order data sync" est=2d level=senior prio=high due=2026-12-10'),
    Command("task edit", ("任务 修改",), ("修改尚未签署的任务", "change a task not yet signed"), edit_task, roles=PM,
            args=(_TASK,), options=_TASK_OPTIONS, example="/任务 修改 K-1 est=3d", example_en="/task edit K-1 est=3d"),
    Command("task done", ("任务 完成",), ("标记任务完成", "mark a task done"), done_task, roles=PM, args=(_TASK,),
            example="/任务 完成 K-1", example_en="/task done K-1"),
    Command("task list", ("任务 列表",), ("任务清单：已用与估算", "tasks with logged vs estimated effort"),
            show_tasks, roles=PARTIES, example="/任务 列表", example_en="/task list"),
    Command("task", ("任务",), ("查看任务 K-n 及计划历史", "show task K-n and its plan history"), show_tasks,
            roles=PARTIES, args=(Arg("task", "ref", ("K-n", "K-n"), required=False, prefixes=("K",)),),
            example="/任务 K-1", example_en="/task K-1"),
    Command("scope sign", ("范围 签署",), ("签署范围基线（双方各一）", "sign the scope baseline (one per party)"),
            sign_scope, roles=SIGNERS, example="/范围 签署", example_en="/scope sign", needs=SIGNING),
    Command("scope", ("范围",), ("范围基线状态", "the scope baseline and its signatures"), show_scope, roles=PARTIES,
            example="/范围", example_en="/scope"),
]  # fmt: skip


def status_line(session: Session, engagement: Engagement, locale: str) -> str:
    """For /status: the scope baseline, or the draft waiting for signatures."""
    current = baseline(session, engagement.id or 0)
    rows = tasks(session, engagement.id or 0)
    done = sum(1 for t in rows if t.status == "done")
    if current is not None:
        return tr(locale, "范围：基线 v{v} 已签署；任务 {d}/{n} 完成", "Scope: baseline v{v} signed; {d} of {n} tasks done",
                  v=current.version, d=done, n=len(rows))  # fmt: skip
    return tr(locale, "范围：草稿 {n} 个任务，待双方 /范围 签署", "Scope: draft of {n} tasks, to be signed by both (/scope sign)",
              n=len(rows))  # fmt: skip
