"""The Feishu channel against a fake Feishu on 127.0.0.1: callbacks built exactly as Feishu
builds them (AES-encrypted, signed), the bus and database for real, sends through the SDK."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from Crypto.Cipher import AES
from sqlalchemy import Engine

from adapters import feishu
from adapters.feishu.parse import parse
from adapters.feishu.render import render
from app.http import create_app
from app.runtime import Runtime, build
from bot import clock
from bot.dispatcher import Dispatcher
from bot.inbox import Inbox
from bot.message import ChatType, Mention, Outgoing
from config.settings import FeishuSettings, OutboxSettings, Settings
from tests.fakes.feishu_server import FakeFeishu
from tests.harness import ConsoleHarness, drain_inbox

ENCRYPT_KEY = "test-encrypt-key"
TOKEN = "test-verification-token"
GROUP = "oc_group_fs"
WANG_LI = "ou_wangli"  # client approver
SUN_WEI = "ou_sunwei"  # vendor PM
ZHAO_GANG = "ou_zhaogang"  # engineer
ENGAGEMENT = f"""
[engagement]
code = "FS-2026"
name = "飞书渠道测试"
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
feishu = "{WANG_LI}"

[[people]]
id = "sun.wei"
name = "孙伟"
party = "vendor"
roles = ["vendor_pm", "admin"]
[people.identities]
feishu = "{SUN_WEI}"

[[people]]
id = "zhao.gang"
name = "赵刚"
party = "vendor"
roles = ["engineer"]
level = "senior"
[people.identities]
feishu = "{ZHAO_GANG}"

[[chats]]
channel = "feishu"
id = "{GROUP}"
name = "飞书测试群"
"""


# -- building callbacks as Feishu does ---------------------------------------------------


def encrypt(plaintext: bytes, key: str = ENCRYPT_KEY) -> str:
    """AES-256-CBC, key sha256(encrypt_key), random IV in front, PKCS7, base64."""
    iv = os.urandom(16)
    pad = 16 - len(plaintext) % 16
    cipher = AES.new(hashlib.sha256(key.encode()).digest(), AES.MODE_CBC, iv)
    return base64.b64encode(iv + cipher.encrypt(plaintext + bytes([pad]) * pad)).decode()


def signed(event: dict[str, Any], *, key: str = ENCRYPT_KEY, age: timedelta = timedelta(0),
           sign_key: str | None = None) -> tuple[dict[str, str], bytes]:  # fmt: skip
    body = json.dumps({"encrypt": encrypt(json.dumps(event).encode(), key)}).encode()
    timestamp = str(int((clock.now() - age).timestamp()))
    nonce = uuid.uuid4().hex[:16]
    base = (timestamp + nonce + (sign_key or key)).encode() + body
    headers = {
        "content-type": "application/json",
        "x-lark-request-timestamp": timestamp,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": hashlib.sha256(base).hexdigest(),
    }
    return headers, body


def message_event(text: str, *, event_id: str = "ev_1", message_id: str = "om_in_1",
                  sender: str = WANG_LI, chat: str = GROUP, chat_type: str = "group",
                  mentions: list[dict[str, Any]] | None = None, message_type: str = "text",
                  content: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id, "token": TOKEN, "create_time": "1764036000000",
            "event_type": "im.message.receive_v1", "tenant_key": "tk", "app_id": "cli_x",
        },
        "event": {
            "sender": {
                "sender_id": {"open_id": sender, "user_id": f"u_{sender}", "union_id": f"on_{sender}"},
                "sender_type": "user", "tenant_key": "tk",
            },
            "message": {
                "message_id": message_id, "chat_id": chat, "chat_type": chat_type,
                "message_type": message_type, "create_time": "1764036000000",
                "content": json.dumps(content if content is not None else {"text": text}),
                "mentions": mentions or [],
            },
        },
    }  # fmt: skip


def mention(key: str, name: str, open_id: str) -> dict[str, Any]:
    return {"key": key, "name": name, "id": {"open_id": open_id, "union_id": "", "user_id": ""},
            "tenant_key": "tk"}  # fmt: skip


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeFeishu]:
    # the SDK caches tokens per app_id for the whole process: a fresh app per test
    server = FakeFeishu(app_id=f"cli_{uuid.uuid4().hex[:12]}", app_secret="s3cret").start()
    yield server
    server.stop()


@pytest.fixture
def rt(db_url: str, engine: Engine, fake: FakeFeishu, tmp_path: Path) -> Runtime:
    section = FeishuSettings(
        enabled=True, app_id=fake.app_id, app_secret=fake.app_secret, encrypt_key=ENCRYPT_KEY,
        verification_token=TOKEN, domain=fake.url,
    )  # fmt: skip
    runtime = build(Settings(db=db_url, feishu=section), engine)
    path = tmp_path / "fs.toml"
    path.write_text(ENGAGEMENT, encoding="utf-8")
    ConsoleHarness(runtime).apply(path)
    return runtime


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(rt, scheduler=False)  # no lifespan: the tests drain inbox and outbox
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rentian.test") as http:
        yield http


def dispatcher(rt: Runtime) -> Dispatcher:
    drain_inbox(rt)  # what the callbacks left in the inbox first, as the workers would
    adapter = feishu.create(rt.settings)
    return Dispatcher(rt.engine, {"feishu": adapter.sender()}, OutboxSettings())


def rows(rt: Runtime) -> list[Any]:
    """The outbox on this channel, once the inbox's events are handled (as its workers would)."""
    drain_inbox(rt)
    return ConsoleHarness(rt).outbox(channel="feishu")


async def post(client: httpx.AsyncClient, event: dict[str, Any], **how: Any) -> httpx.Response:
    headers, body = signed(event, **how)
    return await client.post("/webhooks/feishu", content=body, headers=headers)


# -- inbound -----------------------------------------------------------------------------


async def test_signed_message_opens_a_ticket_and_the_reply_reaches_feishu(
    rt: Runtime, client: httpx.AsyncClient, fake: FakeFeishu
) -> None:
    response = await post(client, message_event("/工单 P2 报表导出超时"))
    assert response.status_code == 200
    reply, alert = rows(rt)  # the answer in the group; the PM hears of a P2 directly
    assert (reply.kind, reply.ref, reply.reply_to) == ("ticket.opened", "T-1", "om_in_1")
    assert (alert.recipient_type, alert.address) == ("person", SUN_WEI)
    result = await dispatcher(rt).drain_once()
    assert result.sent == 2
    sent, to_pm = fake.sends
    assert sent.path == "/open-apis/im/v1/messages/om_in_1/reply"
    assert json.loads(sent.body["content"])["text"] == reply.text
    assert sent.body["msg_type"] == "text" and sent.body["uuid"] == f"outbox-{reply.id}"
    assert to_pm.query == {"receive_id_type": "open_id"} and to_pm.body["receive_id"] == SUN_WEI
    assert {row.status for row in rows(rt)} == {"sent"}


async def test_the_same_event_three_times_has_one_effect(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        assert (await post(client, message_event("/工单 P2 报表导出超时"))).status_code == 200
    assert [(r.kind, r.recipient_type) for r in rows(rt)] == [
        ("ticket.opened", "chat"), ("ticket.opened", "person"),
    ]  # fmt: skip


async def test_url_verification_challenge_is_answered(client: httpx.AsyncClient) -> None:
    challenge = {"challenge": "ajls384kdjx98XX", "token": TOKEN, "type": "url_verification"}
    body = json.dumps({"encrypt": encrypt(json.dumps(challenge).encode())}).encode()
    response = await client.post("/webhooks/feishu", content=body)
    assert response.status_code == 200
    assert response.json() == {"challenge": "ajls384kdjx98XX"}


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ({"sign_key": "forged-key"}, 401),  # signature made without our key
        ({"key": "wrong-key", "sign_key": ENCRYPT_KEY}, 401),  # encrypted with another key
        ({"age": timedelta(minutes=6)}, 401),  # replayed later
        ({"age": -timedelta(minutes=6)}, 401),  # from the future
    ],
)
async def test_forged_or_stale_callbacks_are_refused(
    rt: Runtime, client: httpx.AsyncClient, how: dict[str, Any], status: int
) -> None:
    response = await post(client, message_event("/工单 P2 报表导出超时"), **how)
    assert response.status_code == status
    assert rows(rt) == []


async def test_wrong_token_missing_headers_and_malformed_bodies_are_refused(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    event = message_event("/工单 P2 报表导出超时")
    event["header"]["token"] = "not-our-token"
    assert (await post(client, event)).status_code == 401
    _, body = signed(message_event("/工单 P2 报表导出超时"))
    assert (await client.post("/webhooks/feishu", content=body)).status_code == 401
    for junk in (b"not json", b"[1, 2]", b"\xff\xfe"):
        assert (await client.post("/webhooks/feishu", content=junk)).status_code == 400
    undecryptable = b'{"encrypt": "bm90IGFlcyBhdCBhbGwsIGp1c3QgdGV4dCBwYWRkZWQgdG8gMzI="}'
    assert (await client.post("/webhooks/feishu", content=undecryptable)).status_code == 401
    assert rows(rt) == []


async def test_permissions_follow_the_sender_identity(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    stranger = message_event("/范围 签署", event_id="ev_x", sender="ou_stranger")
    assert (await post(client, stranger)).status_code == 200
    assert [r.kind for r in rows(rt)] == ["error.permission"]


# -- parse: pure -------------------------------------------------------------------------

NAMES = frozenset({"rentian", "人天"})


def test_parse_resolves_mentions_and_marks_the_bot() -> None:
    event = message_event(
        "@_user_1 /assign T-1 @_user_2",
        mentions=[mention("@_user_1", "人天", "ou_bot"), mention("@_user_2", "Zhao Gang", "ou_zg")],
    )
    inbound = parse(event, now=clock.now(), bot_names=NAMES)
    assert inbound is not None
    assert inbound.text == "@人天 /assign T-1 @ZhaoGang"
    assert inbound.mentions == (
        Mention("ou_bot", "人天", is_bot=True), Mention("ou_zg", "ZhaoGang"),
    )  # fmt: skip
    assert (inbound.sender_id, inbound.sender_alt_ids) == (
        WANG_LI,
        (f"u_{WANG_LI}", f"on_{WANG_LI}"),
    )
    assert (inbound.event_id, inbound.message_id, inbound.chat_type) == (
        "ev_1",
        "om_in_1",
        ChatType.GROUP,
    )


def test_parse_rich_text_direct_chats_and_what_it_ignores() -> None:
    post_content = {
        "title": "标题",
        "content": [
            [{"tag": "at", "user_id": "@_user_1", "user_name": "人天"},
             {"tag": "text", "text": " /工单 P3 "}, {"tag": "a", "text": "链接", "href": "x"}],
            [{"tag": "img", "image_key": "img_1"}, {"tag": "text", "text": "第二行"}],
        ],
    }  # fmt: skip
    event = message_event("", message_type="post", content=post_content, chat_type="p2p",
                          mentions=[mention("@_user_1", "人天", "ou_bot")])  # fmt: skip
    inbound = parse(event, now=clock.now(), bot_names=NAMES)
    assert inbound is not None and inbound.chat_type == ChatType.DIRECT
    assert inbound.text == "@人天 /工单 P3 链接\n第二行"
    image = message_event("", message_type="image", content={"image_key": "img_1"})
    assert parse(image, now=clock.now(), bot_names=NAMES) is None
    from_app = message_event("/help")
    from_app["event"]["sender"]["sender_type"] = "app"
    assert parse(from_app, now=clock.now(), bot_names=NAMES) is None
    broken = message_event("", content=None)
    broken["event"]["message"]["content"] = "{not json"
    assert parse(broken, now=clock.now(), bot_names=NAMES) is None


# -- outbound ----------------------------------------------------------------------------


def outgoing(**fields: Any) -> Outgoing:
    base: dict[str, Any] = {
        "id": 1, "channel": "feishu", "recipient_type": "chat", "address": GROUP,
        "kind": "progress.sync", "ref": "", "text": "日报", "dedupe_key": "sync:1",
    }  # fmt: skip
    return Outgoing(**{**base, **fields})


async def test_sends_to_chats_and_people_with_the_dedupe_uuid(
    rt: Runtime, fake: FakeFeishu
) -> None:
    sender = feishu.create(rt.settings).sender()
    await sender.send(outgoing())
    await sender.send(outgoing(recipient_type="person", address=SUN_WEI, dedupe_key="x" * 80))
    to_chat, to_person = fake.sends
    assert to_chat.path == "/open-apis/im/v1/messages" and to_chat.query == {
        "receive_id_type": "chat_id"
    }
    assert to_chat.body["receive_id"] == GROUP and to_chat.body["uuid"] == "sync:1"
    assert (
        to_person.query == {"receive_id_type": "open_id"}
        and to_person.body["receive_id"] == SUN_WEI
    )
    assert len(to_person.body["uuid"]) == 50


async def test_rate_limit_is_retried_then_sent_once(
    rt: Runtime, client: httpx.AsyncClient, fake: FakeFeishu
) -> None:
    await post(client, message_event("/工单 P3 报表导出超时"))  # P3: no alert to the PM
    fake.refuse_next(99991400, "request trigger frequency limit", http_status=429)
    drain = dispatcher(rt)
    assert (await drain.drain_once()).retried == 1
    (row,) = rows(rt)
    assert row.status == "pending" and "99991400" in row.last_error
    assert "frequency limit" in row.last_error
    clock.set_now(clock.now() + timedelta(seconds=30))
    assert (await drain.drain_once()).sent == 1
    assert rows(rt)[0].status == "sent"
    assert len(fake.sends) == 2 and fake.sends[0].body["uuid"] == fake.sends[1].body["uuid"]


async def test_permission_refusal_is_not_retried(rt: Runtime, fake: FakeFeishu,
                                                  client: httpx.AsyncClient) -> None:  # fmt: skip
    await post(client, message_event("/工单 P3 报表导出超时"))
    fake.refuse_next(230002, "Bot/User can NOT be out of the chat.", http_status=400)
    assert (await dispatcher(rt).drain_once()).failed == 1
    (row,) = rows(rt)
    assert row.status == "failed" and "Bot/User can NOT be out of the chat." in row.last_error


async def test_a_withdrawn_message_gets_a_post_in_the_chat_instead(
    rt: Runtime, fake: FakeFeishu
) -> None:
    fake.refuse_next(230011, "The message was withdrawn.", http_status=400)
    await feishu.create(rt.settings).sender().send(outgoing(reply_to="om_gone"))
    reply, post_ = fake.sends
    assert reply.path.endswith("/om_gone/reply") and post_.path == "/open-apis/im/v1/messages"


async def test_unreachable_feishu_is_a_network_error(rt: Runtime) -> None:
    from base.errors import NetworkError

    section = rt.settings.feishu.model_copy(
        update={"domain": "http://127.0.0.1:9", "app_id": "cli_down"}
    )
    adapter = feishu.create(rt.settings.model_copy(update={"feishu": section}))
    with pytest.raises(NetworkError):
        await adapter.sender().send(outgoing())


# -- interactive cards --------------------------------------------------------------------


def test_decisions_render_as_cards_whose_buttons_carry_the_command() -> None:
    msg_type, content = render(outgoing(kind="cr.estimated", ref="CR-1", text="评估 3 人天"))
    assert msg_type == "interactive"
    card = json.loads(content)
    (buttons,) = [e["actions"] for e in card["elements"] if e["tag"] == "action"]
    assert [b["value"]["command"] for b in buttons] == ["/签署 CR-1", "/驳回 CR-1 卡片驳回"]
    assert card["elements"][0]["text"]["content"] == "评估 3 人天"
    _, content = render(outgoing(kind="delivery.submitted", ref="D-1", locale="en"))
    labels = [b["text"]["content"] for b in json.loads(content)["elements"][-1]["actions"]]
    assert labels == ["Accept", "Reject"]
    _, content = render(outgoing(kind="sla.breach", ref="T-3", recipient_type="person"))
    (ack,) = json.loads(content)["elements"][-1]["actions"]
    assert ack["value"]["command"] == "/响应 T-3" and ack["value"]["chat_type"] == "direct"
    assert render(outgoing())[0] == "text"


def click_event(command: str, operator: str, event_id: str) -> dict[str, Any]:
    value = {"command": command, "chat_type": "group", "title": "SLA 超时 T-1", "text": "T-1 超时"}
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id, "token": TOKEN, "create_time": "1764036000000",
            "event_type": "card.action.trigger", "tenant_key": "tk", "app_id": "cli_x",
        },
        "event": {
            "operator": {"tenant_key": "tk", "open_id": operator, "user_id": f"u_{operator}"},
            "token": "c-update-token", "host": "im_message",
            "action": {"tag": "button", "value": value},
            "context": {"open_message_id": "om_card_1", "open_chat_id": GROUP},
        },
    }  # fmt: skip


async def test_a_button_click_runs_its_command_as_the_person_who_clicked(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    await post(client, message_event("/工单 P2 报表导出超时"))
    drain_inbox(rt)  # the ticket is opened; a click runs through the bus at once
    refused = await post(client, click_event("/响应 T-1", WANG_LI, "ev_click_1"))
    assert refused.status_code == 200
    assert refused.json()["toast"]["type"] == "error"  # a client may not acknowledge
    # … and the card keeps its button for the engineer it is for: no card in the answer.
    assert "card" not in refused.json() and "/响应" in refused.json()["toast"]["content"]
    done = await post(client, click_event("/响应 T-1", ZHAO_GANG, "ev_click_2"))
    assert done.json()["toast"]["type"] == "success"
    said = done.json()["card"]["data"]["elements"][-1]["text"]["content"]
    assert said.startswith(f"<at id={ZHAO_GANG}></at>: ") and "T-1" in said
    assert not any(e["tag"] == "action" for e in done.json()["card"]["data"]["elements"])
    before = len(rows(rt))
    again = await post(client, click_event("/响应 T-1", ZHAO_GANG, "ev_click_2"))
    assert again.status_code == 200 and "card" not in again.json()
    assert len(rows(rt)) == before
    forged = await post(client, click_event("/响应 T-1", ZHAO_GANG, "ev_click_3"), sign_key="x")
    assert forged.status_code == 401 and len(rows(rt)) == before


# -- long connection -----------------------------------------------------------------------


async def until(condition: Any, what: str) -> None:
    """Wait (bounded) for the connection's thread to do something."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_long_connection_acks_after_the_commit_and_reconnects(
    rt: Runtime, fake: FakeFeishu
) -> None:
    fake.start_gateway()
    section = rt.settings.feishu.model_copy(update={"mode": "longconn"})
    adapter = feishu.create(rt.settings.model_copy(update={"feishu": section}))

    await adapter.start(Inbox(rt.engine, rt.bus, rt.settings.intake).inlet())
    try:
        await until(lambda: fake.connections_opened == 1, "the first connection")
        fake.push_event(message_event("/工单 P3 报表导出超时"), "frame-1")
        await until(lambda: fake.acks, "the first ack")
        assert fake.acks == [("frame-1", 200)]
        assert [r.ref for r in rows(rt)] == ["T-1"]  # committed before the ack
        fake.drop_connection()
        await until(lambda: fake.connections_opened == 2 and fake.connected, "the reconnect")
        second = message_event("/工单 P3 第二个问题", event_id="ev_2", message_id="om_in_2")
        fake.push_event(second, "frame-2")
        fake.push_event(second, "frame-3")  # redelivered: acked, no effect
        await until(lambda: len(fake.acks) == 3, "the later acks")
        assert [code for _, code in fake.acks] == [200, 200, 200]
        assert [r.ref for r in rows(rt)] == ["T-1", "T-2"]
    finally:
        await adapter.stop()
