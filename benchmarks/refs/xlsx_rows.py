"""Bare reference: the month's work entries read with `sqlite3` and written as one sheet of
nine columns by a streaming xlsx writer, nothing else: `python xlsx_rows.py DB MONTH OUT LIB`
with LIB `openpyxl` (write-only mode) or `xlsxwriter` (constant_memory).

The cells are those of the export's entries sheet: a date with the `yyyy-mm-dd` format,
texts as texts, minutes, person-days with the `0.###` format, the overtime mark only where
there is overtime. No app code, no styles beyond those two number formats."""

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
DATE_FORMAT = "yyyy-mm-dd"
DAYS_FORMAT = "0.###"  # the export's person-days format


def rows(db: str, month: str) -> Iterator[tuple[Any, ...]]:
    """(day, name, level, minutes, person-days, target, note, kind, overtime) per entry."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    after = date(year + number // 12, number % 12 + 1, 1)
    connection = sqlite3.connect(db)
    for day, *rest in connection.execute(QUERY, (first.isoformat(), after.isoformat())):
        yield (date.fromisoformat(day), *rest)


def with_openpyxl(db: str, month: str, out: str) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("明细")
    sheet.append(HEADER)
    count = 0
    for day, *middle, days, target, note, kind, overtime in rows(db, month):
        person_days = WriteOnlyCell(sheet, days)
        person_days.number_format = DAYS_FORMAT
        # openpyxl gives a date the yyyy-mm-dd format itself
        sheet.append([day, *middle, person_days, target, note, kind, "是" if overtime else None])
        count += 1
    workbook.save(out)
    return count


def with_xlsxwriter(db: str, month: str, out: str) -> int:
    import xlsxwriter  # type: ignore[import-untyped, unused-ignore]

    workbook = xlsxwriter.Workbook(out, {"constant_memory": True})
    sheet = workbook.add_worksheet("明细")
    dates = workbook.add_format({"num_format": DATE_FORMAT})
    days = workbook.add_format({"num_format": DAYS_FORMAT})
    for column, title in enumerate(HEADER):
        sheet.write_string(0, column, title)
    count = 0
    # Each cell by its type's method, as the export writes them (`write` would look for a
    # formula, a number or a link in every text).
    for count, row in enumerate(rows(db, month), start=1):
        day, name, level, minutes, person_days, target, note, kind, overtime = row
        sheet.write_datetime(count, 0, day, dates)
        sheet.write_string(count, 1, name)
        sheet.write_string(count, 2, level)
        sheet.write_number(count, 3, minutes)
        sheet.write_number(count, 4, person_days, days)
        sheet.write_string(count, 5, target)
        sheet.write_string(count, 6, note)
        sheet.write_string(count, 7, kind)
        if overtime:
            sheet.write_string(count, 8, "是")
    workbook.close()
    return count


if __name__ == "__main__":
    database, month_label, path, library = sys.argv[1:5]
    write = with_xlsxwriter if library == "xlsxwriter" else with_openpyxl
    print(write(database, month_label, path))
