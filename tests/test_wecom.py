"""The WeChat Work channel against a fake WeCom API on 127.0.0.1: callbacks encrypted and
signed exactly as WeCom does it (wechatpy's own `PrpCrypto` and signature), the bus and
database for real, sends through wechatpy's client."""

from __future__ import annotations

import base64
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto

from adapters import wecom
from adapters.wecom.parse import parse
from adapters.wecom.render import card
from app.http import create_app
from app.runtime import Runtime, build
from base.errors import NetworkError, PlatformRefused
from bot import clock
from bot.dispatcher import Dispatcher
from bot.message import ChatType, Outgoing
from bot.scheduler import Run
from config.settings import OutboxSettings, Settings, WecomSettings
from handlers.sla_sweep import sweep
from tests import threads
from tests.fakes.wecom_server import APPCHAT_PATH, MESSAGE_PATH, WEBHOOK_PATH, FakeWecom
from tests.harness import ConsoleHarness, drain_inbox

CORP_ID = "ww1234567890abcdef"
TOKEN = "wecomCallbackToken"  # 1-32 letters or digits, as the admin console allows
AES_KEY = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode().rstrip("=")
AGENT_ID = 1000002
GROUP = "wrkSFfCgAAchat1"  # an app group chat (appchat) bound to the engagement
ROBOT_KEY = "robot-key-1"
WANG_LI = "WangLi"  # client approver
SUN_WEI = "SunWei"  # vendor PM
ZHOU_MIN = "ZhouMin"  # customer manager
ENGAGEMENT = f"""
[engagement]
code = "WC-2026"
name = "企业微信渠道测试"
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
wecom = "{WANG_LI}"

[[people]]
id = "sun.wei"
name = "孙伟"
party = "vendor"
roles = ["vendor_pm", "admin"]
[people.identities]
wecom = "{SUN_WEI}"

[[people]]
id = "zhou.min"
name = "周敏"
party = "vendor"
roles = ["customer_manager"]
[people.identities]
wecom = "{ZHOU_MIN}"

[[chats]]
channel = "wecom"
id = "{GROUP}"
name = "企业微信测试群"
"""


# -- building callbacks as WeCom does ----------------------------------------------------


def inner_xml(text: str, *, msg_id: str = "7000000000000000001", sender: str = WANG_LI,
              chat_id: str | None = GROUP, msg_type: str = "text") -> str:  # fmt: skip
    chat = f"<ChatId><![CDATA[{chat_id}]]></ChatId>" if chat_id else ""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{int(clock.now().timestamp())}</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType><Content><![CDATA[{text}]]></Content>"
        f"<MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID>{chat}</xml>"
    )


def encrypted(xml: str, *, corp_id: str = CORP_ID, token: str = TOKEN,
              age: timedelta = timedelta(0)) -> tuple[dict[str, str], bytes]:  # fmt: skip
    """The query string and body of WeCom's POST for this inner message."""
    key = base64.b64decode(AES_KEY + "=")
    enc = PrpCrypto(key).encrypt(xml, corp_id).decode()
    timestamp = str(int((clock.now() - age).timestamp()))
    nonce = uuid.uuid4().hex[:10]
    query = {"msg_signature": _get_signature(token, timestamp, nonce, enc),
             "timestamp": timestamp, "nonce": nonce}  # fmt: skip
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{enc}]]></Encrypt><AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>"
    ).encode()
    return query, body


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    server = FakeWecom(corp_id=CORP_ID, secret="s3cret", appchats={GROUP},
                       webhook_keys={ROBOT_KEY}).start()  # fmt: skip
    yield server
    server.stop()


@pytest.fixture
def rt(db_url: str, engine: Engine, fake: FakeWecom, tmp_path: Path) -> Runtime:
    section = WecomSettings(
        enabled=True, corp_id=CORP_ID, agent_id=AGENT_ID, secret="s3cret", token=TOKEN,
        encoding_aes_key=AES_KEY, api_base=fake.url,
    )  # fmt: skip
    runtime = build(Settings(db=db_url, wecom=section), engine)
    path = tmp_path / "wc.toml"
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
    return Dispatcher(rt.engine, {"wecom": wecom.create(rt.settings).sender()}, OutboxSettings())


def rows(rt: Runtime) -> list[Any]:
    """The outbox on this channel, once the inbox's events are handled (as its workers would)."""
    drain_inbox(rt)
    return ConsoleHarness(rt).outbox(channel="wecom")


async def post(client: httpx.AsyncClient, xml: str, **how: Any) -> httpx.Response:
    query, body = encrypted(xml, **how)
    return await client.post("/webhooks/wecom", params=query, content=body)


# -- inbound -----------------------------------------------------------------------------


async def test_encrypted_group_message_opens_a_ticket_and_the_reply_reaches_wecom(
    rt: Runtime, client: httpx.AsyncClient, fake: FakeWecom
) -> None:
    response = await post(client, inner_xml("/工单 P2 报表导出超时"))
    assert response.status_code == 200 and response.text == ""
    reply, to_pm_row, to_cm_row = rows(rt)  # the group; the PM and the CM hear of a P2 directly
    assert (reply.kind, reply.ref, reply.address) == ("ticket.opened", "T-1", GROUP)
    assert (to_pm_row.recipient_type, to_pm_row.address) == ("person", SUN_WEI)
    assert (to_cm_row.recipient_type, to_cm_row.address) == ("person", ZHOU_MIN)
    assert (await dispatcher(rt).drain_once()).sent == 3
    to_group, to_pm, _ = fake.sends
    assert to_group.path == APPCHAT_PATH and to_group.body["chatid"] == GROUP
    assert to_group.body["msgtype"] == "text" and to_group.body["text"]["content"] == reply.text
    assert to_pm.path == MESSAGE_PATH
    assert (to_pm.body["touser"], to_pm.body["agentid"]) == (SUN_WEI, AGENT_ID)
    assert fake.token_requests == 1  # the token is cached
    assert {row.status for row in rows(rt)} == {"sent"}


async def test_direct_message_is_answered_to_the_user(
    rt: Runtime, client: httpx.AsyncClient, fake: FakeWecom
) -> None:
    response = await post(client, inner_xml("/help", sender=SUN_WEI, chat_id=None))
    assert response.status_code == 200
    (reply,) = rows(rt)
    assert (reply.recipient_type, reply.address) == ("chat", SUN_WEI)
    assert (await dispatcher(rt).drain_once()).sent == 1
    tried_appchat, to_user = fake.sends  # a user id is no app chat: WeCom says 86003
    assert tried_appchat.path == APPCHAT_PATH
    assert to_user.path == MESSAGE_PATH and to_user.body["touser"] == SUN_WEI


async def test_the_same_msgid_three_times_has_one_effect(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        assert (await post(client, inner_xml("/工单 P2 报表导出超时"))).status_code == 200
    assert [(r.kind, r.recipient_type) for r in rows(rt)] == [
        ("ticket.opened", "chat"), ("ticket.opened", "person"), ("ticket.opened", "person"),
    ]  # fmt: skip


async def test_url_verification_returns_the_decrypted_echostr(client: httpx.AsyncClient) -> None:
    echo = PrpCrypto(base64.b64decode(AES_KEY + "=")).encrypt("echo-1234567", CORP_ID).decode()
    timestamp, nonce = str(int(clock.now().timestamp())), "n1"
    query = {"msg_signature": _get_signature(TOKEN, timestamp, nonce, echo),
             "timestamp": timestamp, "nonce": nonce, "echostr": echo}  # fmt: skip
    response = await client.get("/webhooks/wecom", params=query)
    assert response.status_code == 200 and response.text == "echo-1234567"
    forged = {**query, "msg_signature": "0" * 40}
    assert (await client.get("/webhooks/wecom", params=forged)).status_code == 401
    assert (await client.get("/webhooks/wecom", params={"nonce": "n"})).status_code == 400


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ({"token": "forged-token"}, 401),  # signature made without our token
        ({"corp_id": "ww_another_corp"}, 401),  # encrypted for another corp
        ({"age": timedelta(minutes=6)}, 401),  # replayed later
        ({"age": -timedelta(minutes=6)}, 401),  # from the future
    ],
)
async def test_forged_or_stale_callbacks_are_refused(
    rt: Runtime, client: httpx.AsyncClient, how: dict[str, Any], status: int
) -> None:
    response = await post(client, inner_xml("/工单 P2 报表导出超时"), **how)
    assert response.status_code == status
    assert rows(rt) == []


async def test_malformed_callbacks_are_refused(rt: Runtime, client: httpx.AsyncClient) -> None:
    query, _ = encrypted(inner_xml("/help"))
    for junk in (b"not xml", b"<xml><NoEncrypt/></xml>", b"\xff\xfe", b""):
        assert (await client.post("/webhooks/wecom", params=query, content=junk)).status_code == 400
    _, body = encrypted(inner_xml("/help"))
    assert (await client.post("/webhooks/wecom", content=body)).status_code == 400
    # authentic but not a message we read (garbage inside the encryption): acked, no effect
    assert (await post(client, "<xml><nonsense")).status_code == 200
    assert rows(rt) == []


async def test_permissions_follow_the_sender_identity(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    stranger = inner_xml("/范围 签署", msg_id="2", sender="Stranger")
    assert (await post(client, stranger)).status_code == 200
    assert [r.kind for r in rows(rt)] == ["error.permission"]


# -- parse: pure -------------------------------------------------------------------------


def test_parse_keeps_ids_and_ignores_what_is_not_text() -> None:
    inbound = parse(inner_xml(" /status ", msg_id="42"), now=clock.now())
    assert inbound is not None
    assert (inbound.chat_id, inbound.chat_type, inbound.sender_id) == (
        GROUP, ChatType.GROUP, WANG_LI,
    )  # fmt: skip
    assert (inbound.text, inbound.event_id, inbound.message_id) == ("/status", "42", "42")
    assert inbound.raw["agent_id"] == str(AGENT_ID)
    direct = parse(inner_xml("/help", chat_id=None), now=clock.now())
    assert direct is not None and (direct.chat_id, direct.chat_type) == (WANG_LI, ChatType.DIRECT)
    assert parse(inner_xml("", msg_type="image"), now=clock.now()) is None
    assert parse("<xml><broken", now=clock.now()) is None


# -- outbound ----------------------------------------------------------------------------


def outgoing(**fields: Any) -> Outgoing:
    base: dict[str, Any] = {
        "id": 1, "channel": "wecom", "recipient_type": "chat", "address": GROUP,
        "kind": "progress.sync", "ref": "", "text": "日报", "dedupe_key": "sync:1",
    }  # fmt: skip
    return Outgoing(**{**base, **fields})


async def test_token_expired_42001_is_refreshed_and_the_send_retried(
    rt: Runtime, fake: FakeWecom
) -> None:
    sender = wecom.create(rt.settings).sender()
    await sender.send(outgoing())
    fake.expire_token_once()
    await sender.send(outgoing(text="第二条"))
    assert fake.token_requests == 2
    first, expired, retried = fake.sends
    assert expired.query["access_token"] == first.query["access_token"] == "token-1"
    assert (
        retried.query["access_token"] == "token-2" and retried.body["text"]["content"] == "第二条"
    )
    fake.expire_token_once(times=100)  # WeCom keeps refusing: one refresh, then a refusal
    with pytest.raises(PlatformRefused) as refused:
        await sender.send(outgoing(text="第三条"))
    assert refused.value.code == "42001" and fake.token_requests == 4  # two fetches, no more


async def test_group_robot_webhook_chat(rt: Runtime, fake: FakeWecom) -> None:
    sender = wecom.create(rt.settings).sender()
    await sender.send(outgoing(address=f"webhook:{ROBOT_KEY}"))
    (call,) = fake.sends
    assert call.path == WEBHOOK_PATH and call.query == {"key": ROBOT_KEY}
    assert call.body == {"msgtype": "text", "text": {"content": "日报"}}
    with pytest.raises(PlatformRefused) as refused:
        await sender.send(outgoing(address="webhook:wrong-key"))
    assert refused.value.code == "93000" and not refused.value.retryable


async def test_errcodes_become_refusals_rate_limit_retryable(rt: Runtime, fake: FakeWecom) -> None:
    sender = wecom.create(rt.settings).sender()
    fake.refuse_next(45009, "api freq out of limit")
    with pytest.raises(PlatformRefused) as limited:
        await sender.send(outgoing())
    assert limited.value.retryable and "api freq out of limit" in str(limited.value)
    fake.refuse_next(-1, "system busy")
    with pytest.raises(PlatformRefused) as busy:
        await sender.send(outgoing(recipient_type="person", address=SUN_WEI))
    assert busy.value.retryable and busy.value.code == "-1"
    fake.refuse_next(81013, "user & party & tag all invalid")
    with pytest.raises(PlatformRefused) as invalid:
        await sender.send(outgoing(recipient_type="person", address="Nobody"))
    assert not invalid.value.retryable and "all invalid" in str(invalid.value)


async def test_breach_dm_goes_to_the_person_wecom_user_id(
    rt: Runtime, client: httpx.AsyncClient, fake: FakeWecom
) -> None:
    clock.set_now("2026-11-25T10:00:00+08:00")
    await post(client, inner_xml("/工单 P2 同步任务失败"))
    await dispatcher(rt).drain_once()
    clock.set_now("2026-11-25T10:31:00+08:00")  # past the 30-minute response target
    sweep(Run(rt.engine, clock.now(), rt.vocabulary))
    breach = {
        r.address for r in rows(rt) if r.kind == "sla.breach" and r.recipient_type == "person"
    }
    assert ZHOU_MIN in breach
    fake.calls.clear()
    await dispatcher(rt).drain_once()
    dms = {c.body["touser"] for c in fake.sends if c.path == MESSAGE_PATH}
    assert {ZHOU_MIN, SUN_WEI} <= dms


async def test_unreachable_wecom_is_a_network_error(rt: Runtime) -> None:
    section = rt.settings.wecom.model_copy(update={"api_base": "http://127.0.0.1:9"})
    adapter = wecom.create(rt.settings.model_copy(update={"wecom": section}))
    with pytest.raises(NetworkError):
        await adapter.sender().send(outgoing())


# -- button cards ------------------------------------------------------------------------


def card_click(command: str, *, sender: str = SUN_WEI, task: str = "rt_task1") -> str:
    """The decrypted XML of a `template_card_event`: a click on a card button."""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{int(clock.now().timestamp())}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>"
        f"<EventKey><![CDATA[{command}]]></EventKey><TaskId><![CDATA[{task}]]></TaskId>"
        "<CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[rc1]]></ResponseCode><AgentID>{AGENT_ID}</AgentID></xml>"
    )


async def test_breach_goes_as_a_card_whose_button_runs_the_command_as_the_clicker(
    rt: Runtime, client: httpx.AsyncClient, fake: FakeWecom
) -> None:
    sender = wecom.create(rt.settings).sender()
    breach = outgoing(recipient_type="person", address=SUN_WEI, kind="sla.breach", ref="T-1",
                      text="T-1 首次响应超时", dedupe_key="sla:T-1:breach:sun.wei")  # fmt: skip
    await sender.send(breach)
    (sent,) = fake.sends
    assert sent.path == MESSAGE_PATH and sent.body["msgtype"] == "template_card"
    assert sent.body["touser"] == SUN_WEI and sent.body["agentid"] == AGENT_ID
    body = sent.body["template_card"]
    assert body["card_type"] == "button_interaction" and body["sub_title_text"] == breach.text
    assert [(b["text"], b["key"]) for b in body["button_list"]] == [("响应", "/ack T-1")]
    await post(client, inner_xml("/工单 P2 同步任务失败"))
    before = len(rows(rt))
    for _ in range(2):  # WeCom redelivers: one effect
        click = card_click("/ack T-1", task=body["task_id"])
        assert (await post(client, click)).status_code == 200
    (answer,) = rows(rt)[before:]
    assert (answer.recipient_type, answer.address) == ("chat", SUN_WEI)
    assert (answer.kind, answer.ref) == ("ticket.acked", "T-1") and "孙伟 已响应 T-1" in answer.text


async def test_a_card_click_has_the_clickers_permissions(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    await post(client, inner_xml("/工单 P2 同步任务失败"))
    before = len(rows(rt))
    assert (await post(client, card_click("/ack T-1", sender=WANG_LI))).status_code == 200
    assert [r.kind for r in rows(rt)[before:]] == ["error.permission"]


def test_cards_only_for_kinds_with_buttons_and_texts_that_fit() -> None:
    signed_cr = outgoing(recipient_type="person", kind="cr.estimated", ref="CR-1", text="估算",
                         locale="en")  # fmt: skip
    body = card(signed_cr, AGENT_ID, WANG_LI)
    assert body is not None
    assert body["template_card"]["button_list"][0] == {"text": "Sign", "style": 1,
                                                        "key": "/sign CR-1"}  # fmt: skip
    delivery = outgoing(kind="delivery.submitted", ref="D-1", text="交付")
    assert card(delivery, AGENT_ID, WANG_LI) is not None
    assert card(outgoing(), AGENT_ID, WANG_LI) is None  # progress.sync: no buttons
    long = outgoing(kind="sla.breach", ref="T-1", text="长" * 161)
    assert card(long, AGENT_ID, WANG_LI) is None
    no_command = card_click("not a command")
    assert parse(no_command, now=clock.now()) is None


# -- the whole path over TCP -------------------------------------------------------------


def test_over_http_with_uvicorn_the_reply_reaches_wecom_without_help(
    rt: Runtime, fake: FakeWecom
) -> None:
    """uvicorn on a free port with the app's lifespan: its own dispatcher delivers the reply."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(create_app(rt, scheduler=False), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="wecom-uvicorn")
    thread.start()
    try:
        for _ in range(250):
            if server.started:
                break
            time.sleep(0.02)  # uvicorn is starting
        assert server.started
        query, body = encrypted(inner_xml("/工单 P3 报表导出超时"))  # P3: no direct alerts
        response = httpx.post(f"http://127.0.0.1:{port}/webhooks/wecom", params=query,
                              content=body, timeout=5)  # fmt: skip
        assert response.status_code == 200
        for _ in range(250):
            if fake.sends:
                break
            time.sleep(0.02)  # the app's dispatcher sends in the background
        (sent,) = fake.sends
        assert sent.path == APPCHAT_PATH and sent.body["chatid"] == GROUP
        assert "T-1" in sent.body["text"]["content"]
    finally:
        server.should_exit = True
        threads.join(thread, 10)


async def test_token_expiry_and_a_wrong_secret(rt: Runtime, fake: FakeWecom) -> None:
    fake.expires_in = 30  # under wechatpy's 60-second margin: each call needs a fresh token
    sender = wecom.create(rt.settings).sender()
    await sender.send(outgoing())
    await sender.send(outgoing())
    assert fake.token_requests == 2
    section = rt.settings.wecom.model_copy(update={"secret": "wrong"})
    bad = wecom.create(rt.settings.model_copy(update={"wecom": section})).sender()
    with pytest.raises(PlatformRefused) as refused:
        await bad.send(outgoing())
    assert refused.value.code == "40001" and not refused.value.retryable
