"""The monthly person-day statement (人天结算单) as files: an xlsx for people to sign and a flat
csv of its entries. Values, not formulas: every sum is taken in integer minutes here."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bot.clock import local
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
_DAYS_FORMAT = "0.###"
_GREY = PatternFill("solid", fgColor="D9D9D9")
_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="center")
_LEFT = Alignment(horizontal="left")
_TITLE_FONT = Font(bold=True, size=14)
_FIRST_DAY_COLUMN = 3  # A: name, B: level
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@lru_cache(maxsize=4096)  # a month repeats a few values (4h, 1d, …) across its entries
def person_days(minutes: int, hours_per_day: int) -> Decimal:
    """Exact person-days to three decimals, half to even as `format_person_days` rounds."""
    return Decimal(round(Fraction(minutes * 1000, hours_per_day * 60))).scaleb(-3)


def write_xlsx(statement: Statement, path: str | Path) -> None:
    """The statement to sign (sheet 1) and its entries (sheet 2) as an xlsx workbook.

    Written in openpyxl's write-only mode: each row goes to the file as it is made, so a
    month of 100 000 entries takes the memory of one row, not of a million cells.
    """
    workbook = Workbook(write_only=True)
    _statement_sheet(workbook.create_sheet(_label(statement, "sheet")), statement)
    _entries_sheet(workbook.create_sheet(_label(statement, "entries_sheet")), statement)
    workbook.save(path)


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


# Write-only rows: a list per row, None where no cell is written; a value that needs a style
# (or a text openpyxl would take for a formula) is a WriteOnlyCell.
_Row = list[object]


def _cell(sheet: WriteOnlyWorksheet, value: object, bold: bool = False, *,
          number_format: str | None = None, alignment: Alignment | None = None,
          fill: PatternFill | None = None, font: Font | None = None) -> WriteOnlyCell:  # fmt: skip
    """One styled cell; text is always text (a note `=1+1` is not a formula)."""
    cell = WriteOnlyCell(sheet)
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"
    else:
        cell.value = value
    if font is not None or bold:
        cell.font = font or _BOLD
    if number_format is not None:
        cell.number_format = number_format
    if alignment is not None:
        cell.alignment = alignment
    if fill is not None:
        cell.fill = fill
    return cell


def _text(sheet: WriteOnlyWorksheet, value: str) -> object:
    """Plain text as itself (the fast path), unless openpyxl would read it as a formula or an
    error code: then a cell that says it is text."""
    clean = ILLEGAL_CHARACTERS_RE.sub("", value)
    if clean.startswith("=") or clean in ERROR_CODES:
        return _cell(sheet, clean)
    return clean


def _days(sheet: WriteOnlyWorksheet, minutes: int, s: Statement, bold: bool = False,
          fill: PatternFill | None = None) -> WriteOnlyCell:  # fmt: skip
    return _cell(sheet, person_days(minutes, s.hours_per_day), bold, number_format=_DAYS_FORMAT,
                 fill=fill)  # fmt: skip


def _statement_sheet(sheet: WriteOnlyWorksheet, s: Statement) -> None:
    """Title block, grid, budget, signatures and the content hash, top to bottom. Widths,
    the frozen panes and row heights are set before the rows they belong to are written."""
    top = _TITLE_ROWS + 1  # the grid's header row; no blank rows between the blocks
    _statement_widths(sheet, s)
    sheet.freeze_panes = f"{get_column_letter(_FIRST_DAY_COLUMN)}{top + 2}"
    for row in _title_block(sheet, s):
        sheet.append(row)
    for row in _grid(sheet, s, top):
        sheet.append(row)
    budget_top = top + 2 + len(s.rows) + len({r.level for r in s.rows}) + 1
    sheet.row_dimensions[budget_top + 1].height = 30
    for row in _budget(sheet, s):
        sheet.append(row)
    for row in _signatures(sheet, s):
        sheet.append(row)
    sheet.append([_cell(sheet, _label(s, "hash"), bold=True), _text(sheet, s.content_hash)])


_TITLE_ROWS = 6  # title, engagement, client, vendor, month, hours per person-day


def _title_block(sheet: WriteOnlyWorksheet, s: Statement) -> Iterator[_Row]:
    """Rows 1-6: title, engagement, parties, month, hours per person-day."""
    yield [_cell(sheet, f"{_label(s, 'title')} {s.month}", font=_TITLE_FONT)]
    fields = (("engagement", f"{s.code} {s.name}"), ("client", s.client), ("vendor", s.vendor),
              ("month", s.month), ("hours_per_day", s.hours_per_day))  # fmt: skip
    for key, value in fields:
        yield [_cell(sheet, _label(s, key), bold=True), _cell(sheet, value, alignment=_LEFT)]


def _grid(sheet: WriteOnlyWorksheet, s: Statement, top: int) -> Iterator[_Row]:
    """Header, day marks, one row per person, subtotals per level, the total; the columns of
    days off are shaded from the header down to the total."""
    shade = [None if day.working else _GREY for day in s.days]
    sheet.row_dimensions[top].height = sheet.row_dimensions[top + 1].height = 30
    header = [_label(s, "name"), _label(s, "level"), *(d.day.day for d in s.days),
              _label(s, "total_days"), _label(s, "total_minutes")]  # fmt: skip
    fills = [None, None, *shade, None, None]
    yield [_cell(sheet, value, bold=True, alignment=_WRAP, fill=fill)
           for value, fill in zip(header, fills, strict=True)]  # fmt: skip
    yield [None, None, *(_cell(sheet, _day_mark(s, day.day.weekday(), day.mark), alignment=_WRAP,
                               fill=fill) for day, fill in zip(s.days, shade, strict=True))]  # fmt: skip
    for person in s.rows:
        labels = (person.name, _level_name(s, person.level))
        yield _grid_row(sheet, s, shade, labels, person.minutes_by_day)
    for level in dict.fromkeys(person.level for person in s.rows):
        level_rows = [person.minutes_by_day for person in s.rows if person.level == level]
        labels = (_label(s, "subtotal"), _level_name(s, level))
        yield _grid_row(sheet, s, shade, labels, _sum_by_day(level_rows), bold=True)
    overall = _sum_by_day(person.minutes_by_day for person in s.rows)
    yield _grid_row(sheet, s, shade, (_label(s, "total"), None), overall, bold=True)


def _day_mark(s: Statement, weekday: int, mark: str) -> str:
    name = _WEEKDAYS[1 if s.locale == "en" else 0][weekday]
    return f"{name}\n{_value(s, mark)}" if mark else name


def _sum_by_day(rows: Iterable[dict[date, int]]) -> dict[date, int]:
    total: dict[date, int] = {}
    for minutes_by_day in rows:
        for day, minutes in minutes_by_day.items():
            total[day] = total.get(day, 0) + minutes
    return total


def _grid_row(sheet: WriteOnlyWorksheet, s: Statement, shade: list[PatternFill | None],
              labels: tuple[str, str | None], minutes_by_day: dict[date, int],
              bold: bool = False) -> _Row:  # fmt: skip
    """Labels, person-days per day (blank where nothing was logged), total days and minutes."""
    row: _Row = [_cell(sheet, labels[0], bold), _cell(sheet, labels[1], bold)]
    for day, fill in zip(s.days, shade, strict=True):
        if day.day in minutes_by_day:
            row.append(_days(sheet, minutes_by_day[day.day], s, bold, fill))
        else:
            row.append(None if fill is None else _cell(sheet, None, fill=fill))
    total = sum(minutes_by_day.values())
    row += [_days(sheet, total, s, bold), _cell(sheet, total, bold)]
    return row


def _budget(sheet: WriteOnlyWorksheet, s: Statement) -> Iterator[_Row]:
    """The budget position after the month, per level with any budget or use, and in total."""
    yield [_cell(sheet, _label(s, "budget"), bold=True)]
    keys = ("level", "contracted", "used_before", "this_month", "used_after", "left")
    yield [None, *(_cell(sheet, _label(s, key), bold=True, alignment=_WRAP) for key in keys)]
    positions = [_position_minutes(p) for p in s.levels]
    for position, minutes in zip(s.levels, positions, strict=True):
        if any(minutes[:3]):  # a level with neither budget nor use says nothing
            yield _budget_row(sheet, s, _level_name(s, position.level), minutes)
    totals = tuple(sum(minutes[i] for minutes in positions) for i in range(5))
    yield _budget_row(sheet, s, _label(s, "total"), totals, bold=True)


def _position_minutes(position: LevelPosition) -> tuple[int, int, int, int, int]:
    return (position.contracted_minutes, position.used_before_minutes, position.month_minutes,
            position.used_after_minutes, position.left_minutes)  # fmt: skip


def _budget_row(sheet: WriteOnlyWorksheet, s: Statement, label: str, minutes: tuple[int, ...],
                bold: bool = False) -> _Row:  # fmt: skip
    return [None, _cell(sheet, label, bold), *(_days(sheet, value, s, bold) for value in minutes)]


def _signatures(sheet: WriteOnlyWorksheet, s: Statement) -> Iterator[_Row]:
    """Who closed (vendor) and who confirmed (client) the month, and when, local time."""
    for key, signature in (("closed_by", s.closed), ("confirmed_by", s.confirmed)):
        label = _cell(sheet, _label(s, key), bold=True)
        if signature is None:
            yield [label, _cell(sheet, _label(s, "unsigned"))]
        else:
            at = local(signature.at, s.timezone).strftime("%Y-%m-%d %H:%M")
            yield [label, _cell(sheet, signature.name), _cell(sheet, at)]


def _statement_widths(sheet: WriteOnlyWorksheet, s: Statement) -> None:
    sheet.column_dimensions["A"].width = 22
    sheet.column_dimensions["B"].width = 18
    for column in range(_FIRST_DAY_COLUMN, _FIRST_DAY_COLUMN + len(s.days)):
        sheet.column_dimensions[get_column_letter(column)].width = 7
    sheet.column_dimensions[get_column_letter(_FIRST_DAY_COLUMN + len(s.days))].width = 12
    sheet.column_dimensions[get_column_letter(_FIRST_DAY_COLUMN + len(s.days) + 1)].width = 12


_ENTRY_COLUMNS = (("date", 12), ("name", 14), ("level", 18), ("minutes", 9), ("person_days", 11),
                  ("target", 28), ("note", 40), ("kind", 11), ("overtime", 9))  # fmt: skip


def _entries_sheet(sheet: WriteOnlyWorksheet, s: Statement) -> None:
    """One row per entry, with a filter on the header and the header frozen."""
    for column, (_, width) in enumerate(_ENTRY_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(_ENTRY_COLUMNS))}{len(s.entries) + 1}"
    sheet.append([_cell(sheet, _label(s, key), bold=True) for key, _ in _ENTRY_COLUMNS])
    labels = _EntryLabels(sheet, s)
    targets: dict[tuple[str, str], str] = {}
    for e in s.entries:
        target = targets.get((e.target_kind, e.target_ref))
        if target is None:
            target = targets[(e.target_kind, e.target_ref)] = _target(s, e)
        sheet.append([
            e.work_date,  # openpyxl gives a date the yyyy-mm-dd format itself
            labels.text(e.name), labels.level(e.level), e.minutes, labels.days(e.minutes),
            labels.text(target), _text(sheet, e.note), labels.kind(e.kind),
            labels.yes if e.overtime else None,
        ])  # fmt: skip


class _EntryLabels:
    """Texts that repeat down the entries sheet (names, levels, targets, kinds), each made
    safe once: 100 000 rows hold a few hundred distinct ones."""

    def __init__(self, sheet: WriteOnlyWorksheet, s: Statement) -> None:
        self._sheet, self._statement = sheet, s
        self._seen: dict[str, str | None] = {}  # None: text that needs a cell of its own
        self.yes = self.text(_label(s, "yes"))

    def days(self, minutes: int) -> WriteOnlyCell:
        """`_days` without the options: this runs once per entry."""
        cell = WriteOnlyCell(self._sheet, person_days(minutes, self._statement.hours_per_day))
        cell.number_format = _DAYS_FORMAT
        return cell

    def level(self, key: str) -> object:
        return self.text(_level_name(self._statement, key))

    def kind(self, key: str) -> object:
        return self.text(_value(self._statement, key))

    def text(self, value: str) -> object:
        if value not in self._seen:
            safe = _text(self._sheet, value)
            self._seen[value] = safe if isinstance(safe, str) else None
        # A cell is never shared between rows: openpyxl writes the next value into it.
        return self._seen[value] or _text(self._sheet, value)


def _target(s: Statement, e: StatementEntry) -> str:
    service = SERVICES.get(e.target_ref) if e.target_kind == "service" else None
    return f"{_value(s, e.target_kind)} {service.name(s.locale) if service else e.target_ref}"


def _csv_text(value: str) -> str:
    """Free text Excel would run as a formula gets a leading apostrophe (OWASP CSV injection)."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value
