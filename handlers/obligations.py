"""/obligations (/义务): the SOW's recurring obligations on the business calendar.

`plan` (hourly) materialises each obligation's occurrences (O-n) for the next
`domain.obligations.HORIZON_DAYS` days of the engagement's term — never more, so the work a
run does does not grow with history. `sweep` (every minute) handles the occurrences whose
`next_check_at` has come: it reminds the owner before the due date, posts to the engagement's
chats once one is overdue, and escalates to the PM and the customer manager after the grace
period — each once (a marker on the row and a dedupe key on the message), at business hours.

The vendor records the evidence (`/义务 完成 O-3 链接 备注`); an obligation whose evidence is
the client's acknowledgement becomes done when the client approver signs it (`/义务 确认 O-3`),
under the sign-off rule of acceptance (`domain.signoff.CLIENT_ONLY`), on the evidence's content
hash.

An upgrade window (an obligation with `window`) is changed only as signed: the vendor records its
plan (`/义务 方案 O-5 链接 说明`), the vendor PM and the client approver both sign it before the
window starts (`/义务 签署 O-5`, `domain.signoff.BOTH_PARTIES`, subject `O-5/window`; a new plan
voids earlier signatures). At the start the sweep tells the chats it begins — or, unsigned, that
it must not, and the PM and customer manager too; at the end it asks the owner for the result
and the client approver for the acknowledgement, which closes it as above. `compliance` and `summary_lines` are for /进度, the weekly report and the digest.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session, col

from base.errors import InvalidState, NotFound, PermissionDenied, UsageError
from bot import clock, notify
from bot.assurance import SIGNING, permits
from bot.commands import Parsed, Ref
from bot.context import Context
from bot.i18n import tr
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
_LINK = re.compile(
    r"https?://[^\s，。；、）」]+", re.I
)  # a link ends at a space or CJK punctuation
_LIST_LIMIT = 40
_SOON_DAYS = 30
_RECENT_DAYS = 30
_MARKERS = {
    rules.REMIND: "reminded_at",
    rules.OVERDUE: "overdue_at",
    rules.ESCALATE: "escalated_at",
    rules.START: "started_at",
    rules.BLOCKED: "blocked_at",
    rules.END: "ended_at",
}
ESCALATION_ROLES = frozenset({"vendor_pm", "customer_manager"})


def _today(engagement: Engagement, now: datetime) -> date:
    return clock.local(now, engagement.timezone).date()


def _obligations(engagement: Engagement) -> dict[str, rules.Obligation]:
    return {ob.key: ob for ob in rules.obligations_of(engagement.rules)}


def _title(obs: dict[str, rules.Obligation], occ: Occ, timezone: str) -> str:
    """The obligation's title; an upgrade window's with its time: `季度升级窗口 12-05 22:00–02:00`."""
    ob = obs.get(occ.key)
    title = ob.title if ob else occ.key
    if occ.window_start_at is None or occ.window_end_at is None:
        return title
    start = clock.local(occ.window_start_at, timezone)
    end = clock.local(occ.window_end_at, timezone)
    return f"{title} {start:%m-%d %H:%M}–{end:%H:%M}"


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
                        window_start_at=when.start, window_end_at=when.end,
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
    when = _times(ctx.eng, ob, occ)
    sent = frozenset(n for n, attr in _MARKERS.items() if getattr(occ, attr) is not None)
    decision = rules.decide(occ.state, sent, when, ctx.now, cal.is_open(ctx.now),
                            approved=occ.approved_at is not None)  # fmt: skip
    for notice in decision.send:
        _send(ctx, ob, occ, notice)
        setattr(occ, _MARKERS[notice], ctx.now)
    occ.next_check_at = decision.next_check
    if decision.at_opening:
        opening = cal.next_open(ctx.now + timedelta(minutes=1))
        occ.next_check_at = min(opening, decision.next_check or opening)
    ctx.session.add(occ)


def _times(engagement: Engagement, ob: rules.Obligation, occ: Occ) -> rules.Times:
    """The occurrence's notice times (with evidence in, the client's time to acknowledge runs
    from then); a window's as it was planned and signed, even if the engagement file has moved
    the window since."""
    submitted = None
    if occ.state == rules.SUBMITTED and occ.submitted_at is not None:
        submitted = clock.local(occ.submitted_at, engagement.timezone).date()
    cal = policy_of(engagement).calendar
    when = rules.times(ob, cal, occ.due_on, engagement.timezone, submitted)
    if occ.window_start_at is None or occ.window_end_at is None:
        return when
    return replace(when, start=occ.window_start_at, end=occ.window_end_at)


def _send(ctx: Context, ob: rules.Obligation, occ: Occ, notice: str) -> None:
    code, locale = ctx.eng.code, ctx.locale
    key, kind = f"obligation:{code}:{occ.ref}:{notice}", f"obligation.{notice}"
    title = _title({ob.key: ob}, occ, ctx.eng.timezone)
    if notice == rules.REMIND:
        unsigned = ob.is_window and occ.approved_at is None
        reminder = (text.window_reminder if unsigned else text.reminder)(code, occ, title, locale)
        for person in owners(ctx.session, ctx.eng_id, ob.owner):
            ctx.notify(person, reminder, kind, occ.ref, key)
        if unsigned and occ.window_hash is not None:
            _ask_signatures(ctx, occ, title, key=f"{key}:sign")
    elif notice in (rules.START, rules.END):
        ctx.announce(text.window_notice(notice, occ, title, locale), kind, occ.ref, key)
        if notice == rules.END:
            for person in owners(ctx.session, ctx.eng_id, ob.owner):
                ctx.notify(person, text.window_result(code, occ, title, locale), kind,
                           occ.ref, f"{key}:owner")  # fmt: skip
    elif notice == rules.BLOCKED:
        missing = "、".join(tr(locale, *signatures.SEAT_NAMES[p]) for p in _unsigned(ctx, occ))
        ctx.announce(text.blocked(occ, title, missing, locale), kind, occ.ref, key)
        ctx.notify_roles(set(ESCALATION_ROLES), f"{code} {text.blocked(occ, title, missing, locale)}",
                         kind, occ.ref, f"{key}:escalate")  # fmt: skip
    elif notice == rules.OVERDUE:
        ctx.announce(text.overdue(occ, title, locale), kind, occ.ref, key)
    else:
        ctx.notify_roles(set(ESCALATION_ROLES), text.escalation(code, occ, title, locale),
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
    """/义务 | /义务 完成 O-3 链接 备注 | /义务 确认 O-3 | /义务 方案 O-5 链接 说明 | /义务 签署 O-5"""
    action, ref = cmd.arg("action") or "list", cmd.arg("ref")
    rest = (cmd.arg("rest") or "").strip()
    if action == "list":
        if ref is not None or rest:
            raise UsageError(ctx.tr("用法：/义务，/义务 完成 O-n 链接 备注，/义务 确认 O-n，"
                                    "/义务 方案 O-n 链接 说明，/义务 签署 O-n",
                                    "Usage: /obligations, /obligations done O-n LINK NOTE, /obligations ack O-n, "
                                    "/obligations plan O-n LINK NOTE, /obligations sign O-n"))  # fmt: skip
        _list(ctx)
        return
    if ref is None:
        raise UsageError(ctx.tr("请写明义务编号，例如 O-3。", "Name the obligation, e.g. O-3."))
    if action in ("ack", "sign") and rest:
        raise UsageError(ctx.tr("用法：/义务 {a} O-n", "Usage: /obligations {b} O-n",
                                a="确认" if action == "ack" else "签署", b=action))  # fmt: skip
    if action == "done":
        _done(ctx, ref, rest)
    elif action == "plan":
        _plan(ctx, ref, rest)
    elif action == "sign":
        _sign(ctx, ref)
    else:
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
        sections[slot].append(text.line(occ, _title(obs, occ, ctx.eng.timezone), ctx.locale))
    sections[3] = sections[3][-5:]
    heads = text.heads(ctx.locale)
    ctx.reply(text.listing(list(zip(heads, sections, strict=True)), ctx.locale), "obligation.list")


def evidence_content(code: str, occ: Occ) -> list[str]:
    """What the client approver acknowledges (`content_hash`): the evidence as recorded."""
    return [code, occ.ref, occ.key, occ.due_on.isoformat(), occ.evidence_link or "",
            occ.evidence_note or ""]  # fmt: skip


def window_content(code: str, occ: Occ) -> list[str]:
    """What both parties sign before an upgrade window (`window_hash`): its subject, time (UTC,
    ISO 8601) and plan."""
    return [code, occ.window_subject, occ.key, iso(occ.window_start_at), iso(occ.window_end_at),
            occ.plan_link or "", occ.plan_note or ""]  # fmt: skip


def content_hash(code: str, occ: Occ) -> str:
    """sha256 of the canonical JSON of `evidence_content`."""
    return _sha(evidence_content(code, occ))


def window_hash(code: str, occ: Occ) -> str:
    """sha256 of the canonical JSON of `window_content`."""
    return _sha(window_content(code, occ))


def _sha(content: list[str]) -> str:
    return hashlib.sha256(canonical(content).encode()).hexdigest()


def iso(moment: datetime | None) -> str:
    """A time as the hashes write it: UTC, ISO 8601 ("" when unset)."""
    return moment.astimezone(UTC).isoformat() if moment is not None else ""


def _vendors(ctx: Context, ref: Ref) -> tuple[Occ, rules.Obligation]:
    """The occurrence the vendor records something on: it exists, its obligation is still in
    the engagement file, and it is not done."""
    assert ctx.actor is not None
    if ctx.actor.party != "vendor":
        raise PermissionDenied(ctx.tr("只有厂商人员可以提交义务的方案和完成证明；甲方审批人用 /义务 确认 {r}。",
                                      "Only the vendor records an obligation's plan and evidence; the client "
                                      "approver acknowledges it with /obligations ack {r}.", r=ref))  # fmt: skip
    occ = find(ctx, ref)
    ob = _obligations(ctx.eng).get(occ.key)
    if ob is None:
        raise InvalidState(ctx.tr("{r} 的义务已从项目文件中删除。", "{r}'s obligation is no longer in the engagement file.", r=ref))  # fmt: skip
    if occ.state == rules.DONE:
        raise InvalidState(ctx.tr("{r} 已于 {t} 完成。", "{r} was done at {t}.", r=ref,
                                  t=ctx.when(occ.done_at or ctx.now)))  # fmt: skip
    return occ, ob


def _link_and_note(ctx: Context, rest: str) -> tuple[str, str]:
    """`https://… 备注` → the link (up to a space or CJK punctuation) and the note, bounded."""
    found = _LINK.match(rest.strip())
    link = found.group(0) if found else ""
    note = rest.strip()[len(link) :].lstrip(" ，,；;") if found else rest.strip()
    limits.enforce_text(ctx.locale, LINK_MAX, link=link)
    limits.enforce_text(ctx.locale, limits.TEXT_MAX, note=note)
    return link, note


def _done(ctx: Context, ref: Ref, rest: str) -> None:
    occ, ob = _vendors(ctx, ref)
    if ob.is_window:
        _window_ran(ctx, occ, ref)
    link, note = _link_and_note(ctx, rest)
    if ob.needs_link and not link:
        raise UsageError(ctx.tr("{r} 需要报告：请附上 http(s) 链接，例如 /义务 完成 {r} https://… 备注",
                                "{r} needs a report: give its http(s) link, e.g. /obligations done {r} https://… NOTE",
                                r=ref))  # fmt: skip
    if not ob.needs_link and not (link or note):
        raise UsageError(
            ctx.tr("请写明完成情况（链接或备注）。", "Say what was done (a link or a note).")
        )
    occ.evidence_link, occ.evidence_note = link or None, note or None
    digest = occ.content_hash = content_hash(ctx.eng.code, occ)
    occ.submitted_at, occ.submitted_by_id = ctx.now, ctx.person_id
    title = _title({ob.key: ob}, occ, ctx.eng.timezone)
    if ob.needs_ack:
        occ.state = rules.SUBMITTED
        occ.next_check_at = ctx.now  # the sweep decides what is left to send, and when
        ctx.session.add(occ)
        ctx.audit("obligation.submitted", occ.ref, key=occ.key, due=occ.due_on.isoformat(),
                  link=link, note=note, hash=digest)  # fmt: skip
        ctx.reply(text.submitted(occ, title, digest, ctx.locale), "obligation.submitted", occ.ref)
        ctx.notify_roles({"client_approver"}, text.ask_ack(ctx.eng.code, occ, title, ctx.locale),
                         "obligation.ask_ack", occ.ref)  # fmt: skip
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


def _window_ran(ctx: Context, occ: Occ, ref: Ref) -> None:
    """An upgrade window's result is recorded only once it was signed by both and began."""
    start = occ.window_start_at
    if occ.approved_at is None:
        raise InvalidState(ctx.tr("升级窗口 {r} 未获双方签署，不能进行，也不能记录完成。",
                                  "Upgrade window {r} was not signed by both parties: it may not run, "
                                  "nor be recorded as done.", r=ref))  # fmt: skip
    if start is not None and ctx.now < start:
        raise InvalidState(ctx.tr("升级窗口 {r} 将于 {t} 开始，开始后才能记录结果。",
                                  "Upgrade window {r} starts at {t}: record its result once it has begun.",
                                  r=ref, t=ctx.when(start)))  # fmt: skip


def _plan(ctx: Context, ref: Ref, rest: str) -> None:
    """The vendor's plan for an upgrade window: what both parties sign before it starts. A new
    plan voids the signatures given on the old one."""
    occ, ob = _vendors(ctx, ref)
    start = occ.window_start_at
    if not ob.is_window or start is None:
        raise InvalidState(ctx.tr("{r} 不是升级窗口，无需方案：完成后发送 /义务 完成 {r} 链接 备注。",
                                  "{r} is not an upgrade window: no plan needed; when done, send "
                                  "/obligations done {r} LINK NOTE.", r=ref))  # fmt: skip
    _before_start(ctx, start, ref)
    link, note = _link_and_note(ctx, rest)
    if not link:
        raise UsageError(ctx.tr("请附上升级方案的 http(s) 链接（含回退方案），例如 /义务 方案 {r} https://… 说明",
                                "Give the upgrade plan's http(s) link (with its rollback), e.g. "
                                "/obligations plan {r} https://… NOTE", r=ref))  # fmt: skip
    title = _title({ob.key: ob}, occ, ctx.eng.timezone)
    voided = signatures.void(ctx, occ.window_subject)
    occ.plan_link, occ.plan_note, occ.approved_at = link, note or None, None
    occ.window_hash = window_hash(ctx.eng.code, occ)
    ctx.session.add(occ)
    ctx.audit("obligation.plan", occ.ref, key=occ.key, link=link, note=note, hash=occ.window_hash,
              start=iso(start), end=iso(occ.window_end_at), voided=len(voided))  # fmt: skip
    ctx.reply(text.planned(occ, title, len(voided), ctx.locale), "obligation.plan", occ.ref)
    _ask_signatures(ctx, occ, title)


def _before_start(ctx: Context, start: datetime, ref: Ref) -> None:
    if ctx.now >= start:
        raise InvalidState(ctx.tr("升级窗口 {r} 已于 {t} 开始：方案和签署必须在开始之前。",
                                  "Upgrade window {r} began at {t}: its plan and signatures had to come "
                                  "before.", r=ref, t=ctx.when(start)))  # fmt: skip


def _ask_signatures(ctx: Context, occ: Occ, title: str, key: str | None = None) -> None:
    """Ask each party that has not signed the window's plan yet (a button where the platform
    has them)."""
    missing = _unsigned(ctx, occ)
    roles = {role for seat in signoff.BOTH_PARTIES if seat.party in missing for role in seat.roles}
    message = text.ask_sign(ctx.eng.code, occ, title, ctx.locale)
    for person in notify.people_with_roles(ctx.session, ctx.eng_id, roles):
        if ctx.actor is None or ctx.actor.person is not person:
            ctx.notify(person, message, "obligation.sign", occ.ref,
                       f"{key}:{person.id}" if key else None)  # fmt: skip


def _unsigned(ctx: Context, occ: Occ) -> list[str]:
    """The parties whose signature on the window's current plan is still missing."""
    held = {
        row.party
        for row in signatures.active(ctx.session, ctx.eng_id, occ.window_subject)
        if row.content_hash == occ.window_hash
    }
    return [seat.party for seat in signoff.BOTH_PARTIES if seat.party not in held]


def _sign(ctx: Context, ref: Ref) -> None:
    """The vendor PM's or the client approver's signature on an upgrade window's plan; the
    second one approves the window."""
    _proven(ctx)
    occ = find(ctx, ref)
    ob = _obligations(ctx.eng).get(occ.key)
    start = occ.window_start_at
    if ob is None or not ob.is_window or start is None:
        raise InvalidState(ctx.tr("{r} 不是升级窗口：无需签署。", "{r} is not an upgrade window: nothing to sign.", r=ref))  # fmt: skip
    _before_start(ctx, start, ref)
    if occ.plan_link is None:
        raise InvalidState(ctx.tr("升级窗口 {r} 还没有方案：厂商先发送 /义务 方案 {r} 链接 说明。",
                                  "Upgrade window {r} has no plan yet: the vendor first sends "
                                  "/obligations plan {r} LINK NOTE.", r=ref))  # fmt: skip
    title = _title({ob.key: ob}, occ, ctx.eng.timezone)
    digest = window_hash(ctx.eng.code, occ)
    what = ctx.tr("升级窗口 {r}", "upgrade window {r}", r=ref)
    decision = signatures.sign(ctx, occ.window_subject, signoff.BOTH_PARTIES, digest, what)
    assert ctx.actor is not None
    ctx.audit("obligation.window_signed", occ.window_subject, hash=digest, person=ctx.actor.key,
              party=ctx.actor.party)  # fmt: skip
    if not decision.complete:
        awaited = signatures.awaited(decision, ctx.locale)
        ctx.reply(
            text.signed_waiting(occ, title, awaited, ctx.locale), "obligation.signed", occ.ref
        )
        _ask_signatures(ctx, occ, title)
        return
    occ.approved_at = ctx.now
    ctx.session.add(occ)
    ctx.audit("obligation.window_approved", occ.ref, hash=digest)
    approved = text.approved(occ, title, ctx.locale)
    ctx.reply(approved, "obligation.approved", occ.ref)
    ctx.announce(approved, "obligation.approved", occ.ref)


def _proven(ctx: Context) -> None:
    """Signing needs a sender the channel proves (a group chat, or signed email)."""
    assert ctx.actor is not None and ctx.inbound is not None
    if not permits(
        ctx.inbound.assurance, SIGNING, email_signing=ctx.vocabulary.email_signing(ctx.eng)
    ):
        raise PermissionDenied(ctx.tr("无法确认这条消息确实由你发出：签署和确认义务需要确认身份，请在项目群里发送。",
                                      "This message cannot be proven to come from you: signing or acknowledging "
                                      "an obligation needs a proven sender. Send it in the engagement's group chat."))  # fmt: skip


def _ack(ctx: Context, ref: Ref) -> None:
    """The client approver's signature on the evidence's content hash (as acceptance's)."""
    _proven(ctx)
    assert ctx.actor is not None
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
    title = _title(_obligations(ctx.eng), occ, ctx.eng.timezone)
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
        due = rules.evidence_due(ob, occ.due_on, engagement.timezone)
        standing = rules.standing(due, performed, escalate, now)
        if occ.state == rules.SUBMITTED and standing == rules.MISSED:
            standing = rules.PENDING
        {rules.ON_TIME: result.on_time, rules.LATE: result.late, rules.MISSED: result.missed,
         rules.PENDING: result.pending}[standing].append(occ.ref)  # fmt: skip
    return result


def overdue(session: Session, engagement: Engagement, today: date, show: int = 5
            ) -> tuple[int, list[str]]:  # fmt: skip
    """How many occurrences of the file's obligations are not done past their due date, and
    the refs of the `show` oldest. The one rule for "overdue" (chat summaries and console)."""
    wanted = list(_obligations(engagement))
    if not wanted:
        return 0, []
    late = (col(Occ.engagement_id) == engagement.id, col(Occ.state) != rules.DONE,
            col(Occ.due_on) < today, col(Occ.key).in_(wanted))  # fmt: skip
    count = session.execute(select(func.count()).select_from(Occ).where(*late)).scalar_one()
    if not count or not show:
        return int(count), []
    numbers = session.execute(select(col(Occ.number)).where(*late)
                              .order_by(col(Occ.due_on), col(Occ.number)).limit(show)).scalars()  # fmt: skip
    return int(count), [f"O-{n}" for n in numbers]


def summary_lines(session: Session, engagement: Engagement, today: date, locale: str) -> list[str]:
    """Lines for /进度, the weekly report and the digest: what is overdue or due within a week,
    and the month's compliance so far; none when the engagement has no obligations."""
    obs = _obligations(engagement)
    if not obs:
        return []
    late, refs = overdue(session, engagement, today)
    upcoming = session.execute(select(func.count()).select_from(Occ).where(
        col(Occ.engagement_id) == engagement.id, col(Occ.state) != rules.DONE,
        col(Occ.due_on) >= today, col(Occ.due_on) <= today + timedelta(days=7),
        col(Occ.key).in_(list(obs)),
    )).scalar_one()  # fmt: skip
    since = today.replace(day=1)
    met = compliance(session, engagement, since, today)
    return text.summary(late, refs, int(upcoming), len(met.on_time), len(met.late),
                        len(met.missed), since, locale)  # fmt: skip
