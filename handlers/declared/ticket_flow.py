"""The chat commands and jobs of `handlers.ticket_flow`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.commands import Arg, Command, lazy
from domain.catalog import UNREGISTERED_REPORTER
from domain.lifecycles.tickets import PARTIES, RESPONDERS


def _run(name: str) -> Any:
    return lazy("handlers.ticket_flow", name)


CLIENT_SIDE = frozenset({"client", UNREGISTERED_REPORTER})

REASONS = {
    "client": "client", "甲方": "client", "等待甲方": "client", "客户": "client",
    "third_party": "third_party", "third-party": "third_party", "第三方": "third_party",
    "freeze": "freeze", "冻结": "freeze", "变更冻结": "freeze", "封网": "freeze",
}  # fmt: skip

_TICKET = Arg("ticket", "ref", ("工单号", "TICKET"), prefixes=("T",))

COMMANDS = [
    Command("ack", ("响应",), ("响应工单，停止首次响应计时", "acknowledge a ticket: stops the response clock"),
            _run("ack"), args=(_TICKET,), roles=RESPONDERS, example="/响应 T-7", example_en="/ack T-7"),
    Command("pending", ("挂起",), ("等待甲方等原因时暂停解决计时", "pause the resolution clock while waiting"),
            _run("pending"), roles=RESPONDERS,
            args=(_TICKET, Arg("reason", "choice", ("甲方|第三方|冻结", "client|third_party|freeze"), choices=REASONS),
                  Arg("note", "text", ("说明", "NOTE"), required=False)),
            example="/挂起 T-7 甲方 等待 VPN 账号", example_en="/pending T-7 client waiting for VPN access"),
    Command("resume", ("恢复",), ("恢复解决计时", "restart the resolution clock"),
            _run("resume"), args=(_TICKET,), roles=PARTIES,
            example="/恢复 T-7", example_en="/resume T-7"),
    Command("resolve", ("解决",), ("标记已解决并说明", "mark a ticket resolved, with what was done"),
            _run("resolve"), roles=RESPONDERS, args=(_TICKET, Arg("note", "text", ("处理说明", "NOTE"))),
            example="/解决 T-7 已扩容并重跑任务", example_en="/resolve T-7 disk extended, job rerun"),
    Command("close", ("关闭",), ("确认解决并关闭工单", "confirm a resolution and close the ticket"),
            _run("close"), args=(_TICKET,), roles=CLIENT_SIDE, example="/关闭 T-7", example_en="/close T-7"),
    Command("reopen", ("重开",), ("未解决时重开工单", "reopen a ticket that is not fixed"),
            _run("reopen"), roles=CLIENT_SIDE, args=(_TICKET, Arg("reason", "text", ("原因", "REASON"))),
            example="/重开 T-7 报表仍然超时", example_en="/reopen T-7 the report still times out"),
]  # fmt: skip
