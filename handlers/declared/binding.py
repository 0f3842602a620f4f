"""The chat commands and jobs of `handlers.binding`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.assurance import SIGNING
from bot.commands import Arg, Command, lazy


def _run(name: str) -> Any:
    return lazy("handlers.binding", name)


BINDERS = frozenset({"vendor_pm", "admin"})

COMMANDS = [
    Command(
        name="bind",
        aliases=("绑定",),
        summary=("把本群绑定到项目", "bind this chat to an engagement"),
        handler=_run("bind_chat"),
        args=(Arg("code", "word", ("项目编号", "CODE")),),
        roles=BINDERS,
        example="/绑定 DEMO-2026",
        example_en="/bind DEMO-2026",
        needs_engagement=False,
        needs=SIGNING,
    ),
]
