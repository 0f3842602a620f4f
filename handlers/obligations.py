"""/obligations (/义务): the SOW's recurring obligations on the business calendar.

`plan` (hourly) materialises each obligation's occurrences (O-n) for the next
`domain.obligations.HORIZON_DAYS` days of the engagement's term — never more, so the work a
run does does not grow with history. `sweep` (every 15 minutes) handles the occurrences whose
`next_check_at` has come: it reminds the owner before the due date, posts to the engagement's
chats once one is overdue, and escalates to the PM and the customer manager after the grace
period — each once (a marker on the row and a dedupe key on the message), at business hours.

The vendor records the evidence (`/义务 完成 O-3 链接 备注`); an obligation whose evidence is
the client's acknowledgement becomes done when the client approver signs it (`/义务 确认 O-3`),
under the sign-off rule of acceptance (`domain.signoff.CLIENT_ONLY`), on the evidence's content
hash. `compliance` and `summary_lines` are for /进度, the weekly report and the digest.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlmodel import Session, col

from base.errors import InvalidState, NotFound, PermissionDenied, UsageError
from bot import clock, notify
from bot.assurance import SIGNING, permits
from bot.commands import Parsed, Ref
from bot.context import Context
from bot.scheduler import Run
from bot.sweep import sweep as sweep_due
from domain import catalog, signoff
from domain import obligations as rules
from domain.policy import policy_of
from handlers import limits, signatures
from handlers import obligations_text as text
from storage.audit import canonical
from storage.counters import next_number
from storage.models import Engagement, Person
from storage.models_obligations import ObligationOccurrence as Occ

LINK_MAX = 500
_LINK = re.compile(r"https?://[^\s，。；、）」]+", re.I)  # a link ends at a space or CJK punctuation
_LIST_LIMIT = 40
_SOON_DAYS = 30
_RECENT_DAYS = 30
_MARKERS = {
    rules.REMIND: "reminded_at",
    rules.OVERDUE: "overdue_at",
    rules.ESCALATE: "escalated_at",
}
ESCALATION_ROLES = frozenset({"vendor_pm", "customer_manager"})


def _today(engagement: Engagement, now: datetime) -> date:
    return clock.local(now, engagement.timezone).date()


def _obligations(engagement: Engagement) -> dict[str, rules.Obligation]:
    return {ob.key: ob for ob in rules.obligations_of(engagement.rules)}


def _title(obs: dict[str, rules.Obligation], occ: Occ) -> str:
    ob = obs.get(occ.key)
    return ob.title if ob else occ.key


# -- planning ---------------------------------------------------------------------------------


def top_up(session: Session, engagement: Engagement, now: datetime) -> int:
    """Create the occurrences due in the horizon that do not exist yet; how many were made.
    One query for what exists in the window, one insert per new occurrence."""
    obs = _obligations(engagement)
    if not obs or engagement.id is None:
        return 0
    start, end = rules.window(_today(engagement, now), engagement.start_date, engagement.end_date)
    if start > end:
        return 0
    cal = policy_of(engagement).calendar
    existing = set(session.execute(
        select(col(Occ.key), col(Occ.due_on)).where(
            col(Occ.engagement_id) == engagement.id, col(Occ.due_on) >= start, col(Occ.due_on) <= end)
    ).all())  # fmt: skip
    wanted = sorted(
        (due, ob.key) for ob in obs.values() for due in rules.due_dates(ob, cal, start, end)
    )
    made = 0
    for due, key in wanted:
        if (key, due) in existing:
            continue
        when = rules.times(obs[key], cal, due, engagement.timezone)
        session.add(Occ(engagement_id=engagement.id, key=key, due_on=due, created_at=now,
                        number=next_number(session, engagement.id, "O"),
                        next_check_at=when.remind if when.remind > now else now))  # fmt: skip
        made += 1
    session.flush()
    return made


def plan(run: Run) -> None:
    """The scheduler's job: top up every engagement's occurrences."""
    run.each_engagement(_plan_one)


def _plan_one(ctx: Context) -> None:
    top_up(ctx.session, ctx.eng, ctx.now)


# -- the sweep --------------------------------------------------------------------------------


def sweep(run: Run) -> None:
    """Handle every occurrence whose `next_check_at` has come, each in its own transaction."""
    sweep_due(run, Occ, col(Occ.next_check_at), _check)


def _check(ctx: Context, occ: Occ) -> None:
    ob = _obligations(ctx.eng).get(occ.key)
    if ob is None or occ.state == rules.DONE:  # gone from the file, or done
        occ.next_check_at = None
        ctx.session.add(occ)
        return
    cal = ctx.policy.calendar
    when = rules.times(ob, cal, occ.due_on, ctx.eng.timezone)
    sent = frozenset(n for n, attr in _MARKERS.items() if getattr(occ, attr) is not None)
    decision = rules.decide(occ.state, sent, when, ctx.now, cal.is_open(ctx.now))
    for notice in decision.send:
        _send(ctx, ob, occ, notice)
        setattr(occ, _MARKERS[notice], ctx.now)
    occ.next_check_at = decision.next_check
    if decision.next_check is not None and decision.next_check <= ctx.now:
        occ.next_check_at = cal.next_open(ctx.now + timedelta(minutes=1))
    ctx.session.add(occ)


def _send(ctx: Context, ob: rules.Obligation, occ: Occ, notice: str) -> None:
    code, locale = ctx.eng.code, ctx.locale
    key, kind = f"obligation:{code}:{occ.ref}:{notice}", f"obligation.{notice}"
    if notice == rules.REMIND:
        for person in owners(ctx.session, ctx.eng_id, ob.owner):
            ctx.notify(person, text.reminder(code, occ, ob.title, locale), kind, occ.ref, key)
    elif notice == rules.OVERDUE:
        ctx.announce(text.overdue(occ, ob.title, locale), kind, occ.ref, key)
    else:
        ctx.notify_roles(set(ESCALATION_ROLES), text.escalation(code, occ, ob.title, locale),
                         kind, occ.ref, key)  # fmt: skip
    ctx.audit(kind, occ.ref, key=occ.key, due=occ.due_on.isoformat())


def owners(session: Session, engagement_id: int, owner: str) -> list[Person]:
    """The people an obligation's `owner` names: everyone with that role, or that person (the
    PM when nobody active is left)."""
    if owner in catalog.ROLES:
        people = notify.people_with_roles(session, engagement_id, {owner})
    else:
        people = list(session.execute(select(Person).where(
            col(Person.engagement_id) == engagement_id, col(Person.key) == owner, col(Person.active)
        )).scalars())  # fmt: skip
    return people or notify.people_with_roles(session, engagement_id, {"vendor_pm"})


# -- /义务 --------------------------------------------------------------------------------------


def obligations_command(ctx: Context, cmd: Parsed) -> None:
    """/义务 | /义务 完成 O-3 链接 备注 | /义务 确认 O-3"""
    action, ref = cmd.arg("action") or "list", cmd.arg("ref")
    rest = (cmd.arg("rest") or "").strip()
    if action == "list":
        if ref is not None or rest:
            raise UsageError(ctx.tr("用法：/义务，/义务 完成 O-n 链接 备注，/义务 确认 O-n",
                                    "Usage: /obligations, /obligations done O-n LINK NOTE, /obligations ack O-n"))  # fmt: skip
        _list(ctx)
        return
    if ref is None:
        raise UsageError(ctx.tr("请写明义务编号，例如 O-3。", "Name the obligation, e.g. O-3."))
    if action == "done":
        _done(ctx, ref, rest)
    else:
        if rest:
            raise UsageError(ctx.tr("用法：/义务 确认 O-n", "Usage: /obligations ack O-n"))
        _ack(ctx, ref)


def find(ctx: Context, ref: Ref) -> Occ:
    occ: Occ | None = ctx.session.execute(select(Occ).where(
        col(Occ.engagement_id) == ctx.eng_id, col(Occ.number) == ref.number)).scalar_one_or_none()  # fmt: skip
    if occ is None:
        raise NotFound(ctx.tr("没有义务 {r}。发送 /义务 查看。",
                              "There is no obligation {r}. Send /obligations to list them.", r=ref))  # fmt: skip
    return occ


def _list(ctx: Context) -> None:
    obs = _obligations(ctx.eng)
    if not obs:
        ctx.reply(text.none_configured(ctx.locale), "obligation.list")
        return
    top_up(ctx.session, ctx.eng, ctx.now)
    today = _today(ctx.eng, ctx.now)
    rows = ctx.session.execute(select(Occ).where(
        col(Occ.engagement_id) == ctx.eng_id,
        or_(and_(col(Occ.state) != rules.DONE, col(Occ.due_on) <= today + timedelta(days=_SOON_DAYS)),
            and_(col(Occ.state) == rules.DONE, col(Occ.done_at) >= ctx.now - timedelta(days=_RECENT_DAYS))),
    ).order_by(col(Occ.due_on), col(Occ.number)).limit(_LIST_LIMIT)).scalars().all()  # fmt: skip
    sections: list[list[str]] = [[], [], [], []]
    for occ in rows:
        if occ.state == rules.DONE:
            slot = 3
        else:
            slot = 0 if occ.due_on < today else 1 if occ.due_on == today else 2
        sections[slot].append(text.line(occ, _title(obs, occ), ctx.locale))
    sections[3] = sections[3][-5:]
    heads = text.heads(ctx.locale)
    ctx.reply(text.listing(list(zip(heads, sections, strict=True)), ctx.locale), "obligation.list")


def content_hash(code: str, occ: Occ, link: str, note: str) -> str:
    """What the client acknowledges: sha256 of the canonical JSON of the evidence."""
    data = [code, occ.ref, occ.key, occ.due_on.isoformat(), link, note]
    return hashlib.sha256(canonical(data).encode()).hexdigest()


def _done(ctx: Context, ref: Ref, rest: str) -> None:
    assert ctx.actor is not None
    if ctx.actor.party != "vendor":
        raise PermissionDenied(ctx.tr("只有厂商人员可以提交义务的完成证明；甲方审批人用 /义务 确认 {r}。",
                                      "Only the vendor records an obligation as done; the client approver "
                                      "acknowledges it with /obligations ack {r}.", r=ref))  # fmt: skip
    occ = find(ctx, ref)
    ob = _obligations(ctx.eng).get(occ.key)
    if ob is None:
        raise InvalidState(ctx.tr("{r} 的义务已从项目文件中删除。", "{r}'s obligation is no longer in the engagement file.", r=ref))  # fmt: skip
    if occ.state == rules.DONE:
        raise InvalidState(ctx.tr("{r} 已于 {t} 完成。", "{r} was done at {t}.", r=ref,
                                  t=ctx.when(occ.done_at or ctx.now)))  # fmt: skip
    found = _LINK.match(rest.strip())
    link = found.group(0) if found else ""
    note = rest.strip()[len(link):].lstrip(" ，,；;") if found else rest.strip()
    limits.enforce_text(ctx.locale, LINK_MAX, link=link)
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, note=note)
    if ob.needs_link and not link:
        raise UsageError(ctx.tr("{r} 需要报告：请附上 http(s) 链接，例如 /义务 完成 {r} https://… 备注",
                                "{r} needs a report: give its http(s) link, e.g. /obligations done {r} https://… NOTE",
                                r=ref))  # fmt: skip
    if not ob.needs_link and not (link or note):
        raise UsageError(
            ctx.tr("请写明完成情况（链接或备注）。", "Say what was done (a link or a note).")
        )
    digest = content_hash(ctx.eng.code, occ, link, note)
    occ.evidence_link, occ.evidence_note, occ.content_hash = link or None, note or None, digest
    occ.submitted_at, occ.submitted_by_id = ctx.now, ctx.person_id
    title = ob.title
    if ob.needs_ack:
        occ.state = rules.SUBMITTED
        when = rules.times(ob, ctx.policy.calendar, occ.due_on, ctx.eng.timezone)
        occ.next_check_at = None if occ.escalated_at else max(when.escalate, ctx.now)
        ctx.session.add(occ)
        ctx.audit("obligation.submitted", occ.ref, key=occ.key, due=occ.due_on.isoformat(),
                  link=link, note=note, hash=digest)  # fmt: skip
        ctx.reply(text.submitted(occ, title, digest, ctx.locale), "obligation.submitted", occ.ref)
        ctx.notify_roles({"client_approver"}, text.ask_ack(ctx.eng.code, occ, title, ctx.locale),
                         "obligation.submitted", occ.ref)  # fmt: skip
        return
    occ.state, occ.done_at, occ.done_by_id, occ.next_check_at = (
        rules.DONE,
        ctx.now,
        ctx.person_id,
        None,
    )
    ctx.session.add(occ)
    ctx.audit("obligation.done", occ.ref, key=occ.key, due=occ.due_on.isoformat(), link=link,
              note=note, hash=digest)  # fmt: skip
    ctx.reply(text.done(occ, title, ctx.locale), "obligation.done", occ.ref)


def _ack(ctx: Context, ref: Ref) -> None:
    """The client approver's signature on the evidence's content hash (as acceptance's)."""
    assert ctx.actor is not None and ctx.inbound is not None
    if not permits(
        ctx.inbound.assurance, SIGNING, email_signing=ctx.vocabulary.email_signing(ctx.eng)
    ):
        raise PermissionDenied(ctx.tr("无法确认这条消息确实由你发出：确认义务需要确认身份，请在项目群里发送。",
                                      "This message cannot be proven to come from you: acknowledging an "
                                      "obligation needs a proven sender. Send it in the engagement's group chat."))  # fmt: skip
    occ = find(ctx, ref)
    if occ.state == rules.DONE:
        raise InvalidState(ctx.tr("{r} 已于 {t} 完成。", "{r} was done at {t}.", r=ref,
                                  t=ctx.when(occ.done_at or ctx.now)))  # fmt: skip
    if occ.state != rules.SUBMITTED or occ.content_hash is None:
        raise InvalidState(ctx.tr("{r} 还没有提交完成证明，无需确认。",
                                  "{r} has no evidence submitted yet: nothing to acknowledge.", r=ref))  # fmt: skip
    digest = occ.content_hash
    signatures.sign(ctx, occ.ref, signoff.CLIENT_ONLY, digest, occ.ref)
    occ.state, occ.done_at, occ.done_by_id, occ.next_check_at = (
        rules.DONE,
        ctx.now,
        ctx.person_id,
        None,
    )
    ctx.session.add(occ)
    ctx.audit(
        "obligation.acknowledged", occ.ref, hash=digest, person=ctx.actor.key, party=ctx.actor.party
    )
    title = _title(_obligations(ctx.eng), occ)
    reply = text.acknowledged(ctx.actor.name, occ, title, ctx.locale)
    ctx.reply(reply, "obligation.acknowledged", occ.ref)
    ctx.notify_roles({"vendor_pm"}, f"{ctx.eng.code} {reply}", "obligation.acknowledged", occ.ref)


# -- compliance and summaries -----------------------------------------------------------------


@dataclass(frozen=True)
class Compliance:
    """Occurrences due in a period by standing: on time, late, missed, pending (refs)."""

    on_time: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


def compliance(session: Session, engagement: Engagement, start: date, end: date) -> Compliance:
    """Occurrences due from `start` to `end` (inclusive): met on time (evidence by the due
    date, in the engagement's time zone), late, missed (nothing by the end of the grace
    period), or pending. An occurrence awaiting the client's acknowledgement is pending
    until acknowledged, then counts by when its evidence came in."""
    obs, result = _obligations(engagement), Compliance()
    if not obs:
        return result
    cal, now = policy_of(engagement).calendar, clock.now()
    rows = session.execute(select(Occ).where(
        col(Occ.engagement_id) == engagement.id, col(Occ.due_on) >= start, col(Occ.due_on) <= end
    ).order_by(col(Occ.due_on), col(Occ.number))).scalars()  # fmt: skip
    for occ in rows:
        ob = obs.get(occ.key)
        if ob is None:
            continue
        performed = None
        if occ.state == rules.DONE and occ.submitted_at is not None:
            performed = clock.local(occ.submitted_at, engagement.timezone).date()
        escalate = rules.times(ob, cal, occ.due_on, engagement.timezone).escalate
        standing = rules.standing(occ.due_on, performed, escalate, now)
        if occ.state == rules.SUBMITTED and standing == rules.MISSED:
            standing = rules.PENDING
        {rules.ON_TIME: result.on_time, rules.LATE: result.late, rules.MISSED: result.missed,
         rules.PENDING: result.pending}[standing].append(occ.ref)  # fmt: skip
    return result


def summary_lines(session: Session, engagement: Engagement, today: date, locale: str) -> list[str]:
    """Lines for /进度, the weekly report and the digest: what is overdue or due within a week,
    and the month's compliance so far; none when the engagement has no obligations."""
    if not _obligations(engagement):
        return []
    soon = today + timedelta(days=7)
    rows = session.execute(select(col(Occ.number), col(Occ.due_on)).where(
        col(Occ.engagement_id) == engagement.id, col(Occ.state) != rules.DONE,
        col(Occ.due_on) <= soon, col(Occ.due_on) >= today - timedelta(days=366),
    ).order_by(col(Occ.due_on)).limit(200)).all()  # fmt: skip
    overdue = [f"O-{n}" for n, due in rows if due < today]
    upcoming = sum(1 for _, due in rows if due >= today)
    since = today.replace(day=1)
    met = compliance(session, engagement, since, today)
    return text.summary(overdue, upcoming, len(met.on_time), len(met.late), len(met.missed),
                        since, locale)  # fmt: skip
