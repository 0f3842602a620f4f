"""How work logs read in a chat: the refusals, the logged / undone / adjusted replies, the
overtime notice and the daily reminder. Text only."""

from __future__ import annotations

from datetime import date

from bot.i18n import tr


def hours(minutes: int) -> str:
    """`1h`, `30m`, `1h30m`."""
    whole, rest = divmod(minutes, 60)
    return f"{whole}h{rest}m" if rest and whole else (f"{rest}m" if rest else f"{whole}h")


def pm_only_for_others(locale: str) -> str:
    return tr(
        locale,
        "只有项目经理可以替别人报工（for=@某人）。",
        "Only the PM may log for someone else (for=@person).",
    )


def no_level(name: str, locale: str) -> str:
    return tr(locale, "{n} 没有资源级别，不能报工（项目文件里给工程师设 level）。",
              "{n} has no resource level, so cannot log work (give engineers a level in "
              "the engagement file).", n=name)  # fmt: skip


def no_level_short(name: str, locale: str) -> str:
    return tr(locale, "{n} 没有资源级别。", "{n} has no resource level.", n=name)


def bad_duration(unit_minutes: int, unit_days: str, locale: str) -> str:
    return tr(locale, "时长必须大于 0 且是最小单位 {u}（{d} 人天）的整数倍，例如 1h、2h、半天、1天。",
              "The duration must be above zero and a multiple of the minimum unit {u} "
              "({d} person-day), e.g. 1h, 2h, 0.5d, 1d.",
              u=hours(unit_minutes), d=unit_days)  # fmt: skip


def not_a_duration(raw: str, locale: str) -> str:
    return tr(locale, "“{r}”不是时长，例如 -2h、+0.5d。", "'{r}' is not a duration, e.g. -2h or +0.5d.", r=raw)  # fmt: skip


def future_date(day: date, locale: str) -> str:
    return tr(locale, "不能为将来的日期（{d}）报工。", "No logging for a future date ({d}).", d=day)


def outside_engagement(day: date, start: date, end: date, locale: str) -> str:
    return tr(locale, "{d} 不在项目周期内（{s} → {e}）。", "{d} is outside the engagement ({s} → {e}).",
              d=day, s=start, e=end)  # fmt: skip


def too_far_back(days: int, earliest: date, locale: str) -> str:
    return tr(locale, "最多补报 {n} 个工作日（最早 {e}）；更早的请项目经理调整（/报工 调整）。",
              "Work can be logged up to {n} working days back (from {e}); older work is "
              "an adjustment by the PM (/log adjust).", n=days, e=earliest)  # fmt: skip


def month_closed(day: date, locale: str) -> str:
    return tr(locale, "{m} 已结算关闭，不能再记入；请记在当前月份并注明原因。",
              "{m} is closed; record corrections in the current month with a reason.",
              m=f"{day:%Y-%m}")  # fmt: skip


def over_cap(name: str, day: date, total: str, cap: str, locale: str) -> str:
    return tr(locale, "{n} {d} 将合计 {t} 人天，超过每日上限 {c} 人天；如确为加班请加 ot=yes。",
              "That makes {t} person-days for {n} on {d}, over the daily cap of {c}; "
              "add ot=yes if it is overtime.", n=name, d=day, t=total, c=cap)  # fmt: skip


def logged(name: str, day: date, amount: str, target: str, note: str, total: str, level: str,
           used: str, contracted: str, locale: str) -> str:  # fmt: skip
    """`✅ 已记录 …` with the day's total and the level's budget."""
    return tr(locale, "✅ 已记录 {n} {d} {m} 人天 → {t}{note}\n当日合计 {total} 人天；计入{l}预算（已用 {u} / {c}）",
              "✅ Logged {m} person-day(s) for {n} on {d} → {t}{note}\nDay total {total}; counts "
              "against the {l} budget ({u} of {c} used)",
              n=name, d=day, m=amount, t=target, note=f"：{note}" if note else "",
              total=total, l=level, u=used, c=contracted)  # fmt: skip


def overtime(name: str, day: date, total: str, code: str, locale: str) -> str:
    return tr(locale, "⏱ {n} {d} 加班：当日合计 {t} 人天（{c}）", "⏱ {n} overtime on {d}: {t} person-days ({c})",
              n=name, d=day, t=total, c=code)  # fmt: skip


def nothing_to_undo(locale: str) -> str:
    return tr(locale, "你没有可以撤销的报工。", "You have no work log to undo.")


def undo_too_late(locale: str) -> str:
    return tr(locale, "只能撤销 10 分钟内的最后一条；更正请项目经理调整（/报工 调整）。",
              "Only your last entry of the last 10 minutes can be undone; later corrections "
              "are adjustments by the PM (/log adjust).")  # fmt: skip


def closed_no_undo(day: date, locale: str) -> str:
    return tr(
        locale, "{m} 已结算关闭，不能撤销。", "{m} is closed; the entry stays.", m=f"{day:%Y-%m}"
    )


def undone(day: date, amount: str, target: str, locale: str) -> str:
    return tr(locale, "↩️ 已撤销：{d} {m} 人天 → {t}", "↩️ Undone: {d}, {m} person-day(s) → {t}",
              d=day, m=amount, t=target)  # fmt: skip


def below_zero(name: str, day: date, locale: str) -> str:
    return tr(locale, "调整后 {n} {d} 的合计会小于 0。", "That would leave {n} below zero on {d}.",
              n=name, d=day)  # fmt: skip


def adjusted(name: str, day: date, minutes: int, amount: str, target: str, reason: str,
             locale: str) -> str:  # fmt: skip
    """`minutes` signs the adjustment; `amount` is its size in person-days."""
    return tr(locale, "🛠 调整 {n} {d} {s}{m} 人天 → {t}：{r}", "🛠 Adjustment for {n} on {d}: {s}{m} person-day(s) → {t}: {r}",
              n=name, d=day, s="+" if minutes > 0 else "-", m=amount, t=target, r=reason)  # fmt: skip


def reminder(code: str, day: date, locale: str) -> str:
    return tr(locale, "📝 {c}：{d} 还没有报工。发送 /报工 时长 对象 说明，例如 /报工 1天 svc=ops_monitoring 日常巡检",
              "📝 {c}: nothing logged for {d} yet. Send /log DURATION TARGET NOTE, e.g. /log 1d svc=ops_monitoring daily checks",
              c=code, d=day)  # fmt: skip
