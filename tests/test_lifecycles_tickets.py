"""The ticket and blocker life cycles as tables, without a database: every state against every
event, and who may cause each step."""

from __future__ import annotations

import pytest

from domain.lifecycles import blockers, tickets
from domain.lifecycles.tickets import CLOSED, IN_PROGRESS, OPEN, PENDING, RESOLVED, TICKET

ENGINEER = {"engineer", "vendor"}
PM = {"vendor_pm", "vendor"}
CLIENT = {"client_member", "client"}
COORDINATOR = {"client_coordinator", "client"}
UNREGISTERED = {"unregistered_reporter"}  # no party: not registered
SYSTEM = {"system"}

# state -> event -> the state it leads to; anything missing is refused as the wrong state.
ALLOWED = {
    OPEN: {"ack": IN_PROGRESS, "assign": OPEN, "pending": PENDING, "resolve": RESOLVED,
           "close": CLOSED},
    IN_PROGRESS: {"assign": IN_PROGRESS, "pending": PENDING, "resolve": RESOLVED, "close": CLOSED},
    PENDING: {"assign": PENDING, "resume": IN_PROGRESS, "resolve": RESOLVED, "close": CLOSED},
    RESOLVED: {"assign": RESOLVED, "close": CLOSED, "reopen": IN_PROGRESS,
               "auto_close": CLOSED},
    CLOSED: {"reopen": IN_PROGRESS},
}  # fmt: skip
# Someone each event allows: the step's own actors.
ALLOWED_WHO = {
    "ack": ENGINEER, "assign": PM, "pending": ENGINEER, "resume": CLIENT, "resolve": PM,
    "close": CLIENT, "reopen": CLIENT, "auto_close": SYSTEM,
}  # fmt: skip


def test_the_table_knows_every_state_and_event() -> None:
    assert TICKET.states == (OPEN, IN_PROGRESS, PENDING, RESOLVED, CLOSED)
    assert set(TICKET.events) == set(ALLOWED_WHO)
    assert TICKET.final() == ()  # a closed ticket can be reopened


@pytest.mark.parametrize("state", TICKET.states)
@pytest.mark.parametrize("event", sorted(ALLOWED_WHO))
def test_every_state_and_event(state: str, event: str) -> None:
    step = TICKET.step(state, event, ALLOWED_WHO[event])
    expected = ALLOWED[state].get(event)
    assert step.target == expected
    assert step.reason == ("" if expected else "wrong_state")
    assert TICKET.can(state, event) is (expected is not None)


@pytest.mark.parametrize(
    ("event", "who", "allowed"),
    [
        # Responding is the vendor's engineers' and PMs'.
        ("ack", ENGINEER, True), ("ack", PM, True), ("ack", CLIENT, False), ("ack", {"vendor"}, False),
        ("ack", {"director", "vendor"}, False), ("ack", SYSTEM, False),
        ("pending", PM, True), ("pending", CLIENT, False),
        ("resolve", ENGINEER, True), ("resolve", {"customer_manager", "vendor"}, False),
        ("assign", ENGINEER, True), ("assign", COORDINATOR, False),
        # Either party's registered staff restart the clock; not an unregistered reporter.
        ("resume", CLIENT, True), ("resume", ENGINEER, True), ("resume", {"director", "vendor"}, True),
        ("resume", UNREGISTERED, False), ("resume", UNREGISTERED | {"reporter"}, False),
        # Confirming is the client side's: registered client staff, or the reporter.
        ("close", CLIENT, True), ("close", {"client_approver", "client"}, True),
        ("close", UNREGISTERED | {"reporter"}, True), ("close", UNREGISTERED, False),
        ("close", PM, False), ("close", PM | {"reporter"}, True), ("close", SYSTEM, False),
        ("reopen", COORDINATOR, True), ("reopen", UNREGISTERED | {"reporter"}, True),
        ("reopen", UNREGISTERED, False), ("reopen", ENGINEER, False),
        # Only the scheduler closes a ticket by itself.
        ("auto_close", SYSTEM, True), ("auto_close", CLIENT, False), ("auto_close", PM, False),
    ],
)  # fmt: skip
def test_who_may(event: str, who: set[str], allowed: bool) -> None:
    state = next(s for s in TICKET.states if TICKET.can(s, event))
    step = TICKET.step(state, event, who)
    assert step.allowed is allowed
    assert step.reason == ("" if allowed else "not_allowed")


def test_the_wrong_state_is_told_before_the_wrong_person() -> None:
    assert TICKET.step(CLOSED, "close", UNREGISTERED).reason == "wrong_state"
    assert TICKET.step(OPEN, "reopen", ENGINEER).reason == "wrong_state"


@pytest.mark.parametrize(
    ("state", "acknowledged", "settled"),
    [
        (IN_PROGRESS, True, IN_PROGRESS), (IN_PROGRESS, False, OPEN),  # withdrawn unanswered, reopened
        (OPEN, False, OPEN), (PENDING, True, PENDING), (RESOLVED, True, RESOLVED),
        (CLOSED, False, CLOSED),
    ],
)  # fmt: skip
def test_a_ticket_no_one_answered_waits_for_its_first_response(
    state: str, acknowledged: bool, settled: str
) -> None:
    assert tickets.settle(state, acknowledged) == settled


def test_open_means_until_closed() -> None:
    assert tickets.OPEN_STATES == (OPEN, IN_PROGRESS, PENDING, RESOLVED)


# -- blockers ---------------------------------------------------------------------------------

CLEARERS = [{"owner"}, {"recorder"}, {"client_coordinator", "client"}, {"vendor_pm", "vendor"}]
NOT_CLEARERS = [CLIENT, ENGINEER, {"client_approver", "client"}, {"director", "vendor"}, SYSTEM]


@pytest.mark.parametrize("who", CLEARERS)
def test_an_open_blocker_is_cleared_by_its_owner_recorder_coordinator_or_pm(who: set[str]) -> None:
    step = blockers.BLOCKER.step(blockers.OPEN, "clear", who)
    assert step.target == blockers.CLEARED


@pytest.mark.parametrize("who", NOT_CLEARERS)
def test_nobody_else_clears_a_blocker(who: set[str]) -> None:
    assert blockers.BLOCKER.step(blockers.OPEN, "clear", who).reason == "not_allowed"


@pytest.mark.parametrize("who", [*CLEARERS, *NOT_CLEARERS])
def test_a_cleared_blocker_is_not_cleared_again_nor_escalated(who: set[str]) -> None:
    assert blockers.BLOCKER.step(blockers.CLEARED, "clear", who).reason == "wrong_state"
    assert blockers.BLOCKER.step(blockers.CLEARED, "escalate", who).reason == "wrong_state"
    assert blockers.BLOCKER.final() == (blockers.CLEARED,)


def test_only_the_scheduler_escalates_an_open_blocker() -> None:
    assert blockers.BLOCKER.step(blockers.OPEN, "escalate", SYSTEM).target == blockers.OPEN
    assert not blockers.BLOCKER.step(blockers.OPEN, "escalate", {"vendor_pm", "vendor"}).allowed


def test_the_escalation_ladder() -> None:
    assert blockers.hears(1) == {"client_approver", "customer_manager"}
    assert blockers.hears(2) == blockers.hears(5) == {"director"}
    assert blockers.state_of(cleared=False) == blockers.OPEN
    assert blockers.state_of(cleared=True) == blockers.CLEARED
