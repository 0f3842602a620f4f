"""The monthly person-day statement (人天结算单) as files: an xlsx for people to sign and a flat
csv of its entries. Values, not formulas: every sum is taken in integer minutes here."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

from bot import clock
from domain.catalog import LEVELS, SERVICES
from handlers.statement import LevelPosition, Statement, StatementEntry

_LABELS: dict[str, tuple[str, str]] = {
    "sheet": ("人天结算单", "Statement"),
    "entries_sheet": ("明细", "Entries"),
    "title": ("人天结算单", "Person-day statement"),
    "engagement": ("项目", "Engagement"),
    "client": ("甲方", "Client"),
    "vendor": ("厂商", "Vendor"),
    "month": ("月份", "Month"),
    "hours_per_day": ("每人天工时（小时）", "Hours per person-day"),
    "name": ("姓名", "Name"),
    "level": ("级别", "Level"),
    "total_days": ("合计（人天）", "Total (person-days)"),
    "total_minutes": ("合计（分钟）", "Total (minutes)"),
    "subtotal": ("小计", "Subtotal"),
    "total": ("合计", "Total"),
    "budget": ("预算执行（截至本月末，人天）", "Budget position after the month (person-days)"),
    "contracted": ("合同人天", "budget"),
    "used_before": ("月前已用", "used before"),
    "this_month": ("本月", "this month"),
    "used_after": ("累计已用", "used after"),
    "left": ("剩余", "left"),
    "closed_by": ("厂商确认", "Closed by (vendor)"),
    "confirmed_by": ("甲方确认", "Confirmed by (client)"),
    "unsigned": ("未签", "unsigned"),
    "hash": ("内容摘要 SHA-256", "Content SHA-256"),
    "date": ("日期", "Date"),
    "minutes": ("分钟", "Minutes"),
    "person_days": ("人天", "Person-days"),
    "target": ("工作对象", "Target"),
    "note": ("备注", "Note"),
    "kind": ("类型", "Kind"),
    "overtime": ("加班", "Overtime"),
    "yes": ("是", "yes"),
}  # fmt: skip
# Values stored as keys (day marks, entry kinds, target kinds) and how people read them.
_VALUES: dict[str, tuple[str, str]] = {
    "休": ("休", "off"), "班": ("班", "make-up"),
    "entry": ("报工", "entry"), "adjustment": ("调整", "adjustment"),
    "ticket": ("工单", "ticket"), "task": ("任务", "task"), "cr": ("变更单", "change request"),
    "service": ("服务", "service"),
}  # fmt: skip
_WEEKDAYS = (("一", "二", "三", "四", "五", "六", "日"),
             ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))  # fmt: skip
CSV_FIELDS = ("date", "person_key", "name", "level", "minutes", "person_days",
              "target_kind", "target_ref", "note", "kind", "overtime")  # fmt: skip
_FIRST_DAY_COLUMN = 3  # A: name, B: level (Excel's numbering, from 1)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE): dropped from texts.
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
_DIGIT_PIXELS = 7  # the width of a digit of the default font, Calibri 11


# What a cell can look like, by name; a cell's format is the union of the names it asks for.
_STYLES: dict[str, dict[str, Any]] = {
    "bold": {"bold": True},
    "title": {"bold": True, "font_size": 14},
    "wrap": {"text_wrap": True, "valign": "vcenter"},
    "left": {"align": "left"},
    "grey": {"pattern": 1, "fg_color": "#D9D9D9"},
    "days": {"num_format": "0.###"},
    "date": {"num_format": "yyyy-mm-dd"},
}


@lru_cache(maxsize=4096)  # a month repeats a few values (4h, 1d, …) across its entries
def person_days(minutes: int, hours_per_day: int) -> Decimal:
    """Exact person-days to three decimals, half to even as `format_person_days` rounds."""
    return Decimal(round(Fraction(minutes * 1000, hours_per_day * 60))).scaleb(-3)


def write_xlsx(statement: Statement, path: str | Path) -> None:
    """The statement to sign (sheet 1) and its entries (sheet 2) as an xlsx workbook.

    Written by XlsxWriter in `constant_memory` mode: each row goes to a temporary file once
    the next one starts, so a month of 100 000 entries takes the memory of one row.
    """
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    workbook.set_properties({"created": clock.now().astimezone(UTC)})
    formats = _Formats(workbook)
    _statement_sheet(workbook.add_worksheet(_label(statement, "sheet")), formats, statement)
    _entries_sheet(workbook.add_worksheet(_label(statement, "entries_sheet")), formats, statement)
    workbook.close()


def write_csv(statement: Statement, path: str | Path) -> None:
    """The entries as a flat csv with English column keys, UTF-8 with a BOM for Excel."""
    with open(path, "w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_FIELDS)
        for e in statement.entries:
            writer.writerow([
                e.work_date.isoformat(), e.person_key, _csv_text(e.name), e.level, e.minutes,
                person_days(e.minutes, statement.hours_per_day), e.target_kind,
                _csv_text(e.target_ref), _csv_text(e.note), e.kind, "true" if e.overtime else "false",
            ])  # fmt: skip


def _label(statement: Statement, key: str) -> str:
    zh, en = _LABELS[key]
    return en if statement.locale == "en" else zh


def _value(statement: Statement, key: str) -> str:
    zh, en = _VALUES.get(key, (key, key))
    return en if statement.locale == "en" else zh


def _level_name(statement: Statement, level: str) -> str:
    return LEVELS[level].name(statement.locale) if level in LEVELS else level


class _Formats:
    """The workbook's cell formats, one per combination of `_STYLES` names, made when first
    asked for."""

    def __init__(self, workbook: Any) -> None:
        self._workbook = workbook
        self._made: dict[tuple[str, ...], Any] = {}

    def __call__(self, *names: str | None) -> Any:
        key = tuple(sorted({name for name in names if name}))
        if not key:
            return None
        if key not in self._made:
            self._made[key] = self._workbook.add_format(
                {prop: value for name in key for prop, value in _STYLES[name].items()}
            )
        return self._made[key]


# A row as a list of (value, format) pairs, None where no cell is written.
_Cell = tuple[object, Any]
_Row = list[_Cell | None]


def _write_row(sheet: Any, row: int, cells: _Row) -> None:
    for column, cell in enumerate(cells):
        if cell is not None:
            _write(sheet, row, column, *cell)


def _write(sheet: Any, row: int, column: int, value: object, cell_format: Any) -> None:
    if isinstance(value, str):
        _write_text(sheet, row, column, _ILLEGAL.sub("", value), cell_format)
    elif value is None:
        sheet.write_blank(row, column, None, cell_format)  # nothing unless it has a format
    else:
        sheet.write_number(row, column, value, cell_format)


def _write_text(sheet: Any, row: int, column: int, text: str, cell_format: Any = None) -> None:
    """Text is always text: `write_string` makes no formula, number or link of it. In
    constant_memory mode XlsxWriter copies a text shaped `<r>…</r>` into the file as rich-text
    XML, unescaped: such a text goes as a rich string of three plain pieces (the fewest it
    takes), which are escaped."""
    if not text:
        sheet.write_blank(row, column, None, cell_format)  # as openpyxl wrote "": no value
    elif text.startswith("<r>") and text.endswith("</r>"):
        pieces = (text[:1], text[1:2], text[2:])
        sheet.write_rich_string(row, column, *pieces, *_given(cell_format))
    else:
        sheet.write_string(row, column, text, cell_format)


def _given(cell_format: Any) -> tuple[Any, ...]:
    return () if cell_format is None else (cell_format,)


def _width(sheet: Any, column: int, width: int) -> None:
    """A column `width` characters wide as Excel stores it (XlsxWriter's `set_column` adds the
    cell padding to what it is given; pixels it takes as they are)."""
    sheet.set_column_pixels(column, column, width * _DIGIT_PIXELS)


def _cell(f: _Formats, value: object, *styles: str | None) -> _Cell:
    return (value, f(*styles))


def _bold(bold: bool) -> str | None:
    return "bold" if bold else None


def _days(f: _Formats, minutes: int, s: Statement, bold: bool = False,
          fill: str | None = None) -> _Cell:  # fmt: skip
    return _cell(f, person_days(minutes, s.hours_per_day), "days", _bold(bold), fill)


_TITLE_ROWS = 6  # title, engagement, client, vendor, month, hours per person-day
_TALL_ROW = 30


def _statement_sheet(sheet: Any, f: _Formats, s: Statement) -> None:
    """Title block, grid, budget, signatures and the content hash, top to bottom; no blank
    rows between the blocks. Rows are counted from 1 here, as Excel shows them."""
    top = _TITLE_ROWS + 1  # the grid's header row
    budget_top = top + 2 + len(s.rows) + len({r.level for r in s.rows}) + 1
    _statement_widths(sheet, s)
    sheet.freeze_panes(top + 1, _FIRST_DAY_COLUMN - 1)  # below the day marks, right of B
    for tall in (top, top + 1, budget_top + 1):  # the grid's header and marks, budget header
        sheet.set_row(tall - 1, _TALL_ROW)
    content_hash: _Row = [_cell(f, _label(s, "hash"), "bold"), _cell(f, s.content_hash)]
    rows = chain(_title_block(f, s), _grid(f, s), _budget(f, s), _signatures(f, s), [content_hash])
    for index, row in enumerate(rows):
        _write_row(sheet, index, row)


def _title_block(f: _Formats, s: Statement) -> Iterator[_Row]:
    """Rows 1-6: title, engagement, parties, month, hours per person-day."""
    yield [_cell(f, f"{_label(s, 'title')} {s.month}", "title")]
    fields = (("engagement", f"{s.code} {s.name}"), ("client", s.client), ("vendor", s.vendor),
              ("month", s.month), ("hours_per_day", s.hours_per_day))  # fmt: skip
    for key, value in fields:
        yield [_cell(f, _label(s, key), "bold"), _cell(f, value, "left")]


def _grid(f: _Formats, s: Statement) -> Iterator[_Row]:
    """Header, day marks, one row per person, subtotals per level, the total; the columns of
    days off are shaded from the header down to the total."""
    shade = [None if day.working else "grey" for day in s.days]
    header = [_label(s, "name"), _label(s, "level"), *(d.day.day for d in s.days),
              _label(s, "total_days"), _label(s, "total_minutes")]  # fmt: skip
    fills = [None, None, *shade, None, None]
    yield [_cell(f, value, "bold", "wrap", fill) for value, fill in zip(header, fills, strict=True)]
    yield [None, None, *(_cell(f, _day_mark(s, day.day.weekday(), day.mark), "wrap", fill)
                         for day, fill in zip(s.days, shade, strict=True))]  # fmt: skip
    for person in s.rows:
        labels = (person.name, _level_name(s, person.level))
        yield _grid_row(f, s, shade, labels, person.minutes_by_day)
    for level in dict.fromkeys(person.level for person in s.rows):
        level_rows = [person.minutes_by_day for person in s.rows if person.level == level]
        labels = (_label(s, "subtotal"), _level_name(s, level))
        yield _grid_row(f, s, shade, labels, _sum_by_day(level_rows), bold=True)
    overall = _sum_by_day(person.minutes_by_day for person in s.rows)
    yield _grid_row(f, s, shade, (_label(s, "total"), None), overall, bold=True)


def _day_mark(s: Statement, weekday: int, mark: str) -> str:
    name = _WEEKDAYS[1 if s.locale == "en" else 0][weekday]
    return f"{name}\n{_value(s, mark)}" if mark else name


def _sum_by_day(rows: Iterable[dict[date, int]]) -> dict[date, int]:
    total: dict[date, int] = {}
    for minutes_by_day in rows:
        for day, minutes in minutes_by_day.items():
            total[day] = total.get(day, 0) + minutes
    return total


def _grid_row(f: _Formats, s: Statement, shade: list[str | None],
              labels: tuple[str, str | None], minutes_by_day: dict[date, int],
              bold: bool = False) -> _Row:  # fmt: skip
    """Labels, person-days per day (blank where nothing was logged), total days and minutes."""
    row: _Row = [_cell(f, labels[0], _bold(bold)), _cell(f, labels[1], _bold(bold))]
    for day, fill in zip(s.days, shade, strict=True):
        if day.day in minutes_by_day:
            row.append(_days(f, minutes_by_day[day.day], s, bold, fill))
        else:
            row.append(_cell(f, None, fill))
    total = sum(minutes_by_day.values())
    row += [_days(f, total, s, bold), _cell(f, total, _bold(bold))]
    return row


def _budget(f: _Formats, s: Statement) -> Iterator[_Row]:
    """The budget position after the month, per level with any budget or use, and in total."""
    yield [_cell(f, _label(s, "budget"), "bold")]
    keys = ("level", "contracted", "used_before", "this_month", "used_after", "left")
    yield [None, *(_cell(f, _label(s, key), "bold", "wrap") for key in keys)]
    positions = [_position_minutes(p) for p in s.levels]
    for position, minutes in zip(s.levels, positions, strict=True):
        if any(minutes[:3]):  # a level with neither budget nor use says nothing
            yield _budget_row(f, s, _level_name(s, position.level), minutes)
    totals = tuple(sum(minutes[i] for minutes in positions) for i in range(5))
    yield _budget_row(f, s, _label(s, "total"), totals, bold=True)


def _position_minutes(position: LevelPosition) -> tuple[int, int, int, int, int]:
    return (position.contracted_minutes, position.used_before_minutes, position.month_minutes,
            position.used_after_minutes, position.left_minutes)  # fmt: skip


def _budget_row(f: _Formats, s: Statement, label: str, minutes: tuple[int, ...],
                bold: bool = False) -> _Row:  # fmt: skip
    return [None, _cell(f, label, _bold(bold)), *(_days(f, value, s, bold) for value in minutes)]


def _signatures(f: _Formats, s: Statement) -> Iterator[_Row]:
    """Who closed (vendor) and who confirmed (client) the month, and when, local time."""
    for key, signature in (("closed_by", s.closed), ("confirmed_by", s.confirmed)):
        label = _cell(f, _label(s, key), "bold")
        if signature is None:
            yield [label, _cell(f, _label(s, "unsigned"))]
        else:
            at = clock.local(signature.at, s.timezone).strftime("%Y-%m-%d %H:%M")
            yield [label, _cell(f, signature.name), _cell(f, at)]


def _statement_widths(sheet: Any, s: Statement) -> None:
    _width(sheet, 0, 22)
    _width(sheet, 1, 18)
    first = _FIRST_DAY_COLUMN - 1  # from 0, as XlsxWriter counts
    for column in range(first, first + len(s.days)):
        _width(sheet, column, 7)
    _width(sheet, first + len(s.days), 12)
    _width(sheet, first + len(s.days) + 1, 12)


_ENTRY_COLUMNS = (("date", 12), ("name", 14), ("level", 18), ("minutes", 9), ("person_days", 11),
                  ("target", 28), ("note", 40), ("kind", 11), ("overtime", 9))  # fmt: skip


def _entries_sheet(sheet: Any, f: _Formats, s: Statement) -> None:
    """One row per entry, with a filter on the header and the header frozen."""
    for column, (_, width) in enumerate(_ENTRY_COLUMNS):
        _width(sheet, column, width)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(s.entries), len(_ENTRY_COLUMNS) - 1)
    _write_row(sheet, 0, [_cell(f, _label(s, key), "bold") for key, _ in _ENTRY_COLUMNS])
    rows = _EntryRows(sheet, f, s)
    for row, e in enumerate(s.entries, start=1):
        rows.write(row, e)


class _EntryRows:
    """The entries sheet's rows, one call per entry: this is the loop a large month spends
    its time in. Texts that repeat down the sheet (names, levels, targets, kinds) are looked
    up and cleaned once: 100 000 rows hold a few hundred distinct ones."""

    def __init__(self, sheet: Any, f: _Formats, s: Statement) -> None:
        self._sheet, self._statement = sheet, s
        self._dates, self._days = f("date"), f("days")
        self._plain: dict[str, str] = {}  # texts `write_string` takes as they are, cleaned
        self._levels: dict[str, str] = {}
        self._kinds: dict[str, str] = {}
        self._targets: dict[tuple[str, str], str] = {}
        # Person-days by minutes, as the float XlsxWriter writes (0.188, 1: as they read).
        self._person_days: dict[int, float] = {}
        self._yes = _label(s, "yes")

    def write(self, row: int, e: StatementEntry) -> None:
        sheet, text = self._sheet, self._text
        sheet.write_datetime(row, 0, e.work_date, self._dates)
        text(row, 1, e.name)
        text(row, 2, self._levels.get(e.level) or self._level(e.level))
        sheet.write_number(row, 3, e.minutes)
        days = self._person_days.get(e.minutes)
        sheet.write_number(row, 4, self._days_of(e.minutes) if days is None else days, self._days)
        text(row, 5, self._targets.get((e.target_kind, e.target_ref)) or self._target(e))
        note = _ILLEGAL.sub("", e.note)
        if note and not note.startswith("<r>"):  # the usual case, without `_write_text`'s call
            sheet.write_string(row, 6, note)
        else:
            _write_text(sheet, row, 6, note)
        text(row, 7, self._kinds.get(e.kind) or self._kind(e.kind))
        if e.overtime:
            text(row, 8, self._yes)

    def _text(self, row: int, column: int, value: str) -> None:
        plain = self._plain.get(value)
        if plain is not None:  # the usual case: straight to the writer
            self._sheet.write_string(row, column, plain)
            return
        clean = _ILLEGAL.sub("", value)
        if clean and not (clean.startswith("<r>") and clean.endswith("</r>")):
            self._plain[value] = clean
        _write_text(self._sheet, row, column, clean)

    def _days_of(self, minutes: int) -> float:
        days = self._person_days[minutes] = float(
            person_days(minutes, self._statement.hours_per_day)
        )
        return days

    def _level(self, key: str) -> str:
        self._levels[key] = _level_name(self._statement, key)
        return self._levels[key]

    def _kind(self, key: str) -> str:
        self._kinds[key] = _value(self._statement, key)
        return self._kinds[key]

    def _target(self, e: StatementEntry) -> str:
        s = self._statement
        service = SERVICES.get(e.target_ref) if e.target_kind == "service" else None
        shown = f"{_value(s, e.target_kind)} {service.name(s.locale) if service else e.target_ref}"
        self._targets[(e.target_kind, e.target_ref)] = shown
        return shown


def _csv_text(value: str) -> str:
    """Free text Excel would run as a formula gets a leading apostrophe (OWASP CSV injection)."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value
