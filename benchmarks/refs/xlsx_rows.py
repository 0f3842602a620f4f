"""Bare reference: the month's work entries read with `sqlite3` and written as one sheet of
nine columns by a streaming xlsx writer, nothing else: `python xlsx_rows.py DB MONTH OUT LIB`
with LIB `openpyxl` (write-only mode) or `xlsxwriter` (constant_memory)."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from datetime import date
from typing import Any

QUERY = """
SELECT w.work_date, p.name, w.level, w.minutes, w.minutes / 480.0, w.target_ref, w.note,
       w.kind, w.overtime
FROM worklog w JOIN person p ON p.id = w.person_id
WHERE w.work_date >= ? AND w.work_date < ? AND w.voided_at IS NULL
ORDER BY w.work_date, w.id
"""
HEADER = ["日期", "姓名", "级别", "分钟", "人天", "工作对象", "备注", "类型", "加班"]


def rows(db: str, month: str) -> Iterator[list[Any]]:
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    after = date(year + number // 12, number % 12 + 1, 1)
    connection = sqlite3.connect(db)
    for row in connection.execute(QUERY, (first.isoformat(), after.isoformat())):
        day, *rest = row
        yield [date.fromisoformat(day), *rest[:7], "是" if rest[7] else None]


def with_openpyxl(db: str, month: str, out: str) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("明细")
    sheet.append(HEADER)
    count = 0
    for row in rows(db, month):
        sheet.append(row)
        count += 1
    workbook.save(out)
    return count


def with_xlsxwriter(db: str, month: str, out: str) -> int:
    import xlsxwriter  # type: ignore[import-not-found, unused-ignore]

    workbook = xlsxwriter.Workbook(out, {"constant_memory": True})
    sheet = workbook.add_worksheet("明细")
    dates = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, HEADER)
    count = 0
    for count, row in enumerate(rows(db, month), start=1):
        sheet.write_datetime(count, 0, row[0], dates)
        sheet.write_row(count, 1, row[1:])
    workbook.close()
    return count


if __name__ == "__main__":
    database, month_label, path, library = sys.argv[1:5]
    write = with_xlsxwriter if library == "xlsxwriter" else with_openpyxl
    print(write(database, month_label, path))
