"""#16's services through real channels, on the wire: the knowledge base (/问, /知识 新增, a
client's ticket answered with suggestions and closed by its card's button), the recurring
obligations (/义务, evidence, the client approver's acknowledgement by a card's button) and a
monitoring alert's notice — callbacks built as Feishu and WeCom build them, the bus and the
database for real, sends through the real SDKs to the fakes in tests/fakes. Also how the
services' buttons (`adapters.decisions`) render on Feishu, DingTalk and WeCom."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from adapters import feishu, wecom
from adapters.dingtalk.render import render as dingtalk_render
from adapters.feishu.render import render as feishu_render
from adapters.wecom.render import card as wecom_card
from app.http import create_app
from app.runtime import Runtime, build
from bot import clock
from bot.dispatcher import Dispatcher
from bot.message import Outgoing
from config.settings import FeishuSettings, OutboxSettings, Settings, WecomSettings
from handlers import alerts
from handlers import knowledge_base as knowledge
from storage.db import transaction
from storage.models import Engagement, Signature, Ticket
from storage.models_knowledge import KbDeflection
from storage.models_obligations import ObligationOccurrence as Occ
from tests import test_feishu as fs
from tests import test_wecom as wc
from tests.fakes.feishu_server import MESSAGES_PATH, FakeFeishu
from tests.fakes.wecom_server import MESSAGE_PATH, FakeWecom
from tests.harness import ConsoleHarness, drain_inbox

KB = Path(__file__).parent / "data" / "kb"
FS_GROUP, WC_GROUP = fs.GROUP, wc.GROUP
# the engagement's people: id, name, party, role, Feishu open id, WeCom user id
PEOPLE = (
    ("wang.li", "王丽", "client", "client_approver", "ou_wangli", "WangLi"),
    ("liu.yang", "刘洋", "client", "client_member", "ou_liuyang", "LiuYang"),
    ("sun.wei", "孙伟", "vendor", "vendor_pm", "ou_sunwei", "SunWei"),
    ("ma.lin", "马林", "vendor", "engineer", "ou_malin", "MaLin"),
)
WANG_LI, LIU_YANG, SUN_WEI, MA_LIN = (p[4] for p in PEOPLE)


def engagement_file(channel: str, group: str) -> str:
    """An engagement on one channel with a knowledge base, a health check to evidence and
    acknowledge, and monitoring alerts."""
    column = 4 if channel == "feishu" else 5
    people = "".join(
        f'\n[[people]]\nid = "{p[0]}"\nname = "{p[1]}"\nparty = "{p[2]}"\nroles = ["{p[3]}"]\n'
        + ('level = "senior"\n' if p[3] == "engineer" else "")
        + f'[people.identities]\n{channel} = "{p[column]}"\n'
        for p in PEOPLE
    )
    return f"""
[engagement]
code = "SV-2026"
name = "服务渠道测试"
client = "甲方"
vendor = "厂商"
start = 2026-11-01
end = 2027-04-30
{people}
[[chats]]
channel = "{channel}"
id = "{group}"
name = "服务测试群"

[knowledge]
paths = ["{KB}"]

[[obligations]]
key = "health_check"
service = "health_check"
title = "月度系统健康检查"
owner = "vendor_pm"
every = "dates"
dates = [2026-11-27]
evidence = "both"

[alerts]
severity_map = {{ critical = "P1", warning = "P3" }}
"""


# -- fixtures: one fake platform per module, a fresh database and runtime per test ---------


@pytest.fixture(scope="module")
def feishu_fake() -> Iterator[FakeFeishu]:
    server = FakeFeishu(app_id="cli_services", app_secret="s3cret").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def wecom_fake() -> Iterator[FakeWecom]:
    server = FakeWecom(corp_id=wc.CORP_ID, secret="s3cret", appchats={WC_GROUP}).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    knowledge.forget()  # the index is kept per engagement id: each test has a new database
    yield
    knowledge.forget()


def _runtime(settings: Settings, engine: Engine, text: str, folder: Path) -> Runtime:
    runtime = build(settings, engine)
    path = folder / "services.toml"
    path.write_text(text, encoding="utf-8")
    ConsoleHarness(runtime).apply(path)
    return runtime


@pytest.fixture
def fs_rt(db_url: str, engine: Engine, feishu_fake: FakeFeishu, tmp_path: Path) -> Runtime:
    feishu_fake.sends.clear()
    section = FeishuSettings(
        enabled=True, app_id=feishu_fake.app_id, app_secret=feishu_fake.app_secret,
        encrypt_key=fs.ENCRYPT_KEY, verification_token=fs.TOKEN, domain=feishu_fake.url,
    )  # fmt: skip
    settings = Settings(db=db_url, feishu=section)
    return _runtime(settings, engine, engagement_file("feishu", FS_GROUP), tmp_path)


@pytest.fixture
def wc_rt(db_url: str, engine: Engine, wecom_fake: FakeWecom, tmp_path: Path) -> Runtime:
    wecom_fake.calls.clear()
    section = WecomSettings(
        enabled=True, corp_id=wc.CORP_ID, agent_id=wc.AGENT_ID, secret="s3cret", token=wc.TOKEN,
        encoding_aes_key=wc.AES_KEY, api_base=wecom_fake.url,
    )  # fmt: skip
    settings = Settings(db=db_url, wecom=section)
    return _runtime(settings, engine, engagement_file("wecom", WC_GROUP), tmp_path)


async def _client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(rt, scheduler=False)  # no lifespan: the tests drain inbox and outbox
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rentian.test") as http:
        yield http


@pytest.fixture
async def fs_client(fs_rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(fs_rt):
        yield http


@pytest.fixture
async def wc_client(wc_rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(wc_rt):
        yield http


# -- helpers -------------------------------------------------------------------------------

_event_ids = iter(range(1, 1_000_000))


async def say(client: httpx.AsyncClient, sender: str, text: str) -> None:
    """A person's message in the Feishu group, signed and encrypted as Feishu sends it."""
    n = next(_event_ids)
    event = fs.message_event(text, event_id=f"ev_s{n}", message_id=f"om_s{n}", sender=sender)
    assert (await fs.post(client, event)).status_code == 200


async def deliver(rt: Runtime, channel: str) -> list[Any]:
    """Handle the inbox, then send the outbox through the channel's SDK: the rows sent now."""
    drain_inbox(rt)
    pending = {row.id for row in ConsoleHarness(rt).outbox(channel=channel, status="pending")}
    sender = (feishu if channel == "feishu" else wecom).create(rt.settings).sender()
    result = await Dispatcher(rt.engine, {channel: sender}, OutboxSettings()).drain_once()
    rows = ConsoleHarness(rt).outbox(channel=channel)
    assert result.failed == 0 and {r.status for r in rows} == {"sent"}, rows
    return [r for r in rows if r.id in pending]


def content(send: Any) -> Any:
    """The `content` of a Feishu send: its card or its text, as Feishu receives it."""
    return json.loads(send.body["content"])


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons of the card's one action row."""
    (row,) = [e["actions"] for e in card["elements"] if e["tag"] == "action"]
    return list(row)


def click(value: dict[str, Any], operator: str, chat: str, event_id: str) -> dict[str, Any]:
    """A `card.action.trigger` callback as Feishu sends it when `operator` clicks a button
    whose value is `value` on a card in `chat`."""
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id, "token": fs.TOKEN, "create_time": "1764036000000",
            "event_type": "card.action.trigger", "tenant_key": "tk", "app_id": "cli_x",
        },
        "event": {
            "operator": {"tenant_key": "tk", "open_id": operator, "user_id": f"u_{operator}"},
            "token": "c-update-token", "host": "im_message",
            "action": {"tag": "button", "value": value},
            "context": {"open_message_id": "om_card_1", "open_chat_id": chat},
        },
    }  # fmt: skip


def _engagement_id(rt: Runtime) -> int:
    with transaction(rt.engine) as session:
        return int(session.execute(select(col(Engagement.id))).scalar_one())


def _occurrence(rt: Runtime) -> Occ:
    with transaction(rt.engine) as session:
        occ: Occ = session.execute(select(Occ)).scalars().one()
        session.expunge(occ)
        return occ


# -- the knowledge base on Feishu ------------------------------------------------------------


async def test_ask_answers_with_articles_and_vendor_staff_add_one(
    fs_rt: Runtime, fs_client: httpx.AsyncClient, feishu_fake: FakeFeishu
) -> None:
    await say(fs_client, LIU_YANG, "/问 Hive查询很慢怎么办")
    (answer,) = await deliver(fs_rt, "feishu")
    assert answer.kind == "kb.answer"
    (sent,) = feishu_fake.sends
    assert sent.path == f"{MESSAGES_PATH}/{answer.reply_to}/reply"
    assert sent.body["msg_type"] == "text"
    said = content(sent)["text"]
    assert said == answer.text and said.count("KB-") == 3
    assert "Hive 查询很慢" in said and "文件 kb/hive-slow.md" in said

    await say(fs_client, MA_LIN, '/知识 新增 "堡垒机登录" 使用 JumpServer 堡垒机登录生产服务器，账号同统一认证。')  # fmt: skip
    await say(fs_client, LIU_YANG, '/知识 新增 "x" 甲方不能写知识库')
    await say(fs_client, LIU_YANG, "/问 堡垒机怎么登录")
    added, refused, found = await deliver(fs_rt, "feishu")
    assert (added.kind, refused.kind, found.kind) == ("kb.added", "error.permission", "kb.answer")
    texts = [content(s)["text"] for s in feishu_fake.sends[1:]]
    assert "KB-" in texts[0] and "堡垒机登录" in texts[0]
    assert "堡垒机登录" in texts[2] and "JumpServer" in texts[2]


async def test_a_clients_ticket_suggests_articles_and_the_reporter_closes_it_by_the_button(
    fs_rt: Runtime, fs_client: httpx.AsyncClient, feishu_fake: FakeFeishu
) -> None:
    await say(fs_client, LIU_YANG, "/工单 P3 VPN 连接失败，登录不了")
    (reply,) = await deliver(fs_rt, "feishu")
    assert (reply.kind, reply.ref) == ("ticket.suggested", "T-1")
    (sent,) = feishu_fake.sends
    assert sent.path.endswith(f"/{reply.reply_to}/reply") and sent.body["msg_type"] == "interactive"
    card = content(sent)
    assert card["header"]["title"]["content"] == "知识库或可解答 T-1"
    assert card["elements"][0] == {"tag": "div", "text": {"tag": "lark_md", "content": reply.text}}
    assert "可能相关：KB-" in reply.text and "若已解答：/已解决 T-1 知识库" in reply.text
    (button,) = actions(card)
    assert {k: button[k] for k in ("tag", "type", "text")} == {
        "tag": "button", "type": "primary", "text": {"tag": "plain_text", "content": "已解决（知识库）"},
    }  # fmt: skip
    value = button["value"]
    assert (value["command"], value["chat_type"]) == ("/已解决 T-1 知识库", "group")

    refused = await fs.post(fs_client, click(value, SUN_WEI, FS_GROUP, "ev_click_vendor"))
    assert refused.json()["toast"]["type"] == "error"  # the vendor may not close it as answered
    done = await fs.post(fs_client, click(value, LIU_YANG, FS_GROUP, "ev_click_reporter"))
    assert done.status_code == 200 and done.json()["toast"]["type"] == "success"
    answered = done.json()["card"]["data"]
    assert answered["header"]["title"]["content"] == "知识库或可解答 T-1"
    assert answered["elements"][-1]["text"]["content"].startswith(f"<at id={LIU_YANG}></at>: ")
    assert "知识库已解答" in answered["elements"][-1]["text"]["content"]
    assert not any(e["tag"] == "action" for e in answered["elements"])
    with transaction(fs_rt.engine) as session:
        ticket = session.execute(select(Ticket)).scalars().one()
        assert (ticket.status, ticket.reporter_key) == ("closed", "liu.yang")
        assert len(session.execute(select(KbDeflection)).all()) == 1

    await say(fs_client, WANG_LI, "/进度")
    rows = await deliver(fs_rt, "feishu")  # the clicks' answers went to the group too; /进度
    assert [r.kind for r in rows] == ["error.permission", "ticket.closed", "status"]
    assert "📚 本月知识库解答 1 个工单" in content(feishu_fake.sends[-1])["text"]


async def test_a_vendors_ticket_and_a_ticket_without_suggestions_stay_plain_text(
    fs_rt: Runtime, fs_client: httpx.AsyncClient, feishu_fake: FakeFeishu
) -> None:
    await say(fs_client, SUN_WEI, "/工单 P3 VPN 连接失败")
    await say(fs_client, LIU_YANG, "/工单 P3 食堂今天中午吃什么")
    by_vendor, nothing_found = await deliver(fs_rt, "feishu")
    assert [by_vendor.kind, nothing_found.kind] == ["ticket.opened", "ticket.opened"]
    assert [s.body["msg_type"] for s in feishu_fake.sends] == ["text", "text"]


# -- recurring obligations on Feishu, and on WeCom ---------------------------------------------


async def test_obligations_listed_evidenced_and_acknowledged_by_the_card_button(
    fs_rt: Runtime, fs_client: httpx.AsyncClient, feishu_fake: FakeFeishu
) -> None:
    await say(fs_client, SUN_WEI, "/义务")
    (listing,) = await deliver(fs_rt, "feishu")
    assert listing.kind == "obligation.list"
    assert "O-1" in content(feishu_fake.sends[0])["text"]
    assert "月度系统健康检查" in content(feishu_fake.sends[0])["text"]

    await say(fs_client, SUN_WEI, "/义务 完成 O-1 https://docs.example/hc-2026-11 一切正常")
    submitted, ask = await deliver(fs_rt, "feishu")
    assert (submitted.kind, ask.kind, ask.recipient_type) == (
        "obligation.submitted", "obligation.ask_ack", "person",
    )  # fmt: skip
    to_approver = feishu_fake.sends[-1]
    assert to_approver.path == MESSAGES_PATH and to_approver.query == {"receive_id_type": "open_id"}
    assert to_approver.body["receive_id"] == WANG_LI
    assert to_approver.body["msg_type"] == "interactive"
    card = content(to_approver)
    assert card["header"]["title"]["content"] == "定期义务待确认 O-1"
    assert "https://docs.example/hc-2026-11" in card["elements"][0]["text"]["content"]
    (button,) = actions(card)
    assert (button["type"], button["text"]["content"]) == ("primary", "确认")
    value = button["value"]
    assert (value["command"], value["chat_type"]) == ("/义务 确认 O-1", "direct")

    p2p = "oc_p2p_wangli"  # the approver's direct chat with the bot, where the card is
    done = await fs.post(fs_client, click(value, WANG_LI, p2p, "ev_ack_1"))
    assert done.json()["toast"]["type"] == "success", done.json()
    assert "王丽 已确认" in done.json()["card"]["data"]["elements"][-1]["text"]["content"]
    occ = _occurrence(fs_rt)
    assert (occ.state, occ.evidence_link) == ("done", "https://docs.example/hc-2026-11")
    with transaction(fs_rt.engine) as session:
        (signature,) = session.execute(select(Signature)).scalars().all()
        assert (signature.subject, signature.party) == ("O-1", "client")
        assert signature.content_hash == occ.content_hash


async def test_on_wecom_the_approver_acknowledges_by_the_template_cards_button(
    wc_rt: Runtime, wc_client: httpx.AsyncClient, wecom_fake: FakeWecom
) -> None:
    for n, typed in enumerate(("/义务", "/义务 完成 O-1 https://docs.example/hc 一切正常")):
        xml = wc.inner_xml(typed, sender="SunWei", msg_id=f"70000000000000001{n}")
        assert (await wc.post(wc_client, xml)).status_code == 200
    listing, submitted, ask = await deliver(wc_rt, "wecom")
    assert listing.kind == "obligation.list" and "O-1" in listing.text
    assert (submitted.kind, ask.kind) == ("obligation.submitted", "obligation.ask_ack")
    (sent,) = [c for c in wecom_fake.sends if c.path == MESSAGE_PATH]
    assert (sent.body["touser"], sent.body["msgtype"]) == ("WangLi", "template_card")
    body = sent.body["template_card"]
    assert body["card_type"] == "button_interaction"
    assert "https://docs.example/hc" in body["sub_title_text"]
    assert body["button_list"] == [{"text": "确认", "style": 1, "key": "/obligations ack O-1"}]

    refused = wc.card_click(body["button_list"][0]["key"], sender="LiuYang", task=body["task_id"])
    assert (await wc.post(wc_client, refused)).status_code == 200  # a client member: refused
    assert _occurrence(wc_rt).state == "submitted"
    clicked = wc.card_click(body["button_list"][0]["key"], sender="WangLi", task=body["task_id"])
    assert (await wc.post(wc_client, clicked)).status_code == 200
    rows = await deliver(wc_rt, "wecom")  # each clicker is answered in their direct chat
    assert [(r.kind, r.recipient_type, r.address) for r in rows] == [
        ("error.permission", "chat", "LiuYang"),
        ("obligation.acknowledged", "chat", "WangLi"),
        ("obligation.acknowledged", "person", "SunWei"),  # the vendor PM hears of it
    ]
    assert _occurrence(wc_rt).state == "done"


# -- a monitoring alert's notice on Feishu ---------------------------------------------------


async def test_an_alert_posted_to_the_server_reaches_the_feishu_group(
    fs_rt: Runtime, fs_client: httpx.AsyncClient, feishu_fake: FakeFeishu
) -> None:
    engagement_id = _engagement_id(fs_rt)
    with transaction(fs_rt.engine) as session:
        token = alerts.create_token(session, engagement_id, "prometheus", clock.now())
    body = json.loads((Path(__file__).parent / "payloads/alerts/generic.json").read_text("utf-8"))
    answer = await fs_client.post("/webhooks/alerts/generic", json=body,
                                  headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    (notice,) = await deliver(fs_rt, "feishu")
    assert (notice.kind, notice.ref, notice.address) == ("alert.opened", "T-1", FS_GROUP)
    (sent,) = feishu_fake.sends
    assert sent.path == MESSAGES_PATH and sent.query == {"receive_id_type": "chat_id"}
    assert (sent.body["receive_id"], sent.body["msg_type"]) == (FS_GROUP, "text")
    said = content(sent)["text"]
    assert said.startswith("🚨 监控告警已开单 T-1 · P3")
    assert "Nightly orders ETL has not finished" in said
    assert "开始于 2026-11-25 09:30，首次响应截止 2026-11-25 13:30" in said  # from starts_at


# -- the services' buttons on each platform (pure) ------------------------------------------


def outgoing(kind: str, ref: str, **fields: Any) -> Outgoing:
    base: dict[str, Any] = {
        "id": 1, "channel": "feishu", "recipient_type": "person", "address": "someone",
        "kind": kind, "ref": ref, "text": f"{ref} 待处理", "dedupe_key": f"k:{kind}:{ref}",
    }  # fmt: skip
    return Outgoing(**{**base, **fields})


# kind, ref, (Chinese title, label, command), (English title, label, command)
BUTTONS = [
    ("ticket.suggested", "T-12", ("知识库或可解答 T-12", "已解决（知识库）", "/已解决 T-12 知识库"),
     ("The knowledge base may answer T-12", "Answered", "/answered T-12")),
    ("obligation.ask_ack", "O-3", ("定期义务待确认 O-3", "确认", "/义务 确认 O-3"),
     ("Obligation to acknowledge O-3", "Acknowledge", "/obligations ack O-3")),
    ("obligation.sign", "O-4", ("升级窗口待签署 O-4", "签署", "/义务 签署 O-4"),
     ("Upgrade window to sign O-4", "Sign", "/obligations sign O-4")),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "ref", "zh", "en"), BUTTONS)
def test_feishu_cards_carry_the_services_buttons(
    kind: str, ref: str, zh: tuple[str, str, str], en: tuple[str, str, str]
) -> None:
    for locale, (title, label, command) in (("zh-CN", zh), ("en", en)):
        msg_type, raw = feishu_render(outgoing(kind, ref, locale=locale))
        card = json.loads(raw)
        assert msg_type == "interactive" and card["header"]["title"]["content"] == title
        (button,) = actions(card)
        assert (button["type"], button["text"]["content"]) == ("primary", label)
        assert (button["value"]["command"], button["value"]["chat_type"]) == (command, "direct")
    assert feishu_render(outgoing("ticket.opened", ref))[0] == "text"  # no suggestions: no button


@pytest.mark.parametrize(("kind", "ref", "zh", "en"), BUTTONS)
def test_dingtalk_action_cards_carry_the_services_buttons(
    kind: str, ref: str, zh: tuple[str, str, str], en: tuple[str, str, str]
) -> None:
    for locale, (title, label, command) in (("zh-CN", zh), ("en", en)):
        call = dingtalk_render(outgoing(kind, ref, locale=locale, channel="dingtalk"), "robot")
        param = json.loads(call.body["msgParam"])
        assert call.body["msgKey"] == "sampleActionCard" and param["title"] == title
        assert param["singleTitle"] == label
        link = param["singleURL"]
        assert link.startswith("dtmd://dingtalkclient/sendMessage?content=")
        assert unquote(link.split("content=", 1)[1]) == command
    plain = dingtalk_render(outgoing("ticket.opened", ref, channel="dingtalk"), "robot")
    assert plain.body["msgKey"] == "sampleText"


@pytest.mark.parametrize(("kind", "ref", "zh", "en"), BUTTONS)
def test_wecom_template_cards_carry_the_services_buttons(
    kind: str, ref: str, zh: tuple[str, str, str], en: tuple[str, str, str]
) -> None:
    for locale, (_, label, _command) in (("zh-CN", zh), ("en", en)):
        message = outgoing(kind, ref, locale=locale, channel="wecom")
        body = wecom_card(message, wc.AGENT_ID, "WangLi")
        assert body is not None and body["msgtype"] == "template_card"
        # the button's key is the English command in either language
        assert body["template_card"]["button_list"] == [{"text": label, "style": 1, "key": en[2]}]
    assert wecom_card(outgoing("ticket.opened", ref, channel="wecom"), wc.AGENT_ID, "x") is None
