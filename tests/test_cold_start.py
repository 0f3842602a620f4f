"""`rentian say` starts cold on every message a script sends: it loads what a console command
needs and nothing of the server, the exporters, the scheduler's engine or the platform SDKs;
of the handler modules, only the one whose command the message is (commands are declared apart
from their handlers, `handlers.declared`, and a handler is imported when its command runs).

Checked in a fresh process through `sys.modules` after the message was handled; how long a
start takes is measured outside the test suite (no test asserts a duration)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import commands
from app.cli import main
from config.settings import DEMO_ENGAGEMENT

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-25T10:00:00+08:00"
# Top-level packages a console message must not load: the HTTP stack, the exporters, the
# scheduler's engine, Alembic (only `init` migrates), and every platform SDK or client.
NOT_FOR_THE_CONSOLE = (
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "anyio",
    "h11",
    "openpyxl",
    "xlsxwriter",
    "alembic",
    "lark_oapi",
    "dingtalk_stream",
    "wechatpy",
    "aioimaplib",
    "aiosmtplib",
)
# Runs the CLI as `rentian` would, then reports the modules it loaded.
_SAY_AND_REPORT = """
import json, sys
from app.cli import main
status = main(sys.argv[1:])
print("LOADED " + json.dumps(sorted(sys.modules)))
sys.exit(status)
"""


def _loaded_by(*args: str) -> tuple[str, set[str]]:
    """What the command printed before the report, and the top-level packages it loaded."""
    output, modules = _modules_loaded_by(*args)
    return output, {name.split(".")[0] for name in modules}


def _modules_loaded_by(*args: str) -> tuple[str, set[str]]:
    """What the command printed before the report, and every module it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", _SAY_AND_REPORT, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "RENTIAN_NOW": NOW},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output, _, report = result.stdout.rpartition("LOADED ")
    return output, set(json.loads(report))


@pytest.fixture
def applied(db_url: str) -> str:
    assert main(["--db", db_url, "engagement", "apply", str(DEMO_ENGAGEMENT)]) == 0
    return db_url


def test_say_loads_nothing_a_console_message_does_not_need(applied: str) -> None:
    output, loaded = _loaded_by(
        "--db", applied, "say", "--chat", "demo-group", "--user", "liuyang", "/进度"
    )
    assert "DEMO-2026" in output  # the message was handled, by every handler's registry
    assert "handlers" in loaded and "sqlalchemy" in loaded
    assert sorted(loaded.intersection(NOT_FOR_THE_CONSOLE)) == []
    if applied.startswith("sqlite"):
        assert "psycopg" not in loaded  # the PostgreSQL driver only for a PostgreSQL URL


def test_the_month_statement_in_chat_loads_no_exporter(applied: str) -> None:
    """`/结算 MONTH` builds the same statement `export statement` writes: the xlsx writer
    stays with the export."""
    output, loaded = _loaded_by(
        "--db", applied, "say", "--chat", "demo-group", "--user", "sunwei", "/结算 2026-11"
    )
    assert "2026-11" in output
    assert sorted(loaded.intersection(NOT_FOR_THE_CONSOLE)) == []


def _command_modules() -> set[str]:
    """The handler modules that carry out the app's commands and jobs."""
    return {f"handlers.{module.__name__.rsplit('.', 1)[1]}" for module in commands.MODULES}


def test_say_imports_the_handler_of_its_command_and_not_the_others(applied: str) -> None:
    output, loaded = _modules_loaded_by(
        "--db", applied, "say", "--chat", "demo-group", "--user", "sunwei", "/帮助"
    )
    assert "/进度" in output  # /help listed the commands, from their declarations
    assert loaded & _command_modules() == {"handlers.help"}


def test_a_command_whose_handler_needs_others_loads_those_only(applied: str) -> None:
    """/进度 summarises tickets, blockers, change requests and the rest: their modules come
    with `handlers.status`; work logs, periods, the scheduler's jobs and sign-offs do not."""
    _, loaded = _modules_loaded_by(
        "--db", applied, "say", "--chat", "demo-group", "--user", "sunwei", "/进度"
    )
    assert "handlers.status" in loaded
    never = {"handlers.worklog", "handlers.periods", "handlers.signing", "handlers.help",
             "handlers.sla_sweep", "handlers.housekeeping", "handlers.progress_jobs",
             "handlers.binding", "handlers.ticket_flow", "handlers.plan"}  # fmt: skip
    assert loaded & never == set()
