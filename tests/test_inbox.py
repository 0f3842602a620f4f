"""The intake's inbox (bot.inbox): one durable insert, then the answer; the workers handle
events in order per chat, several per transaction, exactly once, across restarts."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from argparse import Namespace
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlmodel import col

from adapters import console
from app.http import create_app
from app.queues import inbox as inbox_command
from app.runtime import Runtime, build
from bot import clock, inbox
from bot.assurance import Assurance
from bot.inbox import Inbox, accept, from_json, to_json
from bot.message import ChatType, Inbound, Mention
from config.settings import FeishuSettings, IntakeSettings, Settings
from storage.db import dispose_all, make_engine, transaction
from storage.models import InboundKey, InboxEvent, Ticket
from tests.fakes.feishu_server import FakeFeishu
from tests.harness import ConsoleHarness, drain_inbox
from tests.test_feishu import ENGAGEMENT, TOKEN, message_event, signed
from tests.test_intake_fuzz import BOOM, refused_outbox


def _said(runtime: Runtime, text: str, event_id: str, *, chat: str = "demo-group",
          user: str = "wangli") -> Inbound:  # fmt: skip
    return console.parse(chat, user, text, now=clock.now(), event_id=event_id,
                         bot_names=runtime.bot_names)  # fmt: skip


def _waiting(engine: Engine) -> list[str]:
    with transaction(engine) as session:
        return [row.key for row in inbox.waiting(session, 1000)]


def _keys(engine: Engine) -> list[tuple[str, str]]:
    """(key, status) of the events the bus took, in the order it took them."""
    with transaction(engine) as session:
        query = select(col(InboundKey.key), col(InboundKey.status)).order_by(col(InboundKey.id))
        return [(k, s) for k, s in session.execute(query).all()]


def _tickets(engine: Engine) -> list[str]:
    with transaction(engine) as session:
        query = select(col(Ticket.title)).order_by(col(Ticket.number))
        return list(session.execute(query).scalars())


def _until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    """Poll (bounded) for the workers to get somewhere: a condition, not a time."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# -- the payload ---------------------------------------------------------------------------


def test_every_field_of_an_inbound_survives_the_inbox() -> None:
    inbound = Inbound(
        channel="feishu", chat_id="oc_1", chat_type=ChatType.DIRECT, sender_id="ou_1",
        text="@人天 /指派 T-1 @赵刚\n第二行\t①", event_id="ev_1",
        received_at=datetime(2026, 11, 25, 2, 0, 1, 123456, tzinfo=UTC), sender_name="王丽",
        sender_alt_ids=("u_1", "on_1"),
        mentions=(Mention("ou_bot", "人天", is_bot=True), Mention("ou_zg", "赵刚")),
        message_id="om_1", reply_to="om_0", assurance=Assurance.DOMAIN,
        raw={"xml": {"MsgId": "1", "list": [1, 2]}, "when": datetime(2026, 1, 1, tzinfo=UTC)},
    )  # fmt: skip
    back = from_json(to_json(inbound))
    assert back == inbound
    assert back.raw == {"xml": {"MsgId": "1", "list": [1, 2]}, "when": "2026-01-01 00:00:00+00:00"}
    assert isinstance(back.chat_type, ChatType) and isinstance(back.assurance, Assurance)
    assert back.received_at.utcoffset() is not None
    group = Inbound("console", "g", ChatType.GROUP, "a", "hi", "e", clock.now())
    assert from_json(to_json(group)) == group
    assert to_json(inbound).isascii()  # no character a driver could choke on


def test_no_credential_of_the_platform_payload_reaches_the_inbox(demo: ConsoleHarness) -> None:
    token = "test-verification-token"  # a Feishu v2 event's header carries the app's token
    inbound = replace(_said(demo.runtime, "/工单 P3 打印机坏了", "ev-secret"),
                      raw={"header": {"event_id": "ev-secret", "token": token}})  # fmt: skip
    assert accept(demo.runtime.engine, inbound)
    with transaction(inbox.inbox_engine(demo.runtime.engine)) as session:
        (payload,) = session.execute(select(InboxEvent.payload)).scalars()
    assert token not in payload
    assert from_json(payload).raw == {"header": {"event_id": "ev-secret", "token": "***"}}


def test_a_payload_of_another_format_is_not_guessed_at() -> None:
    data = json.loads(to_json(Inbound("console", "g", ChatType.GROUP, "a", "hi", "e", clock.now())))
    data["v"] = 99
    with pytest.raises(ValueError, match="format 99"):
        from_json(json.dumps(data))


# -- accept, then handle -------------------------------------------------------------------


def test_an_accepted_event_is_handled_by_the_workers_step(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    assert accept(runtime.engine, _said(runtime, "/工单 P3 打印机坏了", "ev-1"))
    assert _waiting(runtime.engine) == ["ev-1"] and _tickets(runtime.engine) == []
    assert drain_inbox(runtime) == 1
    assert _waiting(runtime.engine) == []  # deleted with the handling: only the backlog stays
    assert _tickets(runtime.engine) == ["打印机坏了"]
    assert _keys(runtime.engine) == [("ev-1", "handled")]
    assert [r.kind for r in demo.outbox(recipient_type="chat")] == ["ticket.opened"]


def test_an_event_accepted_twice_is_handled_once(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    said = _said(runtime, "/工单 P3 打印机坏了", "ev-1")
    assert accept(runtime.engine, said)
    assert not accept(runtime.engine, said)  # a redelivery while it waits: dropped at once
    assert drain_inbox(runtime) == 1
    # a redelivery after it was handled is accepted again; the bus knows its key
    assert accept(runtime.engine, said)
    assert drain_inbox(runtime) == 1
    assert _tickets(runtime.engine) == ["打印机坏了"] and _waiting(runtime.engine) == []
    assert _keys(runtime.engine) == [("ev-1", "handled")]


def test_accept_stores_the_cleaned_event(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    assert accept(runtime.engine, _said(runtime, "/工单 P3 打印\x00机坏了\r\n", "ev\x00-1"))
    (key,) = _waiting(runtime.engine)
    assert "\x00" not in key and key.startswith("ev-1#")
    drain_inbox(runtime)
    assert _tickets(runtime.engine) == ["打印机坏了"]


def test_several_waiting_events_are_handled_in_one_transaction(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    for n in range(10):
        accept(runtime.engine, _said(runtime, f"/工单 P3 设备 {n} 坏了", f"ev-{n}"))
    commits = [0]

    def count(_connection: Any) -> None:
        commits[0] += 1

    workers = Inbox(runtime.engine, runtime.bus, IntakeSettings(batch=32))
    event.listen(runtime.engine, "commit", count)
    try:
        assert workers.drain() == 10
    finally:
        event.remove(runtime.engine, "commit", count)
    # one batch (and the reads that found it and then nothing), not ten transactions
    assert commits[0] <= 3
    assert _tickets(runtime.engine) == [f"设备 {n} 坏了" for n in range(10)]


def test_a_batch_is_at_most_batch_events(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    for n in range(5):
        accept(runtime.engine, _said(runtime, f"hello {n}", f"ev-{n}"))
    workers = Inbox(runtime.engine, runtime.bus, IntakeSettings(batch=2))
    assert [workers.step(), workers.step(), workers.step(), workers.step()] == [2, 2, 1, 0]


def test_a_chats_order_holds_with_several_workers_and_interleaved_chats(
    demo: ConsoleHarness,
) -> None:
    runtime = demo.runtime
    chats = [f"room-{c}" for c in range(5)]
    for n in range(8):
        for chat in chats:
            accept(runtime.engine, _said(runtime, f"/帮助 {n}", f"{chat}/{n}", chat=chat))
    workers = Inbox(runtime.engine, runtime.bus, IntakeSettings(workers=4, batch=3))
    workers.start()
    try:
        _until(lambda: not _waiting(runtime.engine))
    finally:
        workers.stop(10)
    taken = [key for key, _ in _keys(runtime.engine)]
    assert len(taken) == 40
    for chat in chats:
        assert [k for k in taken if k.startswith(f"{chat}/")] == [f"{chat}/{n}" for n in range(8)]


def test_two_instances_on_one_database_keep_each_chats_order(
    demo: ConsoleHarness, db_url: str
) -> None:
    """Each with its own engine, as two `serve` processes: on PostgreSQL a chat is held with
    an advisory lock; on either database no event runs before an earlier one of its chat."""
    runtime = demo.runtime
    chats = [f"room-{c}" for c in range(4)]
    for n in range(6):
        for chat in chats:
            accept(runtime.engine, _said(runtime, f"/帮助 {n}", f"{chat}/{n}", chat=chat))
    engines = [make_engine(db_url) for _ in range(2)]
    instances = [
        Inbox(engine, build(Settings(db=db_url), engine).bus, IntakeSettings(workers=2, batch=2))
        for engine in engines
    ]
    try:
        for instance in instances:
            instance.start()
        _until(lambda: not _waiting(runtime.engine))
    finally:
        for instance in instances:
            instance.stop(10)
        for engine in engines:
            engine.dispose()
    taken = [key for key, status in _keys(runtime.engine) if status == "handled"]
    for chat in chats:
        assert [k for k in taken if k.startswith(f"{chat}/")] == [f"{chat}/{n}" for n in range(6)]
    assert len(taken) == len(_keys(runtime.engine)) == 24  # each once, none failed


def test_a_worker_wakes_when_its_process_accepts(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    workers = Inbox(runtime.engine, runtime.bus, IntakeSettings(workers=1, poll_seconds=60))
    workers.start()
    try:
        assert workers.accept(_said(runtime, "/工单 P3 打印机坏了", "ev-1"))
        _until(lambda: _tickets(runtime.engine) == ["打印机坏了"])  # long before a poll
    finally:
        workers.stop(10)


def test_a_worker_wakes_when_told_of_an_event_another_process_accepted(
    demo: ConsoleHarness,
) -> None:
    """The worker process of `rentian serve`: the serving process accepts, then wakes it."""
    runtime = demo.runtime
    looked: list[str] = []

    def seen(*args: Any) -> None:
        if "inbox_event" in args[2]:  # the statement
            looked.append(args[2])

    store = inbox.inbox_engine(runtime.engine)  # where the workers look
    event.listen(store, "after_cursor_execute", seen)
    workers = Inbox(runtime.engine, runtime.bus, IntakeSettings(workers=1, poll_seconds=60))
    workers.start()
    try:
        _until(lambda: bool(looked))  # its first look found nothing: it waits for a wake
        assert accept(runtime.engine, _said(runtime, "/工单 P3 打印机坏了", "ev-1"))  # no wake
        workers.wake()
        _until(lambda: _tickets(runtime.engine) == ["打印机坏了"])  # long before a poll
    finally:
        workers.stop(10)
        event.remove(store, "after_cursor_execute", seen)


def test_on_accept_is_told_of_each_event_accepted_once(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    told: list[None] = []
    intake = Inbox(runtime.engine, runtime.bus, runtime.settings.intake)
    intake.on_accept = lambda: told.append(None)
    said = _said(runtime, "/工单 P3 打印机坏了", "ev-1")
    assert intake.accept(said)
    assert not intake.accept(said)  # a redelivery while it waits: nothing new to handle
    assert len(told) == 1


def test_a_failing_command_is_recorded_and_does_not_hold_up_its_chat(
    demo: ConsoleHarness,
) -> None:
    runtime = demo.runtime
    accept(runtime.engine, _said(runtime, "/工单 P3 boom", "ev-boom"))
    accept(runtime.engine, _said(runtime, "/工单 P3 打印机坏了", "ev-next"))
    with refused_outbox(runtime.engine, BOOM):
        assert drain_inbox(runtime) == 2
    assert _waiting(runtime.engine) == []
    assert _keys(runtime.engine) == [("ev-boom", "failed"), ("ev-next", "handled")]
    assert _tickets(runtime.engine) == ["打印机坏了"]


def test_a_database_unavailable_just_now_leaves_the_events_waiting(
    demo: ConsoleHarness,
) -> None:
    runtime = demo.runtime
    accept(runtime.engine, _said(runtime, "/工单 P3 打印机坏了", "ev-1"))

    def unavailable(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO INBOUND_KEY"):
            raise OperationalError(statement, {}, Exception("database is locked"))

    event.listen(runtime.engine, "before_cursor_execute", unavailable)
    try:
        with pytest.raises(OperationalError):
            Inbox(runtime.engine, runtime.bus, IntakeSettings()).step()
    finally:
        event.remove(runtime.engine, "before_cursor_execute", unavailable)
    assert _waiting(runtime.engine) == ["ev-1"] and _keys(runtime.engine) == []
    assert drain_inbox(runtime) == 1  # the database is back: handled
    assert _tickets(runtime.engine) == ["打印机坏了"]


def test_what_was_accepted_before_a_crash_is_handled_after_the_restart(
    demo: ConsoleHarness, db_url: str
) -> None:
    first = demo.runtime
    for n in range(3):  # acknowledged to the platform; the process dies before any worker ran
        accept(first.engine, _said(first, f"/工单 P3 设备 {n} 坏了", f"ev-{n}"))
    first.engine.dispose()

    engine = make_engine(db_url)
    try:
        restarted = build(Settings(db=db_url), engine)
        workers = Inbox(engine, restarted.bus, restarted.settings.intake)
        workers.start()
        try:
            _until(lambda: not _waiting(engine))
        finally:
            workers.stop(10)
        assert _tickets(engine) == [f"设备 {n} 坏了" for n in range(3)]
        assert _keys(engine) == [(f"ev-{n}", "handled") for n in range(3)]
    finally:
        engine.dispose()


def test_stop_lets_the_workers_finish_and_leaves_the_rest_waiting(
    demo: ConsoleHarness,
) -> None:
    runtime = demo.runtime
    workers = Inbox(runtime.engine, runtime.bus, IntakeSettings(workers=2))
    workers.start()
    workers.stop(10)
    assert not [t for t in threading.enumerate() if t.name.startswith("rentian-inbox")]
    accept(runtime.engine, _said(runtime, "/工单 P3 打印机坏了", "ev-1"))
    assert _waiting(runtime.engine) == ["ev-1"]  # nobody handles it until the next start


# -- the operator's view -------------------------------------------------------------------


def _inbox_json(db_url: str, capsys: pytest.CaptureFixture[str], **options: Any) -> Any:
    """`rentian inbox --json …` (its function: `--status pending` waits for app/cli.py)."""
    args = Namespace(db=db_url, config=None, now=None, json=True, limit=200, status=None)
    for name, value in options.items():
        setattr(args, name, value)
    try:
        assert inbox_command(args) == 0
    finally:
        dispose_all()  # as `rentian` does before it returns
    return json.loads(capsys.readouterr().out)


def test_rentian_inbox_shows_the_backlog(
    demo: ConsoleHarness, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = demo.runtime
    accept(runtime.engine, _said(runtime, "/工单 P3 打印机坏了", "ev-1"))
    drain_inbox(runtime)
    accept(runtime.engine, _said(runtime, "hello", "ev-2"))
    waiting = _inbox_json(db_url, capsys, status="pending")
    assert [(r["key"], r["status"]) for r in waiting] == [("ev-2", "pending")]
    every = _inbox_json(db_url, capsys)
    assert [(r["key"], r["status"]) for r in every] == [("ev-2", "pending"), ("ev-1", "handled")]
    assert [r["key"] for r in _inbox_json(db_url, capsys, status="handled")] == ["ev-1"]
    assert [r["key"] for r in _inbox_json(db_url, capsys, limit=1)] == ["ev-2"]


# -- over HTTP -----------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeFeishu]:
    # the SDK caches tokens per app_id for the whole process: a fresh app per test
    server = FakeFeishu(app_id=f"cli_{uuid.uuid4().hex[:12]}", app_secret="s3cret").start()
    yield server
    server.stop()


@pytest.fixture
def feishu_runtime(db_url: str, engine: Engine, fake: FakeFeishu, tmp_path: Path) -> Runtime:
    section = FeishuSettings(
        enabled=True, app_id=fake.app_id, app_secret=fake.app_secret,
        encrypt_key="test-encrypt-key", verification_token=TOKEN, domain=fake.url,
    )  # fmt: skip
    runtime = build(Settings(db=db_url, feishu=section), engine)
    path = tmp_path / "fs.toml"
    path.write_text(ENGAGEMENT, encoding="utf-8")
    ConsoleHarness(runtime).apply(path)
    return runtime


async def test_a_feishu_callback_is_answered_once_the_inbox_holds_it(
    feishu_runtime: Runtime, fake: FakeFeishu
) -> None:
    runtime = feishu_runtime
    app = create_app(runtime, scheduler=False)
    headers, body = signed(message_event("/工单 P2 报表导出超时"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rentian.test") as client:
        # no lifespan yet, so no workers: the answer comes with the row written, nothing done
        response = await client.post("/webhooks/feishu", content=body, headers=headers)
        assert response.status_code == 200
        assert _waiting(runtime.engine) == ["ev_1"] and _tickets(runtime.engine) == []
        async with app.router.lifespan_context(app):  # the workers and the dispatcher run
            health = (await client.get("/healthz")).json()
            assert health["inbox_pending"] in (0, 1)
            for _ in range(2000):
                if len(fake.sends) == 2:  # the reply in the group, the notice to the PM
                    break
                await asyncio.sleep(0.01)
            assert _tickets(runtime.engine) == ["报表导出超时"] and len(fake.sends) == 2
            assert (await client.get("/healthz")).json()["inbox_pending"] == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("rentian-inbox")]


# -- the migration -------------------------------------------------------------------------


def test_the_inbox_migration_goes_up_and_down(blank: Engine) -> None:
    from alembic import command

    from storage.migrate import alembic_config

    config = alembic_config(blank)
    command.upgrade(config, "0010")
    with blank.begin() as connection:
        connection.execute(InboxEvent.__table__.insert().values(  # type: ignore[attr-defined]
            channel="console", key="k", chat_key="console:g", payload="{}",
            received_at=clock.now(),
        ))  # fmt: skip
    with blank.connect() as connection:
        assert connection.execute(select(func.count()).select_from(InboxEvent)).scalar() == 1
    command.downgrade(config, "-1")
    with blank.connect() as connection:
        tables = {
            name for (name,) in connection.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                if blank.dialect.name == "sqlite"
                else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ))
        }  # fmt: skip
    assert "inbox_event" not in tables and "inbound_key" in tables
    command.upgrade(config, "0010")
