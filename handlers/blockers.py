"""/block, /unblock, /blockers (/阻塞 /解除 /阻塞列表): blockers (阻塞问题, B-n) such as environment
access waiting on the client, their age in working hours, and the job that escalates the ones
left open: the client approver and the customer manager first, then the delivery director."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from base.errors import InvalidState, NotFound, PermissionDenied, UsageError
from bot import notify
from bot.commands import Parsed, Ref
from bot.context import Context
from bot.durations import format_span
from bot.message import Target
from bot.scheduler import Run
from bot.sweep import BATCH, due_ids
from bot.sweep import sweep as sweep_due
from domain.lifecycles.blockers import BLOCKER, OWNER, RECORDER, escalation_due, hears, state_of
from domain.policy import policy_of
from domain.workcalendar import WorkCalendar
from handlers import blocker_text as text
from handlers import limits
from handlers.scope import find_task
from handlers.ticket_text import when
from handlers.tickets import person_for
from storage.counters import next_number
from storage.models import Blocker, Engagement, Person, Task

# -- pure rules -------------------------------------------------------------------------------


def age_minutes(blocker: Blocker, calendar: WorkCalendar, now: datetime) -> int:
    """Working minutes the blocker has been (or was) open: until cleared, else until `now`."""
    return calendar.between(blocker.opened_at, blocker.cleared_at or now)


def steps_of(engagement: Engagement) -> list[int]:
    """The escalation ladder in working minutes (`blocker_escalation_hours`)."""
    return list(policy_of(engagement).blocker_escalation_minutes)


# -- lookups ----------------------------------------------------------------------------------


def find(ctx: Context, ref: Ref) -> Blocker:
    """This engagement's blocker `ref`; NotFound (never another engagement's) otherwise."""
    query = select(Blocker).where(
        col(Blocker.engagement_id) == ctx.eng.id, col(Blocker.number) == ref.number
    )
    blocker: Blocker | None = ctx.session.execute(query).scalar_one_or_none()
    if blocker is None:
        raise NotFound(text.not_found(ref, ctx.locale))
    return blocker


def open_blockers(session: Session, engagement_id: int) -> list[Blocker]:
    """Blockers not cleared yet, oldest first."""
    still_open = col(Blocker.cleared_at).is_(None)
    query = select(Blocker).where(col(Blocker.engagement_id) == engagement_id, still_open)
    oldest_first = query.order_by(col(Blocker.opened_at), col(Blocker.number))
    return list(session.execute(oldest_first).scalars())


def _people(session: Session, engagement_id: int) -> dict[int, Person]:
    query = select(Person).where(col(Person.engagement_id) == engagement_id)
    rows = session.execute(query).scalars()
    return {p.id or 0: p for p in rows}


def _name_of(people: dict[int, Person], key: str) -> str:
    return next((p.name for p in people.values() if p.key == key), key)


def _default_owner(session: Session, engagement_id: int) -> Person | None:
    """The first client coordinator (by id), else the first client approver."""
    for role in ("client_coordinator", "client_approver"):
        found = notify.people_with_roles(session, engagement_id, {role})
        if found:
            return found[0]
    return None


# -- /block -----------------------------------------------------------------------------------


def block(ctx: Context, cmd: Parsed) -> None:
    description: str = cmd.arg("description").strip()
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, description=description)
    mention = cmd.options.get("owner")
    owner = person_for(ctx, mention) if mention else _default_owner(ctx.session, ctx.eng_id)
    task = _task(ctx, cmd.options.get("task"))
    assert ctx.actor is not None and ctx.inbound is not None
    steps = steps_of(ctx.eng)
    blocker = Blocker(
        engagement_id=ctx.eng_id, number=next_number(ctx.session, ctx.eng_id, "B"),
        description=description, owner_id=owner.id if owner else None,
        task_id=task.id if task else None, opened_by=ctx.actor.key, opened_at=ctx.now,
        next_check_at=_calendar(ctx.eng).add(ctx.now, steps[0]) if steps else None,
        channel=ctx.inbound.channel, chat_id=ctx.inbound.chat_id,
    )  # fmt: skip
    ctx.session.add(blocker)
    ctx.session.flush()
    ctx.audit("blocker.opened", blocker.ref, description=description,
              owner=owner.key if owner else None, task=task.ref if task else None)  # fmt: skip
    on_task = text.on_task(task, ctx.locale)
    hours = steps[0] // 60 if steps else None
    ctx.reply(text.opened(blocker.ref, description, owner.name if owner else "—", on_task, hours,
                          ctx.locale), "blocker.opened", blocker.ref)  # fmt: skip
    if owner is not None and owner.id != (ctx.actor.person.id if ctx.actor.person else None):
        notice = text.owner_notice(ctx.eng.code, blocker.ref, description, ctx.actor.name, on_task,
                                   ctx.locale)  # fmt: skip
        ctx.notify(owner, notice, "blocker.opened", blocker.ref)


def _task(ctx: Context, ref: Ref | None) -> Task | None:
    if ref is None:
        return None
    if ref.prefix != "K":
        raise UsageError(text.not_a_task(ref, ctx.locale))
    return find_task(ctx, ref)


def _who(ctx: Context, blocker: Blocker) -> frozenset[str]:
    """Who is acting, as the life cycle names them: roles, party, `owner`, `recorder`."""
    assert ctx.actor is not None
    actor, extra = ctx.actor, set()
    if actor.person is not None and actor.person.id == blocker.owner_id:
        extra.add(OWNER)
    if actor.key == blocker.opened_by:
        extra.add(RECORDER)
    return actor.who | extra


def _calendar(engagement: Engagement) -> WorkCalendar:
    return policy_of(engagement).calendar


# -- /unblock ---------------------------------------------------------------------------------


def unblock(ctx: Context, cmd: Parsed) -> None:
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, note=cmd.arg("note"))
    blocker = find(ctx, cmd.arg("blocker"))
    actor = ctx.actor
    assert actor is not None
    step = BLOCKER.step(state_of(blocker.cleared_at is not None), "clear", _who(ctx, blocker))
    if step.reason == "wrong_state":
        assert blocker.cleared_at is not None  # the one state `clear` does not fit
        name = _name_of(_people(ctx.session, ctx.eng_id), blocker.cleared_by)
        raise InvalidState(
            text.already_cleared(blocker.ref, ctx.when(blocker.cleared_at), name, ctx.locale)
        )
    if not step.allowed:
        raise PermissionDenied(text.may_not_clear(blocker.ref, ctx.locale))
    note = cmd.arg("note").strip()
    blocker.cleared_at, blocker.cleared_by, blocker.note = ctx.now, actor.key, note
    blocker.next_check_at = None
    ctx.session.add(blocker)
    minutes = age_minutes(blocker, _calendar(ctx.eng), ctx.now)
    ctx.audit("blocker.cleared", blocker.ref, note=note, minutes=minutes)
    span = format_span(minutes, ctx.locale)
    ctx.reply(text.cleared(blocker.ref, span, note, ctx.locale), "blocker.cleared", blocker.ref)


# -- /blockers and the summaries for /status and reports --------------------------------------


def list_blockers(ctx: Context, cmd: Parsed) -> None:
    blockers = open_blockers(ctx.session, ctx.eng_id)
    if not blockers:
        ctx.reply(text.list_none(ctx.locale), "blockers.list")
        return
    people, calendar = _people(ctx.session, ctx.eng_id), _calendar(ctx.eng)
    lines = [text.list_head(len(blockers), ctx.locale)]
    for blocker in blockers:
        task = ctx.session.get(Task, blocker.task_id) if blocker.task_id else None
        line = _line(blocker, people, age_minutes(blocker, calendar, ctx.now), ctx.locale)
        lines.append(text.list_line(line, task))
    ctx.reply("\n".join(lines), "blockers.list")


def _line(blocker: Blocker, people: dict[int, Person], age: int, locale: str) -> str:
    owner = people[blocker.owner_id].name if blocker.owner_id in people else "—"
    return text.blocker_line(blocker, owner, age, locale)


def summary_lines(
    session: Session, engagement: Engagement, now: datetime, locale: str
) -> list[str]:
    """One line per open blocker, oldest first (`B-2 环境访问延迟 · 陈静 · 已 30 小时`)."""
    blockers = open_blockers(session, engagement.id or 0)
    people, calendar = _people(session, engagement.id or 0), _calendar(engagement)
    return [_line(b, people, age_minutes(b, calendar, now), locale) for b in blockers]


def time_lost_by_task(session: Session, engagement: Engagement, now: datetime) -> dict[str, int]:
    """Working minutes each task (`K-n`) lost to blockers owned by the client, open or cleared."""
    rows = session.execute(
        select(Blocker, Task)
        .join(Task, col(Task.id) == col(Blocker.task_id))
        .join(Person, col(Person.id) == col(Blocker.owner_id))
        .where(col(Blocker.engagement_id) == engagement.id, col(Person.party) == "client")
    ).all()
    calendar = _calendar(engagement)
    lost: dict[str, int] = {}
    for blocker, task in rows:
        lost[task.ref] = lost.get(task.ref, 0) + age_minutes(blocker, calendar, now)
    return lost


# -- the escalation job -----------------------------------------------------------------------


def escalate(run: Run) -> None:
    """Escalate every blocker whose `next_check_at` has come, each in a transaction of its own."""
    sweep_due(run, Blocker, col(Blocker.next_check_at), _check)


def due_blockers(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Ids of the blockers due at `now`: the one indexed query of the job
    (ix_blocker_next_check_at)."""
    return [i for _, i in due_ids(session, Blocker, col(Blocker.next_check_at), now, limit=limit)]


def _check(ctx: Context, blocker: Blocker) -> None:
    state = state_of(blocker.cleared_at is not None)
    if not BLOCKER.step(state, "escalate", ctx.actor.who if ctx.actor else ()).allowed:
        blocker.next_check_at = None  # cleared: it never escalates
        ctx.session.add(blocker)
        return
    calendar = _calendar(ctx.eng)
    age = age_minutes(blocker, calendar, ctx.now)
    due, upcoming = escalation_due(steps_of(ctx.eng), blocker.escalations, age)
    for step in due:
        _send(ctx, blocker, step, age)
    blocker.escalations = [*blocker.escalations, *(f"step{n}" for n in due)]
    blocker.next_check_at = None if upcoming is None else calendar.add(blocker.opened_at, upcoming)
    ctx.session.add(blocker)


def _send(ctx: Context, blocker: Blocker, step: int, age: int) -> None:
    people = _people(ctx.session, ctx.eng_id)
    owner = people[blocker.owner_id].name if blocker.owner_id in people else "—"
    recorded = when(blocker.opened_at, ctx.eng.timezone)
    message = text.escalation(step, blocker, owner, recorded, format_span(age, ctx.locale),
                              ctx.locale)  # fmt: skip
    key = f"blocker:{ctx.eng.code}:{blocker.ref}:step{step}"
    ctx.notify_roles(set(hears(step)), f"{ctx.eng.code} {message}", "blocker.escalated",
                     blocker.ref, key)  # fmt: skip
    target = Target.of(blocker)
    if target is not None:
        ctx.post(target, message, "blocker.escalated", blocker.ref, key)
