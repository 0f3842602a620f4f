"""How blockers read in a chat: the record, the owner's notice, clearing, the list and its lines,
the escalation. Text only."""

from __future__ import annotations

from bot.commands import Ref
from bot.i18n import tr
from storage.models import Blocker, Task

SUMMARY_WIDTH = 30


def age_text(minutes: int, locale: str) -> str:
    """`已 30 小时` / `open 30 h`: working time a blocker has been open."""
    if minutes < 60:
        return tr(locale, "已 {m} 分钟", "open {m} min", m=minutes)
    return tr(locale, "已 {h} 小时", "open {h} h", h=minutes // 60)


def short(text: str) -> str:
    """The description on one line, cut to `SUMMARY_WIDTH` characters."""
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_WIDTH else line[: SUMMARY_WIDTH - 1] + "…"


def blocker_line(blocker: Blocker, owner: str, age: int, locale: str) -> str:
    """`B-2 环境访问延迟 · 陈静 · 已 30 小时`."""
    return f"{blocker.ref} {short(blocker.description)} · {owner} · {age_text(age, locale)}"


def list_line(line: str, task: Task | None) -> str:
    """A line of /blockers, with the task it holds up."""
    return f"{line} · {task.ref} {task.title}" if task else line


def list_none(locale: str) -> str:
    return tr(locale, "未解除的阻塞：无。", "Open blockers: none.")


def list_head(count: int, locale: str) -> str:
    return tr(locale, "未解除的阻塞（{n}）：", "Open blockers ({n}):", n=count)


def not_found(ref: Ref, locale: str) -> str:
    return tr(locale, "没有阻塞 {r}。发送 /阻塞列表 查看未解除的阻塞。",
              "There is no blocker {r}. Send /blockers to list the open ones.", r=ref)  # fmt: skip


def not_a_task(ref: Ref, locale: str) -> str:
    return tr(locale, "task= 只能是任务号 K-n，不是 {r}。例如：/阻塞 \"等待测试库账号\" task=K-1",
              "task= takes a task K-n, not {r}. Example: /block \"waiting for a test DB "
              "account\" task=K-1", r=ref)  # fmt: skip


def on_task(task: Task | None, locale: str) -> str:
    """`，影响 K-1 订单数据同步`, or nothing without a task."""
    if task is None:
        return ""
    return tr(locale, "，影响 {r} {t}", ", holding up {r} {t}", r=task.ref, t=task.title)


def opened(ref: str, description: str, owner: str, task: str, hours: int | None,
           locale: str) -> str:  # fmt: skip
    """The reply to /block; `hours` until the first escalation, None when it never escalates.
    `task` is `on_task`'s text."""
    lines = [tr(locale, "🚧 已登记阻塞 {r}：{d}", "🚧 Blocker {r} recorded: {d}", r=ref, d=description),
             tr(locale, "负责人 {o}{k}。", "Owner {o}{k}.", o=owner, k=task)]  # fmt: skip
    if hours is not None:
        lines.append(tr(locale, "{h} 个工作小时内未解除将升级。解除后请发送 /解除 {r} 说明",
                        "It is escalated if not cleared within {h} working hours. "
                        "Clear it with /unblock {r} NOTE", h=hours, r=ref))  # fmt: skip
    return "\n".join(lines)


def owner_notice(code: str, ref: str, description: str, recorder: str, task: str,
                 locale: str) -> str:  # fmt: skip
    """To the owner when someone else records a blocker for them."""
    return tr(locale, "🚧 {c} 阻塞 {r} 需要你处理：{d}（{n} 登记{k}）。解除后请发送 /解除 {r} 说明",
              "🚧 {c}: blocker {r} is yours to clear: {d} (recorded by {n}{k}). "
              "Send /unblock {r} NOTE once it is cleared.", c=code,
              r=ref, d=description, n=recorder, k=task)  # fmt: skip


def already_cleared(ref: str, at: str, name: str, locale: str) -> str:
    return tr(locale, "{r} 已于 {t} 由 {n} 解除。", "{r} was cleared by {n} at {t}.",
              r=ref, t=at, n=name)  # fmt: skip


def may_not_clear(ref: str, locale: str) -> str:
    return tr(locale, "只有 {r} 的负责人、登记人、甲方协调人或项目经理可以解除它。",
              "Only {r}'s owner, whoever recorded it, a client coordinator or "
              "the vendor PM may clear it.", r=ref)  # fmt: skip


def cleared(ref: str, span: str, note: str, locale: str) -> str:
    """The reply to /unblock; `span` is the working time it was open."""
    return tr(locale, "✅ 阻塞 {r} 已解除，持续 {a}（工作时间）：{n}",
              "✅ Blocker {r} cleared after {a} of working time: {n}", r=ref,
              a=span, n=note)  # fmt: skip


def escalation(step: int, blocker: Blocker, owner: str, recorded: str, span: str,
               locale: str) -> str:  # fmt: skip
    """Step `step` of the ladder, to the roles that hear it and to the blocker's chat."""
    return tr(locale, "🚨 阻塞升级（第 {s} 级）：{r} {d}｜负责人 {o}，{w} 登记，已持续 {a}（工作时间）未解除",
              "🚨 Blocker escalation (step {s}): {r} {d} | owner {o}, recorded {w}, open for {a} "
              "of working time", s=step, r=blocker.ref, d=blocker.description, o=owner,
              w=recorded, a=span)  # fmt: skip
