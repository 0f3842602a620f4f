"""The outbox and the dispatcher: retries with backoff, `failed` after the maximum, and no
message lost when the process stops between commit and send.

The platform is stood in for by `FlakyPlatform`, a channel sender that fails on demand;
everything of ours (bus, outbox, dispatcher, database) is real.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.cli import main
from base.errors import NetworkError, PlatformRefused
from bot import clock
from bot.dispatcher import Dispatcher, backoff
from bot.message import Outgoing
from config.settings import OutboxSettings
from storage import outbox
from storage.db import transaction
from tests.harness import ConsoleHarness


class FlakyPlatform:
    """A channel that fails the first `failures` sends, then accepts; records what arrived."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or NetworkError("connection reset by peer")
        self.received: list[Outgoing] = []
        self.calls = 0

    async def send(self, message: Outgoing) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        self.received.append(message)


def _enqueue(harness: ConsoleHarness, channel: str = "feishu", key: str | None = None) -> int:
    with transaction(harness.runtime.engine) as session:
        row_id = outbox.enqueue(
            session,
            now=clock.now(),
            channel=channel,
            recipient_type="chat",
            recipient="oc_1",
            address="oc_1",
            kind="sla.breach",
            ref="T-1",
            text="T-1 已超时",
            dedupe_key=key,
        )
    assert row_id is not None
    return row_id


SETTINGS = OutboxSettings(max_attempts=4, backoff_seconds=10, backoff_max_seconds=25)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n, SETTINGS).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 25, 25]


def test_failed_send_is_retried_with_backoff_then_marked_failed(
    demo: ConsoleHarness, db_url, capsys
) -> None:
    row_id = _enqueue(demo)
    platform = FlakyPlatform(failures=99)
    dispatcher = Dispatcher(demo.runtime.engine, {"feishu": platform}, SETTINGS)
    expected_waits = [10, 20, 25]
    for wait in expected_waits:
        result = asyncio.run(dispatcher.drain_once())
        assert result.retried == 1
        assert asyncio.run(dispatcher.drain_once()).retried == 0  # not due yet
        clock.advance(timedelta(seconds=wait - 1))
        assert asyncio.run(dispatcher.drain_once()).retried == 0
        clock.advance(timedelta(seconds=1))
    assert asyncio.run(dispatcher.drain_once()).failed == 1
    (row,) = demo.outbox(id=row_id)
    assert row.status == "failed" and row.attempts == 4 and "connection reset" in row.last_error
    clock.advance(timedelta(days=1))
    assert asyncio.run(dispatcher.drain_once()).sent == 0  # failed rows stay failed
    assert main(["--db", db_url, "outbox", "--status", "failed"]) == 0
    assert "sla.breach" in capsys.readouterr().out


def test_retry_then_success_sends_once(demo: ConsoleHarness) -> None:
    row_id = _enqueue(demo)
    platform = FlakyPlatform(failures=1)
    dispatcher = Dispatcher(demo.runtime.engine, {"feishu": platform}, SETTINGS)
    asyncio.run(dispatcher.drain_once())
    clock.advance(timedelta(seconds=10))
    assert asyncio.run(dispatcher.drain_once()).sent == 1
    assert asyncio.run(dispatcher.drain_once()).sent == 0
    assert [m.id for m in platform.received] == [row_id]
    (row,) = demo.outbox(id=row_id)
    assert row.status == "sent" and row.attempts == 2 and row.last_error == ""


def test_refusal_that_cannot_succeed_fails_at_once(demo: ConsoleHarness) -> None:
    row_id = _enqueue(demo)
    platform = FlakyPlatform(failures=1, error=PlatformRefused("bot not in chat", code="230002"))
    asyncio.run(Dispatcher(demo.runtime.engine, {"feishu": platform}, SETTINGS).drain_once())
    (row,) = demo.outbox(id=row_id)
    assert row.status == "failed" and row.attempts == 1 and "bot not in chat" in row.last_error


def test_stopped_after_commit_before_send_sends_after_restart(demo: ConsoleHarness) -> None:
    """A first process commits and dies; a second one, started later, sends the message."""
    row_id = _enqueue(demo)
    first = Dispatcher(demo.runtime.engine, {}, SETTINGS)  # nothing sent: no senders yet
    asyncio.run(first.drain_once())
    platform = FlakyPlatform()
    restarted = Dispatcher(demo.runtime.engine, {"feishu": platform}, SETTINGS)
    assert asyncio.run(restarted.drain_once()).sent == 1
    assert [m.id for m in platform.received] == [row_id]


def test_claimed_but_unconfirmed_row_is_sent_again_after_the_lease(demo: ConsoleHarness) -> None:
    """A process that claimed a row and died mid-send: the lease runs out, another sends it."""
    row_id = _enqueue(demo)
    lease = timedelta(seconds=SETTINGS.lease_seconds)
    (claimed,) = outbox.claim(demo.runtime.engine, ["feishu"], clock.now(), lease, 10)
    assert claimed.id == row_id
    platform = FlakyPlatform()
    dispatcher = Dispatcher(demo.runtime.engine, {"feishu": platform}, SETTINGS)
    assert asyncio.run(dispatcher.drain_once()).sent == 0  # still leased
    clock.advance(lease)
    assert asyncio.run(dispatcher.drain_once()).sent == 1
    assert platform.received[0].dedupe_key == f"outbox-{row_id}"  # same id both times


def test_dedupe_key_makes_a_notification_once(demo: ConsoleHarness) -> None:
    _enqueue(demo, key="sla:T-1:resolve:breach")
    with transaction(demo.runtime.engine) as session:
        again = outbox.enqueue(
            session,
            now=clock.now(),
            channel="feishu",
            recipient_type="chat",
            recipient="oc_1",
            address="oc_1",
            kind="sla.breach",
            text="again",
            dedupe_key="sla:T-1:resolve:breach",
        )
    assert again is None
    assert len(demo.outbox(kind="sla.breach")) == 1


def test_run_loop_wakes_on_commit_and_stops_cleanly(demo: ConsoleHarness) -> None:
    platform = FlakyPlatform()
    dispatcher = Dispatcher(demo.runtime.engine, {"feishu": platform}, SETTINGS)

    async def scenario() -> None:
        task = asyncio.create_task(dispatcher.run(poll_seconds=30))
        await asyncio.sleep(0)
        _enqueue(demo)
        dispatcher.wake()
        for _ in range(200):
            if platform.received:
                break
            await asyncio.sleep(0.01)
        dispatcher.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert len(platform.received) == 1
