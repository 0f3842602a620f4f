"""How timesheets read in a chat: the span, the head, one line per person and their days.
Text only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from bot.i18n import tr

WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def this_week(locale: str) -> str:
    return tr(locale, "本周", "this week")


def this_month(locale: str) -> str:
    return tr(locale, "本月", "this month")


def bad_span(word: str | None, locale: str) -> str:
    return tr(locale, "时间范围是 week（本周）、month（本月）或 YYYY-MM，不是“{w}”。",
              "The span is week, month or YYYY-MM, not '{w}'.", w=word)  # fmt: skip


def own_only(locale: str) -> str:
    return tr(locale, "工程师只能查看自己的工时。", "Engineers see their own timesheet only.")


def head(first: date, last: date, label: str, locale: str) -> str:
    return tr(
        locale, "工时 {a} → {b}（{l}）", "Timesheet {a} → {b} ({l})", a=first, b=last, l=label
    )


def nothing_logged(locale: str) -> str:
    return tr(locale, "没有记录。", "Nothing logged.")


def person_line(name: str, level: str, total: str, locale: str) -> str:
    return tr(locale, "{n}（{l}）合计 {t} 人天", "{n} ({l}): {t} person-days", n=name, l=level, t=total)  # fmt: skip


def days_line(days: dict[date, int], pd: Callable[[int], str], locale: str) -> str:
    """`  11-23 一 1 · 11-24 二 0.5`: a person's days in order, `pd` shows minutes as person-days."""
    names = WEEKDAYS_EN if locale == "en" else WEEKDAYS
    return "  " + " · ".join(f"{d:%m-%d} {names[d.weekday()]} {pd(m)}" for d, m in sorted(days.items()))  # fmt: skip


def all_together(total: str, locale: str) -> str:
    return tr(locale, "全部合计 {t} 人天", "All together: {t} person-days", t=total)
