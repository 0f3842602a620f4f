"""How person-day budgets read in a chat: the 80% / 100% alert and the /budget report's lines.
Text only."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from bot.durations import format_person_days
from bot.i18n import tr


def share_percent(share: Fraction) -> str:
    """`80`, `82.5`: a share as a percentage, the decimal only when there is one."""
    tenths = round(share * 1000)
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"


def alert(code: str, level: str, share: Fraction, used: int, contracted: int, left: int,
          locale: str, hours_per_day: int) -> str:  # fmt: skip
    """`level` is the level's name; quantities are minutes."""
    days = hours_per_day
    return tr(locale, "💰 {c} {l}预算已用 {p}%：{u} / {t} 人天，剩 {r} 人天。",
              "💰 {c}: {l} budget {p}% used: {u} of {t} person-days, {r} left.",
              c=code, l=level, p=share_percent(share), u=format_person_days(used, days),
              t=format_person_days(contracted, days), r=format_person_days(left, days))  # fmt: skip


def report_head(locale: str) -> str:
    return tr(locale, "人天预算（SOW + 已生效变更）", "Person-day budget (SOW + effective change requests)")  # fmt: skip


def position_line(level: str, contracted: str, used: str, left: str, percent: str,
                  locale: str) -> str:  # fmt: skip
    """One level's line of /budget: `level` is its name, the amounts already in person-days."""
    return tr(locale, "{l}：合同 {c} · 已用 {u} · 剩 {r} · {p}", "{l}: contracted {c} · used {u} · left {r} · {p}",
              l=level, c=contracted, u=used, r=left, p=percent)  # fmt: skip


def runs_out(day: date | None, end: date, locale: str) -> str:
    """When the budget runs out at the current rate: never, after the engagement ends, or a day."""
    if day is None:
        return tr(locale, "按此速度用不完", "not at this rate")
    if day > end:
        return tr(locale, "{d}，晚于项目结束（{e}）", "{d}, after the engagement ends ({e})", d=day, e=end)  # fmt: skip
    return str(day)


def burn_line(window_days: int, rate: str, runs_out_text: str, locale: str) -> str:
    return tr(locale, "近 {n} 个工作日日均 {r} 人天；预计用完：{d}", "Burn over the last {n} working days: {r} person-days a day; runs out: {d}",
              n=window_days, r=rate, d=runs_out_text)  # fmt: skip
