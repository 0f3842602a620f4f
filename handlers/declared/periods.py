"""The chat commands and jobs of `handlers.periods`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.assurance import SIGNING
from bot.commands import Arg, Command, lazy
from domain import signoff


def _run(name: str) -> Any:
    return lazy("handlers.periods", name)


VIEWERS = frozenset({"vendor", "client_approver"})

_MONTH = Arg("month", "word", ("月份", "YYYY-MM"))

COMMANDS = [
    Command("period close", ("结算 关闭",), ("项目经理关闭月度人天结算", "the PM closes a month"), _run("close"),
            args=(_MONTH,), roles=frozenset({"vendor_pm"}), example="/结算 关闭 2026-11", example_en="/period close 2026-11", needs=SIGNING),
    Command("period confirm", ("结算 确认",), ("甲方审批人确认月度结算", "the client approver confirms a month"), _run("confirm"),
            args=(_MONTH,), roles=frozenset({"client_approver"}), example="/结算 确认 2026-11",
            example_en="/period confirm 2026-11", needs=SIGNING),
    Command("period reopen", ("结算 重开",), ("对方签署前重开月度结算", "reopen a month before the other side signs"), _run("reopen"),
            args=(_MONTH, Arg("reason", "text", ("原因", "REASON"), required=False)), roles=signoff.SIGNERS,
            example="/结算 重开 2026-11 漏报两天", example_en="/period reopen 2026-11 two days missing", needs=SIGNING),
    Command("period", ("结算",), ("月度结算状态", "a month's close and its totals"), _run("show"),
            args=(Arg("month", "word", ("月份", "YYYY-MM"), required=False),), roles=VIEWERS,
            example="/结算 2026-11", example_en="/period 2026-11"),
]  # fmt: skip
