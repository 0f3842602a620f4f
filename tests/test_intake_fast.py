"""The hot path's shortcuts give what the full work gives. `intake.clean`: an inbound that needs
no change is returned as it is, and for every inbound, clean or dirty in any field, `clean`
gives what the full cleaning gives. `console.parse`: a text with no `@` or `＠` is not tokenized
for mentions, and has none."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import console
from bot import intake
from bot.message import ChatType, Inbound, Mention

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CLEAN = Inbound(
    channel="console", chat_id="oc_room", chat_type=ChatType.GROUP, sender_id="ou_wangli",
    text="/工单 P2 svc=bigdata_dev\n\t登录不上 @zhaogang", event_id="e1", received_at=NOW,
    sender_name="王丽", sender_alt_ids=("on_1", "un_2"), mentions=(Mention("ou_zg", "赵刚"),),
    message_id="om_1", reply_to="om_0",
)  # fmt: skip
# What each kind of field may hold: clean values, and each thing the cleaning removes or cuts.
# The bounds themselves (exactly MAX and one over) are among them.
DIRT = ["\x00", "\x07", "\x1b[31m", "\x7f", "\x85", "\x9f", "\r", "\r\n", "\ud800", "\udfff",
        "\ud83d\ude00", "\ud83d"]  # fmt: skip
FINE = ["", "a", "王丽", "😀", "\u202e", "\u2028", "\ufeff", "\xa0", "\U0010ffff", "\x20", "~"]
TEXT_FINE = [*FINE, "\n", "\t", "line\nnext\tcell"]
ID_EDGE = ["i" * intake.MAX_ID_CHARS, "i" * (intake.MAX_ID_CHARS + 1)]
NAME_EDGE = ["n" * intake.MAX_NAME_CHARS, "n" * (intake.MAX_NAME_CHARS + 1)]


def _value(fine: list[str]) -> st.SearchStrategy[str]:
    """Clean pieces around at most one dirty one (so that each is found alone), or any text."""
    around = st.lists(st.sampled_from(fine), max_size=3).map("".join)
    return st.one_of(
        st.builds(lambda a, d, b: a + d + b, around, st.sampled_from(["", "", *DIRT]), around),
        st.text(max_size=12),
    )


TEXTS = _value(TEXT_FINE)
IDS = st.one_of(_value(FINE), st.sampled_from(ID_EDGE))
NAMES = st.one_of(_value(FINE), st.sampled_from(NAME_EDGE))
MENTIONS = st.builds(Mention, IDS, NAMES, st.booleans())


def _full(inbound: Inbound) -> Inbound:
    """The cleaning without the fast path."""
    return intake._cleaned(inbound)


def _same(a: Inbound, b: Inbound) -> None:
    assert a == b
    for f in fields(Inbound):  # the same types too: `==` takes a str subclass for a str
        assert type(getattr(a, f.name)) is type(getattr(b, f.name)), f.name


def test_a_clean_inbound_is_returned_as_it_is() -> None:
    assert intake.clean(CLEAN) is CLEAN
    _same(_full(CLEAN), CLEAN)
    bare = replace(CLEAN, sender_name="", sender_alt_ids=(), mentions=(), reply_to="")
    assert intake.clean(bare) is bare


@pytest.mark.parametrize(
    ("name", "value"),
    [("text", dirt) for dirt in DIRT]
    + [(name, dirt) for name in ("chat_id", "sender_id", "event_id", "message_id", "reply_to",
                                 "sender_name") for dirt in DIRT]
    + [(name, ID_EDGE[1]) for name in ("chat_id", "sender_id", "event_id", "message_id",
                                       "reply_to")]
    + [("sender_name", NAME_EDGE[1])]
    + [("sender_alt_ids", ("ok", f"x{dirt}")) for dirt in DIRT]
    + [("mentions", (Mention("ou", "赵刚"), Mention(f"ou{dirt}", "赵刚"))) for dirt in DIRT]
    + [("mentions", (Mention("ou", f"赵{dirt}"),)) for dirt in DIRT]
    + [("sender_alt_ids", (ID_EDGE[1],)), ("sender_alt_ids", ["on_1"]),
       ("mentions", [Mention("ou_zg", "赵刚")]), ("mentions", (Mention(ID_EDGE[1], "x"),)),
       ("mentions", (Mention("ou", NAME_EDGE[1]),))],
)  # fmt: skip
def test_one_field_that_needs_cleaning_takes_the_full_path(name: str, value: Any) -> None:
    inbound = replace(CLEAN, **{name: value})
    cleaned = intake.clean(inbound)
    assert cleaned is not inbound
    assert cleaned != inbound
    _same(cleaned, _full(inbound))


def test_a_field_at_its_bound_is_kept() -> None:
    inbound = replace(
        CLEAN, chat_id=ID_EDGE[0], sender_name=NAME_EDGE[0], sender_alt_ids=(ID_EDGE[0],),
        mentions=(Mention(ID_EDGE[0], NAME_EDGE[0]),),
    )  # fmt: skip
    assert intake.clean(inbound) is inbound
    _same(_full(inbound), inbound)


FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "text": TEXTS, "chat_id": IDS, "sender_id": IDS, "event_id": IDS, "message_id": IDS,
    "reply_to": IDS, "sender_name": NAMES, "sender_alt_ids": st.lists(IDS, max_size=3).map(tuple),
    "mentions": st.lists(MENTIONS, max_size=3).map(tuple),
}  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_clean_gives_what_the_full_cleaning_gives(data: st.DataObject) -> None:
    # A few fields drawn at a time, the others clean: a lone dirty field must be found too.
    names = data.draw(st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=3))
    inbound = replace(CLEAN, **{name: data.draw(FIELDS[name], label=name) for name in names})
    cleaned = intake.clean(inbound)
    full = _full(inbound)
    _same(cleaned, full)
    assert (cleaned is inbound) == (full == inbound)  # the fast path whenever nothing changes
    assert intake.clean(cleaned) is cleaned  # what the cleaning gives needs no more


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(["@lina", "＠赵刚", "@", "a@b", '"@x y"', "“@q”", "@RenTian",
                                   " ", "\u3000", "/工单", "P2", "for=@zg"]), st.text(max_size=6)),
        max_size=6,
    ).map("".join)
)  # fmt: skip
def test_console_mentions_with_or_without_the_shortcut(text: str) -> None:
    bots = frozenset({"rentian"})
    parsed = console.parse("room", "wangli", text, now=NOW, event_id="e1", bot_names=bots)
    assert parsed.mentions == console._mentions(text, bots)
