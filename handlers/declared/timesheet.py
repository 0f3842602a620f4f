"""The chat commands and jobs of `handlers.timesheet`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.commands import Arg, Command, lazy


def _run(name: str) -> Any:
    return lazy("handlers.timesheet", name)


VIEWERS = frozenset({"vendor", "client_approver"})

COMMANDS = [
    Command("timesheet", ("工时",), ("按人按天的工时表", "person-by-day timesheet"), _run("show_timesheet"), roles=VIEWERS,
            args=(Arg("span", "word", ("week|month|YYYY-MM", "week|month|YYYY-MM"), required=False),
                  Arg("who", "person", ("@某人", "@PERSON"), required=False)),
            example="/工时 本月 @zhaogang", example_en="/timesheet month @zhaogang"),
    Command("budget", ("预算",), ("各级别人天预算、消耗和预计用完日期", "budget by level: used, left, burn, run-out"),
            _run("show_budget"), roles=VIEWERS, example="/预算", example_en="/budget"),
]  # fmt: skip
