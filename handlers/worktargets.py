"""What work may be logged against — the one place targets are looked up.

A target must be written and in scope: a ticket in scope (`T-7`), a task of the signed scope
(`K-3`), an effective change request (`CR-2`), or a service line of the SOW (`svc=…`).
`RESOLVERS` lists how each kind of reference is looked up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import col

from base.errors import InvalidState, NotFound, UsageError
from bot.commands import Ref
from bot.context import Context
from bot.lexer import normalise
from domain.catalog import SERVICES
from domain.lifecycles import change_requests as cr_life
from domain.lifecycles import tasks as task_life
from handlers import change_text
from handlers.change_requests import find_cr
from handlers.scope import find_task
from storage.models import ChangeRequest, Ticket


@dataclass(frozen=True)
class WorkTarget:
    kind: str  # ticket | task | cr | service
    ref: str  # T-7, K-3, CR-2, or the service key
    label: str  # for people


Resolver = Callable[[Context, Ref], WorkTarget]
_KINDS = {"T": ("工单", "ticket"), "K": ("任务", "task"), "CR": ("变更单", "change request")}


def _ticket(ctx: Context, ref: Ref) -> WorkTarget:
    ticket = ctx.session.execute(
        select(Ticket).where(
            col(Ticket.engagement_id) == ctx.eng.id, col(Ticket.number) == ref.number
        )
    ).scalar_one_or_none()
    if ticket is None:
        raise NotFound(ctx.tr("没有工单 {r}。", "There is no ticket {r}.", r=ref))
    if not ticket.in_scope:
        raise InvalidState(ctx.tr("{r} 的服务不在 SOW 范围内：先提变更单（/变更），签署生效后再报工。",
                                  "{r} is out of scope: file a change request (/cr); work counts once "
                                  "it is signed and effective.", r=ref))  # fmt: skip
    return WorkTarget("ticket", str(ref), f"{ref} {ticket.title}")


def _task(ctx: Context, ref: Ref) -> WorkTarget:
    task = find_task(ctx, ref)
    state = task_life.scope_state(
        task.baseline_version is not None, task.change_request_id is not None
    )
    in_scope = task_life.TASK_SCOPE.can(state, task_life.LOG_WORK)
    if task.change_request_id is not None:  # and its change request is still effective
        cr = ctx.session.get(ChangeRequest, task.change_request_id)
        in_scope = cr is not None and cr_life.CHANGE_REQUEST.can(cr.status, cr_life.LOG_WORK)
    if not in_scope:
        raise InvalidState(ctx.tr("{r} 还不在双方签署的范围内：先 /范围 签署。",
                                  "{r} is not in the signed scope yet: /scope sign first.", r=ref))  # fmt: skip
    return WorkTarget("task", task.ref, f"{task.ref} {task.title}")


def _change_request(ctx: Context, ref: Ref) -> WorkTarget:
    cr = find_cr(ctx, ref)
    if not cr_life.CHANGE_REQUEST.can(cr.status, cr_life.LOG_WORK):
        raise InvalidState(ctx.tr("{r} 还没有双方签署生效（{s}）：不能报工。签署：/签署 {r}",
                                  "{r} is not effective yet ({s}): no work against it. Sign: /sign {r}",
                                  r=cr.ref, s=change_text.status_name(cr.status, ctx.locale)))  # fmt: skip
    return WorkTarget("cr", cr.ref, f"{cr.ref} {cr.title}")


RESOLVERS: dict[str, Resolver] = {"T": _ticket, "K": _task, "CR": _change_request}


def resolve(ctx: Context, ref: Ref | None, service: str | None) -> WorkTarget:
    """The target of a work log; a clear refusal when it is missing, unknown or out of scope."""
    if ref is not None and service is not None:
        raise UsageError(ctx.tr("只能填一个工作对象：{r} 或 svc={s}。", "Give one target: {r} or svc={s}.",
                                r=ref, s=service))  # fmt: skip
    if ref is not None:
        resolver = RESOLVERS.get(ref.prefix)
        if resolver is None:
            kind = ctx.tr(*_KINDS.get(ref.prefix, (ref.prefix, ref.prefix)))
            raise NotFound(ctx.tr("没有{k} {r}。", "There is no {k} {r}.", k=kind, r=ref))
        return resolver(ctx, ref)
    if service is not None:
        return _service(ctx, service)
    raise UsageError(ctx.tr("缺少工作对象：工单 T-n、任务 K-n、变更单 CR-n，或 svc=服务。例如：/报工 4h T-7 排查慢查询",
                            "Missing target: a ticket T-n, task K-n, change request CR-n, or svc=SERVICE. "
                            "Example: /log 4h T-7 slow query analysis"))  # fmt: skip


def _service(ctx: Context, word: str) -> WorkTarget:
    wanted = normalise(word)
    key = next(
        (k for k, t in SERVICES.items() if wanted in (k, normalise(t.zh), normalise(t.en))), None
    )
    in_scope = ", ".join(ctx.eng.services)
    if key is None:
        raise UsageError(ctx.tr("没有服务“{w}”。本项目范围内：{s}", "No service '{w}'. In scope: {s}",
                                w=word, s=in_scope))  # fmt: skip
    if key not in ctx.eng.services:
        raise InvalidState(ctx.tr("“{n}”不在 SOW 范围内（范围内：{s}）：需要变更单（/变更）。",
                                  "'{n}' is not in the SOW (in scope: {s}): it needs a change request (/cr).",
                                  n=SERVICES[key].name(ctx.locale), s=in_scope))  # fmt: skip
    return WorkTarget("service", key, SERVICES[key].name(ctx.locale))
