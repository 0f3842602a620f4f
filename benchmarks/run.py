"""`python -m benchmarks.run [--smoke] [name ...]`: run the benchmarks, each in a fresh process
(imports and memory do not leak from one into the next), print one table, and write
`benchmarks/results/<UTC timestamp>.json`.

A benchmark that raises is reported as failed and the others still run; in smoke mode (CI) a
failure makes the exit status non-zero, so a benchmark that rots is noticed.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, ROOT, Row, Unavailable, bench_env

HERE = ROOT / "benchmarks"


def available() -> list[str]:
    """Every `bench_<name>.py`, by name, in a stable order."""
    return sorted(path.stem.removeprefix("bench_") for path in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no targets judged")
    parser.add_argument("--child", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("names", nargs="*", help=f"some of: {', '.join(available())}")
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.names[0], args.smoke, Path(args.child))
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)}")
    outcomes = []
    for name in names:
        print(f"-- {name} …", file=sys.stderr, flush=True)
        outcomes.append(_in_child(name, args.smoke))
    print(table(outcomes))
    path = _write(outcomes, args.smoke)
    print(f"\nwritten: {path.relative_to(ROOT)}")
    failed = [o["name"] for o in outcomes if o["status"] == "failed"]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed and args.smoke else 0


def _child(name: str, smoke: bool, out: Path) -> int:
    """In the fresh process: run one benchmark, its rows (or why not) as JSON into `out`."""
    import importlib

    try:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        rows: list[Row] = module.run(smoke)
        outcome: dict[str, Any] = {"status": "ok", "rows": [r.as_json() for r in rows]}
    except Unavailable as reason:
        outcome = {"status": "skipped", "reason": str(reason), "rows": []}
    out.write_text(json.dumps(outcome, ensure_ascii=False), encoding="utf-8")
    return 0  # anything else raised reaches the parent as a traceback and a non-zero status


def _in_child(name: str, smoke: bool) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "benchmarks.run", "--child", out.name, name]
        start = time.perf_counter()
        done = subprocess.run(
            command + (["--smoke"] if smoke else []),
            cwd=ROOT,
            env=bench_env(**_pg_env()),
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        text = Path(out.name).read_text(encoding="utf-8")
    if done.returncode != 0 or not text:
        # The servers a benchmark starts log every request: keep the lines that say what broke.
        lines = (done.stderr or done.stdout).strip().splitlines()
        tail = [line for line in lines if not line.startswith("INFO:")][-25:]
        print("\n".join(tail), file=sys.stderr)
        return {"name": name, "status": "failed", "reason": tail[-1] if tail else "", "rows": []}
    if done.stderr.strip():
        print(done.stderr.rstrip(), file=sys.stderr)
    return {"name": name, "seconds": round(seconds, 1), **json.loads(text)}


def _pg_env() -> dict[str, str]:
    """`bench_env` drops `RENTIAN_*`; the PostgreSQL server to use is passed on."""
    import os

    names = ("RENTIAN_BENCH_PG_URL", "RENTIAN_TEST_PG_URL")
    return {n: os.environ[n] for n in names if n in os.environ}


def table(outcomes: list[dict[str, Any]]) -> str:
    """One plain-text table: what | Rentian | reference | ratio | target | met."""
    header = ("what", "Rentian", "reference", "ratio", "target", "met")
    lines: list[tuple[str, ...]] = [header]
    notes: list[str] = []
    for outcome in outcomes:
        if outcome["status"] != "ok":
            lines.append((f"[{outcome['name']}] {outcome['status']}", "", "", "", "", ""))
            notes.append(f"{outcome['name']}: {outcome['status']}: {outcome['reason']}")
            continue
        for row in outcome["rows"]:
            unit = row["unit"]
            met = {True: "yes", False: "NO", None: "-"}[row["met"]]
            lines.append(
                (
                    row["what"],
                    f"{_number(row['rentian'])} {unit}",
                    f"{_number(row['reference'])} {unit} ({row['reference_name']})",
                    _number(row["ratio"]),
                    row["target"],
                    met,
                )
            )
            if row["note"]:
                notes.append(f"{row['what']}: {row['note']}")
    widths = [max(_width(line[i]) for line in lines) for i in range(len(header))]
    text = "\n".join(
        "  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(line)).rstrip()
        for line in lines
    )
    return text + ("\n\nnotes:\n" + "\n".join(f"- {n}" for n in notes) if notes else "")


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _width(cell: str) -> int:
    """Columns a cell takes in a terminal: CJK characters take two."""
    return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1 for ch in cell)


def _write(outcomes: list[dict[str, Any]], smoke: bool) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}{'-smoke' if smoke else ''}.json"
    report = {"when": stamp, "smoke": smoke, "python": sys.version.split()[0], "runs": outcomes}
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.exit(main())
