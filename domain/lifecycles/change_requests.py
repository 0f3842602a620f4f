"""A change request's life cycle (变更单): filed in writing, estimated by the vendor PM, signed
by both parties — then effective, for good — or rejected with a reason before that.

Work, deliverables and tasks count against a change request only once it is effective.
"""

from __future__ import annotations

from typing import Final

from domain.signoff import SIGNERS
from domain.transitions import Lifecycle, Transition

FILED: Final = "filed"
ESTIMATED: Final = "estimated"  # awaiting signatures
EFFECTIVE: Final = "effective"
REJECTED: Final = "rejected"

ESTIMATE: Final = "estimate"  # a new estimate voids the signatures given so far
SIGN: Final = "sign"  # a signature that leaves the other party to sign
COUNTERSIGN: Final = "countersign"  # the signature that completes both: effective
REJECT: Final = "reject"
LOG_WORK: Final = "log_work"  # /log against it
DELIVER: Final = "deliver"  # /deliver for it
ADD_TASK: Final = "add_task"  # /task add … cr=CR-n

_PM = frozenset({"vendor_pm"})

CHANGE_REQUEST: Final = Lifecycle(
    "change request",
    (FILED, ESTIMATED, EFFECTIVE, REJECTED),
    (
        Transition(FILED, ESTIMATE, ESTIMATED, _PM),
        Transition(ESTIMATED, ESTIMATE, ESTIMATED, _PM),
        Transition(ESTIMATED, SIGN, ESTIMATED, SIGNERS),
        Transition(ESTIMATED, COUNTERSIGN, EFFECTIVE, SIGNERS),
        Transition(FILED, REJECT, REJECTED, SIGNERS),
        Transition(ESTIMATED, REJECT, REJECTED, SIGNERS),
        Transition(EFFECTIVE, LOG_WORK, EFFECTIVE),
        Transition(EFFECTIVE, DELIVER, EFFECTIVE),
        Transition(EFFECTIVE, ADD_TASK, EFFECTIVE),
    ),
)


def signing_event(complete: bool) -> str:
    """The event a signature causes: the countersignature when it completes the sign-off."""
    return COUNTERSIGN if complete else SIGN
