"""`rentian export statement` of a month with 100k work entries as xlsx (a cold process: time
and peak RSS) next to a bare streaming writer putting the same rows in one sheet: time ratio
≤ 1.2, peak RSS ≤ 150 MB.

The reference (benchmarks/refs/xlsx_rows.py) is a fair bare writer of the same rows: the library
the export uses (XlsxWriter in constant_memory mode if handlers/statement_export.py imports it,
else openpyxl in write-only mode), the cells of the export's entries sheet with the same number
formats on the same columns (dates `yyyy-mm-dd`, person-days `0.###`), each written by its
type's method as the export writes it, and nothing else: the rows come from `sqlite3`, no app
code, no statement sheet, no styles, no spool, no content hash. What the ratio shows above 1 is
the app's own work: its imports, reading the entries through SQLAlchemy, spooling and hashing
them, the statement sheet, the labels and the checks that keep free text text.
"""

from __future__ import annotations

import statistics
import sys
from datetime import date
from pathlib import Path

from benchmarks import seed
from benchmarks.common import (
    ROOT,
    ChildRun,
    Row,
    bench_env,
    demo_runtime,
    judged,
    run_child,
    scratch,
)

MONTH = date(2026, 11, 1)
RSS_LIMIT_MB = 150.0
REFERENCE = Path(__file__).resolve().parent / "refs" / "xlsx_rows.py"


def library() -> str:
    """Which xlsx writer the export uses, read from its source."""
    source = (ROOT / "handlers" / "statement_export.py").read_text(encoding="utf-8")
    return (
        "xlsxwriter" if "import xlsxwriter" in source or "from xlsxwriter" in source else "openpyxl"
    )


def run(smoke: bool) -> list[Row]:
    entries, repeats = (2_000, 1) if smoke else (100_000, 3)
    lib = library()
    with scratch() as folder:
        db = folder / "rentian.db"
        runtime = demo_runtime(f"sqlite:///{db}")
        seed.work_entries(runtime.engine, entries, MONTH)
        runtime.engine.dispose()
        rentian = str(Path(sys.executable).with_name("rentian"))
        month = MONTH.strftime("%Y-%m")
        ours_cmd = [rentian, "export", "statement", "--db", f"sqlite:///{db}",
                    "--engagement", seed.CODE, "--month", month, "--out", str(folder / "ours.xlsx")]  # fmt: skip
        ref_cmd = [sys.executable, str(REFERENCE), str(db), month, str(folder / "ref.xlsx"), lib]
        env = bench_env()
        ours: list[ChildRun] = []
        theirs: list[ChildRun] = []
        for index in range(repeats):
            pair = [(ours, ours_cmd), (theirs, ref_cmd)]
            for runs, command in pair if index % 2 == 0 else pair[::-1]:
                runs.append(run_child(command, env, folder))
        assert f"{entries} entries" in ours[-1].stdout, ours[-1].stdout
        assert int(theirs[-1].stdout) == entries, theirs[-1].stdout
    seconds = statistics.median(r.seconds for r in ours)
    ref_seconds = statistics.median(r.seconds for r in theirs)
    rss, ref_rss = max(r.max_rss_mb for r in ours), max(r.max_rss_mb for r in theirs)
    name = f"bare {lib} {'write-only' if lib == 'openpyxl' else 'constant_memory'}, same rows"
    what = f"export statement, {entries:,} entries, xlsx"
    return [
        Row(what=f"{what}, time", rentian=seconds, reference=ref_seconds, unit="s",
            reference_name=name, higher_is_better=False, target="≤ 1.2",
            met=judged(seconds / ref_seconds, "≤ 1.2", smoke)),
        Row(what=f"{what}, peak RSS", rentian=rss, reference=ref_rss, unit="MB",
            reference_name=name, higher_is_better=False, target=f"≤ {RSS_LIMIT_MB:g} MB",
            met=None if smoke else rss <= RSS_LIMIT_MB,
            note="the target is on Rentian's own figure, not the ratio"),
    ]  # fmt: skip
