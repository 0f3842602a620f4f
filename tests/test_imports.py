"""Heavy platform SDKs load only when their channel is enabled: the console and the CLI stay fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = (
    "lark_oapi",
    "dingtalk_stream",
    "wechatpy",
    "aioimaplib",
    "aiosmtplib",
    "openpyxl",
    "apscheduler",
)


def test_bot_and_the_domain_import_no_platform_sdk() -> None:
    code = (
        "import sys, app.cli, app.ops, app.http, handlers; handlers.all_commands(); handlers.all_jobs();"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "[]"
