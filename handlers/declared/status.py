"""The chat commands and jobs of `handlers.status`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.commands import Command, lazy


def _run(name: str) -> Any:
    return lazy("handlers.status", name)


COMMANDS = [
    Command(
        name="status",
        aliases=("进度", "状态"),
        summary=("项目概况", "the engagement at a glance"),
        handler=_run("show_status"),
        example="/进度",
        example_en="/status",
    ),
]
