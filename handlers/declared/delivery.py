"""The chat commands and jobs of `handlers.delivery`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.assurance import SIGNING
from bot.commands import Arg, Command, Option, lazy
from domain.catalog import EITHER_PARTY


def _run(name: str) -> Any:
    return lazy("handlers.delivery", name)


PM = frozenset({"vendor_pm"})

APPROVER = "client_approver"

RECORDERS = frozenset({"vendor_pm", APPROVER})

COMMANDS = [
    Command("deliver", ("交付",), ("为任务或已生效变更单提交交付物", "submit a deliverable for a task or an effective CR"),
            _run("deliver"), roles=PM,
            args=(Arg("target", "ref", ("K-n|CR-n", "K-n|CR-n"), prefixes=("K", "CR")),
                  Arg("name", "word", ("\"名称\"", "\"NAME\"")), Arg("link", "text", ("链接或说明", "LINK-OR-NOTE"))),
            example='/交付 K-1 "数据同步设计文档" https://docs.example/sync', example_en='/deliver K-1 "sync design" https://docs.example/sync'),
    Command("accept", ("验收",), ("甲方审批人签署验收单", "the client approver signs a deliverable's acceptance"),
            _run("accept"), roles=frozenset({APPROVER}), args=(Arg("ref", "ref", ("D-n", "D-n"), prefixes=("D",)),),
            example="/验收 D-1", example_en="/accept D-1", needs=SIGNING),
    Command("deliverables", ("交付列表",), ("交付物及验收状态", "deliverables and their acceptance"),
            _run("list_deliverables"), roles=EITHER_PARTY, example="/交付列表", example_en="/deliverables"),
    Command("training", ("培训",), ("记录已举行的培训（知识转移）", "record a training held (knowledge transfer)"),
            _run("record_training"), roles=RECORDERS,
            args=(Arg("topic", "word", ("\"主题\"", "\"TOPIC\"")), Arg("held_on", "date", ("日期", "YYYY-MM-DD"))),
            options=(Option("attendees", "word", ("参加人", "PEOPLE"), aliases=("参加人", "参训人")),
                     Option("manual", "word", ("手册链接", "LINK"), aliases=("手册",))),
            example='/培训 "运维交接" 2026-11-20 参加人=王丽,刘洋 手册=https://docs.example/ops',
            example_en='/training "ops handover" 2026-11-20 attendees=wangli,liuyang manual=https://docs.example/ops'),
]  # fmt: skip
