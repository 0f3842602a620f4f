"""/sign and /reject (/签署 /驳回): one table routes them by the reference's prefix to the
record's own handler. The scope baseline and the monthly close have commands of their own
(/范围 签署, /结算 关闭 and 确认); a record that /sign or /reject should reach is one row here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.assurance import SIGNING
from bot.commands import Arg, Command, Parsed, Ref
from bot.context import Context
from domain.signoff import SIGNERS
from handlers import change_requests, delivery


@dataclass(frozen=True)
class Route:
    """What /sign and /reject do to one kind of record; None: that command does not take it."""

    sign: Callable[[Context, Ref], None] | None
    reject: Callable[[Context, Ref, str], None] | None


ROUTES: dict[str, Route] = {
    "CR": Route(sign=change_requests.sign, reject=change_requests.reject),
    "D": Route(sign=None, reject=delivery.reject),  # acceptance is /accept
}


def sign(ctx: Context, cmd: Parsed) -> None:
    ref: Ref = cmd.arg("ref")
    route = ROUTES[ref.prefix].sign
    assert route is not None  # the argument's prefixes are the routes that sign
    route(ctx, ref)


def reject(ctx: Context, cmd: Parsed) -> None:
    ref: Ref = cmd.arg("ref")
    route = ROUTES[ref.prefix].reject
    assert route is not None  # the argument's prefixes are the routes that reject
    route(ctx, ref, cmd.arg("reason"))


def _ref_arg(prefixes: tuple[str, ...]) -> Arg:
    metavar = "|".join(f"{prefix}-n" for prefix in prefixes)
    return Arg("ref", "ref", (metavar, metavar), prefixes=prefixes)


_SIGNED = tuple(prefix for prefix, route in ROUTES.items() if route.sign)
_REJECTED = tuple(prefix for prefix, route in ROUTES.items() if route.reject)
COMMANDS = [
    Command("sign", ("签署",), ("签署变更单（双方各一人）", "sign a change request (one person per party)"), sign,
            roles=SIGNERS, args=(_ref_arg(_SIGNED),), example="/签署 CR-1", example_en="/sign CR-1", needs=SIGNING),
    Command("reject", ("驳回",), ("驳回变更单或交付物（注明原因）", "reject a change request or a deliverable, with the reason"),
            reject, roles=SIGNERS, args=(_ref_arg(_REJECTED), Arg("reason", "text", ("原因", "REASON"))),
            example="/驳回 CR-1 超出本期预算", example_en="/reject CR-1 beyond this quarter's budget", needs=SIGNING),
]  # fmt: skip
