"""/log (/报工): engineers log person-days against a written, in-scope target; `/log undo`
takes back a fresh mistake; `/log adjust` is the PM's correction with a reason. Entries are
never edited. A reminder job nudges engineers with nothing logged on a working day."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot import clock, notify
from bot.assurance import SIGNING
from bot.commands import Arg, Command, Option, Parsed
from bot.context import Context
from bot.durations import Duration, format_person_days, parse_duration
from bot.errors import InvalidState, NotFound, PermissionDenied, UsageError
from bot.i18n import tr
from bot.scheduler import Job, Run
from domain.catalog import LEVELS
from domain.policy import EngagementPolicy, policy_of
from handlers import budget, limits, periods, worktargets
from handlers.tickets import person_for
from storage.models import Person, WorkLog

UNDO_WINDOW = timedelta(minutes=10)
LOGGERS = frozenset({"engineer", "vendor_pm"})
YES = {
    "yes": "yes",
    "y": "yes",
    "true": "yes",
    "是": "yes",
    "加班": "yes",
    "no": "no",
    "否": "no",
    "false": "no",
}


def today(ctx: Context) -> date:
    return clock.local(ctx.now, ctx.eng.timezone).date()


def day_total(session: Session, engagement_id: int, person_id: int, day: date) -> int:
    query = select(func.sum(col(WorkLog.minutes))).where(
        col(WorkLog.engagement_id) == engagement_id, col(WorkLog.person_id) == person_id,
        col(WorkLog.work_date) == day, col(WorkLog.voided_at).is_(None),
    )  # fmt: skip
    return int(session.execute(query).scalar() or 0)


def pd(ctx: Context, minutes: int) -> str:
    return format_person_days(minutes, ctx.eng.hours_per_day)


def _worker(ctx: Context, cmd: Parsed) -> Person:
    """Whose work: the sender, or `for=@person` when the PM logs for someone."""
    mention = cmd.options.get("for")
    assert ctx.actor is not None
    if mention is None:
        worker = ctx.person
    elif "vendor_pm" not in ctx.actor.roles:
        raise PermissionDenied(
            ctx.tr(
                "只有项目经理可以替别人报工（for=@某人）。",
                "Only the PM may log for someone else (for=@person).",
            )
        )
    else:
        worker = person_for(ctx, mention)
    if worker.level not in LEVELS:
        raise InvalidState(ctx.tr("{n} 没有资源级别，不能报工（项目文件里给工程师设 level）。",
                                  "{n} has no resource level, so cannot log work (give engineers a level in "
                                  "the engagement file).", n=worker.name))  # fmt: skip
    return worker


def _minutes(ctx: Context, duration: Duration) -> int:
    minutes = duration.to_minutes(ctx.eng.hours_per_day)
    unit = ctx.eng.min_unit_minutes
    if minutes is None or minutes <= 0 or minutes % unit:
        raise UsageError(ctx.tr("时长必须大于 0 且是最小单位 {u}（{d} 人天）的整数倍，例如 1h、2h、半天、1天。",
                                "The duration must be above zero and a multiple of the minimum unit {u} "
                                "({d} person-day), e.g. 1h, 2h, 0.5d, 1d.",
                                u=_hours(unit), d=pd(ctx, unit)))  # fmt: skip
    limits.enforce(limits.check_entry(minutes, ctx.eng, ctx.locale))
    return minutes


def _hours(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours}h{rest}m" if rest and hours else (f"{rest}m" if rest else f"{hours}h")


def _work_date(ctx: Context, wanted: date | None, *, backdate_limit: bool) -> date:
    now_day = today(ctx)
    day = wanted or now_day
    if day > now_day:
        raise InvalidState(
            ctx.tr("不能为将来的日期（{d}）报工。", "No logging for a future date ({d}).", d=day)
        )
    if not ctx.eng.start_date <= day <= ctx.eng.end_date:
        raise InvalidState(ctx.tr("{d} 不在项目周期内（{s} → {e}）。", "{d} is outside the engagement ({s} → {e}).",
                                  d=day, s=ctx.eng.start_date, e=ctx.eng.end_date))  # fmt: skip
    if backdate_limit:
        policy: EngagementPolicy = ctx.policy
        days = policy.worklog.backdate_days
        earliest = budget.working_days_back(policy.calendar, now_day, days)
        if day < earliest:
            raise InvalidState(ctx.tr("最多补报 {n} 个工作日（最早 {e}）；更早的请项目经理调整（/报工 调整）。",
                                      "Work can be logged up to {n} working days back (from {e}); older work is "
                                      "an adjustment by the PM (/log adjust).", n=days, e=earliest))  # fmt: skip
    if periods.is_closed(ctx.session, ctx.eng_id, day):
        raise InvalidState(ctx.tr("{m} 已结算关闭，不能再记入；请记在当前月份并注明原因。",
                                  "{m} is closed; record corrections in the current month with a reason.",
                                  m=f"{day:%Y-%m}"))  # fmt: skip
    return day


def log_work(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, note=cmd.arg("note"))
    worker = _worker(ctx, cmd)
    minutes = _minutes(ctx, cmd.arg("duration"))
    day = _work_date(ctx, cmd.options.get("date"), backdate_limit=True)
    target = worktargets.resolve(ctx, cmd.arg("target"), cmd.options.get("svc"))
    overtime = cmd.options.get("ot") == "yes"
    total = day_total(ctx.session, ctx.eng_id, worker.id or 0, day) + minutes
    limits.enforce(limits.check_day(total, worker.name, day, ctx.locale))
    cap = ctx.eng.daily_cap_minutes
    if total > cap and not overtime:
        raise InvalidState(ctx.tr("{n} {d} 将合计 {t} 人天，超过每日上限 {c} 人天；如确为加班请加 ot=yes。",
                                  "That makes {t} person-days for {n} on {d}, over the daily cap of {c}; "
                                  "add ot=yes if it is overtime.", n=worker.name, d=day, t=pd(ctx, total),
                                  c=pd(ctx, cap)))  # fmt: skip
    note = (cmd.arg("note") or "").strip()
    entry = WorkLog(
        engagement_id=ctx.eng_id, person_id=worker.id or 0, level=worker.level or "", work_date=day,
        minutes=minutes, target_kind=target.kind, target_ref=target.ref, note=note, overtime=total > cap,
        created_by_id=ctx.person_id, created_at=ctx.now,
    )  # fmt: skip
    ctx.session.add(entry)
    ctx.session.flush()
    ctx.audit("worklog.logged", target.ref, entry=entry.id, person=worker.key, date=day.isoformat(),
              minutes=minutes, overtime=entry.overtime)  # fmt: skip
    position = next(p for p in budget.positions(ctx.session, ctx.eng) if p.level == worker.level)
    level = LEVELS[worker.level or "mid"].name(ctx.locale)
    ctx.reply(ctx.tr("✅ 已记录 {n} {d} {m} 人天 → {t}{note}\n当日合计 {total} 人天；计入{l}预算（已用 {u} / {c}）",
                     "✅ Logged {m} person-day(s) for {n} on {d} → {t}{note}\nDay total {total}; counts "
                     "against the {l} budget ({u} of {c} used)",
                     n=worker.name, d=day, m=pd(ctx, minutes), t=target.label, note=f"：{note}" if note else "",
                     total=pd(ctx, total), l=level, u=pd(ctx, position.used), c=pd(ctx, position.contracted)),
              "worklog.logged", target.ref)  # fmt: skip
    if entry.overtime:
        ctx.notify_roles({"vendor_pm"}, ctx.tr("⏱ {n} {d} 加班：当日合计 {t} 人天（{c}）", "⏱ {n} overtime on {d}: {t} person-days ({c})",
                                               n=worker.name, d=day, t=pd(ctx, total), c=ctx.eng.code),
                         "worklog.overtime", target.ref)  # fmt: skip
    budget.alert_crossings(ctx)


def undo(ctx: Context, cmd: Parsed) -> None:
    entry = ctx.session.execute(
        select(WorkLog).where(
            col(WorkLog.engagement_id) == ctx.eng.id, col(WorkLog.created_by_id) == ctx.person.id,
            col(WorkLog.kind) == "entry", col(WorkLog.voided_at).is_(None),
        ).order_by(col(WorkLog.id).desc()).limit(1)
    ).scalar_one_or_none()  # fmt: skip
    if entry is None:
        raise NotFound(ctx.tr("你没有可以撤销的报工。", "You have no work log to undo."))
    if ctx.now - entry.created_at > UNDO_WINDOW:
        raise InvalidState(ctx.tr("只能撤销 10 分钟内的最后一条；更正请项目经理调整（/报工 调整）。",
                                  "Only your last entry of the last 10 minutes can be undone; later corrections "
                                  "are adjustments by the PM (/log adjust)."))  # fmt: skip
    if periods.is_closed(ctx.session, ctx.eng_id, entry.work_date):
        raise InvalidState(
            ctx.tr(
                "{m} 已结算关闭，不能撤销。",
                "{m} is closed; the entry stays.",
                m=f"{entry.work_date:%Y-%m}",
            )
        )
    entry.voided_at = ctx.now
    ctx.session.add(entry)
    ctx.audit("worklog.undone", entry.target_ref, entry=entry.id, minutes=entry.minutes)
    ctx.reply(ctx.tr("↩️ 已撤销：{d} {m} 人天 → {t}", "↩️ Undone: {d}, {m} person-day(s) → {t}",
                     d=entry.work_date, m=pd(ctx, entry.minutes), t=entry.target_ref), "worklog.undone", entry.target_ref)  # fmt: skip


def adjust(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, reason=cmd.arg("reason"))
    worker = person_for(ctx, cmd.arg("who"))
    if worker.level not in LEVELS:
        raise InvalidState(
            ctx.tr("{n} 没有资源级别。", "{n} has no resource level.", n=worker.name)
        )
    raw: str = cmd.arg("delta")
    sign = -1 if raw[:1] in ("-", "－", "−") else 1
    duration = parse_duration(raw.lstrip("+-－−＋"))
    if duration is None:
        raise UsageError(
            ctx.tr(
                "“{r}”不是时长，例如 -2h、+0.5d。",
                "'{r}' is not a duration, e.g. -2h or +0.5d.",
                r=raw,
            )
        )
    minutes = sign * _minutes(ctx, duration)
    day = _work_date(ctx, cmd.options.get("date"), backdate_limit=False)
    target = worktargets.resolve(ctx, cmd.arg("target"), cmd.options.get("svc"))
    total = day_total(ctx.session, ctx.eng_id, worker.id or 0, day) + minutes
    if total < 0:
        raise InvalidState(ctx.tr("调整后 {n} {d} 的合计会小于 0。", "That would leave {n} below zero on {d}.",
                                  n=worker.name, d=day))  # fmt: skip
    limits.enforce(limits.check_day(total, worker.name, day, ctx.locale))
    reason = cmd.arg("reason").strip()
    entry = WorkLog(
        engagement_id=ctx.eng_id, person_id=worker.id or 0, level=worker.level or "", work_date=day,
        minutes=minutes, target_kind=target.kind, target_ref=target.ref, note=reason, kind="adjustment",
        created_by_id=ctx.person_id, created_at=ctx.now,
    )  # fmt: skip
    ctx.session.add(entry)
    ctx.session.flush()
    ctx.audit("worklog.adjusted", target.ref, entry=entry.id, person=worker.key, date=day.isoformat(),
              minutes=minutes, reason=reason)  # fmt: skip
    text = ctx.tr("🛠 调整 {n} {d} {s}{m} 人天 → {t}：{r}", "🛠 Adjustment for {n} on {d}: {s}{m} person-day(s) → {t}: {r}",
                  n=worker.name, d=day, s="+" if minutes > 0 else "-", m=pd(ctx, abs(minutes)), t=target.label, r=reason)  # fmt: skip
    ctx.reply(text, "worklog.adjusted", target.ref)
    ctx.notify(worker, f"{ctx.eng.code} {text}", "worklog.adjusted", target.ref)
    budget.alert_crossings(ctx)


def remind(run: Run) -> None:
    """On working days after the reminder time, engineers with nothing logged that day hear once."""
    run.each_engagement(_remind_engagement)


def _remind_engagement(ctx: Context) -> None:
    session, engagement = ctx.session, ctx.eng
    local = clock.local(ctx.now, engagement.timezone)
    policy = policy_of(engagement)
    reminder = policy.worklog.log_reminder
    day = local.date()
    if local.time() < reminder or not engagement.start_date <= day <= engagement.end_date:
        return
    if not policy.calendar.is_working_day(day):
        return
    logged = set(session.execute(
        select(col(WorkLog.person_id)).where(col(WorkLog.engagement_id) == engagement.id,
                                             col(WorkLog.work_date) == day, col(WorkLog.voided_at).is_(None))
    ).scalars())  # fmt: skip
    for person in notify.people_with_roles(session, engagement.id or 0, {"engineer"}):
        if person.id in logged:
            continue
        text = tr(engagement.locale, "📝 {c}：{d} 还没有报工。发送 /报工 时长 对象 说明，例如 /报工 1天 svc=ops_monitoring 日常巡检",
                  "📝 {c}: nothing logged for {d} yet. Send /log DURATION TARGET NOTE, e.g. /log 1d svc=ops_monitoring daily checks",
                  c=engagement.code, d=day)  # fmt: skip
        ctx.notify(person, text, "worklog.reminder",
                   dedupe_key=f"worklog:{engagement.code}:reminder:{day}")  # fmt: skip


_TARGET = Arg(
    "target", "ref", ("T-n|K-n|CR-n", "T-n|K-n|CR-n"), required=False, prefixes=("T", "K", "CR")
)
_SVC = Option("svc", "word", ("服务", "SERVICE"), aliases=("服务",))
_DATE = Option("date", "date", ("日期", "YYYY-MM-DD"), aliases=("日期",))

COMMANDS = [
    Command("log", ("报工",), ("记录工作人天", "log person-days of work"), log_work, roles=LOGGERS,
            args=(Arg("duration", "duration", ("时长", "DURATION")), _TARGET, Arg("note", "text", ("说明", "NOTE"), required=False)),
            options=(_SVC, _DATE, Option("ot", "choice", ("yes", "yes"), aliases=("加班",), choices=YES),
                     Option("for", "person", ("@某人", "@PERSON"), aliases=("代",))),
            example="/报工 4h T-7 排查慢查询", example_en="/log 4h T-7 slow query analysis"),
    Command("log undo", ("报工 撤销", "撤销报工"), ("撤销 10 分钟内的最后一条报工", "undo your last entry of the last 10 minutes"),
            undo, roles=LOGGERS, example="/报工 撤销", example_en="/log undo"),
    Command("log adjust", ("报工 调整",), ("项目经理调整工时（需注明原因）", "the PM's correction, with a reason"), adjust,
            roles=frozenset({"vendor_pm"}),
            args=(Arg("who", "person", ("@工程师", "@ENGINEER")), Arg("delta", "word", ("±时长", "±DURATION")), _TARGET,
                  Arg("reason", "text", ("原因", "REASON"))),
            options=(_SVC, _DATE),
            example="/报工 调整 @zhaogang -2h T-7 date=2026-11-20 重复记录",
            example_en="/log adjust @zhaogang -2h T-7 date=2026-11-20 logged twice", needs=SIGNING),
]  # fmt: skip

JOBS = [Job("worklog.reminder", timedelta(minutes=5), remind, "remind engineers with no log today")]
