"""The chat commands and jobs of `handlers.closeout`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.commands import Command, lazy
from domain.catalog import EITHER_PARTY


def _run(name: str) -> Any:
    return lazy("handlers.closeout", name)


COMMANDS = [
    Command("closeout", ("结项",), ("结项前还差什么", "what is still missing before the engagement can close"),
            _run("show_closeout"), roles=EITHER_PARTY, example="/结项", example_en="/closeout"),
]  # fmt: skip
