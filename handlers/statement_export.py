"""The monthly person-day statement (人天结算单) as files: an xlsx for people to sign and a flat
csv of its entries. Values, not formulas: every sum is taken in integer minutes here."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

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
_FIRST_DAY_COLUMN = 3  # A: name, B: level
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def person_days(minutes: int, hours_per_day: int) -> Decimal:
    """Exact person-days to three decimals, half to even as `format_person_days` rounds."""
    return Decimal(round(Fraction(minutes * 1000, hours_per_day * 60))).scaleb(-3)


def write_xlsx(statement: Statement, path: str | Path) -> None:
    """The statement to sign (sheet 1) and its entries (sheet 2) as an xlsx workbook."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = _label(statement, "sheet")
    row = _title_block(sheet, statement)
    row = _grid(sheet, statement, row + 1)
    row = _budget(sheet, statement, row + 1)
    row = _signatures(sheet, statement, row + 1)
    _put(sheet, row + 1, 1, _label(statement, "hash"), bold=True)
    _put(sheet, row + 1, 2, statement.content_hash)
    _statement_widths(sheet, statement)
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


def _put(sheet: Worksheet, row: int, column: int, value: object, bold: bool = False) -> Cell:
    """Write one cell; text is always text (a note `=1+1` is not a formula)."""
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"
    else:
        cell.value = value
    if bold:
        cell.font = _BOLD
    return cell


def _put_days(sheet: Worksheet, row: int, column: int, minutes: int, statement: Statement,
              bold: bool = False) -> None:  # fmt: skip
    cell = _put(sheet, row, column, person_days(minutes, statement.hours_per_day), bold)
    cell.number_format = _DAYS_FORMAT


def _title_block(sheet: Worksheet, s: Statement) -> int:
    """Rows 1-6: title, engagement, parties, month, hours per person-day; the last row used."""
    title = _put(sheet, 1, 1, f"{_label(s, 'title')} {s.month}", bold=True)
    title.font = Font(bold=True, size=14)
    fields = (("engagement", f"{s.code} {s.name}"), ("client", s.client), ("vendor", s.vendor),
              ("month", s.month), ("hours_per_day", s.hours_per_day))  # fmt: skip
    for row, (key, value) in enumerate(fields, start=2):
        _put(sheet, row, 1, _label(s, key), bold=True)
        _put(sheet, row, 2, value).alignment = Alignment(horizontal="left")
    return 1 + len(fields)


def _grid(sheet: Worksheet, s: Statement, top: int) -> int:
    """Header, day marks, one row per person, subtotals per level, the total; the last row."""
    header = [_label(s, "name"), _label(s, "level"), *(d.day.day for d in s.days),
              _label(s, "total_days"), _label(s, "total_minutes")]  # fmt: skip
    for column, value in enumerate(header, start=1):
        _put(sheet, top, column, value, bold=True).alignment = _WRAP
    for column, day in enumerate(s.days, start=_FIRST_DAY_COLUMN):
        _put(sheet, top + 1, column, _day_mark(s, day.day.weekday(), day.mark)).alignment = _WRAP
    sheet.row_dimensions[top].height = sheet.row_dimensions[top + 1].height = 30
    row = top + 1
    for person in s.rows:
        row += 1
        _grid_row(sheet, s, row, (person.name, _level_name(s, person.level)), person.minutes_by_day)
    for level in dict.fromkeys(person.level for person in s.rows):
        row += 1
        level_rows = [person.minutes_by_day for person in s.rows if person.level == level]
        labels = (_label(s, "subtotal"), _level_name(s, level))
        _grid_row(sheet, s, row, labels, _sum_by_day(level_rows), bold=True)
    row += 1
    overall = _sum_by_day(person.minutes_by_day for person in s.rows)
    _grid_row(sheet, s, row, (_label(s, "total"), None), overall, bold=True)
    for column, day in enumerate(s.days, start=_FIRST_DAY_COLUMN):
        if not day.working:
            for shaded in range(top, row + 1):
                sheet.cell(row=shaded, column=column).fill = _GREY
    sheet.freeze_panes = sheet.cell(row=top + 2, column=_FIRST_DAY_COLUMN)
    return row


def _day_mark(s: Statement, weekday: int, mark: str) -> str:
    name = _WEEKDAYS[1 if s.locale == "en" else 0][weekday]
    return f"{name}\n{_value(s, mark)}" if mark else name


def _sum_by_day(rows: Iterable[dict[date, int]]) -> dict[date, int]:
    total: dict[date, int] = {}
    for minutes_by_day in rows:
        for day, minutes in minutes_by_day.items():
            total[day] = total.get(day, 0) + minutes
    return total


def _grid_row(sheet: Worksheet, s: Statement, row: int, labels: tuple[str, str | None],
              minutes_by_day: dict[date, int], bold: bool = False) -> None:  # fmt: skip
    """Labels, person-days per day (blank where nothing was logged), total days and minutes."""
    _put(sheet, row, 1, labels[0], bold)
    _put(sheet, row, 2, labels[1], bold)
    for column, day in enumerate(s.days, start=_FIRST_DAY_COLUMN):
        if day.day in minutes_by_day:
            _put_days(sheet, row, column, minutes_by_day[day.day], s, bold)
    total = sum(minutes_by_day.values())
    _put_days(sheet, row, _FIRST_DAY_COLUMN + len(s.days), total, s, bold)
    _put(sheet, row, _FIRST_DAY_COLUMN + len(s.days) + 1, total, bold)


def _budget(sheet: Worksheet, s: Statement, top: int) -> int:
    """The budget position after the month, per level with any budget or use, and in total."""
    _put(sheet, top, 1, _label(s, "budget"), bold=True)
    keys = ("level", "contracted", "used_before", "this_month", "used_after", "left")
    for column, key in enumerate(keys, start=2):
        _put(sheet, top + 1, column, _label(s, key), bold=True).alignment = _WRAP
    sheet.row_dimensions[top + 1].height = 30
    row = top + 1
    positions = [_position_minutes(p) for p in s.levels]
    for position, minutes in zip(s.levels, positions, strict=True):
        if any(minutes[:3]):  # a level with neither budget nor use says nothing
            row += 1
            _budget_row(sheet, s, row, _level_name(s, position.level), minutes)
    row += 1
    totals = tuple(sum(minutes[i] for minutes in positions) for i in range(5))
    _budget_row(sheet, s, row, _label(s, "total"), totals, bold=True)
    return row


def _position_minutes(position: LevelPosition) -> tuple[int, int, int, int, int]:
    return (position.contracted_minutes, position.used_before_minutes, position.month_minutes,
            position.used_after_minutes, position.left_minutes)  # fmt: skip


def _budget_row(sheet: Worksheet, s: Statement, row: int, label: str,
                minutes: tuple[int, ...], bold: bool = False) -> None:  # fmt: skip
    _put(sheet, row, 2, label, bold)
    for column, value in enumerate(minutes, start=3):
        _put_days(sheet, row, column, value, s, bold)


def _signatures(sheet: Worksheet, s: Statement, top: int) -> int:
    """Who closed (vendor) and who confirmed (client) the month, and when, local time."""
    for row, (key, signature) in enumerate(
        (("closed_by", s.closed), ("confirmed_by", s.confirmed)), start=top
    ):
        _put(sheet, row, 1, _label(s, key), bold=True)
        if signature is None:
            _put(sheet, row, 2, _label(s, "unsigned"))
        else:
            _put(sheet, row, 2, signature.name)
            _put(sheet, row, 3, local(signature.at, s.timezone).strftime("%Y-%m-%d %H:%M"))
    return top + 1


def _statement_widths(sheet: Worksheet, s: Statement) -> None:
    sheet.column_dimensions["A"].width = 22
    sheet.column_dimensions["B"].width = 18
    for column in range(_FIRST_DAY_COLUMN, _FIRST_DAY_COLUMN + len(s.days)):
        sheet.column_dimensions[get_column_letter(column)].width = 7
    sheet.column_dimensions[get_column_letter(_FIRST_DAY_COLUMN + len(s.days))].width = 12
    sheet.column_dimensions[get_column_letter(_FIRST_DAY_COLUMN + len(s.days) + 1)].width = 12


_ENTRY_COLUMNS = (("date", 12), ("name", 14), ("level", 18), ("minutes", 9), ("person_days", 11),
                  ("target", 28), ("note", 40), ("kind", 11), ("overtime", 9))  # fmt: skip


def _entries_sheet(sheet: Worksheet, s: Statement) -> None:
    """One row per entry, with a filter on the header and the header frozen."""
    for column, (key, width) in enumerate(_ENTRY_COLUMNS, start=1):
        _put(sheet, 1, column, _label(s, key), bold=True)
        sheet.column_dimensions[get_column_letter(column)].width = width
    for row, entry in enumerate(s.entries, start=2):
        _entry_row(sheet, s, row, entry)
    last = get_column_letter(len(_ENTRY_COLUMNS))
    sheet.auto_filter.ref = f"A1:{last}{len(s.entries) + 1}"
    sheet.freeze_panes = "A2"


def _entry_row(sheet: Worksheet, s: Statement, row: int, e: StatementEntry) -> None:
    _put(sheet, row, 1, e.work_date).number_format = "yyyy-mm-dd"
    _put(sheet, row, 2, e.name)
    _put(sheet, row, 3, _level_name(s, e.level))
    _put(sheet, row, 4, e.minutes)
    _put_days(sheet, row, 5, e.minutes, s)
    _put(sheet, row, 6, _target(s, e))
    _put(sheet, row, 7, e.note)
    _put(sheet, row, 8, _value(s, e.kind))
    _put(sheet, row, 9, _label(s, "yes") if e.overtime else None)


def _target(s: Statement, e: StatementEntry) -> str:
    service = SERVICES.get(e.target_ref) if e.target_kind == "service" else None
    return f"{_value(s, e.target_kind)} {service.name(s.locale) if service else e.target_ref}"


def _csv_text(value: str) -> str:
    """Free text Excel would run as a formula gets a leading apostrophe (OWASP CSV injection)."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value
