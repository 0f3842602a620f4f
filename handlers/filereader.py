"""Reading a nested TOML document field by field, collecting every problem with its path.

Each reader reports a bad value as `path.to.field: problem (what would be valid)` and returns a
harmless stand-in, so that one pass over a file finds all of its problems.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from bot.durations import parse_duration

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EXAMPLES = "(examples: 1h, 30m, 0.5d)"


class Node:
    """A table or list of the file at `path`. Each reader reports a bad value under its full
    path and returns a harmless stand-in, so that one pass finds every problem."""

    def __init__(
        self,
        value: object,
        path: str,
        problems: list[str],
        keys: Collection[str] | None = None,
        *,
        is_list: bool = False,
    ) -> None:
        self.path, self.problems, self.is_list, self.valid = path, problems, is_list, True
        self.data: dict[Any, Any] = {}
        if is_list and isinstance(value, list | tuple):
            self.data = dict(enumerate(value))
        elif not is_list and isinstance(value, dict):
            self.data = value
        elif value is not None:
            self.valid = False
            problems.append(
                f"{path}: must be {'a list' if is_list else 'a table'}, not {show(value)}"
            )
        unknown = [key for key in self.data if key not in keys] if keys is not None else []
        for key in unknown:
            self.add(key, "unknown key")

    def at(self, key: object) -> str:
        if self.is_list:
            return f"{self.path}[{key}]"
        name = key if isinstance(key, str) else show(key)
        return f"{self.path}.{name}" if self.path else name

    def add(self, key: object, text: str) -> None:
        self.problems.append(f"{self.at(key)}: {text}")

    def get(self, key: object, default: object = None) -> Any:
        value = self.data.get(key)
        return default if value is None else value

    def table(self, key: object, keys: Collection[str] | None = None) -> Node:
        return Node(self.data.get(key), self.at(key), self.problems, keys)

    def sequence(self, key: object) -> Node:
        return Node(self.data.get(key), self.at(key), self.problems, is_list=True)

    def text(self, key: object, *, required: bool = False) -> str:
        value = self.data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if value is not None:
            self.add(key, f"must be a non-empty string, not {show(value)}")
        elif required:
            self.add(key, "required")
        return ""

    def choice(
        self,
        key: object,
        valid: Collection[str],
        what: str,
        default: str = "",
        *,
        required: bool = False,
    ) -> str:
        value = self.data.get(key)
        if isinstance(value, str) and value in valid:
            return value
        if value is not None or required:
            problem = "required" if value is None else f"unknown {what} {show(value)}"
            self.add(key, f"{problem} {valid_choices(valid)}")
        return default

    def choices(self, key: object, valid: Collection[str], what: str) -> tuple[str, ...] | None:
        """Distinct valid choices in file order; None when the key is absent."""
        if self.data.get(key) is None:
            return None
        items = self.sequence(key)
        chosen: list[str] = []
        for i in items.data:
            choice = items.choice(i, valid, what)
            if choice in chosen:
                items.add(i, f"{choice!r} is listed twice")
            elif choice:
                chosen.append(choice)
        return tuple(chosen)

    def whole(self, key: object, low: int, high: int, default: int) -> int:
        value = self.get(key, default)
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        self.add(key, f"must be a whole number from {low} to {high}, not {show(value)}")
        return default

    def flag(self, key: object, default: bool) -> bool:
        value = self.get(key, default)
        if isinstance(value, bool):
            return value
        self.add(key, f"must be true or false, not {show(value)}")
        return default

    def number(self, key: object) -> Decimal | None:
        """A number exactly as written: a float goes through `str`, so 0.1 stays 0.1."""
        value, number = self.data.get(key), None
        if isinstance(value, int) and not isinstance(value, bool):
            number = Decimal(value)
        elif isinstance(value, float | Decimal):
            number = Decimal(str(value))
        if number is not None and number.is_finite():
            return number
        self.add(key, f"must be a number, not {show(value)}")
        return None

    def ratio(self, key: object, default: str) -> Decimal:
        number = None if self.data.get(key) is None else self.number(key)
        return Decimal(default) if number is None else number

    def day(self, key: object, *, required: bool = False) -> date | None:
        value = self.data.get(key)
        if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
            with contextlib.suppress(ValueError):
                value = date.fromisoformat(value.strip())
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if value is not None:
            self.add(key, f"bad date {show(value)} (format: YYYY-MM-DD)")
        elif required:
            self.add(key, "required")
        return None

    def days(self, key: object) -> tuple[date, ...]:
        items = self.sequence(key)
        found = (items.day(i) for i in items.data)
        return tuple(sorted({day for day in found if day is not None}))

    def minutes(self, key: object, default: str, day_minutes: int) -> int | None:
        """A duration in whole minutes, `d` being `day_minutes` long; None if bad (reported)."""
        value = self.get(key, default)
        duration = parse_duration(value) if isinstance(value, str) else None
        if duration is None:
            self.add(key, f"bad duration {show(value)} {_EXAMPLES}")
            return None
        exact = duration.days * day_minutes + duration.hours * 60 + duration.minutes
        if exact > 0 and exact.denominator == 1:
            return int(exact)
        self.add(key, f"{show(value)} is not a positive whole number of minutes {_EXAMPLES}")
        return None


def valid_choices(options: Collection[str]) -> str:
    return f"(valid: {', '.join(options)})"


def show(value: object) -> str:
    """A value for a message: short, and safe for any input (huge ints, nested tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 64:
        return "a very large number"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    if isinstance(value, int | float | Decimal | date | time):
        text = str(value)
        return text if len(text) <= 40 else text[:40] + "…"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__
