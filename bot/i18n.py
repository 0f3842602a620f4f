"""Replies follow the engagement's locale: Chinese first (zh-CN), English (en) too.

Strings live next to the code that says them, as a (Chinese, English) pair.
"""

from __future__ import annotations

from typing import Any

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"


def tr(locale: str, zh: str, en: str, **values: Any) -> str:
    """Pick the string for `locale` and fill in `values` (str.format)."""
    text = en if locale == "en" else zh
    return text.format(**values) if values else text


def join(locale: str, items: list[str]) -> str:
    """A list for a sentence: `甲、乙、丙` / `a, b, c`."""
    return (", " if locale == "en" else "、").join(items)
