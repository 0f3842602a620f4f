"""/task (/任务): the requirement breakdown — tasks with priority, estimate by level, plan date
and owner. A draft task changes freely; a signed one (in the baseline, or under an effective
change request) only as `domain.lifecycles.tasks` allows."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from base.errors import InvalidState, UsageError
from bot.commands import Parsed
from bot.context import Context
from bot.lexer import parse_ref
from domain.catalog import LEVELS
from domain.lifecycles import change_requests as cr_life
from domain.lifecycles import tasks as life
from handlers import budget, limits
from handlers import scope_text as text
from handlers.scope import (
    LEVEL_WORDS,
    baseline,
    check_plan_date,
    find_task,
    logged,
    person_days,
    tasks,
    void_draft_signatures,
)
from handlers.tickets import person_for
from storage.counters import next_number
from storage.models import ChangeRequest, PlanChange, Task


def _task_estimate(ctx: Context, word: str) -> int:
    minutes = person_days(ctx, word)
    contract = sum(budget.contracted(ctx.session, ctx.eng).values())
    limits.enforce(limits.check_task_estimate(minutes, contract, ctx.eng, ctx.locale))
    return minutes


def _level(ctx: Context, word: str | None) -> str:
    level = LEVEL_WORDS.get((word or "").strip().lower()) or LEVEL_WORDS.get((word or "").strip())
    if level is None:
        raise UsageError(ctx.tr("级别是 {v}。", "The level is one of {v}.", v=", ".join(LEVELS)))
    return level


def _line(ctx: Context, task: Task, spent: dict[str, int]) -> str:
    return text.task_line(task, spent, ctx.locale, ctx.eng.hours_per_day)


def add_task(ctx: Context, cmd: Parsed) -> None:
    if "est" not in cmd.options or "level" not in cmd.options:
        raise UsageError(ctx.tr("需要 est=人天 和 level=级别，例如 /任务 新增 \"数据同步\" est=2d level=senior prio=high",
                                "est= and level= are required, e.g. /task add \"data sync\" est=2d level=senior prio=high"))  # fmt: skip
    limits.enforce_text(ctx.locale, limits.TITLE_MAX, title=cmd.arg("title"))
    estimate = _task_estimate(ctx, cmd.options["est"])
    check_plan_date(ctx, cmd.options.get("due"))
    cr = None
    if baseline(ctx.session, ctx.eng_id) is not None:
        cr = _effective_cr(ctx, cmd.options.get("cr"))
    owner = person_for(ctx, cmd.options["owner"]) if cmd.options.get("owner") else None
    task = Task(
        engagement_id=ctx.eng_id, number=next_number(ctx.session, ctx.eng_id, "K"),
        title=cmd.arg("title").strip(), level=_level(ctx, cmd.options["level"]),
        estimate_minutes=estimate, priority=cmd.options.get("prio", "medium"),
        plan_date=cmd.options.get("due"), change_request_id=cr.id if cr else None,
        assignee_id=owner.id if owner else None, created_by_id=ctx.person_id, created_at=ctx.now,
    )  # fmt: skip
    ctx.session.add(task)
    ctx.session.flush()
    void_draft_signatures(ctx)
    ctx.audit("task.added", task.ref, title=task.title, level=task.level, estimate=task.estimate_minutes,
              priority=task.priority, plan=str(task.plan_date), cr=cr.ref if cr else None)  # fmt: skip
    under = ctx.tr("（变更 {c}）", " (under {c})", c=cr.ref) if cr else ""
    ctx.reply(
        ctx.tr("🧩 已添加 {t}{u}", "🧩 Added {t}{u}", t=_line(ctx, task, {}), u=under),
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
    cr: ChangeRequest | None = ctx.session.execute(
        select(ChangeRequest).where(
            col(ChangeRequest.engagement_id) == ctx.eng.id, col(ChangeRequest.number) == ref[1]
        )
    ).scalar_one_or_none()
    if cr is None or not cr_life.CHANGE_REQUEST.can(cr.status, cr_life.ADD_TASK):
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
    state = life.scope_state(task.baseline_version is not None, task.change_request_id is not None)
    if {"est", "level"} & set(cmd.options) and not life.TASK_SCOPE.can(state, life.REESTIMATE):
        raise InvalidState(ctx.tr("{r} 已在签署的范围内，估算只能通过变更单修改（/变更）。",
                                  "{r} is in the signed scope: its estimate changes only through a change "
                                  "request (/cr).", r=task.ref))  # fmt: skip
    if "due" in cmd.options and not life.TASK_SCOPE.can(state, life.REPLAN):
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
    void_draft_signatures(ctx)
    ctx.audit("task.edited", task.ref, estimate=task.estimate_minutes, level=task.level,
              priority=task.priority, plan=str(task.plan_date))  # fmt: skip
    ctx.reply(
        ctx.tr("✏️ 已修改 {t}", "✏️ Changed {t}", t=_line(ctx, task, {})),
        "task.edited",
        task.ref,
    )


def done_task(ctx: Context, cmd: Parsed) -> None:
    task = find_task(ctx, cmd.arg("task"))
    if not life.TASK.can(task.status, life.FINISH):
        raise InvalidState(ctx.tr("{r} 已完成。", "{r} is already done.", r=task.ref))
    task.status, task.done_at = life.DONE, ctx.now
    ctx.session.add(task)
    ctx.audit("task.done", task.ref)
    ctx.reply(ctx.tr("✅ {r} 已完成。", "✅ {r} is done.", r=task.ref), "task.done", task.ref)


def show_tasks(ctx: Context, cmd: Parsed) -> None:
    ref = cmd.arg("task")
    spent = logged(ctx.session, ctx.eng_id)
    if ref is not None:
        task = find_task(ctx, ref)
        history = ctx.session.execute(
            select(PlanChange)
            .where(col(PlanChange.task_id) == task.id)
            .order_by(col(PlanChange.version))
        ).scalars()
        lines = [_line(ctx, task, spent)]
        lines += [text.plan_change_line(change, ctx.locale) for change in history]
        ctx.reply("\n".join(lines), "task.show", task.ref)
        return
    rows = tasks(ctx.session, ctx.eng_id)
    if not rows:
        ctx.reply(ctx.tr("还没有任务。项目经理：/任务 新增 \"标题\" est=2d level=senior",
                         "No tasks yet. PM: /task add \"title\" est=2d level=senior"), "task.list")  # fmt: skip
        return
    total = sum(t.estimate_minutes for t in rows)
    lines = [text.task_list_head(total, ctx.locale, ctx.eng.hours_per_day)]
    lines += [_line(ctx, task, spent) for task in rows]
    ctx.reply("\n".join(lines), "task.list")
