"""Signature rows (签署): the one way handlers read, add and void them, asking the sign-off rule
(`domain.signoff`) first. A signature's subject is the signed record's ref: `scope`, `CR-2`,
`D-4`, or a month `2026-11` for its close."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from base.errors import InvalidState, PermissionDenied, UserError
from bot.context import Context
from bot.i18n import tr
from domain import signoff
from storage.models import Person, Signature

# Who a party's signature is still awaited from.
SEAT_NAMES = {
    "vendor": ("厂商项目经理", "the vendor PM"),
    "client": ("甲方审批人", "the client approver"),
}


def active(session: Session, engagement_id: int, subject: str) -> list[Signature]:
    """The signatures on `subject` that are not void, oldest first."""
    return list(session.execute(
        select(Signature).where(col(Signature.engagement_id) == engagement_id, col(Signature.subject) == subject,
                                col(Signature.voided_at).is_(None)).order_by(col(Signature.id))
    ).scalars())  # fmt: skip


def by_party(session: Session, engagement_id: int, subject: str) -> dict[str, Signature]:
    """The signature that holds each party's seat on `subject`."""
    return {row.party: row for row in active(session, engagement_id, subject)}


def who(ctx: Context) -> frozenset[str]:
    """The sender's roles and party, as life cycles name who may cause an event."""
    assert ctx.actor is not None
    return ctx.actor.roles | ({ctx.actor.party} if ctx.actor.party else set())


def ask(
    ctx: Context, subject: str, seats: tuple[signoff.Seat, ...], content_hash: str, what: str
) -> signoff.Decision:
    """The rule's decision on the sender signing `subject` as its content now hashes; a refusal
    is raised as its reply (`what` names the record in it)."""
    assert ctx.actor is not None
    rows = active(ctx.session, ctx.eng_id, subject)
    signer = signoff.Signer(str(ctx.person.id), ctx.actor.party, ctx.actor.roles)
    decision = signoff.decide(seats, [_signed(row) for row in rows], signer, content_hash)
    if decision.refused:
        raise _refusal(ctx, decision, what)
    return decision


def record(ctx: Context, subject: str, decision: signoff.Decision) -> Signature:
    """The sender's signature as `decision` allowed it; stale signatures are voided."""
    assert ctx.actor is not None and ctx.actor.party is not None
    for row in active(ctx.session, ctx.eng_id, subject):
        if row.content_hash != decision.content_hash:
            row.voided_at = ctx.now
            ctx.session.add(row)
    signature = Signature(engagement_id=ctx.eng_id, subject=subject, person_id=ctx.person_id,
                          party=ctx.actor.party, content_hash=decision.content_hash, at=ctx.now)  # fmt: skip
    ctx.session.add(signature)
    return signature


def sign(
    ctx: Context, subject: str, seats: tuple[signoff.Seat, ...], content_hash: str, what: str
) -> signoff.Decision:
    """`ask`, then `record`."""
    decision = ask(ctx, subject, seats, content_hash, what)
    record(ctx, subject, decision)
    return decision


def void(ctx: Context, subject: str) -> list[Signature]:
    """The signed content changed: every signature on `subject` is void (never deleted)."""
    rows = active(ctx.session, ctx.eng_id, subject)
    for row in rows:
        row.voided_at = ctx.now
        ctx.session.add(row)
    return rows


def awaited(decision: signoff.Decision, locale: str) -> str:
    """Whose signature is awaited next: `甲方审批人`, `the vendor PM`."""
    return ", ".join(tr(locale, *SEAT_NAMES[seat.party]) for seat in decision.missing)


def _signed(row: Signature) -> signoff.Signed:
    return signoff.Signed(str(row.person_id), row.party, row.content_hash)


def _refusal(ctx: Context, decision: signoff.Decision, what: str) -> UserError:
    if decision.reason == signoff.ALREADY_SIGNED:
        return InvalidState(ctx.tr("你已签署过 {w}。", "You have already signed {w}.", w=what))
    if decision.reason == signoff.PARTY_SIGNED and decision.holder is not None:
        signer = ctx.session.get(Person, int(decision.holder.person))
        return InvalidState(ctx.tr("{n} 已代表本方签署 {w}；还需要另一方签署。",
                                   "{n} already signed {w} for your party; the other party must sign.",
                                   n=signer.name if signer else "?", w=what))  # fmt: skip
    return PermissionDenied(ctx.tr("你不能签署 {w}。", "You may not sign {w}.", w=what))
