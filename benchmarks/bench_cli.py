"""A cold `rentian say … /进度` (a fresh process: imports, settings, one message, exit) next to
`python -c "import sqlalchemy, sqlmodel, pydantic"`, the floor of any process that opens
Rentian's database: time ratio ≤ 1.25, and the process's peak RSS ≤ 60 MB."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.common import BENCH_NOW, ChildRun, Row, bench_env, judged, run_child, scratch

RSS_LIMIT_MB = 60.0
FLOOR = "import sqlalchemy, sqlmodel, pydantic"


def run(smoke: bool) -> list[Row]:
    rentian = str(Path(sys.executable).with_name("rentian"))
    repeats = 3 if smoke else 11
    with scratch() as folder:
        url = f"sqlite:///{folder / 'rentian.db'}"
        env = bench_env()
        subprocess.run([rentian, "init", "--demo", "--db", url, "--now", BENCH_NOW],
                       cwd=folder, env=env, check=True, capture_output=True)  # fmt: skip
        say = [rentian, "say", "--db", url, "--chat", "demo-group", "--user", "sunwei", "/进度"]
        ours: list[ChildRun] = []
        floor: list[ChildRun] = []
        for index in range(repeats + 1):  # the first pair warms the page cache, not counted
            if index % 2:  # who goes first alternates
                theirs = run_child([sys.executable, "-c", FLOOR], env, folder)
                mine = run_child(say, env, folder)
            else:
                mine = run_child(say, env, folder)
                theirs = run_child([sys.executable, "-c", FLOOR], env, folder)
            if index:
                ours.append(mine)
                floor.append(theirs)
    assert "DEMO-2026" in ours[-1].stdout, f"not the progress report: {ours[-1].stdout[:200]}"
    seconds = statistics.median(r.seconds for r in ours)
    floor_seconds = statistics.median(r.seconds for r in floor)
    rss = max(r.max_rss_mb for r in ours)
    floor_rss = max(r.max_rss_mb for r in floor)
    return [
        Row(what="cold `rentian say … /进度`, time", rentian=seconds, reference=floor_seconds,
            unit="s", reference_name=f"python -c {FLOOR!r}", higher_is_better=False,
            target="≤ 1.25", met=judged(seconds / floor_seconds, "≤ 1.25", smoke)),
        Row(what="cold `rentian say … /进度`, peak RSS", rentian=rss, reference=floor_rss,
            unit="MB", reference_name=f"python -c {FLOOR!r}", higher_is_better=False,
            target=f"≤ {RSS_LIMIT_MB:g} MB", met=None if smoke else rss <= RSS_LIMIT_MB,
            note="the target is on Rentian's own figure, not the ratio"),
    ]  # fmt: skip
