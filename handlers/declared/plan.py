"""The chat commands and jobs of `handlers.plan`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.commands import Arg, Command, lazy
from bot.scheduler import Job


def _run(name: str) -> Any:
    return lazy("handlers.plan", name)


_TASK = Arg("task", "ref", ("K-n", "K-n"), prefixes=("K",))

COMMANDS = [
    Command("delay", ("延期",), ("延期预警：新计划日期和原因", "delay notice: new plan date and cause"), _run("delay"),
            roles=frozenset({"vendor_pm", "engineer"}),
            args=(_TASK, Arg("date", "date", ("新日期", "DATE")), Arg("reason", "text", ("原因", "REASON"))),
            example="/延期 K-1 2026-12-20 甲方接口文档延迟提供", example_en="/delay K-1 2026-12-20 interface docs came late"),
]  # fmt: skip

JOBS = [
    Job(
        "plan.overdue",
        timedelta(minutes=15),
        _run("overdue"),
        "warn the PM about tasks past their plan date",
    )
]
