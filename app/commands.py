"""Every chat command and scheduled job of the app, in the order `/help` shows them.

Each is declared once, in `handlers.declared.<module>`, apart from the handler module that
carries it out: building the registry imports no handler module, and a handler module is
imported the first time one of its commands or jobs runs (`bot.commands.lazy`). This list is
the one place that names the declarations.
"""

from __future__ import annotations

from types import ModuleType

from bot.commands import Command
from bot.scheduler import Job
from handlers.declared import (
    alerts,
    binding,
    blockers,
    change_requests,
    checklist,
    closeout,
    dashboard,
    delivery,
    help,
    housekeeping,
    knowledge,
    obligations,
    periods,
    plan,
    progress_jobs,
    scope,
    signing,
    sla_sweep,
    status,
    tasks,
    ticket_flow,
    tickets,
    timesheet,
    worklog,
)

MODULES: tuple[ModuleType, ...] = (
    help, status, dashboard, tickets, ticket_flow, knowledge, worklog, timesheet, tasks, scope, plan,
    change_requests, signing, blockers, delivery, closeout, periods, progress_jobs, checklist,
    binding, sla_sweep, housekeeping, obligations, alerts,
)  # fmt: skip


def all_commands() -> list[Command]:
    return [command for module in MODULES for command in getattr(module, "COMMANDS", [])]


def all_jobs() -> list[Job]:
    return [job for module in MODULES for job in getattr(module, "JOBS", [])]
