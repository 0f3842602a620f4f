"""The life cycles of the signed records — change requests, deliverables, months, tasks — as
tables, without a database: every state against every event, and who may cause each step."""

from __future__ import annotations

import pytest

from domain.catalog import ROLES
from domain.lifecycles import change_requests as cr
from domain.lifecycles import deliverables as d
from domain.lifecycles import periods as p
from domain.lifecycles import tasks as k
from domain.transitions import Lifecycle

ANYONE: frozenset[str] = frozenset()
PM = frozenset({"vendor_pm"})
APPROVER = frozenset({"client_approver"})
SIGNERS = PM | APPROVER
DELAYERS = frozenset({"vendor_pm", "engineer"})

# (state, event) -> (the state it leads to, the roles that may cause it); any pair missing is
# refused as the wrong state.
TABLES: dict[str, tuple[Lifecycle, dict[tuple[str, str], tuple[str, frozenset[str]]]]] = {
    "change request": (cr.CHANGE_REQUEST, {
        (cr.FILED, cr.ESTIMATE): (cr.ESTIMATED, PM),
        (cr.ESTIMATED, cr.ESTIMATE): (cr.ESTIMATED, PM),
        (cr.ESTIMATED, cr.SIGN): (cr.ESTIMATED, SIGNERS),
        (cr.ESTIMATED, cr.COUNTERSIGN): (cr.EFFECTIVE, SIGNERS),
        (cr.FILED, cr.REJECT): (cr.REJECTED, SIGNERS),
        (cr.ESTIMATED, cr.REJECT): (cr.REJECTED, SIGNERS),
        (cr.EFFECTIVE, cr.LOG_WORK): (cr.EFFECTIVE, ANYONE),
        (cr.EFFECTIVE, cr.DELIVER): (cr.EFFECTIVE, ANYONE),
        (cr.EFFECTIVE, cr.ADD_TASK): (cr.EFFECTIVE, ANYONE),
    }),
    "deliverable": (d.DELIVERABLE, {
        (d.SUBMITTED, d.ACCEPT): (d.ACCEPTED, APPROVER),
        (d.SUBMITTED, d.REJECT): (d.REJECTED, APPROVER),
    }),
    "period": (p.PERIOD, {
        (p.OPEN, p.CLOSE): (p.CLOSED, PM),
        (p.CLOSED, p.CONFIRM): (p.LOCKED, APPROVER),
        (p.CLOSED, p.REOPEN): (p.OPEN, SIGNERS),
        (p.OPEN, p.LOG_WORK): (p.OPEN, ANYONE),
    }),
    "task scope": (k.TASK_SCOPE, {
        (k.DRAFT, k.REESTIMATE): (k.DRAFT, PM),
        (k.DRAFT, k.REPLAN): (k.DRAFT, PM),
        (k.DRAFT, k.REPRIORITISE): (k.DRAFT, PM),
        (k.SIGNED, k.REPRIORITISE): (k.SIGNED, PM),
        (k.DRAFT, k.BASELINE): (k.SIGNED, SIGNERS),
        (k.SIGNED, k.LOG_WORK): (k.SIGNED, ANYONE),
    }),
    "task": (k.TASK, {
        (k.OPEN, k.FINISH): (k.DONE, PM),
        (k.OPEN, k.ACCEPT): (k.DONE, APPROVER),
        (k.OPEN, k.DELAY): (k.OPEN, DELAYERS),
    }),
}  # fmt: skip
FINAL = {
    "change request": (cr.REJECTED,),  # an effective one still takes work and deliverables
    "deliverable": (d.ACCEPTED, d.REJECTED),
    "period": (p.LOCKED,),
    "task scope": (),
    "task": (k.DONE,),
}
PARTY = {"client_member": "client", "client_approver": "client", "client_coordinator": "client",
         "engineer": "vendor", "vendor_pm": "vendor", "customer_manager": "vendor",
         "director": "vendor", "admin": "vendor"}  # fmt: skip
PAIRS = [
    (name, state, event)
    for name, (life, _) in TABLES.items()
    for state in life.states
    for event in life.events
]


def test_the_roles_are_the_catalogues() -> None:
    assert set(PARTY) == set(ROLES)


@pytest.mark.parametrize("name", TABLES)
def test_each_table_is_what_it_declares(name: str) -> None:
    life, table = TABLES[name]
    assert {(t.source, t.event) for t in life.transitions} == set(table)
    assert life.final() == FINAL[name]


@pytest.mark.parametrize(("name", "state", "event"), PAIRS)
@pytest.mark.parametrize("role", sorted(PARTY))
def test_every_state_event_and_role(name: str, state: str, event: str, role: str) -> None:
    life, table = TABLES[name]
    step = life.step(state, event, {role, PARTY[role]})
    if (state, event) not in table:
        assert (step.target, step.reason, step.allowed) == (None, "wrong_state", False)
        assert not life.can(state, event)
        return
    target, who = table[(state, event)]
    assert life.can(state, event)
    if not who or role in who:
        assert (step.target, step.reason, step.allowed) == (target, "", True)
    else:
        assert (step.target, step.reason, step.allowed) == (None, "not_allowed", False)


@pytest.mark.parametrize("name", TABLES)
def test_permits_asks_every_state(name: str) -> None:
    life, table = TABLES[name]
    for event in life.events:
        for role in PARTY:
            expected = any(not w or role in w for (_, e), (_, w) in table.items() if e == event)
            assert life.permits(event, {role, PARTY[role]}) is expected, (event, role)


def test_a_party_alone_is_not_a_role() -> None:
    assert not d.DELIVERABLE.permits(d.REJECT, {"client"})
    assert cr.CHANGE_REQUEST.step(cr.FILED, cr.REJECT, {"vendor"}).reason == "not_allowed"


def test_the_signature_that_completes_a_change_request() -> None:
    assert cr.signing_event(complete=False) == cr.SIGN
    assert cr.signing_event(complete=True) == cr.COUNTERSIGN
    assert cr.CHANGE_REQUEST.step(cr.ESTIMATED, cr.COUNTERSIGN, PM).target == cr.EFFECTIVE


@pytest.mark.parametrize(
    ("baselined", "under_cr", "state"),
    [
        (False, False, k.DRAFT),
        (True, False, k.SIGNED),
        (False, True, k.SIGNED),
        (True, True, k.SIGNED),
    ],
)
def test_a_tasks_scope_state(baselined: bool, under_cr: bool, state: str) -> None:
    assert k.scope_state(baselined, under_cr) == state


def test_only_an_open_month_takes_work() -> None:
    assert [s for s in p.PERIOD.states if p.PERIOD.can(s, p.LOG_WORK)] == [p.OPEN]


def test_work_counts_only_against_effective_change_requests() -> None:
    for event in (cr.LOG_WORK, cr.DELIVER, cr.ADD_TASK):
        assert cr.CHANGE_REQUEST.sources(event) == (cr.EFFECTIVE,)
