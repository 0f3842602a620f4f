"""/block, /unblock, /blockers (/阻塞 /解除 /阻塞列表): blockers (阻塞问题, B-n) such as environment
access waiting on the client, their age in working hours, and the job that escalates the ones
left open: the client approver and the customer manager first, then the delivery director."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from bot import notify
from bot.commands import Arg, Command, Option, Parsed, Ref
from bot.context import Context
from bot.durations import format_span
from bot.errors import InvalidState, NotFound, PermissionDenied, UsageError
from bot.i18n import tr
from bot.message import Target
from bot.scheduler import Job, Run
from bot.sweep import BATCH, due_ids
from bot.sweep import sweep as sweep_due
from domain.catalog import EITHER_PARTY
from domain.lifecycles.blockers import BLOCKER, OWNER, RECORDER, escalation_due, hears, state_of
from domain.policy import policy_of
from domain.workcalendar import WorkCalendar
from handlers import limits
from handlers.scope import find_task
from handlers.ticket_text import when
from handlers.tickets import person_for
from storage.counters import next_number
from storage.models import Blocker, Engagement, Person, Task

_SUMMARY_WIDTH = 30


# -- pure rules -------------------------------------------------------------------------------


def age_minutes(blocker: Blocker, calendar: WorkCalendar, now: datetime) -> int:
    """Working minutes the blocker has been (or was) open: until cleared, else until `now`."""
    return calendar.between(blocker.opened_at, blocker.cleared_at or now)


def steps_of(engagement: Engagement) -> list[int]:
    """The escalation ladder in working minutes (`blocker_escalation_hours`)."""
    return list(policy_of(engagement).blocker_escalation_minutes)


def _age_text(minutes: int, locale: str) -> str:
    if minutes < 60:
        return tr(locale, "已 {m} 分钟", "open {m} min", m=minutes)
    return tr(locale, "已 {h} 小时", "open {h} h", h=minutes // 60)


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _SUMMARY_WIDTH else line[: _SUMMARY_WIDTH - 1] + "…"


# -- lookups ----------------------------------------------------------------------------------


def find(ctx: Context, ref: Ref) -> Blocker:
    """This engagement's blocker `ref`; NotFound (never another engagement's) otherwise."""
    query = select(Blocker).where(
        col(Blocker.engagement_id) == ctx.eng.id, col(Blocker.number) == ref.number
    )
    blocker: Blocker | None = ctx.session.execute(query).scalar_one_or_none()
    if blocker is None:
        raise NotFound(ctx.tr("没有阻塞 {r}。发送 /阻塞列表 查看未解除的阻塞。",
                              "There is no blocker {r}. Send /blockers to list the open ones.", r=ref))  # fmt: skip
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
    owner_name = owner.name if owner else "—"
    on_task = (
        ctx.tr("，影响 {r} {t}", ", holding up {r} {t}", r=task.ref, t=task.title) if task else ""
    )
    lines = [ctx.tr("🚧 已登记阻塞 {r}：{d}", "🚧 Blocker {r} recorded: {d}", r=blocker.ref, d=description),
             ctx.tr("负责人 {o}{k}。", "Owner {o}{k}.", o=owner_name, k=on_task)]  # fmt: skip
    if steps:
        lines.append(ctx.tr("{h} 个工作小时内未解除将升级。解除后请发送 /解除 {r} 说明",
                            "It is escalated if not cleared within {h} working hours. "
                            "Clear it with /unblock {r} NOTE", h=steps[0] // 60, r=blocker.ref))  # fmt: skip
    ctx.reply("\n".join(lines), "blocker.opened", blocker.ref)
    if owner is not None and owner.id != (ctx.actor.person.id if ctx.actor.person else None):
        ctx.notify(owner, ctx.tr("🚧 {c} 阻塞 {r} 需要你处理：{d}（{n} 登记{k}）。解除后请发送 /解除 {r} 说明",
                                 "🚧 {c}: blocker {r} is yours to clear: {d} (recorded by {n}{k}). "
                                 "Send /unblock {r} NOTE once it is cleared.", c=ctx.eng.code,
                                 r=blocker.ref, d=description, n=ctx.actor.name, k=on_task),
                   "blocker.opened", blocker.ref)  # fmt: skip


def _task(ctx: Context, ref: Ref | None) -> Task | None:
    if ref is None:
        return None
    if ref.prefix != "K":
        raise UsageError(ctx.tr("task= 只能是任务号 K-n，不是 {r}。例如：/阻塞 \"等待测试库账号\" task=K-1",
                                "task= takes a task K-n, not {r}. Example: /block \"waiting for a test DB "
                                "account\" task=K-1", r=ref))  # fmt: skip
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
        raise InvalidState(ctx.tr("{r} 已于 {t} 由 {n} 解除。", "{r} was cleared by {n} at {t}.",
                                  r=blocker.ref, t=ctx.when(blocker.cleared_at), n=name))  # fmt: skip
    if not step.allowed:
        raise PermissionDenied(ctx.tr("只有 {r} 的负责人、登记人、甲方协调人或项目经理可以解除它。",
                                      "Only {r}'s owner, whoever recorded it, a client coordinator or "
                                      "the vendor PM may clear it.", r=blocker.ref))  # fmt: skip
    note = cmd.arg("note").strip()
    blocker.cleared_at, blocker.cleared_by, blocker.note = ctx.now, actor.key, note
    blocker.next_check_at = None
    ctx.session.add(blocker)
    minutes = age_minutes(blocker, _calendar(ctx.eng), ctx.now)
    ctx.audit("blocker.cleared", blocker.ref, note=note, minutes=minutes)
    ctx.reply(ctx.tr("✅ 阻塞 {r} 已解除，持续 {a}（工作时间）：{n}",
                     "✅ Blocker {r} cleared after {a} of working time: {n}", r=blocker.ref,
                     a=format_span(minutes, ctx.locale), n=note), "blocker.cleared", blocker.ref)  # fmt: skip


# -- /blockers and the summaries for /status and reports --------------------------------------


def list_blockers(ctx: Context, cmd: Parsed) -> None:
    blockers = open_blockers(ctx.session, ctx.eng_id)
    if not blockers:
        ctx.reply(ctx.tr("未解除的阻塞：无。", "Open blockers: none."), "blockers.list")
        return
    people, calendar = _people(ctx.session, ctx.eng_id), _calendar(ctx.eng)
    lines = [ctx.tr("未解除的阻塞（{n}）：", "Open blockers ({n}):", n=len(blockers))]
    for blocker in blockers:
        task = ctx.session.get(Task, blocker.task_id) if blocker.task_id else None
        line = _line(blocker, people, age_minutes(blocker, calendar, ctx.now), ctx.locale)
        lines.append(f"{line} · {task.ref} {task.title}" if task else line)
    ctx.reply("\n".join(lines), "blockers.list")


def _line(blocker: Blocker, people: dict[int, Person], age: int, locale: str) -> str:
    owner = people[blocker.owner_id].name if blocker.owner_id in people else "—"
    return f"{blocker.ref} {_short(blocker.description)} · {owner} · {_age_text(age, locale)}"


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
    message = ctx.tr("🚨 阻塞升级（第 {s} 级）：{r} {d}｜负责人 {o}，{w} 登记，已持续 {a}（工作时间）未解除",
                     "🚨 Blocker escalation (step {s}): {r} {d} | owner {o}, recorded {w}, open for {a} "
                     "of working time", s=step, r=blocker.ref, d=blocker.description, o=owner,
                     w=when(blocker.opened_at, ctx.eng.timezone), a=format_span(age, ctx.locale))  # fmt: skip
    key = f"blocker:{ctx.eng.code}:{blocker.ref}:step{step}"
    ctx.notify_roles(set(hears(step)), f"{ctx.eng.code} {message}", "blocker.escalated",
                     blocker.ref, key)  # fmt: skip
    target = Target.of(blocker)
    if target is not None:
        ctx.post(target, message, "blocker.escalated", blocker.ref, key)


_BLOCKER = Arg("blocker", "ref", ("阻塞号", "BLOCKER"), prefixes=("B",))

COMMANDS = [
    Command("block", ("阻塞",), ("登记阻塞问题，超时未解除会升级", "record a blocker; escalated while it stays open"),
            block, roles=EITHER_PARTY, args=(Arg("description", "text", ("\"描述\"", "\"DESCRIPTION\"")),),
            options=(Option("owner", "person", ("@负责人", "@OWNER"), aliases=("负责人",)),
                     Option("task", "ref", ("K-n", "K-n"), aliases=("任务",))),
            example='/阻塞 "环境访问延迟：VPN 未开通" task=K-1',
            example_en='/block "environment access: no VPN account yet" task=K-1'),
    Command("unblock", ("解除",), ("解除阻塞并说明", "clear a blocker, saying how"), unblock, roles=EITHER_PARTY,
            args=(_BLOCKER, Arg("note", "text", ("说明", "NOTE"))),
            example="/解除 B-1 VPN 账号已开通", example_en="/unblock B-1 VPN account issued"),
    Command("blockers", ("阻塞列表",), ("未解除的阻塞及已持续的工作时间", "open blockers and how long they have been open"),
            list_blockers, roles=EITHER_PARTY, example="/阻塞列表", example_en="/blockers"),
]  # fmt: skip

JOBS = [
    Job("blocker.escalate", timedelta(minutes=1), escalate, "escalate blockers left open"),
]
