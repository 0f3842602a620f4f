"""The domain. Each module declares its chat commands (`COMMANDS`) and scheduler jobs (`JOBS`);
this package lists them in the order `/help` shows them."""

from __future__ import annotations

from types import ModuleType

from bot.commands import Command
from bot.scheduler import Job


def _modules() -> list[ModuleType]:
    from handlers import (
        binding,
        blockers,
        change_requests,
        checklist,
        delivery,
        help,
        housekeeping,
        periods,
        plan,
        progress_jobs,
        scope,
        sla_sweep,
        status,
        ticket_flow,
        tickets,
        timesheet,
        worklog,
    )

    return [
        help, status, tickets, ticket_flow, worklog, timesheet, scope, plan, change_requests,
        blockers, delivery, periods, progress_jobs, checklist, binding, sla_sweep, housekeeping,
    ]  # fmt: skip


def all_commands() -> list[Command]:
    return [command for module in _modules() for command in getattr(module, "COMMANDS", [])]


def all_jobs() -> list[Job]:
    return [job for module in _modules() for job in getattr(module, "JOBS", [])]


def policy_of(engagement: object) -> object:
    """The engagement's policy (`ctx.policy`), parsed once."""
    from domain.policy import policy_of as parse

    return parse(engagement)
