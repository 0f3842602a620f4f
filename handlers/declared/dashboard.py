"""The chat commands of `handlers.dashboard`, as declared: importing this does not import the
handlers (each is imported when its command first runs)."""

from __future__ import annotations

from typing import Any

from bot.commands import Command, lazy
from domain.visibility import VENDOR_VIEWERS


def _run(name: str) -> Any:
    return lazy("handlers.dashboard", name)


COMMANDS = [
    Command(
        name="dashboard",
        aliases=("看板",),
        summary=(
            "在浏览器打开项目看板（登录链接私信发送）",
            "open the web console (a sign-in link, sent to you directly)",
        ),
        handler=_run("dashboard"),
        roles=frozenset({"client", *VENDOR_VIEWERS}),
        example="/看板",
        example_en="/dashboard",
    ),
]
