"""A blocker's life cycle (阻塞问题): open until cleared; while open the scheduler escalates it
step by step — the client approver and the customer manager first, then the director.

Who may clear one: its owner, whoever recorded it (`owner`, `recorder`), a client coordinator
or the vendor PM; `system` is the scheduler.
"""

from __future__ import annotations

from domain.transitions import Lifecycle, Transition

OPEN, CLEARED = "open", "cleared"
OWNER, RECORDER, SYSTEM = "owner", "recorder", "system"
CLEARERS = frozenset({OWNER, RECORDER, "client_coordinator", "vendor_pm"})
# Who hears of step n (the last entry for any step beyond): 甲方审批人 + 专属客户经理, then 交付总监.
LADDER = (frozenset({"client_approver", "customer_manager"}), frozenset({"director"}))

BLOCKER = Lifecycle(
    "blocker",
    (OPEN, CLEARED),
    [
        Transition(OPEN, "clear", CLEARED, CLEARERS),
        Transition(OPEN, "escalate", OPEN, frozenset({SYSTEM})),
    ],
)


def state_of(cleared: bool) -> str:
    return CLEARED if cleared else OPEN


def escalation_due(steps: list[int], sent: list[str], age: int) -> tuple[list[int], int | None]:
    """Steps (1-based) reached by `age` (working minutes) and not yet sent, and the minutes at
    which the next one is reached (None: nothing left). A late run sends every step it finds
    reached."""
    due = [n for n, at in enumerate(steps, 1) if at <= age and f"step{n}" not in sent]
    upcoming = [at for n, at in enumerate(steps, 1) if at > age and f"step{n}" not in sent]
    return due, min(upcoming, default=None)


def hears(step: int) -> frozenset[str]:
    """The roles told of escalation step `step` (1-based)."""
    return LADDER[min(step, len(LADDER)) - 1]
