"""The chat commands and jobs of `handlers.scope`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.assurance import SIGNING
from bot.commands import Command, lazy
from domain import signoff
from domain.catalog import EITHER_PARTY


def _run(name: str) -> Any:
    return lazy("handlers.scope", name)


COMMANDS = [
    Command("scope sign", ("范围 签署",), ("签署范围基线（双方各一）", "sign the scope baseline (one per party)"),
            _run("sign_scope"), roles=signoff.SIGNERS, example="/范围 签署", example_en="/scope sign", needs=SIGNING),
    Command("scope", ("范围",), ("范围基线状态", "the scope baseline and its signatures"), _run("show_scope"),
            roles=EITHER_PARTY, example="/范围", example_en="/scope"),
]  # fmt: skip
