"""The chat commands and jobs of `handlers.change_requests`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.assurance import SIGNING
from bot.commands import Arg, Command, Option, lazy
from domain.catalog import EITHER_PARTY, LEVELS


def _run(name: str) -> Any:
    return lazy("handlers.change_requests", name)


FILERS = frozenset({"client", "vendor_pm"})

_LEVEL_OPTIONS = tuple(
    Option(key, "word", ("人天", "DAYS"), aliases=(term.zh,)) for key, term in LEVELS.items()
)

COMMANDS = [
    Command("cr list", ("变更 列表",), ("变更单列表", "change requests and their status"), _run("list_crs"), roles=EITHER_PARTY,
            example="/变更 列表", example_en="/cr list"),
    Command("cr estimate", ("评估", "变更 评估"), ("项目经理按级别评估人天", "the PM estimates person-days by level"),
            _run("estimate_cr"), roles=frozenset({"vendor_pm"}), args=(Arg("cr", "ref", ("CR-n", "CR-n"), prefixes=("CR",)),),
            options=(*_LEVEL_OPTIONS, Option("due", "word", ("计划影响", "IMPACT"), aliases=("影响",))),
            example="/评估 CR-1 senior=3 mid=2 due=+5d", example_en="/cr estimate CR-1 senior=3 mid=2 due=+5d", needs=SIGNING),
    Command("cr", ("变更",), ("提出变更单（书面），或查看 CR-n", "file a change request in writing, or show CR-n"),
            _run("file_cr"), roles=FILERS,
            args=(Arg("title", "word", ("\"标题\"", "\"TITLE\"")), Arg("description", "text", ("说明", "DESCRIPTION"), required=False)),
            example='/变更 "新增库存报表" 每日 8 点推送库存汇总', example_en='/cr "inventory report" daily stock summary at 8am'),
]  # fmt: skip
