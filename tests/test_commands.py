"""The command parser: names and aliases, full-width forms, quotes, options, durations, refs,
mentions, and the promise that nothing but UsageError ever comes out of it."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base.errors import UsageError
from bot.commands import Arg, Command, MessageContext, Option, Ref
from bot.durations import Duration
from bot.message import Mention
from bot.registry import Registry


def _noop(ctx: object, cmd: object) -> None:
    return None


SEVERITY = {
    "p1": "P1",
    "p2": "P2",
    "p3": "P3",
    "p4": "P4",
    "紧急": "P1",
    "高": "P2",
    "中": "P3",
    "低": "P4",
}
REGISTRY = Registry(
    [
        Command(
            "help",
            ("帮助",),
            ("帮助", "help"),
            _noop,
            args=(Arg("command", "word", ("命令", "COMMAND"), required=False),),
            needs_engagement=False,
        ),
        Command(
            "ticket",
            ("工单",),
            ("开工单", "open a ticket"),
            _noop,
            args=(
                Arg("severity", "choice", ("级别", "P1-P4"), required=False, choices=SEVERITY),
                Arg("title", "text", ("标题", "TITLE")),
            ),
            options=(Option("svc", "word", ("服务", "SERVICE"), aliases=("服务",)),),
            example="/工单 P2 报表导出超时",
        ),
        Command(
            "log",
            ("报工",),
            ("报工", "log work"),
            _noop,
            args=(
                Arg("duration", "duration", ("时长", "DURATION")),
                Arg("target", "ref", ("对象", "TARGET"), prefixes=("T", "K", "CR")),
                Arg("note", "text", ("说明", "NOTE"), required=False),
            ),
            options=(Option("date", "date", ("日期", "DATE")),),
        ),
        Command(
            "assign",
            ("指派",),
            ("指派", "assign"),
            _noop,
            args=(
                Arg("ticket", "ref", ("工单", "TICKET"), prefixes=("T",)),
                Arg("who", "person", ("@人", "@PERSON")),
            ),
        ),
        Command("scope sign", ("范围 签署",), ("签署范围", "sign scope"), _noop),
        Command("scope", ("范围",), ("范围", "scope"), _noop),
        Command(
            "cr estimate",
            ("评估",),
            ("评估", "estimate"),
            _noop,
            args=(Arg("cr", "ref", ("变更", "CR"), prefixes=("CR",)),),
        ),
    ]
)
GROUP = MessageContext(bot_names=frozenset({"rentian", "人天"}))
DIRECT = MessageContext(direct=True, bot_names=frozenset({"rentian"}))


def test_english_and_chinese_names_parse_the_same() -> None:
    english = REGISTRY.parse("/ticket P1 数据库宕机", GROUP)
    chinese = REGISTRY.parse("/工单 紧急 数据库宕机", GROUP)
    assert english and chinese
    assert english.command is chinese.command
    assert english.args == chinese.args == {"severity": "P1", "title": "数据库宕机"}


def test_full_width_command_and_options_are_normalised_but_free_text_is_kept() -> None:
    parsed = REGISTRY.parse(
        "／ＴＩＣＫＥＴ　Ｐ２　svc＝ops_monitoring 报表①导出　ＡＢＣ 超时", GROUP
    )
    assert parsed is not None and parsed.command.name == "ticket"
    assert parsed.args["severity"] == "P2"
    assert parsed.options == {"svc": "ops_monitoring"}
    assert parsed.args["title"] == "报表①导出　ＡＢＣ 超时"  # exactly as written


def test_quotes_of_every_kind_group_words() -> None:
    for text in ('/ticket "a  b"', "/ticket “a  b”", "/ticket 「a  b」", "/ticket ‘a  b’"):
        parsed = REGISTRY.parse(text, GROUP)
        assert parsed is not None and parsed.args["title"] == "a  b", text


def test_apostrophe_is_not_a_quote() -> None:
    parsed = REGISTRY.parse("/ticket can't log in", GROUP)
    assert parsed is not None and parsed.args["title"] == "can't log in"


def test_option_in_the_middle_is_taken_out_of_the_text() -> None:
    parsed = REGISTRY.parse("/ticket 报表 svc=bigdata_dev 导出失败", GROUP)
    assert parsed is not None
    assert parsed.options == {"svc": "bigdata_dev"}
    assert parsed.args["title"] == "报表 导出失败"


def test_chinese_option_key_alias() -> None:
    parsed = REGISTRY.parse("/工单 服务＝ops_monitoring 磁盘告警", GROUP)
    assert parsed is not None and parsed.options == {"svc": "ops_monitoring"}


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("0.5d", Duration(days=Fraction(1, 2))),
        ("4h", Duration(hours=Fraction(4))),
        ("30m", Duration(minutes=Fraction(30))),
        ("半天", Duration(days=Fraction(1, 2))),
        ("1天", Duration(days=Fraction(1))),
        ("2小时", Duration(hours=Fraction(2))),
        ("１ｈ３０ｍ", Duration(hours=Fraction(1), minutes=Fraction(30))),
    ],
)
def test_durations(text: str, duration: Duration) -> None:
    parsed = REGISTRY.parse(f"/log {text} T-12 fixed the index", GROUP)
    assert parsed is not None
    assert parsed.args["duration"] == duration
    assert parsed.args["target"] == Ref("T", 12)
    assert parsed.args["note"] == "fixed the index"


def test_reference_and_date_forms() -> None:
    parsed = REGISTRY.parse("/报工 1天 ｋ－３ date=2026年11月20日", GROUP)
    assert parsed is not None
    assert parsed.args["target"] == Ref("K", 3)
    assert parsed.options["date"] == date(2026, 11, 20)


def test_mentions_are_people_not_text() -> None:
    where = MessageContext(mentions=(Mention("ou_123", "赵刚"),))
    parsed = REGISTRY.parse("/assign T-7 @赵刚", where)
    assert parsed is not None and parsed.args["who"] == Mention("ou_123", "赵刚")


def test_leading_bot_mention_is_dropped_and_marks_the_message_addressed() -> None:
    parsed = REGISTRY.parse("@人天 /ticket 报表慢", GROUP)
    assert parsed is not None and parsed.addressed and parsed.args["title"] == "报表慢"
    bare = REGISTRY.parse("@rentian 工单 报表慢", GROUP)  # addressed: the slash is optional
    assert bare is not None and bare.command.name == "ticket"


def test_group_chatter_is_ignored_but_direct_chats_need_no_slash() -> None:
    assert REGISTRY.parse("ticket 今天下午开会", GROUP) is None
    parsed = REGISTRY.parse("帮助", DIRECT)
    assert parsed is not None and parsed.command.name == "help"


def test_two_word_commands_win_over_one_word() -> None:
    signed = REGISTRY.parse("/scope sign", GROUP)
    assert signed is not None and signed.command.name == "scope sign"
    chinese = REGISTRY.parse("/范围 签署", GROUP)
    assert chinese is not None and chinese.command.name == "scope sign"
    plain = REGISTRY.parse("/scope", GROUP)
    assert plain is not None and plain.command.name == "scope"
    alias = REGISTRY.parse("/评估 CR-2", GROUP)
    assert alias is not None and alias.command.name == "cr estimate"


def test_unknown_command_suggests_the_closest() -> None:
    with pytest.raises(UsageError, match="/ticket"):
        REGISTRY.parse("/tiket 报表慢", GROUP)


def test_missing_argument_gives_usage_and_example() -> None:
    with pytest.raises(UsageError) as error:
        REGISTRY.parse("/工单", GROUP)
    assert "用法：/工单" in error.value.text and "例如：/工单 P2" in error.value.text
    english = MessageContext(locale="en")
    with pytest.raises(UsageError, match=r"Usage: /ticket \[P1-P4\] \[svc=SERVICE\] TITLE"):
        REGISTRY.parse("/ticket", english)


def test_wrong_type_and_extra_arguments_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="5x"):
        REGISTRY.parse("/log 5x T-1", GROUP)
    with pytest.raises(UsageError, match="多余"):
        REGISTRY.parse("/评估 CR-2 extra", GROUP)
    with pytest.raises(UsageError, match="不认识的选项"):
        REGISTRY.parse("/评估 CR-2 colour=red", GROUP)


def test_dash_h_asks_for_help() -> None:
    parsed = REGISTRY.parse("/log -h", GROUP)
    assert parsed is not None and parsed.wants_help


def test_duplicate_command_words_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        Registry([Command("a", ("帮",), ("", ""), _noop), Command("b", ("帮",), ("", ""), _noop)])


_CHAT_ALPHABET = st.sampled_from(
    list('/／ 　@＠=＝"“”‘’「」『』-－.:：abcTK0123456789dhm天小时半①ＡＢ中文工单报表\n\t')
)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(st.text(), st.text(alphabet=_CHAT_ALPHABET, max_size=40)),
    st.booleans(),
    st.sampled_from(["zh-CN", "en"]),
)
def test_no_input_makes_the_parser_raise_anything_but_usage_error(
    text: str, direct: bool, locale: str
) -> None:
    where = MessageContext(
        direct=direct,
        bot_names=frozenset({"rentian"}),
        locale=locale,
        mentions=(Mention("u1", "赵刚"), Mention("b", "rentian", is_bot=True)),
    )
    for candidate in (text, "/" + text, "/ticket " + text, "/log " + text, "/assign " + text):
        try:
            REGISTRY.parse(candidate, where)
        except UsageError as error:
            assert error.text and "\n" not in error.text


def test_a_lazy_handler_imports_its_module_when_first_called_and_keeps_the_function() -> None:
    import sys

    from bot.commands import Lazy, lazy

    name = "tests.fakes.lazy_target"
    sys.modules.pop(name, None)
    handler = lazy(name, "answer")
    assert isinstance(handler, Lazy) and name not in sys.modules  # declaring imports nothing
    assert handler(20, 22) == 42 and name in sys.modules
    assert handler._target is sys.modules[name].answer  # resolved once, then called directly
    with pytest.raises(TypeError, match="not callable"):
        lazy(name, "NOT_A_FUNCTION")(1)
    with pytest.raises(AttributeError):
        lazy(name, "missing")()


def test_every_declared_handler_and_job_names_a_function_of_its_module() -> None:
    """A misspelt handler would show only when its command first runs: resolve them all."""
    from app.commands import all_commands, all_jobs
    from bot.commands import Lazy

    targets = [c.handler for c in all_commands()] + [j.run for j in all_jobs()]
    assert targets and all(isinstance(t, Lazy) for t in targets)
    for target in targets:
        assert isinstance(target, Lazy) and callable(target.resolve())
