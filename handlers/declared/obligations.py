"""The chat commands and jobs of `handlers.obligations`, as declared: importing this does not
import the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.commands import Arg, Command, lazy
from bot.scheduler import Job
from domain.catalog import EITHER_PARTY


def _run(name: str) -> Any:
    return lazy("handlers.obligations", name)


ACTIONS = {
    "列表": "list", "list": "list",
    "完成": "done", "done": "done",
    "确认": "ack", "ack": "ack",
    "方案": "plan", "plan": "plan",
    "签署": "sign", "sign": "sign",
}  # fmt: skip

COMMANDS = [
    Command("obligations", ("义务",), ("定期义务：列表、完成证明、甲方确认、升级窗口方案与签署", "recurring obligations: list, record done, acknowledge, upgrade windows' plan and signatures"),
            _run("obligations_command"), roles=EITHER_PARTY,
            args=(Arg("action", "choice", ("完成|确认|方案|签署", "done|ack|plan|sign"), required=False, choices=ACTIONS),
                  Arg("ref", "ref", ("O-n", "O-n"), required=False, prefixes=("O",)),
                  Arg("rest", "text", ("链接 备注", "LINK NOTE"), required=False)),
            example="/义务 完成 O-3 https://docs.example/health-2026-12 一切正常",
            example_en="/obligations done O-3 https://docs.example/health-2026-12 all green"),
]  # fmt: skip

JOBS = [
    Job("obligations.plan", timedelta(hours=1), _run("plan"),
        "materialise recurring obligations for the next 90 days"),
    Job("obligations.sweep", timedelta(minutes=1), _run("sweep"),
        "obligation reminders, overdue notices, escalations; upgrade windows' start and end"),
]  # fmt: skip
