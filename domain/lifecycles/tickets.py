"""A ticket's life cycle (工单): waiting for its first response (待响应), in progress, pending
(挂起, its resolution clock paused), resolved (awaiting the client's confirmation, 待确认) and
closed; the events are the commands that move it, and the scheduler's auto-close.

Who may cause an event: roles, a party (`client`, `vendor`: its registered staff), `reporter`
(whoever opened this ticket, registered or not) and `system` (the scheduler).
"""

from __future__ import annotations

from domain.catalog import EITHER_PARTY
from domain.transitions import Lifecycle, Transition

OPEN, IN_PROGRESS, PENDING = "open", "in_progress", "pending"  # 待响应, 处理中, 挂起
RESOLVED, CLOSED = "resolved", "closed"  # 已解决·待确认, 已关闭
STATES = (OPEN, IN_PROGRESS, PENDING, RESOLVED, CLOSED)
OPEN_STATES = (OPEN, IN_PROGRESS, PENDING, RESOLVED)  # until closed; see handlers.ticket_states
WORKING = (OPEN, IN_PROGRESS, PENDING)  # not resolved yet: what the vendor still works on

REPORTER = "reporter"
SYSTEM = "system"
RESPONDERS = frozenset({"engineer", "vendor_pm"})
PARTIES = EITHER_PARTY
# Confirming or reopening is the client side's: any registered client person, or the reporter.
CONFIRMERS = frozenset({"client", REPORTER})
# A monitoring alert's ticket (handlers.alerts): its recovery may resolve it, where the
# engagement says so, and an alert firing again soon after (flapping) reopens it.
MONITORING = frozenset({SYSTEM})

TICKET = Lifecycle(
    "ticket",
    STATES,
    [
        Transition(OPEN, "ack", IN_PROGRESS, RESPONDERS),
        *(Transition(state, "assign", state, RESPONDERS) for state in OPEN_STATES),
        Transition(OPEN, "pending", PENDING, RESPONDERS),
        Transition(IN_PROGRESS, "pending", PENDING, RESPONDERS),
        Transition(PENDING, "resume", IN_PROGRESS, PARTIES),
        *(Transition(state, "resolve", RESOLVED, RESPONDERS | MONITORING) for state in WORKING),
        *(Transition(state, "close", CLOSED, CONFIRMERS) for state in OPEN_STATES),
        Transition(RESOLVED, "reopen", IN_PROGRESS, CONFIRMERS | MONITORING),
        Transition(CLOSED, "reopen", IN_PROGRESS, CONFIRMERS | MONITORING),
        Transition(RESOLVED, "auto_close", CLOSED, frozenset({SYSTEM})),
    ],
)


def settle(state: str, acknowledged: bool) -> str:
    """The state a step leaves a ticket in: one no one has answered yet is waiting for its
    first response (`open`), not in progress — a ticket withdrawn unanswered and reopened."""
    return OPEN if state == IN_PROGRESS and not acknowledged else state
