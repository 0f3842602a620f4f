"""The operator contract: `rentian` commands, in-process and as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from config.settings import DEMO_ENGAGEMENT
from storage.migrate import head_revision

NOW = "2026-11-25T10:00:00+08:00"
ROOT = Path(__file__).resolve().parent.parent


def rentian(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `python -m app` as a separate process, as an operator would, at a fixed instant
    unless `env` names another."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "RENTIAN_NOW": NOW, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        text=True,
        capture_output=True,
        env=full_env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def applied(db_url: str) -> str:
    assert main(["--db", db_url, "engagement", "apply", str(DEMO_ENGAGEMENT)]) == 0
    return db_url


def test_say_json_prints_one_array_of_replies(applied: str, capsys) -> None:
    capsys.readouterr()
    assert (
        main(
            [
                "--db",
                applied,
                "say",
                "--chat",
                "demo-group",
                "--user",
                "wangli",
                "--json",
                "/完成",
                "1",
            ]
        )
        == 0
    )
    replies = json.loads(capsys.readouterr().out)
    assert replies == [
        {"kind": "checklist.done", "ref": "", "text": "✅ 联系人清单及职责 已完成（1/7）。"}
    ]
    assert (
        main(
            ["--db", applied, "say", "--chat", "demo-group", "--user", "wangli", "--json", "/完成"]
        )
        == 0
    )
    (refusal,) = json.loads(capsys.readouterr().out)
    assert refusal["kind"] == "error.usage"


def test_say_with_the_same_event_id_is_a_redelivery(applied: str, capsys) -> None:
    args = [
        "--db",
        applied,
        "say",
        "--chat",
        "demo-group",
        "--user",
        "wangli",
        "--json",
        "--event-id",
        "e1",
        "/完成 2",
    ]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    assert first and json.loads(capsys.readouterr().out) == []


def test_outbox_json_rows_follow_the_contract(applied: str, capsys) -> None:
    main(["--db", applied, "say", "--chat", "demo-group", "--user", "wangli", "/进度"])
    capsys.readouterr()
    assert main(["--db", applied, "outbox", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert set(row) >= {
        "id",
        "channel",
        "recipient_type",
        "recipient",
        "engagement",
        "kind",
        "ref",
        "text",
        "status",
        "attempts",
        "created_at",
    }
    assert (row["channel"], row["recipient_type"], row["recipient"]) == (
        "console",
        "chat",
        "demo-group",
    )
    assert (row["engagement"], row["kind"], row["status"]) == ("DEMO-2026", "status", "sent")
    assert main(["--db", applied, "outbox", "--status", "pending"]) == 0
    assert "no pending messages" in capsys.readouterr().out


def test_now_option_sets_the_clock(applied: str, capsys) -> None:
    capsys.readouterr()
    main(
        [
            "--db",
            applied,
            "--now",
            "2027-01-10T09:00:00+08:00",
            "say",
            "--chat",
            "demo-group",
            "--user",
            "wangli",
            "/进度",
        ]
    )
    assert "第 71/181 天" in capsys.readouterr().out
    main(
        [
            "--db",
            applied,
            "say",
            "--now",
            "2026-11-01T08:00:00+08:00",
            "--chat",
            "demo-group",
            "--user",
            "wangli",
            "/进度",
        ]
    )
    out = capsys.readouterr().out
    assert "第 1/181 天" in out


def test_bad_now_is_refused_clearly(applied: str, capsys) -> None:
    assert main(["--db", applied, "--now", "yesterday", "tick"]) == 2
    assert "not an ISO-8601 time" in capsys.readouterr().err


def test_tick_runs_due_jobs_once(applied: str, capsys) -> None:
    capsys.readouterr()
    assert main(["--db", applied, "tick"]) == 0
    assert "intake.prune: ok" in capsys.readouterr().out
    assert main(["--db", applied, "tick"]) == 0
    assert "nothing due" in capsys.readouterr().out


def test_init_demo_then_say_and_chat_as_processes(tmp_path: Path) -> None:
    env = {
        "RENTIAN_DB": f"sqlite:///{tmp_path / 'data' / 'rentian.db'}",
        "RENTIAN_NOW": "2026-11-25T10:00:00+08:00",
    }
    first = rentian("init", "--demo", env=env)
    assert first.returncode == 0, first.stderr
    assert (
        f"schema {head_revision()} (created)" in first.stdout
        and "engagement DEMO-2026: created" in first.stdout
    )
    again = rentian("init", "--demo", env=env)
    assert "up to date" in again.stdout and "DEMO-2026: unchanged" in again.stdout

    said = rentian("say", "--chat", "demo-group", "--user", "wangli", "--json", "/进度", env=env)
    assert said.returncode == 0, said.stderr
    assert json.loads(said.stdout)[0]["kind"] == "status"

    session = "/清单\n/完成 1\n/as zhaogang\n/完成 7 已签\n/quit\n"
    chat = rentian("chat", "--chat", "demo-group", "--user", "wangli", stdin=session, env=env)
    assert chat.returncode == 0, chat.stderr
    assert "服务启动清单（0/7 完成）" in chat.stdout
    assert "✅ 联系人清单及职责 已完成（1/7）。" in chat.stdout
    assert (
        "(now speaking as zhaogang)" in chat.stdout
        and "✅ 保密协议签署 已完成（2/7）。" in chat.stdout
    )

    verify = rentian("audit", "verify", env=env)
    assert verify.returncode == 0 and "OK: 3 entries" in verify.stdout


def test_help_of_the_command_line(tmp_path: Path) -> None:
    result = rentian("--help")
    assert result.returncode == 0
    for command in ("init", "engagement", "say", "chat", "tick", "outbox", "audit", "serve"):
        assert command in result.stdout


def test_missing_schema_is_explained(tmp_path: Path) -> None:
    result = rentian(
        "--db", f"sqlite:///{tmp_path / 'empty.db'}", "say", "--chat", "g", "--user", "u", "hi"
    )
    assert result.returncode == 2
    assert "run `rentian init`" in result.stderr and "Traceback" not in result.stderr
