"""Tokens, references and dates from chat text."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from bot.lexer import Token, normalise, parse_date, parse_ref, tokenize


def test_ideographic_space_and_quotes_split_like_people_expect() -> None:
    tokens = tokenize("／ticket\u3000P1 “数据库 宕机” 「x y」 can't")
    assert [t.text for t in tokens] == ["／ticket", "P1", "数据库 宕机", "x y", "can't"]
    assert [t.quoted for t in tokens] == [False, False, True, True, False]


def test_unclosed_quote_runs_to_the_end() -> None:
    assert [t.text for t in tokenize('/ticket "broken quote')] == ["/ticket", "broken quote"]


def test_key_value_keeps_the_value_as_written() -> None:
    assert Token("svc＝ops", 0, 0).key_value() == ("svc", "ops")
    assert Token("备注=Ａ①", 0, 0).key_value() == ("备注", "Ａ①")
    assert Token("http://x", 0, 0).key_value() is None
    assert Token("a=b", 0, 0, quoted=True).key_value() is None


def test_refs_and_dates() -> None:
    assert parse_ref("ｔ－１２") == ("T", 12) and parse_ref("cr-2") == ("CR", 2)
    assert parse_ref("T-1", ("K",)) is None and parse_ref("T12") is None
    assert parse_date("2026年11月5日") == date(2026, 11, 5)
    assert parse_date("2026/2/30") is None and parse_date("tomorrow") is None


def test_normalise() -> None:
    assert normalise("ＴＩＣＫＥＴ") == "ticket" and normalise("／") == "/"


@given(st.text())
def test_tokens_are_slices_of_the_text(text: str) -> None:
    for token in tokenize(text):
        assert 0 <= token.start <= token.end <= len(text)
        if not token.quoted:
            assert text[token.start : token.end] == token.text
        else:
            assert token.text in text[token.start : token.end]


def test_relative_dates_need_today_and_are_bounded() -> None:
    today = date(2026, 11, 30)
    assert parse_date("今天", today) == today and parse_date("Today", today) == today
    assert parse_date("明天", today) == date(2026, 12, 1) == parse_date("tomorrow", today)
    assert parse_date("昨天", today) == date(2026, 11, 29) and parse_date("后天", today) == date(
        2026, 12, 2
    )
    assert parse_date("+5d", today) == date(2026, 12, 5) == parse_date("＋5天", today)
    assert parse_date("-2d", today) == date(2026, 11, 28)
    assert parse_date("+2w", today) == date(2026, 12, 14) == parse_date("+2周", today)
    assert parse_date("+3660d", today) == date(2036, 12, 7)
    assert parse_date("+3661d", today) is None and parse_date("+9999w", today) is None
    assert parse_date("+5d") is None and parse_date("5d", today) is None
    assert parse_date("2026-12-10", today) == date(2026, 12, 10)
