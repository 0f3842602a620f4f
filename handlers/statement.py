"""The monthly person-day statement (人天结算单) as data: built from the database, hashed for
the audit log when both parties sign, rendered by `statement_export` to xlsx or csv."""

from __future__ import annotations

import calendar as month_calendar
import hashlib
import pickle
import tempfile
import weakref
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlmodel import Session, col

from domain.catalog import LEVELS
from domain.policy import policy_of
from domain.workcalendar import BusinessCalendar
from handlers import signatures
from storage.audit import canonical
from storage.models import Engagement, Person, WorkLog


@dataclass(frozen=True)
class StatementDay:
    day: date
    working: bool
    mark: str  # "" for an ordinary day, "休" a day off on a weekday, "班" a make-up working day


@dataclass(frozen=True)
class StatementRow:
    """One person's month: minutes per calendar day (days without work are absent)."""

    person_key: str
    name: str
    level: str
    minutes_by_day: dict[date, int]

    @property
    def total_minutes(self) -> int:
        return sum(self.minutes_by_day.values())


class StatementEntry(NamedTuple):
    """One live entry of the month. A named tuple, not a frozen dataclass: a large month reads
    100 000 of them back from its spool, and a tuple is made five times faster."""

    id: int
    work_date: date
    person_key: str
    name: str
    level: str
    minutes: int
    target_kind: str
    target_ref: str
    note: str
    kind: str  # entry | adjustment
    overtime: bool


@dataclass(frozen=True)
class LevelPosition:
    """The budget of one level after the month."""

    level: str
    contracted_minutes: int
    used_before_minutes: int  # before the month
    month_minutes: int

    @property
    def used_after_minutes(self) -> int:
        return self.used_before_minutes + self.month_minutes

    @property
    def left_minutes(self) -> int:
        return self.contracted_minutes - self.used_after_minutes


@dataclass(frozen=True)
class Signature:
    name: str
    at: datetime


@dataclass(frozen=True)
class Statement:
    code: str
    name: str
    client: str
    vendor: str
    month: str  # YYYY-MM
    timezone: str
    locale: str
    hours_per_day: int
    days: tuple[StatementDay, ...]
    rows: tuple[StatementRow, ...]
    entries: Collection[StatementEntry]  # built ones: an `EntrySpool`, read back in order
    levels: tuple[LevelPosition, ...]
    closed: Signature | None = None
    confirmed: Signature | None = None

    @property
    def total_minutes(self) -> int:
        return sum(row.total_minutes for row in self.rows)

    def level_minutes(self, level: str) -> int:
        return sum(row.total_minutes for row in self.rows if row.level == level)

    @cached_property
    def content_hash(self) -> str:
        """sha256 of what the parties sign: every entry and the totals (not the signatures).
        `build` takes it in the pass that reads the entries; see `ContentHash`."""
        digest = ContentHash(self.code)
        for chunk in _chunks(self.entries, _HASH_CHUNK):
            digest.add([signed_fields(e) for e in chunk])
        return digest.finish(self.month, self.rows)


class ContentHash:
    """The statement's hash, fed a chunk of entries at a time so that a month of any size
    hashes in bounded memory. The bytes are those of
    `canonical({"engagement", "entries", "month", "totals"})` of the whole statement: the
    keys written in the sorted order `canonical` gives them, the entries list in pieces."""

    def __init__(self, code: str) -> None:
        self._digest = hashlib.sha256(f'{{"engagement":{canonical(code)},"entries":['.encode())
        self._separator = ""

    def add(self, entries: list[list[Any]]) -> None:
        """Entries as `signed_fields` lists; one `canonical` per chunk: it is the cost."""
        if entries:
            self._digest.update((self._separator + canonical(entries)[1:-1]).encode())
            self._separator = ","

    def finish(self, month: str, rows: tuple[StatementRow, ...]) -> str:
        totals = {row.person_key: row.total_minutes for row in rows}
        self._digest.update(f'],"month":{canonical(month)},"totals":{canonical(totals)}}}'.encode())
        return self._digest.hexdigest()


_HASH_CHUNK = 1000


def signed_fields(e: StatementEntry) -> list[Any]:
    """What of an entry the parties sign: all but the name and the overtime mark."""
    return [e.id, e.work_date.isoformat(), e.person_key, e.level, e.minutes, e.target_kind,
            e.target_ref, e.note, e.kind]  # fmt: skip


def _chunks(entries: Iterable[StatementEntry], size: int) -> Iterator[list[StatementEntry]]:
    chunk: list[StatementEntry] = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class EntrySpool(Collection[StatementEntry]):
    """A month's entries in arrival order, held in a spooled temporary file: in memory for an
    ordinary month, on disk past a few megabytes, so that 100 000 entries never sit in memory
    as objects. Read back as often as needed (the hash, then the file being written).

    The file is this process's own, written and read by it alone, hence pickle.
    """

    _CHUNK = 1000
    _IN_MEMORY_BYTES = 4 << 20

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=self._IN_MEMORY_BYTES)  # noqa: SIM115
        weakref.finalize(self, self._file.close)  # closed with the statement that holds it
        self._pending: list[tuple[Any, ...]] = []
        self._count = 0

    def add(self, fields: tuple[Any, ...]) -> None:
        """An entry as the tuple of `StatementEntry`'s fields, in their order (no object is
        made for it here)."""
        self.extend([fields])

    def extend(self, chunk: list[tuple[Any, ...]]) -> None:
        """Entries as `add` takes them, a chunk at a time (one call, not one per entry)."""
        self._pending += chunk
        self._count += len(chunk)
        if len(self._pending) >= self._CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._file.seek(0, 2)
            pickle.dump(self._pending, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._pending = []

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[StatementEntry]:
        self._flush()
        offset, end = 0, self._file.seek(0, 2)
        while offset < end:  # seek each time: two readers may interleave
            self._file.seek(offset)
            chunk = pickle.load(self._file)
            offset = self._file.tell()
            yield from map(StatementEntry._make, chunk)

    def __contains__(self, item: object) -> bool:
        return any(entry == item for entry in self)


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of `YYYY-MM`; ValueError if it is not a month."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1), date(year, number, month_calendar.monthrange(year, number)[1])


_MONTH_WORDS = {"本月": 0, "this": 0, "上月": -1, "上个月": -1, "last": -1, "previous": -1}


def month_named(word: str, today: date) -> str:
    """`YYYY-MM` (also `2026/11`, `2026.11`), or a month relative to `today`: `上月`/`last`,
    `本月`/`this`. ValueError if `word` is none of these."""
    word = word.strip().lower()
    if word in _MONTH_WORDS:
        first = today.replace(day=1)
        if _MONTH_WORDS[word] < 0:
            first = (first - timedelta(days=1)).replace(day=1)
        return f"{first:%Y-%m}"
    first, _ = month_bounds(word.replace("/", "-").replace(".", "-"))
    return f"{first:%Y-%m}"


def build(session: Session, engagement: Engagement, month: str) -> Statement:
    """The month's statement. Its entries stream from the database into an `EntrySpool` (rows,
    not ORM objects, fetched in chunks) while the grid's sums are taken."""
    first, last = month_bounds(month)
    business = policy_of(engagement).calendar
    people = {
        p.id: p
        for p in session.execute(
            select(Person).where(col(Person.engagement_id) == engagement.id)
        ).scalars()
    }
    who = {id_: (p.key, p.name) for id_, p in people.items()}
    entries, rows, digest = _read(_logs(session, engagement.id or 0, first, last), who,
                                  engagement.code)  # fmt: skip
    names = {p.key: p.name for p in people.values()}
    signed = signatures.by_party(session, engagement.id or 0, month)  # the month's close
    closing, confirming = signed.get("vendor"), signed.get("client")
    grid = tuple(StatementRow(key, names[key], level, days)
                 for (key, level), days in sorted(rows.items(), key=lambda item: _row_order(item[0])))  # fmt: skip
    built = Statement(
        code=engagement.code, name=engagement.name, client=engagement.client, vendor=engagement.vendor,
        month=month, timezone=engagement.timezone, locale=engagement.locale,
        hours_per_day=engagement.hours_per_day,
        days=tuple(_day(business, first.replace(day=n)) for n in range(1, last.day + 1)),
        rows=grid,
        entries=entries,
        levels=_levels(session, engagement, first, grid),
        closed=_signature(session, closing.person_id, closing.at) if closing else None,
        confirmed=_signature(session, confirming.person_id, confirming.at) if confirming else None,
    )  # fmt: skip
    # The hash was taken in the same pass as the sums: give it to the cached property (a copy
    # made with `replace` computes its own).
    vars(built)["content_hash"] = digest.finish(month, grid)
    return built


def _read(chunks: Iterator[Sequence[Any]], who: dict[int | None, tuple[str, str]], code: str
          ) -> tuple[EntrySpool, dict[tuple[str, str], dict[date, int]], ContentHash]:  # fmt: skip
    """One pass over the month's entries, a fetched chunk at a time: spooled, fed to the hash
    and summed per person, level and day, without an object per entry."""
    entries, digest = EntrySpool(), ContentHash(code)
    rows: dict[tuple[str, str], dict[date, int]] = {}
    # One date object per day, not per row: pickle writes a repeated object as a reference,
    # five times faster than the date again.
    day = dict[date, date]().setdefault
    for chunk in chunks:
        fields = [(id_, day(work_date, work_date), *who[person_id], level, minutes, target_kind,
                   target_ref, note, kind, overtime)
                  for id_, work_date, person_id, level, minutes, target_kind, target_ref, note,
                  kind, overtime in chunk]  # fmt: skip
        entries.extend(fields)
        digest.add([[id_, work_date.isoformat(), key, level, minutes, target_kind, target_ref,
                     note, kind]  # `signed_fields`
                    for id_, work_date, key, _, level, minutes, target_kind, target_ref, note,
                    kind, _ in fields])  # fmt: skip
        for _, work_date, key, _, level, minutes, *_ in fields:
            days = rows.setdefault((key, level), {})
            days[work_date] = days.get(work_date, 0) + minutes
    return entries, rows, digest


_FETCH = 2000  # rows per round trip; on PostgreSQL a server-side cursor


def _logs(session: Session, engagement_id: int, first: date, last: date
          ) -> Iterator[Sequence[Any]]:  # fmt: skip
    """The month's live entries in statement order, as chunks of plain rows in
    `StatementEntry`'s field order (the person's id where it has key and name), through Core:
    no ORM objects, no call per row."""
    query = select(
        col(WorkLog.id), col(WorkLog.work_date), col(WorkLog.person_id), col(WorkLog.level),
        col(WorkLog.minutes), col(WorkLog.target_kind), col(WorkLog.target_ref),
        col(WorkLog.note), col(WorkLog.kind), col(WorkLog.overtime),
    ).where(
        col(WorkLog.engagement_id) == engagement_id, col(WorkLog.voided_at).is_(None),
        col(WorkLog.work_date) >= first, col(WorkLog.work_date) <= last,
    ).order_by(col(WorkLog.work_date), col(WorkLog.id))  # fmt: skip
    result = session.connection().execute(query, execution_options={"yield_per": _FETCH})
    yield from result.partitions()


def _row_order(key: tuple[str, str]) -> tuple[int, str]:
    person, level = key
    order = list(LEVELS)
    return (-order.index(level) if level in order else 0, person)


def _day(business: BusinessCalendar, day: date) -> StatementDay:
    working = business.is_working_day(day)
    weekend = day.weekday() >= 5
    mark = "班" if working and weekend else ("休" if not working and not weekend else "")
    return StatementDay(day, working, mark)


def _levels(session: Session, engagement: Engagement, first: date,
            rows: tuple[StatementRow, ...]) -> tuple[LevelPosition, ...]:  # fmt: skip
    before: dict[str, int | None] = {level: minutes for level, minutes in session.execute(
        select(col(WorkLog.level), func.sum(col(WorkLog.minutes)))
        .where(col(WorkLog.engagement_id) == engagement.id, col(WorkLog.voided_at).is_(None),
               col(WorkLog.work_date) < first)
        .group_by(col(WorkLog.level))
    ).all()}  # fmt: skip
    from handlers.budget import contracted  # the one place change requests add to the budget

    budget = contracted(session, engagement)
    return tuple(
        LevelPosition(level, budget.get(level, 0), int(before.get(level) or 0),
                      sum(row.total_minutes for row in rows if row.level == level))
        for level in LEVELS
    )  # fmt: skip


def _signature(session: Session, person_id: int | None, at: datetime | None) -> Signature | None:
    if person_id is None or at is None:
        return None
    person = session.get(Person, person_id)
    return Signature(person.name if person else "?", at)
