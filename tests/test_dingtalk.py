"""The DingTalk channel against a fake DingTalk API on 127.0.0.1: robot callbacks signed
exactly as DingTalk does it (HMAC-SHA256 of "timestamp\\nsecret"), parsed with the SDK's own
`ChatbotMessage`, the bus and database for real, sends over HTTP to the fake's robot APIs."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import Engine

from adapters import dingtalk
from adapters.dingtalk.adapter import DingtalkAdapter
from adapters.dingtalk.client import DingtalkSender
from adapters.dingtalk.parse import parse
from adapters.dingtalk.render import render
from adapters.dingtalk.signature import sign
from app.http import create_app
from app.runtime import Runtime, build
from base.errors import NetworkError, PlatformRefused
from bot import clock
from bot.dispatcher import Dispatcher
from bot.inbox import Inbox
from bot.message import ChatType, Outgoing
from config.settings import DingtalkSettings, OutboxSettings, Settings
from storage.db import dispose_all
from tests.fakes.dingtalk_server import DIRECT_PATH, GROUP_PATH, ROBOT_TOPIC, FakeDingtalk
from tests.harness import ConsoleHarness, drain_inbox

CLIENT_ID = "dingabcdef123456"
SECRET = "ding-app-secret"
ROBOT = "dingrobot123"
BOT_ID = "$:LWCP_v1:$botbotbot"
GROUP = "cidXyz123abcDEF=="  # an open conversation id, bound to the engagement
WANG_LI = "manager4567"  # client approver (staff id)
SUN_WEI = "0123456789"  # vendor PM
ZHOU_MIN = "zhoumin01"  # customer manager
ENGAGEMENT = f"""
[engagement]
code = "DT-2026"
name = "钉钉渠道测试"
client = "甲方"
vendor = "厂商"
start = 2026-11-01
end = 2027-04-30

[[people]]
id = "wang.li"
name = "王丽"
party = "client"
roles = ["client_approver"]
[people.identities]
dingtalk = "{WANG_LI}"

[[people]]
id = "sun.wei"
name = "孙伟"
party = "vendor"
roles = ["vendor_pm", "admin"]
[people.identities]
dingtalk = "{SUN_WEI}"

[[people]]
id = "zhou.min"
name = "周敏"
party = "vendor"
roles = ["customer_manager"]
[people.identities]
dingtalk = "{ZHOU_MIN}"

[[chats]]
channel = "dingtalk"
id = "{GROUP}"
name = "钉钉测试群"
"""


# -- building callbacks as DingTalk does ---------------------------------------------------


def callback(text: str, *, msg_id: str = "msgA1b2C3==", sender: str = WANG_LI,
             group: bool = True, at_bot: bool = True, msgtype: str = "text") -> dict[str, Any]:  # fmt: skip
    """The JSON body of the outgoing robot's callback (the `ChatbotMessage` fields)."""
    now_ms = int(clock.now().timestamp() * 1000)
    body: dict[str, Any] = {
        "conversationId": GROUP if group else "cidDirectConv==", "conversationType": "2" if group else "1",
        "conversationTitle": "钉钉测试群", "chatbotCorpId": "dingcorp", "chatbotUserId": BOT_ID,
        "msgId": msg_id, "senderNick": "王丽", "isAdmin": False, "senderStaffId": sender,
        "senderId": f"$:LWCP_v1:${sender}", "senderCorpId": "dingcorp", "robotCode": ROBOT,
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=abc",
        "sessionWebhookExpiredTime": now_ms + 3_600_000, "createAt": now_ms,
        "isInAtList": at_bot, "msgtype": msgtype,
        "atUsers": [{"dingtalkId": BOT_ID}] if at_bot else [],
    }  # fmt: skip
    if msgtype == "text":
        body["text"] = {"content": text}
    else:
        body["content"] = {"downloadCode": "x"}
    return body


_callbacks = itertools.count()


def signed(*, secret: str = SECRET, age: timedelta = timedelta(0)) -> dict[str, str]:
    """The headers of a callback sent now (less `age`). Each pair is accepted once, and the
    clock stands still: each call is a millisecond earlier than the last (a test makes far
    fewer than a thousand; each test has a database of its own)."""
    earlier = timedelta(milliseconds=next(_callbacks) % 1000)
    timestamp = str(int((clock.now() - age - earlier).timestamp() * 1000))
    return {"timestamp": timestamp, "sign": sign(timestamp, secret)}


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeDingtalk]:
    server = FakeDingtalk(client_id=CLIENT_ID, client_secret=SECRET, robot_code=ROBOT).start()
    yield server
    server.stop()


@pytest.fixture
def rt(db_url: str, engine: Engine, fake: FakeDingtalk, tmp_path: Path) -> Runtime:
    section = DingtalkSettings(enabled=True, mode="http", client_id=CLIENT_ID, client_secret=SECRET,
                               robot_code=ROBOT, api_base=fake.url)  # fmt: skip
    runtime = build(Settings(db=db_url, dingtalk=section), engine)
    path = tmp_path / "dt.toml"
    path.write_text(ENGAGEMENT, encoding="utf-8")
    ConsoleHarness(runtime).apply(path)
    return runtime


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(rt, scheduler=False)  # no lifespan: the tests drain inbox and outbox
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rentian.test") as http:
        yield http
    dispose_all()  # the adapter's engine for spent signatures: without lifespan, no stop()


def dispatcher(rt: Runtime) -> Dispatcher:
    drain_inbox(rt)  # what the callbacks left in the inbox first, as the workers would
    sender = dingtalk.create(rt.settings).sender()
    return Dispatcher(rt.engine, {"dingtalk": sender}, OutboxSettings())


def rows(rt: Runtime) -> list[Any]:
    """The outbox on this channel, once the inbox's events are handled (as its workers would)."""
    drain_inbox(rt)
    return ConsoleHarness(rt).outbox(channel="dingtalk")


async def post(client: httpx.AsyncClient, body: dict[str, Any], **how: Any) -> httpx.Response:
    return await client.post("/webhooks/dingtalk", json=body, headers=signed(**how))


def content(call: Any) -> str:
    return str(json.loads(call.body["msgParam"])["content"])


# -- inbound -----------------------------------------------------------------------------


async def test_signed_group_callback_opens_a_ticket_and_the_reply_reaches_dingtalk(
    rt: Runtime, client: httpx.AsyncClient, fake: FakeDingtalk
) -> None:
    response = await post(client, callback("@Rentian /工单 P2 报表导出超时"))
    assert response.status_code == 200
    reply, to_pm_row, to_cm_row = rows(rt)  # the group; the PM and the CM hear of a P2 directly
    assert (reply.kind, reply.ref, reply.address) == ("ticket.opened", "T-1", GROUP)
    assert (to_pm_row.recipient_type, to_pm_row.address) == ("person", SUN_WEI)
    assert (to_cm_row.recipient_type, to_cm_row.address) == ("person", ZHOU_MIN)
    assert (await dispatcher(rt).drain_once()).sent == 3
    to_group, to_pm, to_cm = fake.sends
    assert to_group.path == GROUP_PATH
    assert (to_group.body["openConversationId"], to_group.body["robotCode"]) == (GROUP, ROBOT)
    assert to_group.body["msgKey"] == "sampleText" and content(to_group) == reply.text
    assert to_group.headers["x-acs-dingtalk-access-token"] == "token-1"
    assert to_pm.path == DIRECT_PATH and to_pm.body["userIds"] == [SUN_WEI]
    assert to_cm.path == DIRECT_PATH and to_cm.body["userIds"] == [ZHOU_MIN]
    assert fake.token_requests == 1  # the token is cached
    assert {row.status for row in rows(rt)} == {"sent"}


async def test_direct_message_is_answered_to_the_person(
    rt: Runtime, client: httpx.AsyncClient, fake: FakeDingtalk
) -> None:
    response = await post(client, callback("/help", sender=SUN_WEI, group=False, at_bot=False))
    assert response.status_code == 200
    (reply,) = rows(rt)
    assert (reply.recipient_type, reply.address) == ("chat", SUN_WEI)
    assert (await dispatcher(rt).drain_once()).sent == 1
    (call,) = fake.sends
    assert call.path == DIRECT_PATH and call.body["userIds"] == [SUN_WEI]


async def test_the_same_msgid_three_times_has_one_effect(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        assert (await post(client, callback("/工单 P2 报表导出超时"))).status_code == 200
    assert [(r.kind, r.recipient_type) for r in rows(rt)] == [
        ("ticket.opened", "chat"), ("ticket.opened", "person"), ("ticket.opened", "person"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ({"secret": "forged-secret"}, 401),  # signed without our secret
        ({"age": timedelta(minutes=61)}, 401),  # replayed later
        ({"age": -timedelta(minutes=61)}, 401),  # from the future
    ],
)
async def test_forged_or_stale_callbacks_are_refused(
    rt: Runtime, client: httpx.AsyncClient, how: dict[str, Any], status: int
) -> None:
    response = await post(client, callback("/工单 P2 报表导出超时"), **how)
    assert response.status_code == status
    assert rows(rt) == []


async def test_malformed_callbacks_are_refused(rt: Runtime, client: httpx.AsyncClient) -> None:
    body = callback("/工单 P2 报表导出超时")
    url = "/webhooks/dingtalk"
    assert (await client.post(url, json=body)).status_code == 400  # no signature headers
    only_ts = {"timestamp": signed()["timestamp"]}
    assert (await client.post(url, json=body, headers=only_ts)).status_code == 400
    not_a_number = {"timestamp": "yesterday", "sign": sign("yesterday", SECRET)}
    assert (await client.post(url, json=body, headers=not_a_number)).status_code == 401
    for junk in (b"not json", b"\xff\xfe", b"", b"[1, 2]"):
        response = await client.post(url, content=junk, headers=signed())
        assert response.status_code == 400
    # authentic but not a message we read: acked, no effect
    for odd in ({"msgtype": "text", "text": "not an object"}, {"hello": "world"},
                callback("", msgtype="picture")):  # fmt: skip
        assert (await client.post(url, json=odd, headers=signed())).status_code == 200
    assert rows(rt) == []


async def test_permissions_follow_the_sender_identity(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    stranger = callback("/范围 签署", msg_id="m2", sender="stranger99")
    assert (await post(client, stranger)).status_code == 200
    assert [r.kind for r in rows(rt)] == ["error.permission"]


# -- parse and sign: pure ------------------------------------------------------------------


def test_sign_matches_dingtalks_test_vector() -> None:
    expected = "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="
    assert sign("1577262236757", "this is secret") == expected


def test_parse_keeps_ids_strips_the_bot_and_ignores_what_is_not_text() -> None:
    body = callback(" /status ", msg_id="42")  # as DingTalk delivers it: the @robot removed
    body["atUsers"].append({"dingtalkId": "$:other", "staffId": SUN_WEI})
    inbound = parse(body, now=clock.now())
    assert inbound is not None
    assert (inbound.chat_id, inbound.chat_type, inbound.sender_id) == (
        GROUP,
        ChatType.GROUP,
        WANG_LI,
    )
    assert (inbound.text, inbound.event_id, inbound.message_id) == ("/status", "42", "42")
    assert inbound.sender_alt_ids == (f"$:LWCP_v1:${WANG_LI}",)
    bot, pm = inbound.mentions
    assert bot.is_bot and not pm.is_bot and pm.external_id == SUN_WEI
    assert inbound.raw["session_webhook"].startswith("https://oapi.dingtalk.com/")
    assert inbound.raw["session_webhook_expired_time"] > 0
    direct = parse(callback("/help", group=False, at_bot=False), now=clock.now())
    assert direct is not None and (direct.chat_id, direct.chat_type) == (WANG_LI, ChatType.DIRECT)
    assert direct.text == "/help"
    typed = parse(callback("@Rentian  /help", msg_id="44"), now=clock.now())
    assert typed is not None and typed.text == "/help"  # only the robot mentioned: stripped
    other = callback("@孙伟 /status", msg_id="43")  # the robot and 孙伟: 孙伟's @ stays
    other["atUsers"].append({"dingtalkId": "$:other", "staffId": SUN_WEI})
    kept = parse(other, now=clock.now())
    assert kept is not None and kept.text == "@孙伟 /status"
    assert parse(callback("", msgtype="picture"), now=clock.now()) is None
    assert parse({"atUsers": "nonsense"}, now=clock.now()) is None
    assert parse("not a dict", now=clock.now()) is None


# -- outbound ----------------------------------------------------------------------------


def outgoing(**fields: Any) -> Outgoing:
    base: dict[str, Any] = {
        "id": 1, "channel": "dingtalk", "recipient_type": "chat", "address": GROUP,
        "kind": "progress.sync", "ref": "", "text": "日报", "dedupe_key": "sync:1",
    }  # fmt: skip
    return Outgoing(**{**base, **fields})


async def test_rate_limit_is_retried_and_then_sent_once(
    rt: Runtime, client: httpx.AsyncClient, fake: FakeDingtalk
) -> None:
    await post(client, callback("/help", sender=SUN_WEI))
    fake.refuse_next(429, "Throttling.Api", "请求频率过快")
    drain = dispatcher(rt)
    first = await drain.drain_once()
    assert (first.sent, first.retried) == (0, 1)
    (row,) = rows(rt)
    assert row.status != "sent" and "请求频率过快" in (row.last_error or "")
    clock.set_now(clock.now() + timedelta(minutes=5))  # past the backoff
    assert (await drain.drain_once()).sent == 1
    limited, sent = fake.sends
    assert limited.body == sent.body and sent.body["openConversationId"] == GROUP
    assert [r.status for r in rows(rt)] == ["sent"]


async def test_refusals_4xx_final_5xx_retryable(rt: Runtime, fake: FakeDingtalk) -> None:
    sender = dingtalk.create(rt.settings).sender()
    fake.refuse_next(500, "ServiceUnavailable", "系统繁忙")
    with pytest.raises(PlatformRefused) as busy:
        await sender.send(outgoing())
    assert busy.value.retryable and "系统繁忙" in str(busy.value)
    fake.refuse_next(400, "staffId.notExisted", "员工不存在")
    with pytest.raises(PlatformRefused) as invalid:
        await sender.send(outgoing(recipient_type="person", address="nobody"))
    assert not invalid.value.retryable and invalid.value.code == "staffId.notExisted"
    assert "员工不存在" in str(invalid.value)


async def test_a_direct_message_to_a_person_goes_to_batch_send(
    rt: Runtime, fake: FakeDingtalk
) -> None:
    sender = dingtalk.create(rt.settings).sender()
    await sender.send(outgoing(recipient_type="person", address=ZHOU_MIN, text="SLA 超时"))
    (call,) = fake.sends
    assert call.path == DIRECT_PATH
    assert (call.body["userIds"], call.body["robotCode"]) == ([ZHOU_MIN], ROBOT)
    assert content(call) == "SLA 超时"


async def test_wrong_credentials_are_refused_and_unreachable_is_a_network_error(
    rt: Runtime, fake: FakeDingtalk
) -> None:
    wrong = rt.settings.dingtalk.model_copy(update={"client_secret": "wrong"})
    with pytest.raises(PlatformRefused) as refused:
        await DingtalkSender(wrong).send(outgoing())
    assert not refused.value.retryable and "clientSecret" in str(refused.value)
    gone = rt.settings.dingtalk.model_copy(update={"api_base": "http://127.0.0.1:9"})
    with pytest.raises(NetworkError):
        await DingtalkSender(gone).send(outgoing())


# -- stream mode ---------------------------------------------------------------------------


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait (bounded) for the stream thread or the fake to get somewhere."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def stream(rt: Runtime, fake: FakeDingtalk) -> AsyncIterator[DingtalkAdapter]:
    section = rt.settings.dingtalk.model_copy(update={"mode": "stream"})
    adapter = dingtalk.create(rt.settings.model_copy(update={"dingtalk": section}))

    await adapter.start(Inbox(rt.engine, rt.bus, rt.settings.intake).inlet())
    try:
        await until(lambda: fake.connected == 1)
        yield adapter
    finally:
        await adapter.stop()


async def test_stream_frame_reaches_the_bus_and_is_acked_after_the_commit(
    rt: Runtime, fake: FakeDingtalk, stream: DingtalkAdapter
) -> None:
    (opened,) = fake.gateway_requests
    assert (opened["clientId"], opened["clientSecret"]) == (CLIENT_ID, SECRET)
    assert opened["subscriptions"] == [{"type": "CALLBACK", "topic": ROBOT_TOPIC}]
    message_id = fake.push(callback("/工单 P2 报表导出超时"))
    await until(lambda: len(fake.acks) == 1)
    assert [r.kind for r in rows(rt)] == ["ticket.opened"] * 3  # committed before the ack
    (ack,) = fake.acks
    assert ack["code"] == 200 and ack["headers"]["messageId"] == message_id
    assert json.loads(ack["data"]) == {"response": "OK"}
    fake.push(callback("/工单 P2 报表导出超时"))  # DingTalk delivers it again: acked, no effect
    fake.push(callback("", msgtype="picture", msg_id="pic1"))  # not a text: acked, ignored
    await until(lambda: len(fake.acks) == 3)
    assert {a["code"] for a in fake.acks} == {200} and len(rows(rt)) == 3


async def test_stream_answers_pings_quietly_and_survives_junk_frames(
    rt: Runtime,
    fake: FakeDingtalk,
    stream: DingtalkAdapter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    fake.send_raw("not json")
    fake.send_raw('{"type": "CALLBACK", "headers": {"topic": "/unknown"}, "data": "{}"}')
    message_id = fake.ping("opaque-1")
    await until(lambda: len(fake.acks) == 1)
    (pong,) = fake.acks
    assert pong["headers"]["messageId"] == message_id and pong["code"] == 200
    assert json.loads(pong["data"]) == {"opaque": "opaque-1"}
    assert not [r for r in caplog.records if "ping" in r.getMessage()]  # no warning per ping
    fake.push(callback("/help", sender=SUN_WEI, msg_id="after-junk"))
    await until(lambda: len(fake.acks) == 2)
    assert [r.kind for r in rows(rt)] == ["help"] and fake.connected == 1


async def test_stream_messages_may_sign(
    rt: Runtime, fake: FakeDingtalk, stream: DingtalkAdapter
) -> None:
    """DingTalk authenticated the connection we opened: what comes through it may sign."""
    for number, (sender, text) in enumerate([
        (SUN_WEI, '/变更 "库存报表" 每日 8 点推送库存汇总'),
        (SUN_WEI, "/评估 CR-1 senior=3 mid=2"),
        (WANG_LI, "/签署 CR-1"),
    ], start=1):  # fmt: skip
        fake.push(callback(text, sender=sender, msg_id=f"s{number}"))
        await until(lambda: len(fake.acks) == number)  # noqa: B023 - awaited at once
    kinds = [r.kind for r in rows(rt) if r.recipient_type == "chat"]
    assert kinds == ["cr.filed", "cr.estimated", "cr.signed"]


async def test_stream_reconnects_after_the_gateway_drops_it(
    rt: Runtime, fake: FakeDingtalk, stream: DingtalkAdapter
) -> None:
    fake.drop()
    await until(lambda: len(fake.gateway_requests) == 2 and fake.connected == 1)
    fake.push(callback("/help", sender=SUN_WEI, msg_id="after-reconnect"))
    await until(lambda: len(fake.acks) == 1)
    assert [r.kind for r in rows(rt)] == ["help"]


# -- action cards ----------------------------------------------------------------------------


def clicked(url: str) -> str:
    """What the DingTalk client posts into the conversation when a card button is clicked."""
    assert url.startswith("dtmd://dingtalkclient/sendMessage?content=")
    return unquote(url.split("content=", 1)[1])


def test_decisions_render_as_action_cards_with_command_buttons() -> None:
    call = render(outgoing(kind="cr.estimated", ref="CR-1", text="合计 5 人天"), ROBOT)
    param = json.loads(call.body["msgParam"])
    assert call.body["msgKey"] == "sampleActionCard2" and call.path == GROUP_PATH
    assert param["title"] == "变更单待签署 CR-1" and "合计 5 人天" in param["text"]
    assert (param["actionTitle1"], clicked(param["actionURL1"])) == ("签署", "/签署 CR-1")
    assert (param["actionTitle2"], clicked(param["actionURL2"])) == ("驳回", "/驳回 CR-1 卡片驳回")
    english = outgoing(kind="delivery.submitted", ref="D-1", locale="en")
    param = json.loads(render(english, ROBOT).body["msgParam"])
    assert (param["actionTitle1"], clicked(param["actionURL1"])) == ("Accept", "/accept D-1")
    assert clicked(param["actionURL2"]) == "/reject D-1 rejected from the card"
    breach = outgoing(kind="sla.breach", ref="T-3", recipient_type="person", address=ZHOU_MIN)
    call = render(breach, ROBOT)
    param = json.loads(call.body["msgParam"])
    assert call.body["msgKey"] == "sampleActionCard" and call.path == DIRECT_PATH
    assert (param["singleTitle"], clicked(param["singleURL"])) == ("响应", "/响应 T-3")
    assert render(outgoing(kind="cr.estimated"), ROBOT).body["msgKey"] == "sampleText"


async def test_a_card_button_runs_its_command_as_the_person_who_clicked(
    rt: Runtime, client: httpx.AsyncClient, fake: FakeDingtalk
) -> None:
    await post(client, callback("/工单 P2 报表导出超时"))
    breach = outgoing(kind="sla.breach", ref="T-1", recipient_type="person", address=SUN_WEI)
    await dingtalk.create(rt.settings).sender().send(breach)
    (card,) = fake.sends
    assert card.path == DIRECT_PATH and card.body["msgKey"] == "sampleActionCard"
    command = clicked(json.loads(card.body["msgParam"])["singleURL"])
    await post(client, callback(command, sender=SUN_WEI, group=False, at_bot=False, msg_id="c1"))
    assert rows(rt)[-1].kind == "ticket.acked"


async def test_served_app_in_stream_mode_answers_through_the_robot_api(
    rt: Runtime, fake: FakeDingtalk, db_url: str, engine: Engine
) -> None:
    section = rt.settings.dingtalk.model_copy(update={"mode": "stream"})
    served = build(Settings(db=db_url, dingtalk=section), engine)
    app = create_app(served, scheduler=False)
    async with app.router.lifespan_context(app):  # starts the stream and the dispatcher
        await until(lambda: fake.connected == 1)
        fake.push(callback("/工单 P2 报表导出超时"))
        await until(lambda: len(fake.sends) == 3)  # the group, the PM and the CM
        groups = [c.body["openConversationId"] for c in fake.sends if c.path == GROUP_PATH]
        people = sorted(c.body["userIds"][0] for c in fake.sends if c.path == DIRECT_PATH)
        assert (groups, people) == ([GROUP], sorted([SUN_WEI, ZHOU_MIN]))
        assert fake.acks[0]["code"] == 200
    assert "dingtalk-stream" not in {t.name for t in threading.enumerate()}  # stopped cleanly
