"""/delay (/延期): early warning of a delay — the cause, the new plan date, the plan's history —
and the job that tells the PM about tasks past their plan date with no notice."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import col

from base.errors import InvalidState, PermissionDenied
from bot import clock
from bot.commands import Parsed
from bot.context import Context
from bot.scheduler import Run
from domain.lifecycles.tasks import DELAY, TASK
from handlers import limits
from handlers import plan_text as text
from handlers.scope import check_plan_date, find_task
from storage.models import PlanChange, Task


def delay(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, reason=cmd.arg("reason"))
    task = find_task(ctx, cmd.arg("task"))
    assert ctx.actor is not None
    if "vendor_pm" not in ctx.actor.roles and task.assignee_id not in (None, ctx.person.id):
        raise PermissionDenied(text.not_yours(task.ref, ctx.locale))
    if not TASK.can(task.status, DELAY):
        raise InvalidState(text.already_done(task.ref, ctx.locale))
    new_date: date = cmd.arg("date")
    check_plan_date(ctx, new_date)
    if new_date < clock.local(ctx.now, ctx.eng.timezone).date():
        raise InvalidState(text.date_past(new_date, ctx.locale))
    reason = cmd.arg("reason").strip()
    old = task.plan_date
    task.plan_version += 1
    task.plan_date, task.overdue_warned_for = new_date, None
    ctx.session.add(task)
    ctx.session.add(PlanChange(task_id=task.id or 0, version=task.plan_version, old_date=old, new_date=new_date,
                               reason=reason, person_id=ctx.person_id, at=ctx.now))  # fmt: skip
    ctx.audit(
        "plan.delay",
        task.ref,
        old=str(old),
        new=str(new_date),
        reason=reason,
        version=task.plan_version,
    )
    notice = text.delay_notice(task.ref, task.title, old, new_date, task.plan_version, reason,
                               ctx.locale)  # fmt: skip
    ctx.reply(notice, "plan.delay", task.ref)
    ctx.notify_roles(
        {"client_approver", "customer_manager"}, f"{ctx.eng.code} {notice}", "plan.delay", task.ref
    )


def overdue(run: Run) -> None:
    """Tell the PM, once per task and plan date, about tasks past their plan with no notice."""
    run.each_engagement(_overdue_in)


def _overdue_in(ctx: Context) -> None:
    today = clock.local(ctx.now, ctx.eng.timezone).date()
    late = ctx.session.execute(
        select(Task).where(col(Task.engagement_id) == ctx.eng.id, col(Task.status) == "open",
                           col(Task.plan_date) < today)
    ).scalars()  # fmt: skip
    for task in late:
        if task.overdue_warned_for == task.plan_date:
            continue
        _warn_overdue(ctx, task)


def _warn_overdue(ctx: Context, task: Task) -> None:
    engagement = ctx.eng
    warning = text.overdue(engagement.code, task.ref, task.title, task.plan_date, engagement.locale)
    ctx.notify_roles({"vendor_pm"}, warning, "plan.overdue", task.ref,
                     f"plan:{engagement.code}:{task.ref}:{task.plan_date}")  # fmt: skip
    task.overdue_warned_for = task.plan_date
    ctx.session.add(task)
