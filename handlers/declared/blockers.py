"""The chat commands and jobs of `handlers.blockers`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.commands import Arg, Command, Option, lazy
from bot.scheduler import Job
from domain.catalog import EITHER_PARTY


def _run(name: str) -> Any:
    return lazy("handlers.blockers", name)


_BLOCKER = Arg("blocker", "ref", ("阻塞号", "BLOCKER"), prefixes=("B",))

COMMANDS = [
    Command("block", ("阻塞",), ("登记阻塞问题，超时未解除会升级", "record a blocker; escalated while it stays open"),
            _run("block"), roles=EITHER_PARTY, args=(Arg("description", "text", ("\"描述\"", "\"DESCRIPTION\"")),),
            options=(Option("owner", "person", ("@负责人", "@OWNER"), aliases=("负责人",)),
                     Option("task", "ref", ("K-n", "K-n"), aliases=("任务",))),
            example='/阻塞 "环境访问延迟：VPN 未开通" task=K-1',
            example_en='/block "environment access: no VPN account yet" task=K-1'),
    Command("unblock", ("解除",), ("解除阻塞并说明", "clear a blocker, saying how"), _run("unblock"), roles=EITHER_PARTY,
            args=(_BLOCKER, Arg("note", "text", ("说明", "NOTE"))),
            example="/解除 B-1 VPN 账号已开通", example_en="/unblock B-1 VPN account issued"),
    Command("blockers", ("阻塞列表",), ("未解除的阻塞及已持续的工作时间", "open blockers and how long they have been open"),
            _run("list_blockers"), roles=EITHER_PARTY, example="/阻塞列表", example_en="/blockers"),
]  # fmt: skip

JOBS = [
    Job("blocker.escalate", timedelta(minutes=1), _run("escalate"), "escalate blockers left open"),
]
