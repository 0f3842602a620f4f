"""A task's two life cycles (任务, K-n).

Scope: a task is a draft until both parties sign the scope baseline, or it is added under an
effective change request; from then on it is signed — its estimate and level change only
through a change request, its plan date only through a delay notice.

Progress: a task is open until the vendor PM marks it done or the client approver accepts a
deliverable for it. A delay notice (延期) is an event on an open task, not a record with a state
of its own: it takes effect when given — nobody signs, confirms or withdraws it — and a later
notice is the next plan version (`PlanChange`), so it needs no life cycle.
"""

from __future__ import annotations

from typing import Final

from domain.signoff import SIGNERS
from domain.transitions import Lifecycle, Transition

_PM = frozenset({"vendor_pm"})

# -- scope --------------------------------------------------------------------------------------

DRAFT: Final = "draft"
SIGNED: Final = "signed"

REESTIMATE: Final = "reestimate"  # est= or level=
REPLAN: Final = "replan"  # due= on /task edit
REPRIORITISE: Final = "reprioritise"  # prio= or owner=
BASELINE: Final = "baseline"  # both parties signed the scope
LOG_WORK: Final = "log_work"

TASK_SCOPE: Final = Lifecycle(
    "task scope",
    (DRAFT, SIGNED),
    (
        Transition(DRAFT, REESTIMATE, DRAFT, _PM),
        Transition(DRAFT, REPLAN, DRAFT, _PM),
        Transition(DRAFT, REPRIORITISE, DRAFT, _PM),
        Transition(SIGNED, REPRIORITISE, SIGNED, _PM),
        Transition(DRAFT, BASELINE, SIGNED, SIGNERS),
        Transition(SIGNED, LOG_WORK, SIGNED),
    ),
)


def scope_state(baselined: bool, under_change_request: bool) -> str:
    """Signed when the task is in a signed baseline or was added under a change request."""
    return SIGNED if baselined or under_change_request else DRAFT


# -- progress -----------------------------------------------------------------------------------

OPEN: Final = "open"
DONE: Final = "done"

FINISH: Final = "done"  # /task done
ACCEPT: Final = "accept"  # a deliverable for it was accepted
DELAY: Final = "delay"  # a delay notice: a new plan version; engineers for their own tasks

TASK: Final = Lifecycle(
    "task",
    (OPEN, DONE),
    (
        Transition(OPEN, FINISH, DONE, _PM),
        Transition(OPEN, ACCEPT, DONE, frozenset({"client_approver"})),
        Transition(OPEN, DELAY, OPEN, frozenset({"vendor_pm", "engineer"})),
    ),
)
