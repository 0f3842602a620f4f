"""`rentian export statement`: the file read back equals the database, to the minute."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
from sqlalchemy import func, select

from app.cli import main
from storage.db import transaction
from storage.models import WorkLog
from tests.harness import ConsoleHarness


def _month_of_work(demo: ConsoleHarness) -> None:
    demo.at("2026-11-25T17:00:00+08:00")
    demo.one("liuyang", "/工单 P2 报表慢")
    demo.one("zhaogang", "/报工 4h T-1 排查")
    demo.one("zhaogang", "/报工 3h svc=ops_monitoring 巡检")
    demo.one("sunwei", "/报工 1d for=@lina T-1 date=2026-11-24 协助")
    demo.one("sunwei", "/报工 调整 @zhaogang -1h T-1 重复")
    demo.at("2026-11-26T17:00:00+08:00")
    demo.one("malin", "/报工 0.5d T-1 架构评审")


def _db_minutes(demo: ConsoleHarness) -> int:
    with transaction(demo.runtime.engine) as session:
        return int(
            session.execute(
                select(func.sum(WorkLog.minutes)).where(WorkLog.voided_at.is_(None))
            ).scalar()
            or 0
        )


def test_xlsx_totals_equal_the_database(
    demo: ConsoleHarness, db_url: str, tmp_path: Path, capsys
) -> None:
    _month_of_work(demo)
    demo.at("2026-12-01T10:00:00+08:00")
    demo.one("sunwei", "/结算 关闭 2026-11")
    demo.one("wangli", "/结算 确认 2026-11")
    out = tmp_path / "statement.xlsx"
    assert (
        main(
            [
                "--db",
                db_url,
                "export",
                "statement",
                "--engagement",
                "DEMO-2026",
                "--month",
                "2026-11",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "signed by both parties" in capsys.readouterr().out
    book = openpyxl.load_workbook(out)
    entries = book.worksheets[1]
    header = [cell.value for cell in entries[1]]
    minutes_column = header.index(next(h for h in header if "分钟" in str(h) or "inute" in str(h)))
    minutes = [
        row[minutes_column] for row in entries.iter_rows(min_row=2, values_only=True) if row[0]
    ]
    assert sum(minutes) == _db_minutes(demo) == 240 + 180 + 480 - 60 + 240
    cells = [
        str(c)
        for row in book.worksheets[0].iter_rows(values_only=True)
        for c in row
        if c is not None
    ]
    assert "孙伟" in cells and "王丽" in cells  # the signature block
    assert str(_db_minutes(demo)) in cells  # the total in minutes


def test_csv_and_unsigned(demo: ConsoleHarness, db_url: str, tmp_path: Path, capsys) -> None:
    _month_of_work(demo)
    out = tmp_path / "entries.csv"
    assert (
        main(
            [
                "--db",
                db_url,
                "export",
                "statement",
                "--engagement",
                "DEMO-2026",
                "--month",
                "2026-11",
                "--out",
                str(out),
                "--format",
                "csv",
            ]
        )
        == 0
    )
    assert "unsigned" in capsys.readouterr().out
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 and sum(int(r["minutes"]) for r in rows) == _db_minutes(demo)


def test_bad_arguments(demo: ConsoleHarness, db_url: str, tmp_path: Path, capsys) -> None:
    assert (
        main(
            [
                "--db",
                db_url,
                "export",
                "statement",
                "--engagement",
                "NOPE",
                "--month",
                "2026-11",
                "--out",
                str(tmp_path / "x.xlsx"),
            ]
        )
        == 2
    )
    assert "no engagement" in capsys.readouterr().err
    assert (
        main(
            [
                "--db",
                db_url,
                "export",
                "statement",
                "--engagement",
                "DEMO-2026",
                "--month",
                "11月",
                "--out",
                str(tmp_path / "x.xlsx"),
            ]
        )
        == 2
    )
    assert "YYYY-MM" in capsys.readouterr().err
