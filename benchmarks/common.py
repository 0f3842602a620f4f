"""What every benchmark shares: the `Row` it reports, interleaved medians, a child's time and
peak memory, a demo database, and the fixed clock every process runs at.

Absolute times on a shared machine are noisy; a figure means something only next to a bare
reference measured in the same run, interleaved with it, so both see the same noise.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the runner imports this module; Rentian loads only in a benchmark's child
    from app.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PEERS = ROOT / "benchmarks" / ".peers"
BENCH_NOW = "2026-11-25T10:00:00+08:00"  # the tests' instant: a Wednesday, a working day
DEMO_CHAT = "demo-group"


@dataclass
class Row:
    """One figure: ours and its reference's, from the same run."""

    what: str  # e.g. "/工单 in-process, SQLite"
    rentian: float  # our figure
    reference: float  # the bare reference's figure, same run
    unit: str  # "msg/s", "µs/msg", "s", "MB", ...
    reference_name: str  # e.g. "bare sqlite3, 2 inserts/tx"
    higher_is_better: bool
    target: str  # e.g. "≥ 0.20"; "" if none
    met: bool | None  # None when there is no target, or in smoke mode
    note: str = ""

    @property
    def ratio(self) -> float:
        """rentian / reference (nan when the reference is missing or zero)."""
        if not self.reference or self.reference != self.reference:
            return float("nan")
        return self.rentian / self.reference

    def as_json(self) -> dict[str, Any]:
        """The row and its ratio; a missing figure (nan) as null, which JSON can hold."""
        values = {**asdict(self), "ratio": self.ratio}
        return {k: None if isinstance(v, float) and v != v else v for k, v in values.items()}


def judged(ratio: float, target: str, smoke: bool) -> bool | None:
    """Whether `ratio` meets a target written "≥ x" or "≤ x"; None in smoke mode or with none."""
    if smoke or not target or ratio != ratio:
        return None
    sign, _, number = target.strip().partition(" ")
    bound = float(number)
    if sign in ("≥", ">="):
        return ratio >= bound
    if sign in ("≤", "<="):
        return ratio <= bound
    raise ValueError(f"a target is '≥ x' or '≤ x', not {target!r}")


# -- measuring ----------------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    """Seconds `action` took (the real clock is used to time things, nothing else)."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def interleaved(
    ours: Callable[[], float], reference: Callable[[], float], repeats: int
) -> tuple[float, float]:
    """Medians of `repeats` (ours, reference) pairs run alternately; each call returns its
    own figure (a rate, a duration). Alternating spreads a neighbour's burst over both."""
    mine: list[float] = []
    theirs: list[float] = []
    for index in range(repeats):
        # Swap who goes first each round: a cache warmed by one must not always favour the other.
        if index % 2:
            theirs.append(reference())
            mine.append(ours())
        else:
            mine.append(ours())
            theirs.append(reference())
    return statistics.median(mine), statistics.median(theirs)


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    max_rss_mb: float
    stdout: str


# A fresh interpreter runs the command and reports its only child's peak RSS: RUSAGE_CHILDREN
# keeps the maximum over every child ever waited for, so the caller's own cannot be used.
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "rss_kb": usage.ru_maxrss, "code": done.returncode,
                  "stdout": done.stdout, "stderr": done.stderr[-4000:]}))
"""


def run_child(
    command: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> ChildRun:
    """Run `command` in a fresh process: its wall time and peak RSS (Linux: ru_maxrss in KiB)."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else bench_env(),
        cwd=cwd,
        check=True,
    )
    report = json.loads(done.stdout)
    if report["code"] != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({report['code']}): {report['stderr']}")
    return ChildRun(report["seconds"], report["rss_kb"] / 1024, report["stdout"])


# -- a Rentian to measure -----------------------------------------------------------------


def bench_env(**extra: str) -> dict[str, str]:
    """The environment of every process a benchmark starts: no `RENTIAN_*` of the developer's,
    the project importable, and the fixed clock."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENTIAN_")}
    env.update(PYTHONPATH=str(ROOT), RENTIAN_NOW=BENCH_NOW, **extra)
    return env


def fix_clock() -> None:
    """Fix this process's clock at `BENCH_NOW` (benchmarks time with perf_counter only)."""
    from bot import clock

    clock.set_now(BENCH_NOW)


@contextmanager
def scratch() -> Iterator[Path]:
    """A temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="rentian-bench-") as folder:
        yield Path(folder)


def demo_runtime(url: str) -> Runtime:
    """A migrated database at `url` with the demo engagement applied, and Rentian's runtime on
    it (the same path as tests/conftest.py's `demo` fixture)."""
    from app.runtime import build
    from bot import clock
    from config.settings import DEMO_ENGAGEMENT, Settings
    from handlers import engagements
    from handlers.sow import load_engagement_file
    from storage.db import make_engine, transaction
    from storage.migrate import upgrade

    fix_clock()
    engine = make_engine(url)
    upgrade(engine)
    runtime = build(Settings(db=url), engine)
    with transaction(engine) as session:
        engagements.apply(session, load_engagement_file(DEMO_ENGAGEMENT), clock.now())
    return runtime


def say(runtime: Runtime, user: str, text: str, chat: str = DEMO_CHAT) -> object:
    """One chat message through the whole bus (parse, permission, handler, commit, outbox)."""
    from adapters import console
    from bot import clock

    inbound = console.parse(chat, user, text, now=clock.now(), bot_names=runtime.bot_names)
    return runtime.bus.handle(inbound)


def pg_url() -> str:
    """The PostgreSQL server to benchmark against ("" when none is configured)."""
    return os.environ.get("RENTIAN_BENCH_PG_URL") or os.environ.get(
        "RENTIAN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )


@contextmanager
def fresh_pg_database(prefix: str = "rentian_bench") -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards (as tests/conftest.py does);
    raises `Unavailable` when no server answers."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from storage.db import normalise_url

    base = normalise_url(pg_url())
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        raise Unavailable(f"no PostgreSQL at {pg_url()}: {str(error).splitlines()[0]}") from None
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Unavailable(Exception):
    """What a benchmark needs is not here (no PostgreSQL, a peer that will not install): the
    runner reports it as skipped, with this message, not as a failure."""
