"""A month's life cycle (人天结算): open for work logs; closed by the vendor PM (the vendor's
signature); locked when the client approver confirms it (the client's). Before that, either
signer may reopen it. Only an open month takes work logs, undos and adjustments."""

from __future__ import annotations

from typing import Final

from domain.signoff import SIGNERS
from domain.transitions import Lifecycle, Transition

OPEN: Final = "open"
CLOSED: Final = "closed"  # signed by the vendor, awaiting the client
LOCKED: Final = "locked"  # signed by both

CLOSE: Final = "close"
CONFIRM: Final = "confirm"
REOPEN: Final = "reopen"
LOG_WORK: Final = "log_work"  # an entry, undo or adjustment dated in the month

PERIOD: Final = Lifecycle(
    "period",
    (OPEN, CLOSED, LOCKED),
    (
        Transition(OPEN, CLOSE, CLOSED, frozenset({"vendor_pm"})),
        Transition(CLOSED, CONFIRM, LOCKED, frozenset({"client_approver"})),
        Transition(CLOSED, REOPEN, OPEN, SIGNERS),
        Transition(OPEN, LOG_WORK, OPEN),
    ),
)
