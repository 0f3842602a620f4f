"""The chat commands and jobs of `handlers.housekeeping`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.commands import lazy
from bot.scheduler import Job


def _run(name: str) -> Any:
    return lazy("handlers.housekeeping", name)


JOBS = [
    Job("intake.prune", timedelta(hours=6), _run("prune_inbound_keys"), "forget dedupe keys after 30 days"),
]
