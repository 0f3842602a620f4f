"""The chat commands and jobs of `handlers.sla_sweep`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.commands import lazy
from bot.scheduler import Job


def _run(name: str) -> Any:
    return lazy("handlers.sla_sweep", name)


JOBS = [
    Job(
        "sla.sweep", timedelta(minutes=1), _run("sweep"), "SLA warnings, breaches, escalations, auto-close"
    ),
    Job(
        "calendar.check", timedelta(days=1), _run("calendar_check"), "warn about years without holiday data"
    ),
]
