"""Two-party sign-off as a rule, without a database: who may sign, when it is complete, and that
a signature on older content no longer counts."""

from __future__ import annotations

from itertools import chain, combinations

import pytest

from domain import signoff
from domain.signoff import (
    ALREADY_SIGNED,
    BOTH_PARTIES,
    CLIENT_ONLY,
    COMPLETE,
    NOT_A_SIGNER,
    PARTY_SIGNED,
    REFUSED,
    WAITING,
    Signed,
    Signer,
)

PM = Signer("sun.wei", "vendor", frozenset({"vendor_pm"}))
PM2 = Signer("zhou.min", "vendor", frozenset({"vendor_pm", "customer_manager"}))
APPROVER = Signer("wang.li", "client", frozenset({"client_approver"}))
APPROVER2 = Signer("chen.zong", "client", frozenset({"client_approver"}))
ENGINEER = Signer("zhao.gang", "vendor", frozenset({"engineer"}))
MEMBER = Signer("liu.yang", "client", frozenset({"client_member"}))
ADMIN = Signer("admin", None, frozenset({"admin", "vendor_pm"}))  # no party: no seat
PEOPLE = (PM, PM2, APPROVER, APPROVER2, ENGINEER, MEMBER, ADMIN)
NOW, BEFORE = "hash-now", "hash-before"


def signed(signer: Signer, content_hash: str = NOW) -> Signed:
    assert signer.party is not None
    return Signed(signer.person, signer.party, content_hash)


def test_the_signers() -> None:
    assert frozenset({"vendor_pm", "client_approver"}) == signoff.SIGNERS
    assert [seat.party for seat in BOTH_PARTIES] == ["vendor", "client"]
    assert [seat.party for seat in CLIENT_ONLY] == ["client"]
    assert signoff.seat_of(BOTH_PARTIES, PM) == signoff.VENDOR_PM
    assert signoff.seat_of(BOTH_PARTIES, APPROVER) == signoff.CLIENT_APPROVER
    assert signoff.seat_of(CLIENT_ONLY, PM) is None
    assert signoff.seat_of(BOTH_PARTIES, ENGINEER) is None


@pytest.mark.parametrize(("first", "second"), [(PM, APPROVER), (APPROVER, PM)])
def test_both_parties_in_either_order(first: Signer, second: Signer) -> None:
    waiting = signoff.decide(BOTH_PARTIES, [], first, NOW)
    assert (waiting.outcome, waiting.content_hash) == (WAITING, NOW)
    assert [seat.party for seat in waiting.missing] == [second.party]
    assert not waiting.refused and not waiting.complete
    done = signoff.decide(BOTH_PARTIES, [signed(first)], second, NOW)
    assert (done.outcome, done.missing, done.content_hash) == (COMPLETE, (), NOW)
    assert done.complete


def test_acceptance_needs_the_client_alone() -> None:
    assert signoff.decide(CLIENT_ONLY, [], APPROVER, NOW).outcome == COMPLETE
    refused = signoff.decide(CLIENT_ONLY, [], PM, NOW)
    assert (refused.outcome, refused.reason) == (REFUSED, NOT_A_SIGNER)


def test_the_same_person_twice() -> None:
    first = signed(PM)
    decision = signoff.decide(BOTH_PARTIES, [first], PM, NOW)
    assert (decision.outcome, decision.reason, decision.holder) == (REFUSED, ALREADY_SIGNED, first)


def test_a_second_signer_of_one_party() -> None:
    first = signed(PM)
    decision = signoff.decide(BOTH_PARTIES, [first], PM2, NOW)
    assert (decision.outcome, decision.reason, decision.holder) == (REFUSED, PARTY_SIGNED, first)


@pytest.mark.parametrize("who", [ENGINEER, MEMBER, ADMIN])
def test_people_without_a_seat(who: Signer) -> None:
    decision = signoff.decide(BOTH_PARTIES, [], who, NOW)
    assert (decision.outcome, decision.reason, decision.holder) == (REFUSED, NOT_A_SIGNER, None)


def test_a_role_of_the_other_party_fills_no_seat() -> None:
    odd = Signer("odd", "client", frozenset({"vendor_pm"}))
    assert signoff.decide(BOTH_PARTIES, [], odd, NOW).reason == NOT_A_SIGNER


def test_a_signature_on_older_content_no_longer_counts() -> None:
    old = signed(APPROVER, BEFORE)
    decision = signoff.decide(BOTH_PARTIES, [old], PM, NOW)
    assert (decision.outcome, decision.stale) == (WAITING, (old,))
    assert [seat.party for seat in decision.missing] == ["client"]
    again = signoff.decide(BOTH_PARTIES, [old], APPROVER, NOW)  # nor does it block its signer
    assert (again.outcome, again.stale) == (WAITING, (old,))
    other = signoff.decide(BOTH_PARTIES, [old], APPROVER2, NOW)  # nor the party's seat
    assert other.outcome == WAITING
    done = signoff.decide(BOTH_PARTIES, [old, signed(APPROVER)], PM, NOW)
    assert (done.outcome, done.stale) == (COMPLETE, (old,))


def _histories() -> list[tuple[Signed, ...]]:
    """Every set of earlier signatures by the signers, on this content or an older one."""
    given = [signed(p, h) for p in (PM, PM2, APPROVER, APPROVER2) for h in (NOW, BEFORE)]
    return [tuple(c) for c in chain.from_iterable(combinations(given, n) for n in range(4))]


@pytest.mark.parametrize("who", PEOPLE, ids=lambda s: s.person)
def test_every_history(who: Signer) -> None:
    for history in _histories():
        decision = signoff.decide(BOTH_PARTIES, history, who, NOW)
        current = [s for s in history if s.content_hash == NOW]
        assert decision.stale == tuple(s for s in history if s.content_hash == BEFORE)
        assert decision.content_hash == NOW
        if signoff.seat_of(BOTH_PARTIES, who) is None:
            assert decision.reason == NOT_A_SIGNER
        elif any(s.person == who.person for s in current):
            assert decision.reason == ALREADY_SIGNED
        elif any(s.party == who.party for s in current):
            assert decision.reason == PARTY_SIGNED
        else:
            parties = {s.party for s in current} | {who.party}
            assert decision.complete is (parties == {"vendor", "client"}), history
            assert decision.outcome == (COMPLETE if decision.complete else WAITING)
            continue
        assert decision.refused and decision.missing == ()
