"""A deliverable's life cycle (交付物): submitted by the vendor PM, then accepted (the client
approver signs the acceptance, 验收单) or rejected with a reason. Either is final: a fixed
deliverable is submitted again as a new one."""

from __future__ import annotations

from typing import Final

from domain.transitions import Lifecycle, Transition

SUBMITTED: Final = "submitted"  # awaiting acceptance
ACCEPTED: Final = "accepted"
REJECTED: Final = "rejected"

ACCEPT: Final = "accept"
REJECT: Final = "reject"

_APPROVER = frozenset({"client_approver"})

DELIVERABLE: Final = Lifecycle(
    "deliverable",
    (SUBMITTED, ACCEPTED, REJECTED),
    (
        Transition(SUBMITTED, ACCEPT, ACCEPTED, _APPROVER),
        Transition(SUBMITTED, REJECT, REJECTED, _APPROVER),
    ),
)
