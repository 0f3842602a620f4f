"""The chat commands and jobs of `handlers.tasks`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from typing import Any

from bot.commands import Arg, Command, Option, lazy
from domain.catalog import EITHER_PARTY


def _run(name: str) -> Any:
    return lazy("handlers.tasks", name)


PM = frozenset({"vendor_pm"})

PRIORITIES = {
    "high": "high",
    "高": "high",
    "medium": "medium",
    "中": "medium",
    "low": "low",
    "低": "low",
}

_TASK = Arg("task", "ref", ("K-n", "K-n"), prefixes=("K",))

_TASK_OPTIONS = (
    Option("est", "word", ("人天", "DAYS"), aliases=("估算",)),
    Option("level", "word", ("级别", "LEVEL"), aliases=("级别",)),
    Option(
        "prio", "choice", ("高|中|低", "high|medium|low"), aliases=("优先级",), choices=PRIORITIES
    ),
    Option("due", "date", ("计划日期", "YYYY-MM-DD"), aliases=("计划",)),
    Option("owner", "person", ("@工程师", "@ENGINEER"), aliases=("负责",)),
)

COMMANDS = [
    Command("task add", ("任务 新增",), ("新增任务（估算人天、级别、优先级）", "add a task with estimate, level, priority"),
            _run("add_task"), roles=PM, args=(Arg("title", "text", ("标题", "TITLE")),),
            options=(*_TASK_OPTIONS, Option("cr", "word", ("CR-n", "CR-n"), aliases=("变更",))),
            example='/任务 新增 "订单数据同步" est=2d level=senior prio=high due=2026-12-10',
            example_en='/task add "order data sync" est=2d level=senior prio=high due=2026-12-10'),
    Command("task edit", ("任务 修改",), ("修改尚未签署的任务", "change a task not yet signed"), _run("edit_task"), roles=PM,
            args=(_TASK,), options=_TASK_OPTIONS, example="/任务 修改 K-1 est=3d", example_en="/task edit K-1 est=3d"),
    Command("task done", ("任务 完成",), ("标记任务完成", "mark a task done"), _run("done_task"), roles=PM, args=(_TASK,),
            example="/任务 完成 K-1", example_en="/task done K-1"),
    Command("task list", ("任务 列表",), ("任务清单：已用与估算", "tasks with logged vs estimated effort"),
            _run("show_tasks"), roles=EITHER_PARTY, example="/任务 列表", example_en="/task list"),
    Command("task", ("任务",), ("查看任务 K-n 及计划历史", "show task K-n and its plan history"), _run("show_tasks"),
            roles=EITHER_PARTY, args=(Arg("task", "ref", ("K-n", "K-n"), required=False, prefixes=("K",)),),
            example="/任务 K-1", example_en="/task K-1"),
]  # fmt: skip
