"""The chat commands and jobs of `handlers.tickets`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.assurance import INTAKE, SIGNING
from bot.commands import Arg, Command, Option, lazy
from domain.catalog import UNREGISTERED_REPORTER
from domain.lifecycles.tickets import PARTIES, RESPONDERS


def _run(name: str) -> Any:
    return lazy("handlers.tickets", name)


SEVERITY_WORDS = {
    "p1": "P1", "p2": "P2", "p3": "P3", "p4": "P4",
    "紧急": "P1", "高": "P2", "中": "P3", "低": "P4",
    "urgent": "P1", "high": "P2", "medium": "P3", "low": "P4",
}  # fmt: skip

OPENERS = frozenset({"client", "vendor", UNREGISTERED_REPORTER})

_TICKET = Arg("ticket", "ref", ("工单号", "TICKET"), prefixes=("T",))

COMMANDS = [
    Command(
        name="ticket", aliases=("工单",), summary=("开工单，或查看工单 T-n", "open a ticket, or show ticket T-n"),
        handler=_run("ticket_command"), roles=OPENERS, needs=INTAKE,
        args=(Arg("severity", "choice", ("P1-P4", "P1-P4"), required=False, choices=SEVERITY_WORDS),
              Arg("title", "text", ("标题", "TITLE"))),
        options=(Option("svc", "word", ("服务", "SERVICE"), aliases=("服务",)),),
        example="/工单 P2 svc=bigdata_dev 报表导出超时", example_en="/ticket P2 svc=bigdata_dev report export times out",
    ),
    Command(
        name="tickets", aliases=("工单列表",), summary=("未关闭的工单及剩余时间", "open tickets and their time left"),
        handler=_run("list_tickets"), roles=PARTIES,
        args=(Arg("scope", "choice", ("mine|open|breached", "mine|open|breached"), required=False,
                  choices={"mine": "mine", "我的": "mine", "open": "open", "未关闭": "open",
                           "breached": "breached", "超时": "breached", "已超时": "breached"}),),
        example="/工单列表 超时", example_en="/tickets breached",
    ),
    Command(
        name="note", aliases=("备注",), summary=("给工单加一条记录", "add a note to a ticket's history"),
        handler=_run("note_ticket"), roles=PARTIES, needs=INTAKE,
        args=(_TICKET, Arg("text", "text", ("内容", "TEXT"))),
        example="/备注 T-7 已收到日志", example_en="/note T-7 logs received",
    ),
    Command(
        name="assign", aliases=("指派",), summary=("把工单指派给工程师", "assign a ticket to an engineer"),
        handler=_run("assign_ticket"), roles=RESPONDERS, needs=SIGNING,
        args=(_TICKET, Arg("who", "person", ("@工程师", "@ENGINEER"))),
        example="/指派 T-7 @zhaogang", example_en="/assign T-7 @zhaogang",
    ),
]  # fmt: skip
