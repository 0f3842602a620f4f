"""The chat commands of `handlers.signing`, as declared: importing this does not import the
handlers (each is imported when its command first runs)."""

from __future__ import annotations

from typing import Any

from bot.assurance import SIGNING
from bot.commands import Arg, Command, lazy
from domain.signoff import SIGNERS

# The kinds of record /sign and /reject take: the keys of `handlers.signing.ROUTES` whose route
# signs or rejects (a test holds the two together).
SIGNED = ("CR",)
REJECTED = ("CR", "D")


def _run(name: str) -> Any:
    return lazy("handlers.signing", name)


def _ref_arg(prefixes: tuple[str, ...]) -> Arg:
    metavar = "|".join(f"{prefix}-n" for prefix in prefixes)
    return Arg("ref", "ref", (metavar, metavar), prefixes=prefixes)


COMMANDS = [
    Command("sign", ("签署",), ("签署变更单（双方各一人）", "sign a change request (one person per party)"), _run("sign"),
            roles=SIGNERS, args=(_ref_arg(SIGNED),), example="/签署 CR-1", example_en="/sign CR-1", needs=SIGNING),
    Command("reject", ("驳回",), ("驳回变更单或交付物（注明原因）", "reject a change request or a deliverable, with the reason"),
            _run("reject"), roles=SIGNERS, args=(_ref_arg(REJECTED), Arg("reason", "text", ("原因", "REASON"))),
            example="/驳回 CR-1 超出本期预算", example_en="/reject CR-1 beyond this quarter's budget", needs=SIGNING),
]  # fmt: skip
