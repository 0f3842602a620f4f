"""The hot path: statements per message for `/工单`, `/报工` and plain chat (upper bounds, so a
regression shows), and the directory cache (`bot.directory`) seeing every change at once —
made by `rentian engagement apply` in another process, by `/绑定`, or by any flush."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlmodel import Session, col

from bot.directory import Directory, generation
from config.settings import DEMO_ENGAGEMENT
from storage.db import is_postgres, transaction
from storage.models import Engagement, InboundKey
from tests.harness import ConsoleHarness

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-25T10:00:00+08:00"

# What each path needs on SQLite, BEGIN included (the commit is no statement). `/工单`: the
# event's key, the directory's generation, savepoint, number, ticket, history line, the audit
# chain's head and entry, the reply, release. Raise a bound only for a reason.
TICKET_STATEMENTS = 11
WORKLOG_STATEMENTS = 17
CHAT_STATEMENTS = 2  # a message that is no command: BEGIN, its key (invariant 2)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_c: object, _cur: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_statements_per_message_on_the_hot_paths(demo: ConsoleHarness) -> None:
    engine = demo.runtime.engine
    if is_postgres(engine):
        pytest.skip("the bounds are SQLite's (PostgreSQL adds the audit chain's lock)")
    demo.one("liuyang", "/工单 P3 预热")  # a sender's first message fills the directory
    demo.one("zhaogang", "/工单列表")
    with statements(engine) as ticket:
        assert demo.one("liuyang", "/工单 P3 报表导出超时").kind == "ticket.opened"
    with statements(engine) as worklog:
        assert demo.one("zhaogang", "/报工 4h T-1 排查").kind == "worklog.logged"
    with statements(engine) as chat:
        assert demo.say("liuyang", "大家好，下午三点开会") == []
    assert len(ticket) <= TICKET_STATEMENTS, "\n".join(ticket)
    assert len(worklog) <= WORKLOG_STATEMENTS, "\n".join(worklog)
    assert len(chat) <= CHAT_STATEMENTS, "\n".join(chat)


def test_plain_chat_is_recorded_and_nothing_more(demo: ConsoleHarness) -> None:
    assert demo.send("liuyang", "今天的报表好像有点慢", event_id="chat-1").replies == []
    assert demo.send("liuyang", "今天的报表好像有点慢", event_id="chat-1").duplicate
    with transaction(demo.runtime.engine) as session:
        keys = session.execute(select(col(InboundKey.key))).scalars().all()
    assert keys == ["chat-1"]


def _apply_in_another_process(db_url: str, path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RENTIAN_NOW": NOW}
    done = subprocess.run(
        [sys.executable, "-m", "app", "--db", db_url, "engagement", "apply", str(path)],
        text=True, capture_output=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_an_engagement_applied_by_another_process_is_used_by_the_next_message(
    demo: ConsoleHarness, db_url: str, tmp_path: Path
) -> None:
    assert demo.one("liuyang", "/工单列表").kind == "tickets.list"  # cached as a client member
    assert demo.one("newbie", "/工单列表").kind == "error.permission"  # unknown, cached so
    source = DEMO_ENGAGEMENT.read_text(encoding="utf-8")
    changed = source.replace('console = "liuyang"\n', 'console = "liuyang2"\n').replace(
        '[[people]]\nid = "wang.li"',
        '[[people]]\nid = "new.bie"\nname = "新人"\nparty = "client"\n'
        'roles = ["client_member"]\n[people.identities]\nconsole = "newbie"\n\n'
        '[[people]]\nid = "wang.li"',
    )
    assert changed.count("newbie") == 1 and "liuyang2" in changed
    path = tmp_path / "engagement.toml"
    path.write_text(changed, encoding="utf-8")
    _apply_in_another_process(db_url, path)

    assert demo.one("newbie", "/工单列表").kind == "tickets.list"  # added: known at once
    assert demo.one("liuyang2", "/工单列表").kind == "tickets.list"  # the identity moved
    refused = demo.one("liuyang", "/工单列表")  # now an unregistered reporter here
    assert refused.kind == "error.permission" and "/工单" in refused.text

    path.write_text(changed.replace('id = "demo-group"', 'id = "moved-group"'), encoding="utf-8")
    _apply_in_another_process(db_url, path)
    assert "没有绑定项目" in demo.one("newbie", "/工单列表").text  # the chat was unbound
    assert demo.one("newbie", "/工单列表", chat="moved-group").kind == "tickets.list"


def test_a_chat_bound_by_command_is_used_at_once(demo: ConsoleHarness) -> None:
    assert "没有绑定项目" in demo.one("liuyang", "/工单 P3 新群", chat="ops-group").text
    assert demo.one("sunwei", "/绑定 DEMO-2026", chat="ops-group").kind == "chat.bound"
    assert demo.one("liuyang", "/工单 P3 新群", chat="ops-group").kind == "ticket.opened"


def test_a_row_changed_through_any_session_bumps_its_generation(demo: ConsoleHarness) -> None:
    demo.one("liuyang", "/工单 P3 x")
    with transaction(demo.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalar_one()
        before = generation(session, engagement.id or 0)
        engagement.daily_cap_minutes = 600
    with transaction(demo.runtime.engine) as session:
        assert generation(session, engagement.id or 0) == before + 1
    demo.one("liuyang", "/工单 P3 y")
    with Session(demo.runtime.engine) as session:  # the bus read it anew, not a stale copy
        assert session.execute(select(func.max(Engagement.daily_cap_minutes))).scalar() == 600


def test_cached_values_are_each_sessions_own(demo: ConsoleHarness) -> None:
    directory = Directory()
    engine = demo.runtime.engine
    with transaction(engine) as first:
        engagement_id = first.execute(select(col(Engagement.id))).scalar_one()
        one = directory.engagement(first, engagement_id)  # read, then cached
    with statements(engine) as seen, transaction(engine) as second:
        two = directory.engagement(second, engagement_id)  # from the cache
        assert one is not None and two is not None and one is not two
        assert two in second and two.code == one.code
        two.services.append("made-up")  # a JSON list: each session has its own copy
        assert "made-up" not in one.services
    assert not any("FROM engagement" in statement for statement in seen)
    with transaction(engine) as third:
        three = directory.engagement(third, engagement_id)
        assert three is not None and "made-up" not in three.services
