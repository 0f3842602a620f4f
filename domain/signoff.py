"""Two-party sign-off (双方签署) as a rule: may this person sign this record now, and does their
signature complete it?

Scope baselines, change requests, acceptance (验收单) and the monthly close all ask `decide`. A
record names its seats — one signature per party, given by someone holding one of the seat's
roles — and passes the signatures so far and the hash of its content as it stands now. A
signature on an older content hash does not count: the content changed after it was given, so
it is stale, neither filling a seat nor blocking its signer; the caller voids it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Seat:
    """One party's place on a record: `party` signs through a person with one of `roles`."""

    party: str
    roles: frozenset[str]


VENDOR_PM: Final = Seat("vendor", frozenset({"vendor_pm"}))
CLIENT_APPROVER: Final = Seat("client", frozenset({"client_approver"}))
# Scope baselines, change requests and the monthly close: one signature of each party.
BOTH_PARTIES: Final = (VENDOR_PM, CLIENT_APPROVER)
# Acceptance of a deliverable: the client approver's signature alone.
CLIENT_ONLY: Final = (CLIENT_APPROVER,)
# The roles that sign for their party (and may reject what is to be signed).
SIGNERS: Final = frozenset(role for seat in BOTH_PARTIES for role in seat.roles)


@dataclass(frozen=True)
class Signed:
    """A signature given so far: by whom (`person`, any key that tells people apart), for
    which party, on which content."""

    person: str
    party: str
    content_hash: str


@dataclass(frozen=True)
class Signer:
    """Who wants to sign now: their key, party and roles."""

    person: str
    party: str | None
    roles: frozenset[str]


REFUSED: Final = "refused"
WAITING: Final = "waiting"  # signed; another party still has to
COMPLETE: Final = "complete"  # this signature fills the last seat

# Why a signature is refused.
NOT_A_SIGNER: Final = "not_a_signer"  # no seat of the record is this person's
ALREADY_SIGNED: Final = "already_signed"  # this person's signature holds already
PARTY_SIGNED: Final = "party_signed"  # someone else signed for this person's party


@dataclass(frozen=True)
class Decision:
    """What a would-be signature does: `outcome` (refused, waiting, complete), the content
    hash it binds to, and the details a reply needs."""

    outcome: str
    content_hash: str
    reason: str = ""  # when refused: NOT_A_SIGNER, ALREADY_SIGNED or PARTY_SIGNED
    holder: Signed | None = None  # when refused: the signature that holds the seat
    missing: tuple[Seat, ...] = ()  # the seats still to sign after this signature
    stale: tuple[Signed, ...] = ()  # signatures on older content: they no longer count

    @property
    def refused(self) -> bool:
        return self.outcome == REFUSED

    @property
    def complete(self) -> bool:
        return self.outcome == COMPLETE


def seat_of(seats: Iterable[Seat], signer: Signer) -> Seat | None:
    """The seat `signer` may fill: their party's, if they hold one of its roles."""
    return next(
        (seat for seat in seats if seat.party == signer.party and seat.roles & signer.roles),
        None,
    )


def decide(
    seats: Iterable[Seat], signatures: Iterable[Signed], signer: Signer, content_hash: str
) -> Decision:
    """Whether `signer` may sign a record needing `seats`, whose content now hashes to
    `content_hash`, after `signatures`; and whether their signature completes it."""
    seats, signatures = tuple(seats), tuple(signatures)
    current = [s for s in signatures if s.content_hash == content_hash]
    stale = tuple(s for s in signatures if s.content_hash != content_hash)
    if seat_of(seats, signer) is None:
        return Decision(REFUSED, content_hash, NOT_A_SIGNER, stale=stale)
    mine = next((s for s in current if s.person == signer.person), None)
    if mine is not None:
        return Decision(REFUSED, content_hash, ALREADY_SIGNED, holder=mine, stale=stale)
    ours = next((s for s in current if s.party == signer.party), None)
    if ours is not None:
        return Decision(REFUSED, content_hash, PARTY_SIGNED, holder=ours, stale=stale)
    signed = {s.party for s in current} | {signer.party}
    missing = tuple(seat for seat in seats if seat.party not in signed)
    return Decision(WAITING if missing else COMPLETE, content_hash, missing=missing, stale=stale)
