"""The console delivers its own messages: `say` and `chat` print every reply and notice their
message caused, and no dispatcher (a running `serve`) can take them first. `/as`, Ctrl-C and
`tick`'s listing of what it queued."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from adapters import console
from app.cli import main
from bot import clock
from config.settings import DEMO_ENGAGEMENT
from storage import outbox
from tests.harness import ConsoleHarness

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-25T10:00:00+08:00"


def test_a_console_message_s_rows_are_delivered_with_it_and_never_claimed(
    demo: ConsoleHarness,
) -> None:
    demo.say("liuyang", "/工单 P3 报表慢")
    inbound = console.parse("demo-group", "sunwei", "/指派 T-1 @lina", now=clock.now())
    outcome = demo.runtime.bus.handle(inbound, deliver=True)
    assert [r.kind for r in outcome.replies] == ["ticket.assigned"]
    assert [(n.recipient_type, n.address) for n in outcome.notices] == [("person", "lina")]
    caused = [r.id for r in outcome.replies] + [n.id for n in outcome.notices]
    assert {row.status for row in demo.outbox() if row.id in caused} == {"sent"}
    # what every dispatcher does first: none of the console's rows is left to claim
    claimed = outbox.claim(
        demo.runtime.engine, ["console"], clock.now() + timedelta(days=1), timedelta(minutes=2), 50
    )
    assert not {row.id for row in claimed} & set(caused)


def test_without_deliver_the_rows_wait_for_the_dispatcher(demo: ConsoleHarness) -> None:
    outcome = demo.send("liuyang", "/工单 紧急 生产库宕机")
    assert outcome.notices == []
    assert {row.status for row in demo.outbox()} == {"pending"}


def test_say_prints_the_notices_it_caused(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", db_url, "engagement", "apply", str(DEMO_ENGAGEMENT)]) == 0
    capsys.readouterr()
    say = ["--db", db_url, "say", "--chat", "demo-group", "--user", "liuyang"]
    assert main([*say, "/工单", "紧急", "生产库宕机"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("🎫 已开单 T-1")
    assert [line.split("]")[0] for line in lines if line.startswith("[→")] == [
        "[→ @sunwei",
        "[→ @zhoumin",
    ]
    assert main(["--db", db_url, "outbox", "--status", "pending"]) == 0
    assert "no pending messages" in capsys.readouterr().out


def _chat(db: str, stdin: str, user: str = "wangli") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RENTIAN_DB": db, "RENTIAN_NOW": NOW}
    return subprocess.run(
        [sys.executable, "-m", "app", "chat", "--chat", "demo-group", "--user", user],
        input=stdin, text=True, capture_output=True, env=env, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def demo_db(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'rentian.db'}"
    assert main(["--db", db, "--now", NOW, "init", "--demo"]) == 0
    return db


def test_as_without_a_name_says_who_you_are_and_an_unknown_name_is_refused(
    demo_db: str,
) -> None:
    result = _chat(demo_db, "/as\n/as zhaogagn\n/as nobody\n/as zhaogang\n/完成 7 已签\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0].startswith("(speaking as wangli; /as NAME switches") and "zhaogang" in out[0]
    assert "no console user 'zhaogagn'" in out[1] and "did you mean zhaogang" in out[1]
    assert "Still wangli" in out[1]
    assert "no console user 'nobody'" in out[2] and "known here:" in out[2]
    assert out[3] == "(now speaking as zhaogang)"
    assert "保密协议签署 已完成" in out[4]
    assert "Traceback" not in result.stderr


def test_ctrl_c_ends_the_chat_quietly(demo_db: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RENTIAN_DB": demo_db, "RENTIAN_NOW": NOW}
    env.pop("PYTHONUNBUFFERED", None)  # a pipe as a script has it: each answer must be flushed
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "chat", "--chat", "demo-group", "--user", "wangli"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("/进度\n")
    process.stdin.flush()
    assert process.stdout.readline().startswith("DEMO-2026")  # answered: now it waits for input
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in err and "KeyboardInterrupt" not in err


def test_tick_lists_what_it_queued(demo_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    run = ["--db", demo_db]
    main([*run, "--now", NOW, "say", "--chat", "demo-group", "--user", "wangli", "/工单 紧急 宕机"])
    main([*run, "--now", NOW, "tick"])  # the jobs' first run
    capsys.readouterr()
    assert main([*run, "--now", "2026-11-25T10:12:00+08:00", "tick"]) == 0
    out = capsys.readouterr().out
    assert "sla.sweep: ok" in out
    assert "  queued sla.warning T-1 → console @sun.wei" in out
    assert "  queued sla.warning T-1 → console #demo-group" in out
    assert "2 message(s) queued" in out
    assert main([*run, "--now", "2026-11-25T10:12:00+08:00", "tick"]) == 0
    assert "nothing due" in capsys.readouterr().out


def test_say_json_marks_notices_with_their_recipient(demo_db: str, capsys) -> None:
    capsys.readouterr()
    say = ["--db", demo_db, "--now", NOW, "say", "--chat", "demo-group", "--json"]
    main([*say, "--user", "liuyang", "/工单 P3 报表慢"])
    main([*say, "--user", "sunwei", "/指派 T-1 @lina"])
    items = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert items[0]["kind"] == "ticket.assigned" and "to" not in items[0]
    assert [item["to"] for item in items[1:]] == ["@lina"]


def test_lines_without_an_event_id_get_distinct_ids_in_and_across_processes() -> None:
    """The id is the dedupe key: two lines, or two `rentian say` processes, are two events."""
    now = clock.now()
    first, second = (console.parse("c", "u", "/帮助", now=now) for _ in range(2))
    assert first.event_id != second.event_id and first.event_id == first.message_id
    script = "from adapters import console; from bot import clock; " \
             "print(console.parse('c', 'u', '/帮助', now=clock.now()).event_id)"  # fmt: skip
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True, env={**os.environ, "RENTIAN_NOW": "2026-11-25T10:00:00+08:00"})  # fmt: skip
    assert other.stdout.strip() not in (first.event_id, second.event_id)
    assert console.parse("c", "u", "x", now=now, event_id="given").event_id == "given"
