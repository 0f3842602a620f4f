"""How the plan reads in a chat: delay notices, their refusals, and the overdue warning.
Text only."""

from __future__ import annotations

from datetime import date

from bot.i18n import tr


def not_yours(ref: str, locale: str) -> str:
    return tr(locale, "只有项目经理或 {r} 的负责工程师可以发延期通知。",
              "Only the PM or {r}'s engineer may give delay notice.", r=ref)  # fmt: skip


def already_done(ref: str, locale: str) -> str:
    return tr(locale, "{r} 已完成。", "{r} is already done.", r=ref)


def date_past(day: date, locale: str) -> str:
    return tr(locale, "新的计划日期 {d} 已经过去。", "The new plan date {d} is in the past.", d=day)


def delay_notice(ref: str, title: str, old: date | None, new: date, version: int, reason: str,
                 locale: str) -> str:  # fmt: skip
    return tr(locale, "⚠️ 延期预警 {r} {t}：计划 {a} → {b}（计划 v{v}）。原因：{why}",
              "⚠️ Delay notice {r} {t}: plan {a} → {b} (plan v{v}). Cause: {why}", r=ref,
              t=title, a=old or "—", b=new, v=version, why=reason)  # fmt: skip


def overdue(code: str, ref: str, title: str, plan_date: date | None, locale: str) -> str:
    return tr(locale, "⏳ {c} {r} {t} 已过计划日期 {d}，且没有延期通知。请 /延期 {r} 新日期 原因，或 /任务 完成 {r}。",
              "⏳ {c}: {r} {t} is past its plan date {d} with no delay notice. /delay {r} DATE REASON, or "
              "/task done {r}.", c=code, r=ref, t=title, d=plan_date)  # fmt: skip
