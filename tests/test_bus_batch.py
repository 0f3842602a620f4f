"""`Bus.handle_batch`: several events in one transaction (the inbox's group commit), each with
the effect `Bus.handle` would give it, in order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select
from sqlmodel import Session, col

from adapters import console
from app.commands import all_commands
from app.runtime import Runtime
from bot import clock
from bot.bus import Bus
from bot.commands import Command
from bot.message import Inbound
from bot.registry import Registry
from config.settings import DEMO_ENGAGEMENT
from storage.db import transaction
from storage.models import InboundKey, Ticket
from tests.harness import ConsoleHarness


def _inbound(runtime: Runtime, text: str, event_id: str, user: str = "wangli") -> Inbound:
    return console.parse("demo-group", user, text, now=clock.now(), event_id=event_id,
                         bot_names=runtime.bot_names)  # fmt: skip


def _commits(runtime: Runtime) -> list[int]:
    counted = [0]

    def count(_connection: Any) -> None:
        counted[0] += 1

    event.listen(runtime.engine, "commit", count)
    return counted


def test_a_batch_commits_once_and_each_event_has_its_effect(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    commits = _commits(runtime)
    inbounds = [_inbound(runtime, f"/工单 打印机 {n} 坏了", f"b-{n}") for n in range(3)]
    outcomes = runtime.bus.handle_batch(inbounds)
    assert commits[0] == 1
    assert [[r.kind for r in o.replies] for o in outcomes] == [["ticket.opened"]] * 3
    with transaction(runtime.engine) as session:
        titles = session.execute(select(Ticket.title).order_by(col(Ticket.number))).scalars()
        assert [t for t in titles if "打印机" in t] == [f"打印机 {n} 坏了" for n in range(3)]


def test_a_batch_dedupes_within_itself_and_against_what_was_handled(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    demo.send("wangli", "/工单 已处理的", event_id="seen")
    batch = [_inbound(runtime, "/工单 已处理的", "seen"), _inbound(runtime, "/工单 新的", "new"),
             _inbound(runtime, "/工单 新的", "new")]  # fmt: skip
    outcomes = runtime.bus.handle_batch(batch)
    assert [o.duplicate for o in outcomes] == [True, False, True]
    with transaction(runtime.engine) as session:
        assert _count(session, Ticket, col(Ticket.title) == "新的") == 1


def test_before_commit_runs_in_the_batch_transaction(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    seen: list[int] = []

    def before_commit(session: Session) -> None:  # sees the batch's uncommitted work
        seen.append(_count(session, InboundKey, col(InboundKey.key) == "in-tx"))

    runtime.bus.handle_batch([_inbound(runtime, "/工单 x", "in-tx")], before_commit=before_commit)
    assert seen == [1]


def test_a_failing_command_is_recorded_and_the_rest_of_the_batch_commits(runtime: Runtime) -> None:
    def explode(ctx: object, cmd: object) -> None:
        raise RuntimeError("boom")

    registry = Registry([*all_commands(), Command("explode", ("爆",), ("", ""), explode)])
    runtime.bus = Bus(runtime.engine, registry, runtime.settings.bot.names,
                      vocabulary=runtime.vocabulary)  # fmt: skip
    ConsoleHarness(runtime).apply(DEMO_ENGAGEMENT)
    batch = [_inbound(runtime, "/工单 前", "f-1"), _inbound(runtime, "/explode", "f-2"),
             _inbound(runtime, "/工单 后", "f-3")]  # fmt: skip
    outcomes = runtime.bus.handle_batch(batch)
    assert [[r.kind for r in o.replies] for o in outcomes] == [
        ["ticket.opened"], ["error.internal"], ["ticket.opened"]
    ]
    with transaction(runtime.engine) as session:
        statuses = dict(session.execute(select(InboundKey.key, InboundKey.status)).all())
        assert statuses == {"f-1": "handled", "f-2": "failed", "f-3": "handled"}


def test_a_batch_whose_transaction_fails_is_handled_event_by_event(demo: ConsoleHarness) -> None:
    runtime = demo.runtime
    calls: list[str] = []

    def before_commit(session: Session) -> None:
        calls.append("called")
        if len(calls) == 1:
            raise RuntimeError("the batch's own step failed")

    batch = [_inbound(runtime, "/工单 一", "r-1"), _inbound(runtime, "/工单 二", "r-2")]
    outcomes = runtime.bus.handle_batch(batch, before_commit=before_commit)
    assert [[r.kind for r in o.replies] for o in outcomes] == [["ticket.opened"]] * 2
    assert calls == ["called", "called"]  # once in the batch, once after the retry
    with transaction(runtime.engine) as session:
        assert _count(session, Ticket, col(Ticket.title).in_(["一", "二"])) == 2


def _count(session: Session, model: Any, *where: Any) -> int:
    return int(session.execute(select(func.count()).select_from(model).where(*where)).scalar_one())
