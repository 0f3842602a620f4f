"""How a month's close reads in a chat: its totals and its state. Text only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.durations import format_person_days
from bot.i18n import tr
from domain.lifecycles.periods import CLOSED, OPEN
from handlers.statement import Statement
from storage.models import Person, Signature


def summary(built: Statement, locale: str) -> str:
    """`2026-11 合计 1 人天（1 人，2 条记录）`."""
    days = format_person_days(built.total_minutes, built.hours_per_day)
    people = len({row.person_key for row in built.rows})
    return tr(locale, "{m} 合计 {d} 人天（{p} 人，{e} 条记录）", "{m}: {d} person-days ({p} people, {e} entries)",
              m=built.month, d=days, p=people, e=len(built.entries))  # fmt: skip


def state(
    status: str,
    closed: tuple[Signature, Person | None] | None,
    confirmed: tuple[Signature, Person | None] | None,
    locale: str,
    when: Callable[[datetime], str],
) -> str:
    """Open, closed by the PM (who, when), or locked (both signatures)."""
    if status == OPEN or closed is None:
        return tr(locale, "状态：未结算（项目经理 /结算 关闭 月份）",
                  "State: open (the PM closes it with /period close MONTH)")  # fmt: skip
    closing, closer = closed
    if status == CLOSED or confirmed is None:
        return tr(locale, "状态：{n} 已于 {t} 关闭，待甲方确认（/结算 确认 月份）",
                  "State: closed by {n} at {t}, awaiting the client's confirmation (/period confirm MONTH)",
                  n=closer.name if closer else "?", t=when(closing.at))  # fmt: skip
    confirming, confirmer = confirmed
    return tr(locale, "状态：已锁定 — {a} {t1} 关闭，{b} {t2} 确认",
              "State: locked — closed by {a} at {t1}, confirmed by {b} at {t2}",
              a=closer.name if closer else "?", t1=when(closing.at),
              b=confirmer.name if confirmer else "?", t2=when(confirming.at))  # fmt: skip
