"""The jobs of `handlers.alerts`, as declared: importing this does not import the handlers
(each is imported when its job first runs). Alerts arrive over HTTP (`web.alerts`), not as
chat commands."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.commands import lazy
from bot.scheduler import Job


def _run(name: str) -> Any:
    return lazy("handlers.alerts", name)


JOBS = [
    Job(
        "alerts.summary",
        timedelta(minutes=1),
        _run("summary_job"),
        "posts one summary of the alert posts the storm limit held back",
    ),
]
