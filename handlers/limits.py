"""Every bound on what people may write, with its reason: amounts of work, estimates, dates,
weeks and the length of free text. Pure: each check returns a `Refusal` (bilingual text, and
whether it is the input's fault or the record's) or None; `enforce` raises it.

Two bounds sit in `bot/`, which cannot import the domain: a duration token is refused by the
parser above `bot.durations.MAX_MINUTES` (10**6 minutes, even at a 1-hour person-day), and a
relative date (`+Nd`) reaches `bot.lexer.MAX_OFFSET_DAYS` (ten years) at most. Those two only
keep absurd input away from arithmetic and storage; the limits below are the domain's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from base.errors import InvalidState, UsageError, UserError
from bot.durations import format_person_days
from bot.i18n import tr
from domain.policy import policy_of
from storage.models import Engagement

# -- work logs --------------------------------------------------------------------------------

# The overtime one entry may carry above the daily cap is the engagement's `overtime_ceiling`
# (4 h unless it says otherwise: `domain.policy`). More in one go is a typo or several days
# written as one; those go in as separate entries, each on its own date.
# A person's logged minutes on one date, overtime included, can never pass the day itself.
DAY_MINUTES = 24 * 60

# -- estimates --------------------------------------------------------------------------------

# A change request is a change to the contract, not a new one: per level it may add at most
# ten times what the SOW bought of that level (of the whole SOW, when it bought none of it).
# The SOW's own figures, not grown by earlier change requests, so the bound cannot compound.
CR_CONTRACT_FACTOR = 10
# When the SOW has no budget at all to measure against: 1000 person-days is four people for a
# year, beyond any one task or change request of a person-day engagement.
ABSOLUTE_ESTIMATE_DAYS = 1000

# -- dates ------------------------------------------------------------------------------------

# Dates people give (plan and delay dates, trainings; the weeks and months they ask reports
# or closes for) lie within the engagement's term with a margin: a month before the start for
# preparation (kick-off, onboarding training, plans made while the contract is signed); a year
# after the end for plans and delays that overrun the term, extensions and the warranty year.
# Anything further out is a typo (`0001-01-01`). Work itself is logged within the term only.
DAYS_BEFORE_START = 31
DAYS_AFTER_END = 366

# -- free text --------------------------------------------------------------------------------

# Titles and names (ticket, task, change request, deliverable, training topic, plan impact)
# are one line in lists, notices and e-mail subjects: 200 characters is a long sentence.
TITLE_MAX = 200
# Notes, reasons and descriptions are quoted in replies, notices and audit entries: 2000
# characters is a page; more belongs in a document the note links to.
TEXT_MAX = 2000
# Except a note on a ticket's history (/note): the e-mail channel files a new mail's whole
# body as one, and no reply goes back for it; so it may be as long as a whole message may be
# (4000 characters, bot/intake.py), and a mail is refused there, with a reply, or not at all.
TICKET_NOTE_MAX = 4000


@dataclass(frozen=True)
class Refusal:
    """Why a value is refused. `state` True: the value is fine but what is already recorded
    makes it impossible (error.state); False: the value itself is out of bounds (error.usage)."""

    text: str
    state: bool = False

    def error(self) -> UserError:
        return InvalidState(self.text) if self.state else UsageError(self.text)


def enforce(refusal: Refusal | None) -> None:
    """Raise the refusal's user error, if there is one; the bus answers it and changes nothing."""
    if refusal is not None:
        raise refusal.error()


def _pd(minutes: int, engagement: Engagement) -> str:
    return format_person_days(minutes, engagement.hours_per_day)


# -- work logs --------------------------------------------------------------------------------


def entry_ceiling(engagement: Engagement) -> int:
    """The most one log entry (or one adjustment, either way) may hold, in minutes: the daily
    cap plus the overtime ceiling, never more than a whole day."""
    overtime = policy_of(engagement).worklog.overtime_ceiling_minutes
    return min(engagement.daily_cap_minutes + overtime, DAY_MINUTES)


def check_entry(minutes: int, engagement: Engagement, locale: str) -> Refusal | None:
    """One entry or adjustment of `minutes` (its size, whatever its sign)."""
    ceiling = entry_ceiling(engagement)
    if abs(minutes) <= ceiling:
        return None
    return Refusal(tr(locale, "一条报工最多 {c} 人天（{h} 小时：每日上限加加班上限），不能是 {m} 人天；多天的工作请按日期分条记录。",
                      "One entry holds at most {c} person-days ({h} hours: the daily cap plus the overtime "
                      "ceiling), not {m}; log work of several days as one entry per date.",
                      c=_pd(ceiling, engagement), h=f"{ceiling / 60:g}",
                      m=_pd(abs(minutes), engagement)))  # fmt: skip


def check_day(total: int, who: str, day: date, locale: str) -> Refusal | None:
    """A person's minutes on one date after a new entry or adjustment."""
    if total <= DAY_MINUTES:
        return None
    return Refusal(tr(locale, "{n} {d} 将合计 {t} 小时，超过一天的 24 小时（含加班）。",
                      "That makes {t} hours for {n} on {d}, more than the 24 hours of a day (overtime "
                      "included).", n=who, d=day, t=f"{total / 60:g}"), state=True)  # fmt: skip


# -- estimates --------------------------------------------------------------------------------


def task_estimate_ceiling(contract_minutes: int, engagement: Engagement) -> int:
    """A task is at most the whole contract (SOW and effective change requests)."""
    return contract_minutes or ABSOLUTE_ESTIMATE_DAYS * engagement.hours_per_day * 60


def check_task_estimate(minutes: int, contract_minutes: int, engagement: Engagement,
                        locale: str) -> Refusal | None:  # fmt: skip
    ceiling = task_estimate_ceiling(contract_minutes, engagement)
    if minutes <= ceiling:
        return None
    basis = (tr(locale, "整个合同", "the whole contract") if contract_minutes
             else tr(locale, "没有合同预算时的上限", "the cap when the contract has no budget"))  # fmt: skip
    return Refusal(tr(locale, "任务估算 {m} 人天超过上限 {c} 人天（{b}）。",
                      "A task estimate of {m} person-days is over the limit of {c} ({b}).",
                      m=_pd(minutes, engagement), c=_pd(ceiling, engagement), b=basis))  # fmt: skip


def cr_level_ceiling(level: str, engagement: Engagement) -> int:
    """The most a change request may add to `level`, in minutes."""
    sow = policy_of(engagement).budgets.contracted
    basis = sow.get(level, 0) or sum(sow.values())
    if basis:
        return CR_CONTRACT_FACTOR * basis
    return ABSOLUTE_ESTIMATE_DAYS * engagement.hours_per_day * 60


def check_cr_estimate(level: str, level_name: str, minutes: int, engagement: Engagement,
                      locale: str) -> Refusal | None:  # fmt: skip
    ceiling = cr_level_ceiling(level, engagement)
    if minutes <= ceiling:
        return None
    return Refusal(tr(locale, "变更单给{l}的估算 {m} 人天超过上限 {c} 人天（合同该级别的 {f} 倍）。",
                      "A change request's {m} person-days of {l} is over the limit of {c} ({f} times "
                      "what the contract has of it).", l=level_name, m=_pd(minutes, engagement),
                      c=_pd(ceiling, engagement), f=CR_CONTRACT_FACTOR))  # fmt: skip


# -- dates and weeks --------------------------------------------------------------------------


def _shift(day: date, days: int) -> date:
    """`day` moved by `days`, stopping at the first or last date Python knows."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def date_window(engagement: Engagement) -> tuple[date, date]:
    """The first and last date anyone may name for this engagement."""
    return (_shift(engagement.start_date, -DAYS_BEFORE_START),
            _shift(engagement.end_date, DAYS_AFTER_END))  # fmt: skip


def check_date(day: date, engagement: Engagement, locale: str, what: str) -> Refusal | None:
    """`what` names the date for people (计划日期, plan date)."""
    first, last = date_window(engagement)
    if first <= day <= last:
        return None
    return Refusal(tr(locale, "{w} {d} 超出范围：须在 {a} 到 {b} 之间（项目周期 {s} → {e}，前 {x} 天、后 {y} 天）。",
                      "The {w} {d} is out of range: it must lie between {a} and {b} (the engagement "
                      "{s} → {e}, {x} days before and {y} days after).", w=what, d=day, a=first, b=last,
                      s=engagement.start_date, e=engagement.end_date, x=DAYS_BEFORE_START,
                      y=DAYS_AFTER_END))  # fmt: skip


def check_span(first_day: date, last_day: date, engagement: Engagement,
               locale: str) -> Refusal | None:  # fmt: skip
    """A week or month to report on or to close must overlap the dates people may name."""
    first, last = date_window(engagement)
    if first_day <= last and last_day >= first:
        return None
    return Refusal(tr(locale, "{p} → {q} 不在项目周期附近：可查询 {a} 到 {b} 之间的周和月份（项目周期 {s} → {e}）。",
                      "{p} → {q} is nowhere near the engagement: weeks and months between {a} and {b} "
                      "can be used (the engagement runs {s} → {e}).", p=first_day, q=last_day, a=first,
                      b=last, s=engagement.start_date, e=engagement.end_date))  # fmt: skip


def check_week(monday: date, engagement: Engagement, locale: str) -> Refusal | None:
    return check_span(monday, _shift(monday, 6), engagement, locale)


# -- free text --------------------------------------------------------------------------------

FIELDS = {
    "title": ("标题", "title"), "name": ("名称", "name"), "topic": ("主题", "topic"),
    "impact": ("计划影响", "plan impact"), "note": ("说明", "note"), "reason": ("原因", "reason"),
    "description": ("描述", "description"), "link": ("链接或说明", "link or note"),
    "attendees": ("参加人", "attendees"), "manual": ("手册链接", "manual link"),
}  # fmt: skip


def check_text(text: str | None, field: str, limit: int, locale: str) -> Refusal | None:
    """`field` is a key of FIELDS; `limit` TITLE_MAX or TEXT_MAX."""
    length = len((text or "").strip())
    if length <= limit:
        return None
    name = tr(locale, *FIELDS[field])
    return Refusal(tr(locale, "{f}太长：{n} 个字，最多 {m} 个字。", "The {f} is too long: {n} characters, at most {m}.",
                      f=name, n=length, m=limit))  # fmt: skip


def enforce_text(locale: str, limit: int, **fields: str | None) -> None:
    """Check several text fields of one command at once: `enforce_text(loc, TEXT_MAX, note=…)`."""
    for field, text in fields.items():
        enforce(check_text(text, field, limit, locale))
