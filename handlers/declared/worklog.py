"""The chat commands and jobs of `handlers.worklog`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.assurance import SIGNING
from bot.commands import Arg, Command, Option, lazy
from bot.scheduler import Job


def _run(name: str) -> Any:
    return lazy("handlers.worklog", name)


LOGGERS = frozenset({"engineer", "vendor_pm"})

YES = {
    "yes": "yes",
    "y": "yes",
    "true": "yes",
    "是": "yes",
    "加班": "yes",
    "no": "no",
    "否": "no",
    "false": "no",
}

_TARGET = Arg(
    "target", "ref", ("T-n|K-n|CR-n", "T-n|K-n|CR-n"), required=False, prefixes=("T", "K", "CR")
)

_SVC = Option("svc", "word", ("服务", "SERVICE"), aliases=("服务",))

_DATE = Option("date", "date", ("日期", "YYYY-MM-DD"), aliases=("日期",))

COMMANDS = [
    Command("log", ("报工",), ("记录工作人天", "log person-days of work"), _run("log_work"), roles=LOGGERS,
            args=(Arg("duration", "duration", ("时长", "DURATION")), _TARGET, Arg("note", "text", ("说明", "NOTE"), required=False)),
            options=(_SVC, _DATE, Option("ot", "choice", ("yes", "yes"), aliases=("加班",), choices=YES),
                     Option("for", "person", ("@某人", "@PERSON"), aliases=("代",))),
            example="/报工 4h T-7 排查慢查询", example_en="/log 4h T-7 slow query analysis"),
    Command("log undo", ("报工 撤销", "撤销报工"), ("撤销 10 分钟内的最后一条报工", "undo your last entry of the last 10 minutes"),
            _run("undo"), roles=LOGGERS, example="/报工 撤销", example_en="/log undo"),
    Command("log adjust", ("报工 调整",), ("项目经理调整工时（需注明原因）", "the PM's correction, with a reason"), _run("adjust"),
            roles=frozenset({"vendor_pm"}),
            args=(Arg("who", "person", ("@工程师", "@ENGINEER")), Arg("delta", "word", ("±时长", "±DURATION")), _TARGET,
                  Arg("reason", "text", ("原因", "REASON"))),
            options=(_SVC, _DATE),
            example="/报工 调整 @zhaogang -2h T-7 date=2026-11-20 重复记录",
            example_en="/log adjust @zhaogang -2h T-7 date=2026-11-20 logged twice", needs=SIGNING),
]  # fmt: skip

JOBS = [Job("worklog.reminder", timedelta(minutes=5), _run("remind"), "remind engineers with no log today")]
