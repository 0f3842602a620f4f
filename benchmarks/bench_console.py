"""The web console on a long engagement: the engagement page and the portfolio with 50k tickets
and 200k work entries on SQLite (smoke: 5k and 20k), next to the same pages on 1k tickets and
4k entries, rendered through the real HTTP app by a signed-in PM.

The issue's target is absolute — the engagement page under 300 ms — so each row says whether
the big page's median met it; the small page is the same-run reference that shows how much of
the time the history costs. The first render after start (the SLA memo cold) is in the note.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks import seed
from benchmarks.common import Row, demo_runtime, scratch

PAGES = {"/e/DEMO-2026": "engagement page", "/": "portfolio"}
BUDGET_MS = 300.0
BEFORE = datetime(2026, 11, 25, 2, tzinfo=UTC)  # the tickets were opened and closed before


def run(smoke: bool) -> list[Row]:
    big, small, repeats = ((5_000, 20_000), (1_000, 4_000), 3) if smoke else (
        (50_000, 200_000), (1_000, 4_000), 7)  # fmt: skip
    with scratch() as folder:
        sides = {size: _side(folder, *size) for size in (big, small)}
        cold = {size: _get(browser, "/e/DEMO-2026") for size, (_, browser) in sides.items()}
        samples: dict[tuple[str, tuple[int, int]], list[float]] = {
            (path, size): [] for path in PAGES for size in sides
        }
        for index in range(repeats):
            for path in PAGES:
                for size in list(sides)[:: 1 if index % 2 else -1]:
                    samples[path, size].append(_get(sides[size][1], path))
        for runtime, _ in sides.values():
            runtime.engine.dispose()
    rows = []
    for path, label in PAGES.items():
        ours, theirs = (
            statistics.median(samples[path, big]),
            statistics.median(samples[path, small]),
        )
        rows.append(Row(
            what=f"console {label}, {big[0]:,} tickets + {big[1]:,} entries", rentian=ours,
            reference=theirs, unit="ms", reference_name=f"the same, {small[0]:,} + {small[1]:,}",
            higher_is_better=False, target="", met=None,
            note=(f"{'meets' if ours < BUDGET_MS else 'misses'} the {BUDGET_MS:.0f} ms budget"
                  + (f"; first render {cold[big]:.0f} ms" if path != "/" else "")),
        ))  # fmt: skip
    return rows


def _side(folder: Path, tickets: int, entries: int) -> tuple[Any, Any]:
    from fastapi.testclient import TestClient

    from app.http import create_app
    from bot import clock
    from storage import signin
    from storage.db import transaction

    runtime = demo_runtime(f"sqlite:///{folder / f'console-{tickets}.db'}")
    seed.closed_tickets(runtime.engine, tickets, before=BEFORE, first_number=1)
    seed.work_entries(runtime.engine, entries, date(2026, 11, 1))
    browser = TestClient(create_app(runtime, scheduler=False), base_url="http://127.0.0.1:8080")
    with transaction(runtime.engine) as session:
        token = signin.issue_link(session, signin.Account("console", "sunwei"), now=clock.now(),
                                  minutes=15, per_hour=5)  # fmt: skip
    assert token is not None
    assert browser.post("/signin", data={"token": token}, follow_redirects=False).status_code == 303
    return runtime, browser


def _get(browser: Any, path: str) -> float:
    """Milliseconds to answer `path` (checked: a page, not an error)."""
    start = time.perf_counter()
    answer = browser.get(path)
    elapsed = (time.perf_counter() - start) * 1e3
    assert answer.status_code == 200, (path, answer.status_code)
    return elapsed
