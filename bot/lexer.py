"""Splitting chat text into tokens, the way people type commands in Chinese and English chats.

Pure functions. The command word and option keys are normalised from full-width forms
(`／`, `：`, `＝`, full-width letters and digits, the ideographic space); free text keeps
every character as written, so a caller can cut it from the original string by offsets.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date, timedelta
from typing import NamedTuple

_SPACES = " \t\r\n\u3000\u00a0\u2002\u2003\u2009\u200b"
# ASCII ' is not a quote: it is an apostrophe in "can't log in".
_QUOTES = {'"': '"', "“": "”", "‘": "’", "「": "」", "『": "』"}
_SLASHES = ("/", "／")
_EQUALS = ("=", "＝")
_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,30}$|^[\u4e00-\u9fff]{1,6}$")
_REF = re.compile(r"^([a-z]{1,3})-(\d{1,9})$")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$|^(\d{4})年(\d{1,2})月(\d{1,2})日?$")
_OFFSET = re.compile(r"^([+-])(\d{1,4})(d|天|w|周)$")
_DAY_WORDS = {
    "今天": 0,
    "today": 0,
    "明天": 1,
    "tomorrow": 1,
    "后天": 2,
    "昨天": -1,
    "yesterday": -1,
}
MAX_OFFSET_DAYS = 3660  # `+Nd` reaches ten years at most


# The common case, text with no quote mark anywhere: runs of non-space, found in C.
_WORD = re.compile("[^" + re.escape(_SPACES) + "]+")
_ANY_QUOTE = re.compile("[" + re.escape("".join(_QUOTES)) + "]")


class Token(NamedTuple):
    """One word of a message: `text` as written (quotes removed), `norm` for matching.
    A named tuple: several are made for every message, and a tuple is made fastest."""

    text: str
    start: int
    end: int
    quoted: bool = False

    @property
    def norm(self) -> str:
        return normalise(self.text)

    @property
    def is_mention(self) -> bool:
        return not self.quoted and self.text[:1] in ("@", "＠") and len(self.text) > 1

    def key_value(self) -> tuple[str, str] | None:
        """`key=value` (or full-width `＝`) split, key normalised; None if not one."""
        if self.quoted or ("=" not in self.text and "＝" not in self.text):
            return None
        for sign in _EQUALS:
            key, found, value = self.text.partition(sign)
            if found and _KEY.match(normalise(key)):
                return normalise(key), value
        return None


@functools.lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """Full-width to half-width and lower case: for command words, keys, refs, severities.
    Cached: the same few words (commands, keys, severities) come in every message."""
    if text.isascii():  # NFKC leaves ASCII as it is
        return text.strip().lower()
    return unicodedata.normalize("NFKC", text).strip().lower()


def tokenize(text: str) -> list[Token]:
    """Split on any space (the ideographic one too), honouring quote pairs.

    An unclosed quote runs to the end of the text; nothing here raises.
    """
    if _ANY_QUOTE.search(text) is None:  # what nearly every message is: one regex pass
        return [Token(m.group(), *m.span()) for m in _WORD.finditer(text)]
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in _SPACES:
            i += 1
            continue
        closing = _QUOTES.get(char)
        if closing is not None:
            end = text.find(closing, i + 1)
            stop = n if end < 0 else end
            tokens.append(Token(text[i + 1 : stop], i, min(stop + 1, n), quoted=True))
            i = stop + 1
            continue
        j = i
        while j < n and text[j] not in _SPACES:
            j += 1
        tokens.append(Token(text[i:j], i, j))
        i = j
    return tokens


def strip_command_prefix(text: str) -> tuple[str, bool]:
    """Remove a leading `/` or `／`; return the rest and whether there was one."""
    stripped = text.lstrip(_SPACES)
    if stripped.startswith(_SLASHES):
        return stripped[1:], True
    return stripped, False


def parse_ref(text: str, prefixes: tuple[str, ...] = ()) -> tuple[str, int] | None:
    """`T-12` -> ("T", 12); case and width insensitive; None if not a reference."""
    match = _REF.match(normalise(text).replace("－", "-"))
    if match is None:
        return None
    prefix = match.group(1).upper()
    if prefixes and prefix not in prefixes:
        return None
    return prefix, int(match.group(2))


def parse_date(text: str, today: date | None = None) -> date | None:
    """`2026-11-25`, `2026/11/25`, `2026.11.25`, `2026年11月25日`; None otherwise.

    Given `today` (in the engagement's time zone), also `今天`/`today`, `明天`/`tomorrow`,
    `后天`, `昨天`/`yesterday` and offsets such as `+5d`, `+3天`, `-2d`, `+2w`, `+1周`.
    """
    word = normalise(text)
    if today is not None:
        relative = _relative_day(word, today)
        if relative is not None:
            return relative
    match = _DATE.match(word)
    if match is None:
        return None
    groups = [g for g in match.groups() if g is not None]
    try:
        return date(int(groups[0]), int(groups[1]), int(groups[2]))
    except ValueError:
        return None


def _relative_day(word: str, today: date) -> date | None:
    if word in _DAY_WORDS:
        return today + timedelta(days=_DAY_WORDS[word])
    match = _OFFSET.match(word)
    if match is None:
        return None
    days = int(match.group(2)) * (7 if match.group(3) in ("w", "周") else 1)
    if days > MAX_OFFSET_DAYS:
        return None
    try:
        return today + timedelta(days=days if match.group(1) == "+" else -days)
    except OverflowError:
        return None
