"""/sign and /reject (/签署 /驳回): one table routes them by the reference's prefix to the
record's own handler. The scope baseline and the monthly close have commands of their own
(/范围 签署, /结算 关闭 and 确认); a record that /sign or /reject should reach is one row here,
and its prefix in the declaration (`handlers.declared.signing`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.commands import Parsed, Ref
from bot.context import Context
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
