"""The intake boundary (bot.intake), fuzzed on SQLite and PostgreSQL: whatever a channel
delivers, the bus answers it once and never raises for it; an event whose handling fails
is recorded (`rentian inbox --status failed`) and is not handled again."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError

from adapters import console
from app.cli import main
from app.commands import all_commands
from app.http import create_app
from app.runtime import Runtime, build
from bot import clock, intake
from bot.message import Inbound, Mention
from config.settings import FeishuSettings, Settings
from storage.db import transaction
from storage.models import InboundKey, OutboxMessage, Ticket
from tests.harness import ConsoleHarness, drain_inbox
from tests.test_feishu import ENCRYPT_KEY, ENGAGEMENT, GROUP, TOKEN, WANG_LI, message_event, signed

# Strings that have broken chat bots: a NUL and other controls, lone surrogates, bidi
# overrides, terminal escapes, huge numbers and words, full-width forms, SQL and format strings.
HOSTILE = [
    "\x00", "/nosuch\x00cmd", "a\x00b", "\ud800", "\udfff", "x\ud83dy", "\ud83d\ude00",
    "\u202e\u202d", "\u2066abc\u2069", "\x1b[31m", "\x1b]0;title\x07", "\x7f\x85\x9f", "\r\n\r",
    "\u2028\u2029", "\ufeff", "\ufffe\uffff", "𝕏\U0010ffff", "9" * 40, "-" + "9" * 30, "1e999",
    "NaN", "inf", "0x7fffffff", "9" * 25 + "h", "99999999999d", "+99999999999d", "-99999999d",
    "T-" + "9" * 25, "K-99999999999", "CR-0", "B--1", "D-" + "9" * 12, "2026-02-30",
    "9999-12-31", "0000-00-00", "date=+9999999d", "due=+99999999999d", "est=" + "9" * 20 + "d",
    "w" * 10_000, "Ｐ２", "／工单", "ｓｖｃ＝ｂｉｇｄａｔａ＿ｄｅｖ", "'; DROP TABLE ticket; --",
    "Robert'); DELETE FROM person;--", "1 OR 1=1", "{0}", "{}", "{id}", "{0.__class__}",
    "%s", "%(x)s", "%n%n%n", "${jndi:x}", "<script>", '"', "“", "「", "\\", "=", "@", "@@",
]  # fmt: skip
SHAPES = [
    "P1", "P2", "T-1", "K-1", "CR-1", "B-1", "D-1", "4h", "半天", "svc=bigdata_dev", "date=今天",
    "ot=yes", "for=@zhaogang", "@lina", "owner=@zhaogang", "est=2d", "level=senior", "due=+10d",
    "上月", "2026-11", "甲方", "开启", "时间", "1", "撤销", "调整", "列表", "签署", "关闭", "确认",
]  # fmt: skip
PEOPLE = ["liuyang", "wangli", "chenjing", "sunwei", "zhaogang", "lina"]
WORDS = sorted({word for c in all_commands() for word in c.words()})
_serial = itertools.count()


def _message() -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(HOSTILE), st.sampled_from(SHAPES), st.text(max_size=30))
    command = st.builds(
        lambda slash, word, args: f"{slash}{word} " + " ".join(args),
        st.sampled_from(["/", "／", "@人天 ", ""]), st.sampled_from(WORDS),
        st.lists(piece, max_size=6),
    )  # fmt: skip
    return st.one_of(command, st.sampled_from(HOSTILE), st.text(max_size=60))


def _inbound(message: str, sender: str, chat: str, direct: bool, tag: str) -> Inbound:
    inbound = console.parse(chat, sender, message, now=clock.now(), direct=direct,
                            event_id=f"{tag}{next(_serial)}")  # fmt: skip
    return replace(
        inbound, sender_name=tag + sender, mentions=(Mention(tag, tag), *inbound.mentions)
    )


def _handled_once(runtime: Runtime, inbound: Inbound) -> None:
    """The contract at the boundary: no exception, no internal error, a redelivery ignored."""
    outcome = runtime.bus.handle(inbound)
    assert not outcome.duplicate and not outcome.failed
    assert [r for r in outcome.replies if r.kind == "error.internal"] == []
    for reply in outcome.replies:
        assert intake.clean_text(reply.text) == reply.text
    assert runtime.bus.handle(inbound).duplicate


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    message=_message(),
    sender=st.one_of(st.sampled_from(PEOPLE), st.sampled_from(HOSTILE), st.text(max_size=20)),
    chat=st.one_of(st.just("demo-group"), st.sampled_from(HOSTILE)),
    direct=st.booleans(),
    tag=st.one_of(st.just("ev"), st.sampled_from(HOSTILE)),
)  # fmt: skip
def test_fuzzed_messages_are_answered_once_and_never_raise(
    demo: ConsoleHarness, message: str, sender: str, chat: str, direct: bool, tag: str
) -> None:
    _handled_once(demo.runtime, _inbound(message, sender, chat, direct, tag))


def test_every_hostile_string_in_every_field(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    for hostile in HOSTILE:
        _handled_once(runtime, _inbound(hostile, hostile, hostile, False, hostile))  # ids too
        for message, sender in ((f"/工单 P2 {hostile}", "liuyang"),
                                (f"/报工 {hostile} T-1 {hostile}", "zhaogang")):  # fmt: skip
            outcome = runtime.bus.handle(_inbound(message, sender, "demo-group", False, "ev"))
            assert [r.kind for r in outcome.replies if r.kind == "error.internal"] == []


def test_a_zero_byte_is_dropped_and_the_command_answered(demo: ConsoleHarness) -> None:
    (reply,) = demo.say("liuyang", "/nosuch\x00cmd")
    assert reply.kind == "error.usage" and "\x00" not in reply.text
    (reply,) = demo.say("liuyang", "/工单 P2 报表\x00导出\x1b[31m超时\ud800\r\n第二行\t完")
    assert reply.kind == "ticket.opened"
    with transaction(demo.runtime.engine) as session:
        title = session.execute(select(Ticket.title)).scalar_one()
    assert title == "报表导出[31m超时\n第二行\t完"


def test_ids_that_had_to_change_stay_distinct() -> None:
    inbound = _inbound("/进度", "wangli\x00", "demo-group", False, "ev")
    cleaned = intake.clean(replace(inbound, event_id="e\x00" + "1" * 600, chat_id="c" * 600))
    assert cleaned.sender_id.startswith("wangli#") and cleaned.sender_id != "wangli"
    assert len(cleaned.event_id) == len(cleaned.chat_id) == intake.MAX_ID_CHARS
    assert intake.clean(replace(inbound, event_id="e" + "1" * 600)).event_id != cleaned.event_id
    assert intake.clean(inbound).event_id == inbound.event_id  # a clean id is kept as it is


def test_a_text_over_the_limit_is_refused_when_meant_for_the_bot(
    demo: ConsoleHarness, en: ConsoleHarness
) -> None:
    demo.one("liuyang", "/工单 P2 报表导出超时")
    longest = "/备注 T-1 " + "慢" * (intake.MAX_TEXT_CHARS - len("/备注 T-1 "))
    assert demo.one("liuyang", longest).kind == "ticket.note"
    (reply,) = demo.say("liuyang", longest + "慢")
    assert reply.kind == "error.usage" and "消息太长" in reply.text and "4000" in reply.text
    (reply,) = en.say("liuyang", "/ticket P2 " + "w" * 10_000_000)  # 10 MB: no 10 MB title
    assert reply.kind == "error.usage" and reply.text.startswith("This message is too long")
    assert demo.say("liuyang", "随便聊聊 " * 2000) == []  # chatter not for the bot: no reply
    assert len(demo.outbox(kind="ticket.note")) == 1
    assert len(demo.outbox(kind="ticket.opened", recipient_type="chat")) == 1


# -- through a webhook: answered 200, once -----------------------------------------------------


@pytest.fixture
def fs_runtime(db_url: str, engine: Engine, tmp_path: Path) -> Runtime:
    section = FeishuSettings(enabled=True, app_id="cli_intake", app_secret="s3cret",
                             encrypt_key=ENCRYPT_KEY, verification_token=TOKEN)  # fmt: skip
    runtime = build(Settings(db=db_url, feishu=section), engine)
    path = tmp_path / "fs.toml"
    path.write_text(ENGAGEMENT, encoding="utf-8")
    ConsoleHarness(runtime).apply(path)
    return runtime


@pytest.fixture
async def feishu(fs_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(fs_runtime, scheduler=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://rentian.test") as client:
        yield client


async def _post(client: httpx.AsyncClient, event: dict[str, object]) -> int:
    headers, body = signed(event)
    return (await client.post("/webhooks/feishu", content=body, headers=headers)).status_code


async def test_a_signed_zero_byte_is_answered_once_and_its_redeliveries_get_200(
    feishu: httpx.AsyncClient, engine: Engine, fs_runtime: Runtime
) -> None:
    for _ in range(3):
        assert await _post(feishu, message_event("/nosuch\u0000cmd", event_id="ev_nul")) == 200
        drain_inbox(fs_runtime)  # as the inbox's workers would
    with transaction(engine) as session:
        kinds = session.execute(select(OutboxMessage.kind)).scalars().all()
        keys = session.execute(select(InboundKey.key, InboundKey.status)).all()
    assert kinds == ["error.usage"] and keys == [("ev_nul", "handled")]


async def test_hostile_strings_in_signed_events_all_get_200(
    feishu: httpx.AsyncClient, engine: Engine, fs_runtime: Runtime
) -> None:
    for n, hostile in enumerate(HOSTILE):
        event = message_event(f"/工单 P2 {hostile}", event_id=f"ev_{n}{hostile[:50]}",
                              message_id=f"om_{hostile[:50]}", chat=GROUP if n % 3 else hostile,
                              sender=WANG_LI if n % 2 else hostile)  # fmt: skip
        assert await _post(feishu, event) == 200, hostile
    assert drain_inbox(fs_runtime) == len(HOSTILE)  # each one through the inbox, intact
    with transaction(engine) as session:
        statuses = session.execute(select(InboundKey.status)).scalars().all()
        internal = session.execute(
            select(OutboxMessage).where(OutboxMessage.kind == "error.internal")
        ).all()
    assert len(statuses) == len(HOSTILE) and set(statuses) == {"handled"} and internal == []


# -- an event whose handling fails -----------------------------------------------------------


@contextmanager
def refused_outbox(engine: Engine, condition: str) -> Iterator[None]:
    """The database refuses outbox rows (`NEW`) on `condition`: a fault of the kind no handler
    expects, which the tests place inside or outside the handler's savepoint."""
    if engine.dialect.name == "sqlite":
        create = [f"CREATE TRIGGER refuse BEFORE INSERT ON outbox WHEN {condition} "
                  "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"]  # fmt: skip
        drop = ["DROP TRIGGER refuse"]
    else:
        create = [
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF {condition} THEN RAISE EXCEPTION 'refused by the test trigger'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER refuse BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse()",
        ]
        drop = ["DROP TRIGGER refuse ON outbox", "DROP FUNCTION refuse()"]
    with engine.begin() as connection:
        for statement in create:
            connection.execute(text(statement))
    try:
        yield
    finally:
        with engine.begin() as connection:
            for statement in drop:
                connection.execute(text(statement))


BOOM = "NEW.text LIKE '%boom%'"
# ... but not once the event is recorded as failed: the failure's own answer gets through
BOOM_UNTIL_RECORDED = (f"{BOOM} AND NOT EXISTS (SELECT 1 FROM inbound_key"
                       " WHERE inbound_key.key = NEW.reply_to AND inbound_key.status = 'failed')")  # fmt: skip


def test_a_handler_error_is_answered_and_recorded(
    demo: ConsoleHarness, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with refused_outbox(demo.runtime.engine, BOOM):
        # the ticket's confirmation quotes its title: refused inside the handler's savepoint
        outcome = demo.send("liuyang", "/工单 P2 boom", event_id="ev-1")
        assert not outcome.failed and [r.kind for r in outcome.replies] == ["error.internal"]
        assert demo.send("liuyang", "/工单 P2 boom", event_id="ev-1").duplicate
    assert main(["--db", db_url, "inbox", "--status", "failed"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split()[1:4] == ["failed", "console", "ev-1"]
    assert line.endswith("refused by the test trigger")


def test_a_failed_transaction_is_recorded_answered_and_not_handled_again(
    demo: ConsoleHarness, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with refused_outbox(demo.runtime.engine, BOOM_UNTIL_RECORDED):
        # the bus's own error reply quotes the event id: refused, the transaction fails
        outcome = demo.send("liuyang", "/工单 P2 boom 报表导出超时", event_id="boom-1")
        assert outcome.failed and not outcome.duplicate
        assert [(r.kind, r.ref) for r in outcome.replies] == [("error.internal", "")]
        assert demo.send("liuyang", "/工单 P2 boom 报表导出超时", event_id="boom-1").duplicate
    assert [row.kind for row in demo.outbox()] == ["error.internal"]  # no ticket.opened
    with transaction(demo.runtime.engine) as session:
        assert session.execute(select(Ticket)).first() is None
    assert demo.one("liuyang", "/工单 P2 报表导出超时").kind == "ticket.opened"

    now = clock.now()
    assert main(["--db", db_url, "inbox", "--status", "failed", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["channel"], row["key"], row["status"]) == ("console", "boom-1", "failed")
    assert row["error_class"] in ("sqlite3.IntegrityError", "psycopg.errors.RaiseException")
    assert row["error"] == "refused by the test trigger"
    assert row["received_at"] == now.isoformat()
    assert main(["--db", db_url, "inbox", "--json", "--limit", "5"]) == 0
    assert [r["status"] for r in json.loads(capsys.readouterr().out)] == ["handled", "failed"]


def test_a_failure_that_cannot_be_answered_is_still_recorded(demo: ConsoleHarness) -> None:
    with refused_outbox(demo.runtime.engine, BOOM):
        outcome = demo.send("liuyang", "/工单 P2 boom", event_id="boom-2")
        assert outcome.failed and outcome.replies == []
        assert demo.send("liuyang", "/工单 P2 boom", event_id="boom-2").duplicate
    assert demo.outbox() == []
    with transaction(demo.runtime.engine) as session:
        assert session.execute(select(InboundKey.status)).scalar_one() == "failed"


def test_an_unreachable_database_raises_so_the_platform_retries() -> None:
    runtime = build(Settings(db="postgresql://rentian@127.0.0.1:1/nowhere"))
    with pytest.raises(OperationalError):
        runtime.bus.handle(_inbound("/进度", "wangli", "demo-group", False, "ev"))
    runtime.engine.dispose()
