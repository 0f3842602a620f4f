"""Three real `rentian serve` processes on one PostgreSQL database, no balancer: a burst of
encrypted Feishu `/工单` callbacks sent to each in turn, one instance `kill -9`ed mid-burst
(the scheduler's leader, or not), failed posts and some redeliveries sent to another instance
as Feishu would. Every event becomes one ticket, numbers without gaps, each reply queued and
sent once, the scheduled posts once, and the scheduler taken over within 30 s."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from benchmarks.serving import (
    CHAT,
    Callback,
    Cluster,
    Instance,
    base_env,
    feishu_settings,
    inbox_waiting,
    prepare_database,
    scheduler_holder,
    ticket_callbacks,
)
from bot.clock import parse_instant
from storage.db import make_engine, transaction
from storage.models import InboundKey, OutboxMessage, Ticket
from tests.conftest import PG_URL, empty_pg_database

if TYPE_CHECKING:  # the fake loads the lark SDK, which leaves an event loop behind at import
    from tests.fakes.feishu_server import FakeFeishu

pytestmark = pytest.mark.skipif(
    not PG_URL,
    reason="PostgreSQL suite: set RENTIAN_TEST_PG_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)",
)

# After the daily sync (17:30) and the morning digest, before the log reminder (18:30): the
# first leader posts the sync in both bound chats and the digest, once.
NOW = "2026-11-25T17:45:00+08:00"
EVENTS = 60
KILL_AFTER = 25  # events taken before the kill
SENDERS = 8  # concurrent posts: some are in flight to the victim when it dies
BATCH = 5  # the outbox claim: a killed instance strands at most this many rows (fixed clock)
DEADLINE = 45.0  # seconds, for any end state to be reached
TAKEOVER = 30.0


@dataclass
class Setup:
    cluster: Cluster
    engine: Engine
    fake: FakeFeishu
    now: datetime


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    from tests.fakes.feishu_server import FakeFeishu

    with empty_pg_database("rentian_scale") as db:
        fake = FakeFeishu(app_id=f"cli_{uuid.uuid4().hex[:12]}", app_secret="s3cret").start()
        engine = make_engine(db)
        cluster = Cluster(tmp_path)
        try:
            env = base_env(db, NOW, SCHEDULER__LEADER_POLL_SECONDS="1", OUTBOX__BATCH=str(BATCH),
                           **feishu_settings(fake.app_id, fake.app_secret, fake.url))  # fmt: skip
            prepare_database(env, tmp_path)
            for n in range(3):
                cluster.start(f"rentian-{n}", env)
            cluster.wait_healthy()
            yield Setup(cluster, engine, fake, parse_instant(NOW))
        finally:
            cluster.close()
            engine.dispose()
            fake.stop()


def deliver(setup: Setup, callback: Callback, first: int) -> int:
    """POST until an instance answers 200, from instance `first` on, as Feishu retries; the
    index of the instance that took it."""
    instances = setup.cluster.instances
    for attempt in range(3 * len(instances)):
        index = (first + attempt) % len(instances)
        if not instances[index].alive:
            continue
        headers, body = callback.signed(setup.now)
        try:
            response = httpx.post(instances[index].url + "/webhooks/feishu", content=body,
                                  headers=headers, timeout=30)  # fmt: skip
        except httpx.TransportError:
            continue  # refused or reset: the instance died
        if response.status_code == 200:
            return index
    raise AssertionError(f"{callback.event_id}: no instance took it\n{setup.cluster.logs()}")


@dataclass
class Burst:
    callbacks: list[Callback]
    killed_at: float  # time.monotonic()
    new_leader: str | None = None  # the first other holder of the scheduler lock seen
    seen_after: float = 0.0  # seconds after the kill

    def watch(self, engine: Engine, dead: Instance) -> None:
        if self.new_leader is None:
            holder = scheduler_holder(engine)
            if holder not in (None, dead.name):
                self.new_leader, self.seen_after = holder, time.monotonic() - self.killed_at


def burst(setup: Setup, victim: Instance) -> Burst:
    """Send every event round-robin from SENDERS threads, `kill -9` the victim once KILL_AFTER
    of them are taken (others in flight), then redeliver every fifth event to another
    instance; meanwhile watch who holds the scheduler lock."""
    callbacks = ticket_callbacks(EVENTS)
    with ThreadPoolExecutor(SENDERS) as pool:
        sent = [pool.submit(deliver, setup, c, n) for n, c in enumerate(callbacks)]
        for done, _ in enumerate(as_completed(sent), start=1):
            if done == KILL_AFTER:
                break
        victim.kill()
        run = Burst(callbacks, time.monotonic())
        resent = [  # to the instance after the one it went to first
            pool.submit(deliver, setup, c, n + 1) for n, c in enumerate(callbacks) if not n % 5
        ]
        waiting = set(sent + resent)
        while waiting:
            finished, waiting = wait(waiting, timeout=0.2)
            for future in finished:
                future.result()  # an event no instance took fails the test here
            run.watch(setup.engine, victim)
    return run


def leader(setup: Setup) -> Instance:
    deadline = time.monotonic() + DEADLINE
    while (name := scheduler_holder(setup.engine)) is None:
        assert time.monotonic() < deadline, f"no instance leads\n{setup.cluster.logs()}"
        time.sleep(0.2)
    return next(i for i in setup.cluster.instances if i.name == name)


def wait_for_takeover(setup: Setup, run: Burst, dead: Instance) -> None:
    while run.new_leader is None and time.monotonic() - run.killed_at < TAKEOVER:
        time.sleep(0.2)
        run.watch(setup.engine, dead)
    assert run.new_leader is not None and run.seen_after < TAKEOVER, (
        f"no instance took over the scheduler within {TAKEOVER} s\n{setup.cluster.logs()}"
    )


def settled(setup: Setup, callbacks: list[Callback]) -> str:
    """What is still missing from the end state ("" once reached)."""
    with transaction(setup.engine) as session:
        tickets = session.execute(select(col(Ticket.number), col(Ticket.title))).all()
        keys = session.execute(select(col(InboundKey.key))).scalars().all()
        replies = session.execute(
            select(OutboxMessage).where(col(OutboxMessage.kind) == "ticket.opened",
                                        col(OutboxMessage.address) == CHAT)
        ).scalars().all()  # fmt: skip
    waiting = inbox_waiting(setup.engine)
    if waiting:
        return f"{waiting} events still in the inbox"
    if len(tickets) < len(callbacks) or len(keys) < len(callbacks):
        return f"{len(tickets)} tickets and {len(keys)} inbound keys of {len(callbacks)}"
    unclaimed = [r.id for r in replies if r.status != "sent" and r.attempts == 0]
    if len(replies) < len(callbacks) or unclaimed:
        return f"{len(replies)} replies queued; not yet claimed: {unclaimed}"
    sent_rows = sum(r.status == "sent" for r in replies)
    if len(reply_sends(setup)) < sent_rows:
        return "a reply marked sent has not reached the fake yet"
    return ""


def reply_sends(setup: Setup) -> Counter[str]:
    """Replies the fake received, by the message they answer."""
    return Counter(
        send.path.split("/")[-2] for send in list(setup.fake.sends) if send.path.endswith("/reply")
    )


def check_end_state(setup: Setup, callbacks: list[Callback]) -> None:
    deadline, missing = time.monotonic() + DEADLINE, "not checked"
    while missing and time.monotonic() < deadline:
        missing = settled(setup, callbacks)
        time.sleep(0.2)
    assert not missing, f"{missing}\n{setup.cluster.logs()}"
    with transaction(setup.engine) as session:
        tickets = session.execute(select(col(Ticket.number), col(Ticket.title))).all()
        keys = Counter(session.execute(select(col(InboundKey.key))).scalars())
        rows = session.execute(select(OutboxMessage)).scalars().all()
        for row in rows:
            session.expunge(row)
    per_event = Counter(title for _, title in tickets)
    assert {c.title: per_event[c.title] for c in callbacks} == {c.title: 1 for c in callbacks}
    assert sorted(number for number, _ in tickets) == list(range(1, len(callbacks) + 1))
    assert all(keys[c.event_id] == 1 for c in callbacks) and len(keys) == len(callbacks)

    replies = [r for r in rows if r.kind == "ticket.opened" and r.address == CHAT]
    assert Counter(r.reply_to for r in replies) == Counter(c.message_id for c in callbacks)
    received = reply_sends(setup)
    assert max(received.values()) == 1, f"a reply reached Feishu twice: {received.most_common(3)}"
    stranded = [r for r in replies if r.status != "sent"]
    # A row the killed instance had claimed (or was sending) keeps its lease, and the fixed
    # clock never lets a lease run out: with a moving clock it is sent again after
    # outbox.lease_seconds (Feishu sends are idempotent), or waits as `unknown` for a requeue.
    assert all(r.status in ("pending", "sending") and r.attempts >= 1 for r in stranded), (
        "a reply not sent must be one the killed instance had claimed or was sending (leased; "
        f"sent again when the lease runs out, or `unknown` and requeueable): {stranded}"
    )
    assert len(stranded) <= BATCH, f"more replies stranded than one claim holds: {stranded}"
    assert all(received[r.reply_to] == 1 for r in replies if r.status == "sent")

    scheduled = Counter(
        (r.kind, r.channel, r.address) for r in rows if r.kind.startswith("progress.")
    )
    assert scheduled == {
        ("progress.sync", "console", "demo-group"): 1, ("progress.sync", "feishu", CHAT): 1,
        ("progress.digest", "console", "zhoumin"): 1,
    }, scheduled  # fmt: skip
    syncs = [s for s in setup.fake.sends if s.body.get("receive_id") == CHAT]
    assert len(syncs) <= 1


@pytest.mark.parametrize("victim", ["leader", "standby"])
def test_three_instances_lose_nothing_when_one_is_killed(setup: Setup, victim: str) -> None:
    leading = leader(setup)
    target = leading if victim == "leader" else next(
        i for i in setup.cluster.instances if i is not leading
    )  # fmt: skip
    run = burst(setup, target)
    if target is leading:
        wait_for_takeover(setup, run, target)
    else:
        assert scheduler_holder(setup.engine) == leading.name
    check_end_state(setup, run.callbacks)
    assert not target.alive and all(i.alive for i in setup.cluster.instances if i is not target)
