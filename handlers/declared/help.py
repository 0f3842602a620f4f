"""The chat commands and jobs of `handlers.help`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.assurance import INTAKE
from bot.commands import Arg, Command, lazy


def _run(name: str) -> Any:
    return lazy("handlers.help", name)


COMMANDS = [
    Command(
        name="help",
        aliases=("帮助",),
        summary=("查看你可以使用的命令", "the commands you may use here"),
        handler=_run("help_command"),
        args=(Arg("command", "word", ("命令", "COMMAND"), required=False),),
        example="/帮助 完成",
        example_en="/help done",
        needs_engagement=False,
        needs=INTAKE,
    ),
]
