"""Sends whose outcome is unknown: a sender killed during a send leaves its row `sending`;
once the lease has run out, a channel whose sends are idempotent (Feishu's `uuid`) sends it
again, any other marks it `unknown`, never resent until an operator requeues it.

The platforms are the fakes under tests/fakes (and an aiosmtpd server), the SDKs, the
dispatcher and the database are real; the kill is `Killed`, raised right after the platform
took the message, which nothing of ours catches — as nothing of ours runs after a SIGKILL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from adapters import feishu, wecom
from adapters.dingtalk.client import DingtalkSender
from adapters.email.client import EmailSender
from app.cli import main
from bot import clock
from bot.channels import IDEMPOTENT_SENDS, Sender
from bot.dispatcher import Dispatcher, DrainResult
from bot.message import Outgoing
from config.settings import (
    DingtalkSettings,
    EmailSettings,
    FeishuSettings,
    OutboxSettings,
    Settings,
    WecomSettings,
)
from storage import outbox
from storage.db import transaction
from storage.models import OutboxMessage
from tests.fakes.dingtalk_server import FakeDingtalk
from tests.fakes.feishu_server import FakeFeishu
from tests.fakes.mailservers import free_port
from tests.fakes.wecom_server import FakeWecom

SETTINGS = OutboxSettings()
LEASE = timedelta(seconds=SETTINGS.lease_seconds)


class Killed(BaseException):
    """The process dies here: not an `Exception`, so no handler of ours runs after it."""


class KilledAfterSending:
    """The channel's real sender, in a process killed as soon as the platform took the
    message: before the dispatcher could record that it was sent."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    async def send(self, message: Outgoing) -> None:
        await self.sender.send(message)
        raise Killed


@dataclass
class Platform:
    """One channel against its fake: where to send, and what the fake received."""

    channel: str
    address: str
    sender: Sender
    received: Callable[[], list[Any]]


class _Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(bytes(envelope.content))
        return "250 OK"


@pytest.fixture(params=["dingtalk", "wecom", "email"])
def platform(request: pytest.FixtureRequest) -> Iterator[Platform]:
    """A channel whose sends carry no idempotency key."""
    if request.param == "dingtalk":
        fake = FakeDingtalk(client_id="ding-app", client_secret="dingSecret1",
                            robot_code="ding-robot").start()  # fmt: skip
        section = DingtalkSettings(enabled=True, mode="http", client_id="ding-app",
                                   client_secret="dingSecret1", robot_code="ding-robot",
                                   api_base=fake.url)  # fmt: skip
        yield Platform("dingtalk", "user1", DingtalkSender(section), lambda: fake.sends)
        fake.stop()
    elif request.param == "wecom":
        fake = FakeWecom(corp_id="ww_unknown", secret="wecomSecret1").start()
        wecom_section = WecomSettings(
            enabled=True, corp_id="ww_unknown", agent_id=1000002, secret="wecomSecret1",
            token="wecomToken1", encoding_aes_key="a" * 43, api_base=fake.url,
        )  # fmt: skip
        sender = wecom.create(Settings(wecom=wecom_section)).sender()
        yield Platform("wecom", "SunWei", sender, lambda: fake.sends)
        fake.stop()
    else:
        inbox = _Inbox()
        smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
        smtp.start()
        email_section = EmailSettings(enabled=True, address="support@vendor.example",
                                      smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls=False)  # fmt: skip
        yield Platform("email", "client@client.example", EmailSender(email_section),
                       lambda: inbox.messages)  # fmt: skip
        smtp.stop()


def enqueue(engine: Engine, channel: str, address: str = "someone") -> int:
    with transaction(engine) as session:
        row_id = outbox.enqueue(
            session, now=clock.now(), channel=channel, recipient_type="person",
            recipient=address, address=address, kind="cr.estimated", ref="CR-1",
            text="CR-1 待签署",
        )  # fmt: skip
    assert row_id is not None
    return row_id


def row(engine: Engine, row_id: int) -> OutboxMessage:
    with transaction(engine) as session:
        found = session.get(OutboxMessage, row_id)
    assert found is not None
    return found


def pending(engine: Engine) -> int:
    with transaction(engine) as session:
        return outbox.count_pending(session)


def rentian(*args: str) -> int:
    """`rentian …` in this process, at the test's fixed time (main returns to the real clock)."""
    now = clock.now()
    try:
        return main(["--now", now.isoformat(), *args])
    finally:
        clock.set_now(now)


async def test_a_kill_during_a_send_leaves_the_outcome_unknown_and_it_is_not_resent(
    platform: Platform, engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    row_id = enqueue(engine, platform.channel, platform.address)
    with pytest.raises(Killed):
        await Dispatcher(engine, {platform.channel: KilledAfterSending(platform.sender)},
                         SETTINGS).drain_once()  # fmt: skip
    assert len(platform.received()) == 1 and row(engine, row_id).status == "sending"

    restarted = Dispatcher(engine, {platform.channel: platform.sender}, SETTINGS)
    assert await restarted.drain_once() == DrainResult()  # still within the lease
    clock.advance(LEASE)
    assert await restarted.drain_once() == DrainResult()
    clock.advance(timedelta(days=1))
    assert await restarted.drain_once() == DrainResult()
    assert len(platform.received()) == 1  # never sent twice by itself
    unknown = row(engine, row_id)
    assert (unknown.status, unknown.attempts) == ("unknown", 1)
    assert "outcome unknown" in unknown.last_error and "--requeue" in unknown.last_error

    assert rentian("--db", db_url, "outbox", "--status", "unknown") == 0
    listed = capsys.readouterr().out
    assert f"{row_id:>5} unknown" in listed and "cr.estimated" in listed
    assert rentian("--db", db_url, "outbox", "--requeue", str(row_id)) == 0
    assert "requeued" in capsys.readouterr().out
    assert (await restarted.drain_once()).sent == 1  # the operator said so: sent again
    assert len(platform.received()) == 2 and row(engine, row_id).status == "sent"


async def test_a_kill_during_a_feishu_send_resends_with_the_same_uuid(engine: Engine) -> None:
    fake = FakeFeishu(app_id=f"cli_{uuid.uuid4().hex[:12]}", app_secret="feishuSecret1").start()
    try:
        section = FeishuSettings(enabled=True, app_id=fake.app_id, app_secret="feishuSecret1",
                                 encrypt_key="ek1", verification_token="vt1", domain=fake.url)  # fmt: skip
        sender = feishu.create(Settings(feishu=section)).sender()
        row_id = enqueue(engine, "feishu", "ou_sunwei")
        with pytest.raises(Killed):
            await Dispatcher(engine, {"feishu": KilledAfterSending(sender)}, SETTINGS).drain_once()
        clock.advance(LEASE)
        assert (await Dispatcher(engine, {"feishu": sender}, SETTINGS).drain_once()).sent == 1
    finally:
        fake.stop()
    first, again = fake.sends
    assert first.body["uuid"] == again.body["uuid"] == f"outbox-{row_id}"  # Feishu drops it
    assert (row(engine, row_id).status, row(engine, row_id).attempts) == ("sent", 2)


def test_a_send_left_in_flight_is_resent_only_where_sends_are_idempotent(engine: Engine) -> None:
    """The storage API alone: claim, mark in flight, never settle; claim again later."""
    ids = {
        channel: enqueue(engine, channel) for channel in ("dingtalk", "wecom", "email", "feishu")
    }
    channels = list(ids)
    claimed = outbox.claim(engine, channels, clock.now(), LEASE, 10)
    assert {r.channel for r in claimed} == set(channels)
    for claim in claimed:
        assert outbox.begin(engine, claim, clock.now(), LEASE)  # the process dies mid-send
    assert pending(engine) == 4  # in flight: not delivered yet
    assert (
        outbox.claim(engine, channels, clock.now() + LEASE / 2, LEASE, 10, IDEMPOTENT_SENDS) == []
    )
    clock.advance(LEASE)
    (again,) = outbox.claim(engine, channels, clock.now(), LEASE, 10, IDEMPOTENT_SENDS)
    assert (again.id, again.attempts) == (ids["feishu"], 2)
    assert {c: row(engine, i).status for c, i in ids.items()} == {
        "dingtalk": "unknown", "wecom": "unknown", "email": "unknown", "feishu": "pending",
    }  # fmt: skip
    assert pending(engine) == 1
    with transaction(engine) as session:
        assert {r.id for r in outbox.listing(session, "unknown")} == {
            ids["dingtalk"],
            ids["wecom"],
            ids["email"],
        }


def test_a_claim_that_waited_past_its_lease_is_not_sent_by_two(engine: Engine) -> None:
    """A batch so slow that a row's lease ran out before its send began: another dispatcher
    claimed it meanwhile, so the first one leaves it alone."""
    row_id = enqueue(engine, "wecom")
    (first,) = outbox.claim(engine, ["wecom"], clock.now(), LEASE, 10)
    clock.advance(LEASE)
    (second,) = outbox.claim(engine, ["wecom"], clock.now(), LEASE, 10, IDEMPOTENT_SENDS)
    assert outbox.begin(engine, second, clock.now(), LEASE)
    assert not outbox.begin(engine, first, clock.now(), LEASE)
    outbox.mark_sent(engine, row_id, clock.now())
    assert row(engine, row_id).status == "sent"


def test_a_late_answer_settles_an_unknown_row(engine: Engine) -> None:
    """A sender declared dead was only slow: what it learns settles the row after all."""
    sent_id, refused_id = enqueue(engine, "wecom"), enqueue(engine, "wecom")
    for claim in outbox.claim(engine, ["wecom"], clock.now(), LEASE, 10):
        assert outbox.begin(engine, claim, clock.now(), LEASE)
    clock.advance(LEASE)
    assert outbox.claim(engine, ["wecom"], clock.now(), LEASE, 10) == []
    outbox.mark_sent(engine, sent_id, clock.now())
    outbox.mark_retry(engine, refused_id, "wecom 81013: user invalid", None)
    assert row(engine, sent_id).status == "sent"
    assert (row(engine, refused_id).status, row(engine, refused_id).last_error) == (
        "failed", "wecom 81013: user invalid",
    )  # fmt: skip


def test_requeue_takes_unknown_and_failed_rows_only(
    engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    failed_id, sent_id = enqueue(engine, "wecom"), enqueue(engine, "wecom")
    for claim in outbox.claim(engine, ["wecom"], clock.now(), LEASE, 10):
        outbox.begin(engine, claim, clock.now(), LEASE)
    outbox.mark_retry(engine, failed_id, "wecom 81013: user invalid", None)
    outbox.mark_sent(engine, sent_id, clock.now())
    assert rentian("--db", db_url, "outbox", "--requeue", str(failed_id)) == 0
    requeued = row(engine, failed_id)
    assert (requeued.status, requeued.attempts) == ("pending", 0)
    assert clock.as_utc(requeued.next_attempt_at) == clock.now()
    assert rentian("--db", db_url, "outbox", "--requeue", str(sent_id)) == 1
    assert "is sent" in capsys.readouterr().err
    assert row(engine, sent_id).status == "sent"
    assert rentian("--db", db_url, "outbox", "--requeue", "999") == 2
    assert "no outbox message 999" in capsys.readouterr().err
