"""How tasks and the scope baseline read in a chat. Text only."""

from __future__ import annotations

from bot.durations import format_person_days
from bot.i18n import tr
from domain.catalog import LEVELS
from domain.lifecycles.tasks import DONE, SIGNED, scope_state
from storage.models import PlanChange, Task

PRIORITY_NAMES = {"high": ("高", "high"), "medium": ("中", "medium"), "low": ("低", "low")}


def task_line(task: Task, spent: dict[str, int], locale: str, hours_per_day: int) -> str:
    """`🔒 K-1 订单数据同步 · 高级工程师 · 优先级高 · 已用 0 / 估算 2 人天 · 计划 2026-12-10`:
    ✅ done, 🔒 in the signed scope, 📝 a draft."""
    state = scope_state(task.baseline_version is not None, task.change_request_id is not None)
    mark = "✅" if task.status == DONE else ("🔒" if state == SIGNED else "📝")
    return tr(locale, "{m} {r} {t} · {l} · 优先级{p} · 已用 {u} / 估算 {e} 人天 · 计划 {d}",
              "{m} {r} {t} · {l} · {p} priority · {u} of {e} person-days · plan {d}",
              m=mark, r=task.ref, t=task.title, l=LEVELS[task.level].name(locale),
              p=tr(locale, *PRIORITY_NAMES.get(task.priority, (task.priority, task.priority))),
              u=format_person_days(spent.get(task.ref, 0), hours_per_day),
              e=format_person_days(task.estimate_minutes, hours_per_day), d=task.plan_date or "—")  # fmt: skip


def plan_change_line(change: PlanChange, locale: str) -> str:
    return tr(locale, "  计划 v{v}：{a} → {b}（{r}）", "  plan v{v}: {a} → {b} ({r})", v=change.version,
              a=change.old_date or "—", b=change.new_date, r=change.reason)  # fmt: skip


def task_list_head(total_minutes: int, locale: str, hours_per_day: int) -> str:
    return tr(locale, "任务（估算合计 {e} 人天）：", "Tasks (estimates total {e} person-days):",
              e=format_person_days(total_minutes, hours_per_day))  # fmt: skip


def scope_signed(name: str, tasks: int, digest: str, awaited: str, locale: str) -> str:
    return tr(locale, "✍️ {n} 已签署范围（{k} 个任务，摘要 {h}）；等待{o}签署。",
              "✍️ {n} signed the scope ({k} tasks, hash {h}); waiting for {o}.",
              n=name, k=tasks, h=digest[:12], o=awaited)  # fmt: skip


def scope_baselined(version: int, tasks: int, total: str, digest: str, locale: str) -> str:
    return tr(locale, "📜 双方已签署：范围基线 v{v} 生效（{k} 个任务，估算 {e} 人天，摘要 {h}）。此后新增范围需变更单。",
              "📜 Signed by both parties: scope baseline v{v} is in force ({k} tasks, {e} person-days, "
              "hash {h}). New scope now needs a change request.",
              v=version, k=tasks, e=total, h=digest[:12])  # fmt: skip


def scope_voided(code: str, locale: str) -> str:
    return tr(locale, "{c} 任务清单已变更，你对范围的签署已作废，请重新确认后 /范围 签署。",
              "{c}: the task list changed; your scope signature is void. Review and "
              "/scope sign again.", c=code)  # fmt: skip
