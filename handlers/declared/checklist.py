"""The chat commands and jobs of `handlers.checklist`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.commands import Arg, Command, lazy
from domain.catalog import EITHER_PARTY


def _run(name: str) -> Any:
    return lazy("handlers.checklist", name)


COMMANDS = [
    Command(
        name="checklist",
        aliases=("清单",),
        summary=("服务启动清单及完成情况", "the onboarding checklist and what is done"),
        handler=_run("show_checklist"),
        roles=EITHER_PARTY,
        example="/清单",
        example_en="/checklist",
    ),
    Command(
        name="done",
        aliases=("完成",),
        summary=("完成清单中的一项", "tick an item of the onboarding checklist"),
        handler=_run("mark_done"),
        args=(
            Arg("item", "word", ("编号或名称", "ITEM")),
            Arg("note", "text", ("备注", "NOTE"), required=False),
        ),
        roles=EITHER_PARTY,
        example="/完成 2 VPN 账号已发给厂商",
        example_en="/done 2 VPN accounts sent to the vendor",
    ),
]
