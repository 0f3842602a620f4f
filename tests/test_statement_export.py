"""The statement as xlsx and csv: hand-built November 2026 statements in both locales, read back
with openpyxl and csv, checked against sums taken here in integer minutes."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot import clock
from domain.catalog import LEVELS
from handlers.statement import (
    LevelPosition,
    Signature,
    Statement,
    StatementDay,
    StatementEntry,
    StatementRow,
)
from handlers.statement_export import CSV_FIELDS, person_days, write_csv, write_xlsx

HOURS = 8
DAY_MINUTES = HOURS * 60
OFF_MONDAY = date(2026, 11, 2)  # pretend a public holiday: 休
MAKE_UP_SATURDAY = date(2026, 11, 7)  # and its make-up working day: 班
CLOSED = Signature("王经理", datetime(2026, 11, 30, 10, 5, tzinfo=UTC))  # 18:05 in Shanghai
CONFIRMED = Signature("陈总", datetime(2026, 12, 1, 1, 30, tzinfo=UTC))  # 09:30 in Shanghai

LABELS = {
    "zh-CN": {"sheet": "人天结算单", "entries": "明细", "name": "姓名", "subtotal": "小计",
              "total": "合计", "off": "休", "make_up": "班", "closed": "厂商确认",
              "confirmed": "甲方确认", "unsigned": "未签", "hash": "内容摘要 SHA-256",
              "adjustment": "调整", "yes": "是", "sunday": "日"},
    "en": {"sheet": "Statement", "entries": "Entries", "name": "Name", "subtotal": "Subtotal",
           "total": "Total", "off": "off", "make_up": "make-up", "closed": "Closed by (vendor)",
           "confirmed": "Confirmed by (client)", "unsigned": "unsigned", "hash": "Content SHA-256",
           "adjustment": "adjustment", "yes": "yes", "sunday": "Sun"},
}  # fmt: skip


def _entry(n: int, day: int, key: str, name: str, level: str, minutes: int, **extra: object):
    fields: dict = dict(target_kind="ticket", target_ref=f"T-{n}", note="", kind="entry",
                        overtime=False) | extra  # fmt: skip
    return StatementEntry(n, date(2026, 11, day), key, name, level, minutes, **fields)


ENTRIES = (
    _entry(1, 3, "zhangsan", "张三", "senior", 480),
    _entry(2, 4, "zhangsan", "张三", "senior", 90, note="=SUM(A1:A9)"),
    _entry(3, 4, "lisi", "李四", "mid", 270, target_kind="service", target_ref="training"),
    _entry(4, 4, "zhangsan", "张三", "senior", -30, kind="adjustment", note="多报了半小时"),
    _entry(5, 7, "zhangsan", "张三", "senior", 240),
    _entry(6, 10, "lisi", "李四", "mid", 600, overtime=True),
    _entry(7, 12, "wangwu", "王五", "junior", 45),
    _entry(8, 30, "lisi", "李四", "mid", 1),
    _entry(9, 13, "zhangsan", "张三", "senior", -60, kind="adjustment", note="11-03 记多了"),
)


def _days() -> tuple[StatementDay, ...]:
    days = []
    for n in range(1, 31):
        day = date(2026, 11, n)
        weekend = day.weekday() >= 5
        if day == OFF_MONDAY:
            days.append(StatementDay(day, False, "休"))
        elif day == MAKE_UP_SATURDAY:
            days.append(StatementDay(day, True, "班"))
        else:
            days.append(StatementDay(day, not weekend, ""))
    return tuple(days)


def _rows(entries: tuple[StatementEntry, ...]) -> tuple[StatementRow, ...]:
    rows: dict[tuple[str, str, str], dict[date, int]] = {}
    for e in entries:
        days = rows.setdefault((e.person_key, e.name, e.level), {})
        days[e.work_date] = days.get(e.work_date, 0) + e.minutes
    return tuple(StatementRow(key, name, level, days) for (key, name, level), days in rows.items())


def _levels(entries: tuple[StatementEntry, ...]) -> tuple[LevelPosition, ...]:
    contracted = {"senior": 20 * DAY_MINUTES, "mid": 10 * DAY_MINUTES, "junior": 5 * DAY_MINUTES}
    before = {"senior": 3 * DAY_MINUTES + 90}
    return tuple(
        LevelPosition(level, contracted.get(level, 0), before.get(level, 0),
                      sum(e.minutes for e in entries if e.level == level))
        for level in LEVELS
    )  # fmt: skip


def make_statement(locale: str = "zh-CN", signed: bool = False) -> Statement:
    return Statement(
        code="ACME-OPS", name="运维保障", client="甲方公司", vendor="厂商公司", month="2026-11",
        timezone="Asia/Shanghai", locale=locale, hours_per_day=HOURS, days=_days(),
        rows=_rows(ENTRIES), entries=ENTRIES, levels=_levels(ENTRIES),
        closed=CLOSED if signed else None, confirmed=CONFIRMED if signed else None,
    )  # fmt: skip


def expected_days(minutes: int) -> Decimal:
    return (Decimal(minutes) / DAY_MINUTES).quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)


def read_days(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.001"))


def find_row(sheet: Worksheet, first: str | None, second: str | None = None) -> int:
    for row in range(1, sheet.max_row + 1):
        if sheet.cell(row, 1).value == first and (
            second is None or sheet.cell(row, 2).value == second
        ):
            return row
    raise AssertionError(f"no row {first!r} {second!r}")


class Grid:
    """Sheet 1 read back: where the header is and which column holds which day."""

    def __init__(self, path: Path, locale: str) -> None:
        self.labels = LABELS[locale]
        self.sheet = load_workbook(path).worksheets[0]
        self.header = find_row(self.sheet, self.labels["name"])
        self.columns = {
            date(2026, 11, self.sheet.cell(self.header, column).value): column
            for column in range(3, 33)
        }
        self.total_column, self.minutes_column = 33, 34

    def minutes(self, row: int) -> int:
        return self.sheet.cell(row, self.minutes_column).value

    def total_days(self, row: int) -> Decimal:
        return read_days(self.sheet.cell(row, self.total_column).value)

    def day(self, row: int, day: date) -> Decimal:
        value = self.sheet.cell(row, self.columns[day]).value
        return Decimal("0.000") if value is None else read_days(value)


@pytest.fixture(params=["zh-CN", "en"])
def locale(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def grid(tmp_path: Path, locale: str) -> Grid:
    path = tmp_path / "statement.xlsx"
    write_xlsx(make_statement(locale), path)
    return Grid(path, locale)


def test_person_days_are_exact_to_three_decimals_half_to_even() -> None:
    assert person_days(90, HOURS) == Decimal("0.188")
    assert person_days(-90, HOURS) == Decimal("-0.188")
    assert person_days(480, HOURS) == Decimal("1.000")
    assert person_days(1, HOURS) == Decimal("0.002")
    assert person_days(270, 9) == Decimal("0.500")


def test_sheet_titles_follow_the_locale(tmp_path: Path, locale: str) -> None:
    path = tmp_path / "statement.xlsx"
    write_xlsx(make_statement(locale), path)
    assert load_workbook(path).sheetnames == [LABELS[locale]["sheet"], LABELS[locale]["entries"]]


def test_each_person_row_adds_up_to_their_entries(grid: Grid) -> None:
    statement = make_statement()
    for person in statement.rows:
        row = find_row(grid.sheet, person.name)
        minutes = sum(e.minutes for e in ENTRIES if e.person_key == person.person_key)
        assert grid.minutes(row) == minutes
        assert grid.total_days(row) == expected_days(minutes)
        for day in statement.days:
            logged = sum(
                e.minutes
                for e in ENTRIES
                if e.person_key == person.person_key and e.work_date == day.day
            )
            assert grid.day(row, day.day) == expected_days(logged), (person.name, day.day)
    zhangsan = find_row(grid.sheet, "张三")
    assert grid.minutes(zhangsan) == 480 + 90 - 30 + 240 - 60
    assert grid.day(zhangsan, date(2026, 11, 4)) == Decimal("0.125")  # 90 - 30 minutes
    assert grid.day(zhangsan, date(2026, 11, 13)) == Decimal("-0.125")


def test_level_subtotals_and_overall_total_are_the_sums(grid: Grid, locale: str) -> None:
    for level in ("senior", "mid", "junior"):
        row = find_row(grid.sheet, grid.labels["subtotal"], LEVELS[level].name(locale))
        minutes = sum(e.minutes for e in ENTRIES if e.level == level)
        assert grid.minutes(row) == minutes
        assert grid.total_days(row) == expected_days(minutes)
    total = find_row(grid.sheet, grid.labels["total"])
    assert grid.minutes(total) == sum(e.minutes for e in ENTRIES) == 1636
    assert grid.total_days(total) == expected_days(1636)
    assert grid.day(total, date(2026, 11, 4)) == expected_days(90 + 270 - 30)


def test_non_working_days_are_marked_and_shaded(grid: Grid) -> None:
    marks = grid.header + 1

    def mark(day: date) -> str:
        return grid.sheet.cell(marks, grid.columns[day]).value

    def shaded(day: date) -> bool:
        return grid.sheet.cell(grid.header, grid.columns[day]).fill.fgColor.rgb[-6:] == "D9D9D9"

    assert grid.labels["off"] in mark(OFF_MONDAY)
    assert grid.labels["make_up"] in mark(MAKE_UP_SATURDAY)
    assert mark(date(2026, 11, 1)) == grid.labels["sunday"]
    assert shaded(OFF_MONDAY) and shaded(date(2026, 11, 1))
    assert not shaded(MAKE_UP_SATURDAY) and not shaded(date(2026, 11, 3))


def test_budget_position_in_person_days(grid: Grid, locale: str) -> None:
    row = find_row(grid.sheet, None, LEVELS["senior"].name(locale))
    month = 480 + 90 - 30 + 240 - 60
    values = [read_days(grid.sheet.cell(row, column).value) for column in range(3, 8)]
    assert values == [
        expected_days(m) for m in (9600, 1530, month, 1530 + month, 9600 - 1530 - month)
    ]
    with pytest.raises(AssertionError):  # a level with neither budget nor use is left out
        find_row(grid.sheet, None, LEVELS["principal"].name(locale))


@pytest.mark.parametrize("signed", [True, False])
def test_signature_block_and_content_hash(tmp_path: Path, locale: str, signed: bool) -> None:
    statement = make_statement(locale, signed)
    path = tmp_path / "statement.xlsx"
    write_xlsx(statement, path)
    sheet = load_workbook(path).worksheets[0]
    labels = LABELS[locale]
    closed, confirmed = find_row(sheet, labels["closed"]), find_row(sheet, labels["confirmed"])
    if signed:
        assert (sheet.cell(closed, 2).value, sheet.cell(closed, 3).value) == (
            "王经理",
            "2026-11-30 18:05",
        )
        assert (sheet.cell(confirmed, 2).value, sheet.cell(confirmed, 3).value) == (
            "陈总",
            "2026-12-01 09:30",
        )
    else:
        assert sheet.cell(closed, 2).value == sheet.cell(confirmed, 2).value == labels["unsigned"]
        assert sheet.cell(closed, 3).value is None
    assert sheet.cell(find_row(sheet, labels["hash"]), 2).value == statement.content_hash


def test_entries_sheet_has_one_row_per_entry_with_exact_minutes(
    tmp_path: Path, locale: str
) -> None:
    path = tmp_path / "statement.xlsx"
    write_xlsx(make_statement(locale), path)
    sheet = load_workbook(path).worksheets[1]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(ENTRIES)
    assert [row[3] for row in rows] == [e.minutes for e in ENTRIES]
    assert [read_days(row[4]) for row in rows] == [expected_days(e.minutes) for e in ENTRIES]
    assert [row[0].date() for row in rows] == [e.work_date for e in ENTRIES]
    assert rows[1][6] == "=SUM(A1:A9)" and sheet.cell(3, 7).data_type == "s"  # never a formula
    assert rows[3][7] == LABELS[locale]["adjustment"]
    assert rows[5][8] == LABELS[locale]["yes"] and rows[0][8] is None
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:I{len(ENTRIES) + 1}"


def test_csv_lists_every_entry_with_exact_minutes(tmp_path: Path) -> None:
    path = tmp_path / "statement.csv"
    write_csv(make_statement("en"), path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == CSV_FIELDS
    assert len(rows) == len(ENTRIES)
    assert sum(int(row["minutes"]) for row in rows) == sum(e.minutes for e in ENTRIES)
    assert rows[1]["person_days"] == "0.188"
    assert rows[3]["minutes"] == "-30"
    assert rows[3]["note"] == "多报了半小时" and rows[3]["kind"] == "adjustment"
    assert rows[1]["note"] == "'=SUM(A1:A9)"  # Excel must not run it
    assert rows[5]["overtime"] == "true" and rows[0]["overtime"] == "false"


def test_an_empty_month_still_writes_both_files(tmp_path: Path) -> None:
    statement = replace(make_statement(), rows=(), entries=(), levels=())
    write_xlsx(statement, tmp_path / "empty.xlsx")
    write_csv(statement, tmp_path / "empty.csv")
    grid = Grid(tmp_path / "empty.xlsx", "zh-CN")
    assert grid.minutes(find_row(grid.sheet, "合计")) == 0
    assert (tmp_path / "empty.csv").read_text(encoding="utf-8-sig").strip() == ",".join(CSV_FIELDS)


def test_the_layout_reads_back_as_it_was_drawn(tmp_path: Path) -> None:
    """Widths as Excel stores them (22, not XlsxWriter's 22.71 for `set_column(22)`), the tall
    header rows, frozen panes, fonts, shading and number formats of both sheets."""
    path = tmp_path / "statement.xlsx"
    write_xlsx(make_statement(), path)
    book = load_workbook(path)
    grid, entries = book.worksheets

    def widths(sheet: Worksheet) -> dict[int, float]:
        return {column: dimension.width for dimension in sheet.column_dimensions.values()
                if dimension.customWidth for column in range(dimension.min, dimension.max + 1)}  # fmt: skip

    assert widths(grid) == {1: 22, 2: 18, **dict.fromkeys(range(3, 33), 7), 33: 12, 34: 12}
    assert widths(entries) == dict(enumerate((12, 14, 18, 9, 11, 28, 40, 11, 9), start=1))
    budget_header = find_row(grid, None, "级别")
    assert {n for n, row in grid.row_dimensions.items() if row.height} == {7, 8, budget_header}
    assert {row.height for row in grid.row_dimensions.values() if row.height} == {30}
    assert grid.freeze_panes == "C9"
    title = grid.cell(1, 1)
    assert title.value == "人天结算单 2026-11" and title.font.b and title.font.sz == 14
    header = grid.cell(7, 3)
    assert header.font.b and header.alignment.wrap_text and header.alignment.vertical == "center"
    assert grid.cell(6, 2).value == HOURS and grid.cell(6, 2).alignment.horizontal == "left"
    zhangsan = find_row(grid, "张三")
    assert grid.cell(zhangsan, 5).number_format == "0.###" and not grid.cell(zhangsan, 5).font.b
    total = find_row(grid, "合计")
    assert grid.cell(total, 33).number_format == "0.###" and grid.cell(total, 34).font.b
    assert grid.cell(total, 3).fill.fgColor.rgb[-6:] == "D9D9D9"  # Sunday 1st: shaded, empty
    assert grid.cell(total, 3).value is None
    assert all(cell.font.b for cell in entries[1])
    assert entries.cell(2, 1).number_format == "yyyy-mm-dd"
    assert entries.cell(2, 5).number_format == "0.###"


TRICKY_TEXTS = ("<r>x</r>", "<r><t>a</t></r>", "http://example.com/a", "12.5", "#N/A", "=1+1",
                "@SUM(1)", "  spaced  ", "a\x01b")  # fmt: skip


def test_free_text_is_written_as_text_whatever_it_looks_like(tmp_path: Path) -> None:
    """No formula, number, link or error value; a text shaped like XlsxWriter's rich-text XML
    is not copied into the file as XML; characters XML cannot hold are dropped."""
    entries = tuple(
        _entry(n, 3, "zhangsan", text, "senior", 60, note=text, target_ref=text)
        for n, text in enumerate(TRICKY_TEXTS * 2, start=1)  # twice: also from the cache
    )
    statement = replace(make_statement(), entries=entries, rows=_rows(entries), closed=None)
    path = tmp_path / "statement.xlsx"
    write_xlsx(statement, path)
    book = load_workbook(path)
    sheet = book.worksheets[1]
    expected = [text.replace("\x01", "") for text in TRICKY_TEXTS] * 2
    for column in (2, 7):  # the name (its safe text kept for the next row) and the note
        cells = [sheet.cell(row, column) for row in range(2, 2 + len(expected))]
        assert [cell.value for cell in cells] == expected
        assert {cell.data_type for cell in cells} == {"s"}
        assert not any(cell.hyperlink for cell in cells)
    assert [sheet.cell(row, 6).value for row in range(2, 2 + len(expected))] == [
        f"工单 {text}" for text in expected
    ]
    grid = book.worksheets[0]  # the grid's rows are written by the statement sheet's path
    rows = [find_row(grid, text) for text in expected]
    assert {grid.cell(row, 1).data_type for row in rows} == {"s"}


def test_the_workbook_is_dated_by_the_bot_clock(tmp_path: Path) -> None:
    path = tmp_path / "statement.xlsx"
    write_xlsx(make_statement(), path)
    created = load_workbook(path).properties.created
    assert created == clock.now().astimezone(UTC).replace(tzinfo=None)
