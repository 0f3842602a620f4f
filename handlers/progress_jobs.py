"""Progress posted by the scheduler, and the commands around it: the daily sync in every bound
chat, the weekly report on the week's last working day, the customer manager's morning digest;
/sync (/同步) per chat and /report week (/周报) on demand.

Each post is once per engagement, chat and period (dedupe keys with the date), even when
`tick` runs twice or two instances run; one missed while the bot was down goes out when it is
back, marked late, once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from base.errors import InvalidState, UsageError
from bot import clock, notify
from bot.commands import Parsed
from bot.context import Context, anchor_line
from bot.i18n import tr
from bot.message import Target
from bot.scheduler import Run
from domain.policy import policy_of
from domain.workcalendar import BusinessCalendar
from handlers import limits, progress, progress_text, progress_weekly
from storage import audit, outbox
from storage.models import ChatBinding, Engagement, OutboxMessage

LATE_AFTER = timedelta(minutes=30)
DIGEST_KINDS = ("sla.breach", "sla.escalation", "budget.alert")


def due_day(calendar: BusinessCalendar, now_local: datetime, at: time) -> date:
    """The working day whose post is due: today once `at` has passed, else the last one before."""
    day = now_local.date()
    if calendar.is_working_day(day) and now_local.time() >= at:
        return day
    day -= timedelta(days=1)
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return day


def is_late(day: date, at: time, now_local: datetime) -> bool:
    return now_local.replace(tzinfo=None) > datetime.combine(day, at) + LATE_AFTER


def last_working_day_of_week(calendar: BusinessCalendar, day: date) -> bool:
    sunday = day + timedelta(days=6 - day.weekday())
    following = day + timedelta(days=1)
    while following <= sunday:
        if calendar.is_working_day(following):
            return False
        following += timedelta(days=1)
    return calendar.is_working_day(day)


def _posted(session: Session, key: str) -> bool:
    return (
        session.execute(
            select(col(OutboxMessage.id)).where(col(OutboxMessage.dedupe_key) == key)
        ).first()
        is not None
    )


def _chat_slots(ctx: Context) -> list[tuple[ChatBinding, BusinessCalendar, datetime, time]]:
    """The engagement's chats with a daily sync, each with the calendar, the local time now and
    the chat's sync time."""
    engagement, slots = ctx.eng, []
    policy = policy_of(engagement)
    calendar, default = policy.calendar, policy.sync_times.daily
    now_local = clock.local(ctx.now, engagement.timezone)
    bindings = ctx.session.execute(
        select(ChatBinding).where(
            col(ChatBinding.engagement_id) == engagement.id, col(ChatBinding.sync_enabled)
        )
    ).scalars()
    for binding in bindings:
        at = time.fromisoformat(binding.sync_time) if binding.sync_time else default
        slots.append((binding, calendar, now_local, at))
    return slots


def post_syncs(run: Run) -> None:
    run.each_engagement(_post_syncs)


def _post_syncs(ctx: Context) -> None:
    session, engagement = ctx.session, ctx.eng
    for binding, calendar, now_local, at in _chat_slots(ctx):
        day = due_day(calendar, now_local, at)
        bound_on = clock.local(binding.bound_at, engagement.timezone).date()
        if not engagement.start_date <= day <= engagement.end_date or day < bound_on:
            continue
        base = f"progress:{engagement.code}:{day}"
        if _posted(session, f"{base}:{binding.channel}:{binding.chat_id}"):
            continue
        sync = progress.daily(session, engagement, day, ctx.now)
        late = is_late(day, at, now_local)
        if late:
            sync = replace(sync, late=True)
        text = progress_text.daily_text(sync, engagement.locale) + _anchor(session, engagement)
        ctx.post(Target(binding.channel, binding.chat_id), text, "progress.sync", str(day), base)


def _anchor(session: Session, engagement: Engagement) -> str:
    """The sync's last line: the anchor of the engagement's last audit entry, so the client's
    chat keeps where the chain stood each day (see storage.audit)."""
    entry = audit.head(session, engagement.id)
    return "" if entry is None else "\n" + anchor_line(audit.Anchor.of(entry), engagement.locale)


def post_weekly(run: Run) -> None:
    run.each_engagement(_post_weekly)


def _post_weekly(ctx: Context) -> None:
    session, engagement = ctx.session, ctx.eng
    for binding, calendar, now_local, at in _chat_slots(ctx):
        day = due_day(calendar, now_local, at)
        if (
            not last_working_day_of_week(calendar, day)
            or not engagement.start_date <= day <= engagement.end_date
        ):
            continue
        if day < clock.local(binding.bound_at, engagement.timezone).date():
            continue
        label, _, _ = progress_weekly.week_of(day)
        base = f"weekly:{engagement.code}:{label}"
        if _posted(session, f"{base}:{binding.channel}:{binding.chat_id}"):
            continue
        report = progress_weekly.weekly(session, engagement, label, ctx.now)
        if is_late(day, at, now_local):
            report = replace(report, late=True)
        ctx.post(Target(binding.channel, binding.chat_id),
                 _weekly_text(session, engagement, report, engagement.locale, day), "progress.weekly",
                 label, base)  # fmt: skip


def _weekly_text(session: Session, engagement: Engagement, report: progress_weekly.WeeklyReport,
                 locale: str, today: date) -> str:  # fmt: skip
    """The weekly report, then where the SOW's recurring obligations stand."""
    from handlers import obligations

    lines = obligations.summary_lines(session, engagement, today, locale)
    return "\n".join([progress_text.weekly_text(report, locale), *lines])


def post_digests(run: Run) -> None:
    """One direct message per customer manager (per address), across all their engagements."""
    with run.context() as ctx:
        session, channels = ctx.session, ctx.vocabulary.channels
        groups: dict[tuple[str, str], list[tuple[Engagement, str]]] = {}
        for engagement in session.execute(select(Engagement)).scalars():
            policy = policy_of(engagement)
            now_local = clock.local(run.now, engagement.timezone)
            if not policy.calendar.is_working_day(now_local.date()):
                continue
            if now_local.time() < policy.sync_times.digest:
                continue
            preferred = [c.channel for c in notify.bound_chats(session, engagement.id or 0)]
            for person in notify.people_with_roles(
                session, engagement.id or 0, {"customer_manager"}
            ):
                direct = notify.direct_address(session, person, [*preferred, *channels])
                if direct is not None:
                    groups.setdefault(direct, []).append((engagement, person.key))
        for (channel, address), engagements in groups.items():
            _digest(session, channel, address, engagements, run.now)


def _digest(
    session: Session,
    channel: str,
    address: str,
    engagements: list[tuple[Engagement, str]],
    now: datetime,
) -> None:
    first, person_key = engagements[0]
    day = clock.local(now, first.timezone).date()
    key = f"digest:{channel}:{address}:{day}"
    if _posted(session, key):
        return
    codes = {e.id: e.code for e, _ in engagements}
    rows = session.execute(
        select(OutboxMessage).where(col(OutboxMessage.kind).in_(DIGEST_KINDS),
                                    col(OutboxMessage.created_at) >= now - timedelta(days=1),
                                    col(OutboxMessage.engagement_id).in_(list(codes)))
        .order_by(col(OutboxMessage.id))
    ).scalars()  # fmt: skip
    seen: dict[tuple[str, str, str], str] = {}
    for row in rows:
        seen.setdefault((codes.get(row.engagement_id, "?"), row.kind, row.ref), row.text)
    locale = first.locale
    head = tr(
        locale,
        "☀️ 早报 {d}：过去一天的超时、升级和预算告警",
        "☀️ Morning digest {d}: breaches, escalations and budget alerts of the last day",
        d=day,
    )
    from handlers import obligations

    duties = [f"· [{e.code}] {line}" for e, _ in engagements
              for line in obligations.summary_lines(session, e, day, locale)]  # fmt: skip
    if not seen and not duties:
        text = head + tr(locale, "——无。", ": none.")
    else:
        lines = [head]
        for (code, kind, ref), message in seen.items():
            label = {"sla.breach": tr(locale, "超时", "breach"), "sla.escalation": tr(locale, "升级", "escalation"),
                     "budget.alert": tr(locale, "预算", "budget")}[kind]  # fmt: skip
            lines.append(f"· [{code}] {label} {ref}: {message.splitlines()[0][:120]}")
        text = "\n".join([*lines, *duties])
    outbox.enqueue(session, now=now, channel=channel, recipient_type="person", recipient=person_key, address=address,
                   kind="progress.digest", ref=str(day), text=text, engagement_id=first.id, dedupe_key=key)  # fmt: skip


# -- commands ---------------------------------------------------------------------------------


def sync_command(ctx: Context, cmd: Parsed) -> None:
    assert ctx.inbound is not None
    binding = ctx.session.execute(
        select(ChatBinding).where(
            col(ChatBinding.channel) == ctx.inbound.channel,
            col(ChatBinding.chat_id) == ctx.inbound.chat_id,
        )
    ).scalar_one_or_none()
    if binding is None:
        raise InvalidState(
            ctx.tr("同步设置针对已绑定的群。", "Sync settings belong to a bound group chat.")
        )
    action, value = cmd.arg("action"), cmd.arg("value")
    if action == "time":
        try:
            at = time.fromisoformat(value or "")
        except ValueError:
            raise UsageError(
                ctx.tr(
                    "时间写成 HH:MM，例如 /同步 时间 18:00",
                    "Write the time as HH:MM, e.g. /sync time 18:00",
                )
            ) from None
        binding.sync_time, binding.sync_enabled = f"{at:%H:%M}", True
        text = ctx.tr(
            "🕔 本群的进度同步改为每个工作日 {t}。",
            "🕔 This chat's progress sync now posts at {t} on working days.",
            t=f"{at:%H:%M}",
        )
    else:
        binding.sync_enabled = action == "on"
        text = (ctx.tr("▶️ 本群的每日进度同步已开启。", "▶️ The daily progress sync is on for this chat.") if binding.sync_enabled
                else ctx.tr("⏸ 本群的每日进度同步已暂停（/同步 开启 恢复）。", "⏸ The daily progress sync is paused for this chat (/sync on to resume)."))  # fmt: skip
    ctx.session.add(binding)
    ctx.audit(
        "sync.settings", binding.chat_id, enabled=binding.sync_enabled, time=binding.sync_time
    )
    ctx.reply(text, "sync.settings")


def report_command(ctx: Context, cmd: Parsed) -> None:
    word = cmd.arg("week")
    if word is None:
        label, monday, _ = progress_weekly.week_of(clock.local(ctx.now, ctx.eng.timezone).date())
    else:
        week = progress_weekly.parse_week(word)
        if week is None:
            raise UsageError(ctx.tr("周写成 YYYY-Www，例如 2026-W48。",
                                    "Write the week as YYYY-Www, e.g. 2026-W48."))  # fmt: skip
        label, monday = week
    limits.enforce(limits.check_week(monday, ctx.eng, ctx.locale))
    report = progress_weekly.weekly(ctx.session, ctx.eng, label, ctx.now)
    today = clock.local(ctx.now, ctx.eng.timezone).date()
    ctx.reply(_weekly_text(ctx.session, ctx.eng, report, ctx.locale, today), "progress.weekly", label)
