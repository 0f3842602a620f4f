"""/log (/报工): engineers log person-days against a written, in-scope target; `/log undo`
takes back a fresh mistake; `/log adjust` is the PM's correction with a reason. Entries are
never edited. A reminder job nudges engineers with nothing logged on a working day."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, insert, select
from sqlmodel import Session, col

from base.errors import InvalidState, NotFound, PermissionDenied, UsageError
from bot import clock, notify
from bot.commands import Parsed
from bot.context import Context
from bot.durations import Duration, format_person_days, parse_duration
from bot.scheduler import Run
from domain.catalog import LEVELS
from domain.policy import EngagementPolicy, policy_of
from handlers import budget, limits, periods, worktargets
from handlers import worklog_text as text
from handlers.tickets import person_for
from storage.models import Person, WorkLog

_WORKLOG = WorkLog.__table__  # type: ignore[attr-defined]
# An entry is written once and never edited: one INSERT … RETURNING, built once (a statement
# built per call, or an instance flushed, costs more than the database takes to write it).
_INSERT_ENTRY = insert(_WORKLOG).returning(_WORKLOG.c.id)
UNDO_WINDOW = timedelta(minutes=10)


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
        raise PermissionDenied(text.pm_only_for_others(ctx.locale))
    else:
        worker = person_for(ctx, mention)
    if worker.level not in LEVELS:
        raise InvalidState(text.no_level(worker.name, ctx.locale))
    return worker


def _minutes(ctx: Context, duration: Duration) -> int:
    minutes = duration.to_minutes(ctx.eng.hours_per_day)
    unit = ctx.eng.min_unit_minutes
    if minutes is None or minutes <= 0 or minutes % unit:
        raise UsageError(text.bad_duration(unit, pd(ctx, unit), ctx.locale))
    limits.enforce(limits.check_entry(minutes, ctx.eng, ctx.locale))
    return minutes


def _work_date(ctx: Context, wanted: date | None, *, backdate_limit: bool) -> date:
    now_day = today(ctx)
    day = wanted or now_day
    if day > now_day:
        raise InvalidState(text.future_date(day, ctx.locale))
    if not ctx.eng.start_date <= day <= ctx.eng.end_date:
        raise InvalidState(
            text.outside_engagement(day, ctx.eng.start_date, ctx.eng.end_date, ctx.locale)
        )
    if backdate_limit:
        policy: EngagementPolicy = ctx.policy
        days = policy.worklog.backdate_days
        earliest = budget.working_days_back(policy.calendar, now_day, days)
        if day < earliest:
            raise InvalidState(text.too_far_back(days, earliest, ctx.locale))
    if periods.is_closed(ctx.session, ctx.eng_id, day):
        raise InvalidState(text.month_closed(day, ctx.locale))
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
        raise InvalidState(
            text.over_cap(worker.name, day, pd(ctx, total), pd(ctx, cap), ctx.locale)
        )
    note = (cmd.arg("note") or "").strip()
    overtime = total > cap
    entry_id = ctx.session.execute(_INSERT_ENTRY, dict(
        engagement_id=ctx.eng_id, person_id=worker.id or 0, level=worker.level or "", work_date=day,
        minutes=minutes, target_kind=target.kind, target_ref=target.ref, note=note, overtime=overtime,
        kind="entry", created_by_id=ctx.person_id, created_at=ctx.now, voided_at=None,
    )).scalar_one()  # fmt: skip
    ctx.audit("worklog.logged", target.ref, entry=entry_id, person=worker.key, date=day.isoformat(),
              minutes=minutes, overtime=overtime)  # fmt: skip
    position = next(p for p in budget.positions(ctx.session, ctx.eng) if p.level == worker.level)
    level = LEVELS[worker.level or "mid"].name(ctx.locale)
    ctx.reply(text.logged(worker.name, day, pd(ctx, minutes), target.label, note, pd(ctx, total), level,
                          pd(ctx, position.used), pd(ctx, position.contracted), ctx.locale),
              "worklog.logged", target.ref)  # fmt: skip
    if overtime:
        notice = text.overtime(worker.name, day, pd(ctx, total), ctx.eng.code, ctx.locale)
        ctx.notify_roles({"vendor_pm"}, notice, "worklog.overtime", target.ref)
    budget.alert_crossings(ctx)


def undo(ctx: Context, cmd: Parsed) -> None:
    entry = ctx.session.execute(
        select(WorkLog).where(
            col(WorkLog.engagement_id) == ctx.eng.id, col(WorkLog.created_by_id) == ctx.person.id,
            col(WorkLog.kind) == "entry", col(WorkLog.voided_at).is_(None),
        ).order_by(col(WorkLog.id).desc()).limit(1)
    ).scalar_one_or_none()  # fmt: skip
    if entry is None:
        raise NotFound(text.nothing_to_undo(ctx.locale))
    if ctx.now - entry.created_at > UNDO_WINDOW:
        raise InvalidState(text.undo_too_late(ctx.locale))
    if periods.is_closed(ctx.session, ctx.eng_id, entry.work_date):
        raise InvalidState(text.closed_no_undo(entry.work_date, ctx.locale))
    entry.voided_at = ctx.now
    ctx.session.add(entry)
    ctx.audit("worklog.undone", entry.target_ref, entry=entry.id, minutes=entry.minutes)
    reply = text.undone(entry.work_date, pd(ctx, entry.minutes), entry.target_ref, ctx.locale)
    ctx.reply(reply, "worklog.undone", entry.target_ref)


def adjust(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, reason=cmd.arg("reason"))
    worker = person_for(ctx, cmd.arg("who"))
    if worker.level not in LEVELS:
        raise InvalidState(text.no_level_short(worker.name, ctx.locale))
    raw: str = cmd.arg("delta")
    sign = -1 if raw[:1] in ("-", "－", "−") else 1
    duration = parse_duration(raw.lstrip("+-－−＋"))
    if duration is None:
        raise UsageError(text.not_a_duration(raw, ctx.locale))
    minutes = sign * _minutes(ctx, duration)
    day = _work_date(ctx, cmd.options.get("date"), backdate_limit=False)
    target = worktargets.resolve(ctx, cmd.arg("target"), cmd.options.get("svc"))
    total = day_total(ctx.session, ctx.eng_id, worker.id or 0, day) + minutes
    if total < 0:
        raise InvalidState(text.below_zero(worker.name, day, ctx.locale))
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
    reply = text.adjusted(worker.name, day, minutes, pd(ctx, abs(minutes)), target.label, reason,
                          ctx.locale)  # fmt: skip
    ctx.reply(reply, "worklog.adjusted", target.ref)
    ctx.notify(worker, f"{ctx.eng.code} {reply}", "worklog.adjusted", target.ref)
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
        ctx.notify(person, text.reminder(engagement.code, day, engagement.locale), "worklog.reminder",
                   dedupe_key=f"worklog:{engagement.code}:reminder:{day}")  # fmt: skip
