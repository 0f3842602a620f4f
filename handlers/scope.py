"""/scope (/范围): the two-party signed scope baseline (需求澄清 -> 范围基线), and the task
lookups the other handlers share.

Before both parties sign, tasks change freely (`handlers/tasks.py`), and each change voids the
scope signatures given so far; after, new work comes only through an effective change request
and a baselined estimate changes only through /cr.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session, col

from base.errors import InvalidState, NotFound, UsageError
from bot.commands import Parsed, Ref
from bot.context import Context
from bot.durations import format_person_days, parse_duration
from bot.i18n import tr
from domain import signoff
from domain.catalog import LEVELS
from handlers import limits, signatures
from handlers import scope_text as text
from storage.audit import canonical
from storage.models import Baseline, Engagement, Person, Task, WorkLog

SCOPE = "scope"  # the subject of scope signatures, and the ref of their audit entries
_BARE_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")  # person-days, no sign, no exponent
LEVEL_WORDS = {**{k: k for k in LEVELS}, **{t.zh: k for k, t in LEVELS.items()},
               "初级": "junior", "中级": "mid", "高级": "senior", "资深": "expert", "专家": "principal"}  # fmt: skip


# -- lookups ----------------------------------------------------------------------------------


def find_task(ctx: Context, ref: Ref | str) -> Task:
    number = ref.number if isinstance(ref, Ref) else int(str(ref).split("-")[-1])
    task: Task | None = ctx.session.execute(
        select(Task).where(col(Task.engagement_id) == ctx.eng.id, col(Task.number) == number)
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
        select(Baseline).where(col(Baseline.engagement_id) == engagement_id).order_by(col(Baseline.version).desc())
    ).scalars().first()  # fmt: skip


def tasks(session: Session, engagement_id: int) -> list[Task]:
    query = select(Task).where(col(Task.engagement_id) == engagement_id).order_by(col(Task.number))
    return list(session.execute(query).scalars())


def logged(session: Session, engagement_id: int) -> dict[str, int]:
    """Minutes logged per task ref."""
    rows = session.execute(
        select(col(WorkLog.target_ref), func.sum(col(WorkLog.minutes))).where(
            col(WorkLog.engagement_id) == engagement_id, col(WorkLog.target_kind) == "task",
            col(WorkLog.voided_at).is_(None),
        ).group_by(col(WorkLog.target_ref))
    ).all()  # fmt: skip
    return {str(ref): int(minutes or 0) for ref, minutes in rows}


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


def check_plan_date(ctx: Context, day: date | None) -> None:
    """A plan date people gave must lie within the engagement's dates (handlers/limits.py)."""
    if day is not None:
        limits.enforce(limits.check_date(day, ctx.eng, ctx.locale, ctx.tr("计划日期", "plan date")))


# -- /scope -----------------------------------------------------------------------------------


def scope_snapshot(rows: list[Task]) -> str:
    return canonical(
        [[t.ref, t.title, t.level, t.estimate_minutes, t.priority, str(t.plan_date)] for t in rows]
    )


def _draft(ctx: Context) -> list[Task]:
    return [t for t in tasks(ctx.session, ctx.eng_id) if t.change_request_id is None]


def void_draft_signatures(ctx: Context) -> None:
    """The task list changed before both signed: earlier scope signatures no longer hold."""
    if baseline(ctx.session, ctx.eng_id) is not None:
        return
    me = ctx.actor.person.id if ctx.actor and ctx.actor.person else None
    for signature in signatures.void(ctx, SCOPE):
        signer = ctx.session.get(Person, signature.person_id)
        if signer is not None and signer.id != me:
            ctx.notify(signer, text.scope_voided(ctx.eng.code, ctx.locale), "scope.voided")


def sign_scope(ctx: Context, cmd: Parsed) -> None:
    current = baseline(ctx.session, ctx.eng_id)
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
    decision = signatures.sign(ctx, SCOPE, signoff.BOTH_PARTIES, digest, "scope")
    assert ctx.actor is not None
    ctx.audit("scope.signed", SCOPE, party=ctx.actor.party, hash=digest, tasks=len(rows))
    if not decision.complete:
        awaited = signatures.awaited(decision, ctx.locale)
        ctx.reply(
            text.scope_signed(ctx.actor.name, len(rows), digest, awaited, ctx.locale),
            "scope.signed",
        )
        return
    version = 1
    ctx.session.add(Baseline(engagement_id=ctx.eng_id, version=version, snapshot=snapshot,
                             content_hash=digest, created_at=ctx.now))  # fmt: skip
    for task in rows:  # the draft tasks are signed now (domain.lifecycles.tasks: baseline)
        task.baseline_version = version
        ctx.session.add(task)
    ctx.audit("scope.baselined", f"v{version}", hash=digest, tasks=len(rows))
    total = format_person_days(sum(t.estimate_minutes for t in rows), ctx.eng.hours_per_day)
    ctx.reply(text.scope_baselined(version, len(rows), total, digest, ctx.locale),
              "scope.baselined", f"v{version}")  # fmt: skip


def show_scope(ctx: Context, cmd: Parsed) -> None:
    current = baseline(ctx.session, ctx.eng_id)
    if current is not None:
        ctx.reply(ctx.tr("范围基线 v{v}：{t} 双方签署，摘要 {h}", "Scope baseline v{v}: signed by both at {t}, hash {h}",
                         v=current.version, t=ctx.when(current.created_at), h=current.content_hash[:12]),
                  "scope.status")  # fmt: skip
        return
    signed = [ctx.session.get(Person, s.person_id)
              for s in signatures.active(ctx.session, ctx.eng_id, SCOPE)]  # fmt: skip
    names = ", ".join(p.name for p in signed if p) or "—"
    ctx.reply(ctx.tr("范围草稿：{k} 个任务，尚未形成基线；已签署：{n}。双方 /范围 签署 后生效。",
                     "Scope draft: {k} tasks, no baseline yet; signed by: {n}. It takes effect when both "
                     "parties /scope sign.", k=len(_draft(ctx)), n=names), "scope.status")  # fmt: skip


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
