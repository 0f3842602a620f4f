"""The chat commands and jobs of `handlers.progress_jobs`, as declared: importing this does not import
the handlers (each is imported when its command or job first runs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.commands import Arg, Command, lazy
from bot.scheduler import Job
from domain.catalog import EITHER_PARTY


def _run(name: str) -> Any:
    return lazy("handlers.progress_jobs", name)


COMMANDS = [
    Command("sync", ("同步",), ("本群每日进度同步：时间、开关", "this chat's daily progress sync: time, on, off"),
            _run("sync_command"), roles=frozenset({"vendor_pm"}),
            args=(Arg("action", "choice", ("时间|开启|关闭", "time|on|off"),
                      choices={"time": "time", "时间": "time", "on": "on", "开启": "on", "开": "on",
                               "off": "off", "关闭": "off", "关": "off"}),
                  Arg("value", "word", ("HH:MM", "HH:MM"), required=False)),
            example="/同步 时间 18:00", example_en="/sync time 18:00"),
    Command("report week", ("周报", "报告 周"), ("周报：人天、SLA 达成、阻塞、变更、验收", "weekly report"),
            _run("report_command"), roles=EITHER_PARTY,
            args=(Arg("week", "word", ("YYYY-Www", "YYYY-Www"), required=False),),
            example="/周报 2026-W48", example_en="/report week 2026-W48"),
]  # fmt: skip

JOBS = [
    Job(
        "progress.sync",
        timedelta(minutes=5),
        _run("post_syncs"),
        "the daily progress sync in every bound chat",
    ),
    Job(
        "progress.weekly",
        timedelta(minutes=5),
        _run("post_weekly"),
        "the weekly report on the week's last working day",
    ),
    Job(
        "progress.digest",
        timedelta(minutes=5),
        _run("post_digests"),
        "the customer manager's morning digest",
    ),
]
