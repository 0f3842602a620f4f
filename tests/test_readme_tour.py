"""The README's five-minute tour, executed as written, at several instants, with a server running.

Every chat line of the tour is said as its speaker and must be answered: with a refusal
(`error.*`) where the README says it is refused, with no refusal anywhere else. Every shell
line runs as the operator would type it (shell variables, `$(date +%F)` and `NAME=$(rentian
…)` expanded; `curl` posts to the running server, in the tour's 8080's place), and the SLA
ladder's ticks must queue the alert their comment names. Meanwhile a real `rentian serve`
on the same database must not take the console's replies away from the console.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.cli import main
from bot import clock

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOUR = README[README.index("## A five-minute tour") : README.index("## Chat commands")]
_BLOCK = re.compile(r"```(text|sh)\n(.*?)```", re.S)
_COMMENT = re.compile(r"\s+#\s.*$")
_SPEAKER = re.compile(r"^(\w+)> (.*)$")

INSTANTS = [
    "2026-11-30T19:30:00+08:00",  # a Monday evening in Beijing
    "2027-03-07T10:00:00+08:00",  # a Sunday
    "2026-10-01T10:00:00+08:00",  # National Day, a statutory holiday
    "2027-01-31T23:30:00+08:00",  # the last day of a month, late
    "2028-02-29T09:00:00+08:00",  # a leap day in a year chinese-calendar does not know
]


@dataclass
class Step:
    kind: str  # "chat" | "sh"
    text: str
    comment: str = ""
    user: str = ""
    chat: str = ""


def tour_steps() -> list[Step]:
    """Every runnable line of the tour, in order, with the comment that explains it."""
    steps: list[Step] = []
    chat = "demo-group"
    for kind, body in _BLOCK.findall(TOUR):
        for line in body.replace("\\\n", " ").splitlines():
            comment = line[line.index("#") :] if re.search(r"\s#\s", line) else ""
            code = _COMMENT.sub("", line).strip()
            if not code and comment and steps:  # a comment continued on the next line
                steps[-1].comment += " " + comment
                continue
            if kind == "text":
                if code.startswith("$ "):
                    found = re.search(r"--chat (\S+)", code)
                    chat = found.group(1) if found else chat
                    continue
                speaker = _SPEAKER.match(code)
                if speaker and not speaker.group(2).startswith(("/as", "/quit")):
                    steps.append(Step("chat", speaker.group(2), comment, speaker.group(1), chat))
            elif code:
                steps.append(Step("sh", code, comment))
    return steps


def test_the_tour_is_parsed_whole() -> None:
    steps = tour_steps()
    said = [s.text for s in steps if s.kind == "chat"]
    assert len(said) >= 35 and "/工单 P2 svc=bigdata_dev 报表导出超时" in said
    assert sum("refused" in s.comment for s in steps) >= 2
    shell = [s.text for s in steps if s.kind == "sh"]
    assert any("tick" in line for line in shell) and any(
        "export statement" in line for line in shell
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    for _ in range(400):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, port
        except httpx.TransportError:
            time.sleep(0.05)  # the process is starting up
    process.kill()
    raise AssertionError(f"serve did not start: {process.communicate()[0]}")


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return code, captured.out


def _say(step: Step, capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    code, out = _run(["say", "--chat", step.chat, "--user", step.user, "--json", step.text], capsys)
    assert code == 0, step
    replies = [r for r in json.loads(out) if "to" not in r]
    assert replies, f"no reply to {step.user}> {step.text}"
    return replies


_CAPTURE = re.compile(r"^(\w+)=\$\((.*)\)$")


def _shell(step: Step, variables: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    line = step.text.replace("$(date +%F)", variables["TODAY"])
    for statement in (part.strip() for part in line.split(";")):
        words = shlex.split(
            re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m.group(1), ""), statement)
        )
        captured = _CAPTURE.match(statement)
        if captured:  # T=$(.venv/bin/rentian …): its output, as the shell would keep it
            inner = shlex.split(captured.group(2))
            assert inner[0] == ".venv/bin/rentian", statement
            code, out = _run(inner[1:], capsys)
            assert code == 0, (statement, out)
            variables[captured.group(1)] = out.strip()
            continue
        if words and words[0] == "curl":
            _curl(words, variables["PORT"])
            continue
        if not words or words[0] in ("make",):
            continue
        if "=" in words[0] and words[0][0].isalpha():  # R=…, D=…
            name, value = words[0].split("=", 1)
            variables[name] = value
        elif words[0] == "export":
            name, value = words[1].split("=", 1)
            os.environ[name] = value
        elif words[0] == "unset":
            os.environ.pop(words[1], None)
        elif words[:2] == ["rm", "-f"]:
            for path in glob.glob(words[2]):
                os.remove(path)
        else:
            assert words[0] == ".venv/bin/rentian", statement
            code, out = _run(words[1:], capsys)
            assert code == 0, (statement, out)
            if words[-1] == "tick":
                rung = re.search(r"\b(warning|breach|escalation)\b", step.comment)
                assert rung and f"queued sla.{rung.group(1)} T-1" in out, (statement, out)


def _curl(words: list[str], port: str) -> None:
    """`curl -s -H … -d … URL` against the tour's server (README's 127.0.0.1:8080)."""
    headers: dict[str, str] = {}
    data: str | None = None
    url = ""
    rest = iter(words[1:])
    for word in rest:
        if word == "-H":
            name, _, value = next(rest).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(rest)
        elif not word.startswith("-"):
            url = word.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    assert url.startswith("http://127.0.0.1:"), words
    answer = httpx.request("POST" if data is not None else "GET", url, headers=headers,
                           content=data, timeout=30)  # fmt: skip
    assert answer.status_code == 200, (words, answer.text)


@pytest.mark.parametrize("instant", INSTANTS)
def test_the_readme_tour_runs_as_written(
    instant: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RENTIAN_NOW", instant)
    monkeypatch.setenv("RENTIAN_DB", f"sqlite:///{tmp_path / 'data' / 'rentian.db'}")
    assert _run(["init", "--demo"], capsys)[0] == 0  # what `make run` does before it serves
    server, port = _serve({**os.environ, "PYTHONPATH": str(ROOT)})
    today = clock.local(clock.parse_instant(instant), "Asia/Shanghai").date().isoformat()
    variables = {"TODAY": today, "PORT": str(port)}
    try:
        for step in tour_steps():
            if step.kind == "sh":
                _shell(step, variables, capsys)
                continue
            replies = _say(step, capsys)
            refused = [r["kind"] for r in replies if r["kind"].startswith("error.")]
            if "refused" in step.comment:
                assert refused, f"{step.user}> {step.text} should be refused: {replies}"
            else:
                assert not refused, f"{step.user}> {step.text}: {replies}"
    finally:
        server.send_signal(signal.SIGTERM)
        log = server.communicate(timeout=30)[0]
    # The server printed none of the console's replies: the console delivered them itself.
    assert "cr.estimated CR-1" not in log and "ticket.opened T-1" not in log, log
    assert "Traceback" not in log, log
