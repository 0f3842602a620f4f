"""The email channel: parsing and rendering (pure), then the whole path against real servers on
loopback — aiosmtplib -> aiosmtpd -> Dovecot Maildir -> IMAP IDLE -> bus -> outbox ->
aiosmtplib -> the client's mailbox, read back over IMAP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import make_msgid
from pathlib import Path

import aioimaplib  # type: ignore[import-untyped]
import aiosmtplib
import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from adapters import email as mail_adapter
from adapters.email import parse as mail_parse
from adapters.email.body import strip_quotes
from adapters.email.client import EmailSender
from adapters.email.imap import Throttle
from adapters.email.mail import read
from adapters.email.render import render
from app.http import create_app
from app.runtime import Runtime, build
from base.errors import NetworkError, PlatformRefused
from bot import clock
from bot.channels import Inlet
from bot.dispatcher import Dispatcher
from bot.message import Inbound, Outgoing
from bot.outcome import Outcome
from config.settings import EmailSettings, OutboxSettings, Settings
from storage.db import transaction
from storage.models import OutboxMessage, Ticket, TicketEvent
from tests.fakes.mailservers import PASSWORD, MailServers, mail_servers, skip_reason
from tests.harness import ConsoleHarness

SUPPORT = "support@example.test"
CLIENT = "wang.li@client.example"
ENGINEER = "zhao.gang@vendor.example"
OUTSIDER = "mallory@elsewhere.example"
ENGAGEMENT = f"""
[engagement]
code = "MAIL-2026"
name = "邮件支持"
client = "示例集团"
vendor = "示例科技"
start = 2026-11-01
end = 2027-04-30

[[people]]
id = "wang.li"
name = "王丽"
party = "client"
roles = ["client_approver"]
[people.identities]
email = "{CLIENT}"

[[people]]
id = "zhao.gang"
name = "赵刚"
party = "vendor"
roles = ["engineer"]
level = "senior"
[people.identities]
email = "{ENGINEER}"

[[chats]]
channel = "email"
id = "{SUPPORT}"
"""


def raw_mail(subject: str, body: str, *, sender: str = CLIENT, charset: str = "utf-8",
             **headers: str) -> bytes:  # fmt: skip
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Message-ID"] = headers.pop("message_id", make_msgid(domain="client.example"))
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body, charset=charset)
    return msg.as_bytes()


def parse(raw: bytes) -> Inbound | None:
    return mail_parse.parse(raw, address=SUPPORT, now=clock.now())


# -- pure: parsing ----------------------------------------------------------------------------


def test_chinese_subject_and_gbk_body_decode() -> None:
    raw = raw_mail("【紧急】数据库宕机", "生产库连接不上\r\n请尽快处理", charset="gbk")
    assert b"=?utf-8?" in raw and b'charset="gbk"' in raw
    inbound = parse(raw)
    assert inbound is not None
    assert inbound.raw["subject"] == "【紧急】数据库宕机"
    assert inbound.text == "生产库连接不上\n请尽快处理"
    assert inbound.sender_id == CLIENT and inbound.chat_id == SUPPORT
    assert [i.text for i in mail_parse.commands(inbound)] == ["/工单 P1 数据库宕机"]


def test_gb2312_label_with_gbk_characters_and_rfc2047_gb2312_subject() -> None:
    body = "镕基 服务器".encode("gbk")  # 镕 is GBK, not GB2312: mislabelled mail is common
    raw = (b"From: =?gb2312?b?zfXA9g==?= <Wang.Li@Client.Example>\r\nTo: " + SUPPORT.encode()
           + b"\r\nSubject: =?gb2312?b?saix7bW8s/a07c7z?=\r\nMessage-ID: <g@c>\r\n"
           b"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           + body)  # fmt: skip
    mail = read(raw)
    assert mail is not None
    assert (mail.sender, mail.sender_name) == (CLIENT, "王丽")
    assert mail.subject == "报表导出错误"
    assert mail.text == "镕基 服务器"


def test_html_only_body_becomes_text_without_quoted_blocks() -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = CLIENT, SUPPORT, "报表"
    msg.set_content("<html><head><style>p{}</style></head><body><p>第一行&amp;</p>"
                    "<div>第二行<br>第三行</div><blockquote>旧的内容</blockquote></body></html>",
                    subtype="html")  # fmt: skip
    inbound = parse(msg.as_bytes())
    assert inbound is not None and inbound.text == "第一行&\n\n第二行\n第三行"
    assert inbound.event_id.endswith("@no-message-id.rentian>")  # stable id when none is given


@pytest.mark.parametrize(
    "body",
    [
        "新的内容\n\nOn Wed, Nov 25, 2026 at 10:00 AM Support <support@example.test> wrote:\n> old",
        "新的内容\n\nOn Wed, Nov 25, 2026 at 10:00 AM Support <\nsupport@example.test> wrote:\n> old",
        "新的内容\n\n在 2026年11月25日 10:00，Support 写道：\n> 旧的",
        "新的内容\n> quoted\n-- \n王丽 | 示例集团",
        "新的内容\n\n-----原始邮件-----\n发件人: support@example.test\n旧的",
    ],
)
def test_quoted_text_is_removed(body: str) -> None:
    assert strip_quotes(body) == "新的内容"


@pytest.mark.parametrize(
    ("headers", "sender"),
    [
        ({"Auto_Submitted": "auto-replied"}, CLIENT),
        ({"Precedence": "bulk"}, CLIENT),
        ({"Precedence": "auto_reply"}, CLIENT),
        ({"X_Autoreply": "yes"}, CLIENT),
        ({"X_Autorespond": "yes"}, CLIENT),
        ({}, SUPPORT.upper()),
        ({}, "MAILER-DAEMON@client.example"),
    ],
)
def test_automatic_mail_is_not_turned_into_a_message(headers: dict[str, str], sender: str) -> None:
    assert parse(raw_mail("Out of office", "I am away", sender=sender, **headers)) is None


def test_auto_submitted_no_is_a_person() -> None:
    assert parse(raw_mail("问题", "内容", Auto_Submitted="no")) is not None


def test_delivery_report_is_not_turned_into_a_message() -> None:
    assert parse(bounce(make_msgid())) is None


def bounce(original: str) -> bytes:
    return (
        f"From: Mail Delivery System <postmaster-bot@client.example>\r\nTo: {SUPPORT}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: {make_msgid()}\r\n"
        f"In-Reply-To: {original}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        "Final-Recipient: rfc822; nobody@client.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B--\r\n"
    ).encode()


def test_attachments_are_listed_by_name_and_size() -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = CLIENT, SUPPORT, "日志"
    msg.set_content("见附件")
    msg.add_attachment(b"x" * 2048, maintype="application", subtype="gzip", filename="app.log.gz")
    inbound = parse(msg.as_bytes())
    assert inbound is not None
    assert inbound.raw["attachments"] == [("app.log.gz", 2048)]
    assert inbound.text == "见附件\n附件：app.log.gz (2 KB)"


def test_a_reply_threads_by_our_message_id_then_by_subject_token() -> None:
    by_id = parse(
        raw_mail("Re: 你好", "/响应 T-4\n已看到\n> 旧", In_Reply_To="<rentian.T-4.9@example.test>")
    )
    assert by_id is not None and by_id.raw["ticket"] == "T-4"
    steps = mail_parse.commands(by_id)
    assert [s.text for s in steps] == ["/响应 T-4", "/备注 T-4 已看到"]
    assert steps[0].event_id == by_id.event_id and steps[1].event_id == f"{by_id.event_id}#1"
    by_subject = parse(raw_mail("Re: [T-7] 报表导出超时", "日志已上传"))
    assert by_subject is not None
    assert [s.text for s in mail_parse.commands(by_subject)] == ["/备注 T-7 日志已上传"]
    new = parse(raw_mail("Re: [P2] 报表导出超时", "详情"))
    assert new is not None and [s.text for s in mail_parse.commands(new)] == [
        "/工单 P2 报表导出超时"
    ]


def test_render_threads_the_answer_and_marks_it_automatic() -> None:
    handle = mail_parse.reply_handle("<a1@client.example>", CLIENT)
    reply = Outgoing(id=12, channel="email", recipient_type="chat", address=SUPPORT,
                     kind="ticket.opened", ref="T-3", text="🎫 已开单 T-3\n截止", reply_to=handle)  # fmt: skip
    msg = render(reply, address=SUPPORT)
    assert msg is not None
    assert (msg["To"], msg["From"], msg["Subject"]) == (CLIENT, SUPPORT, "[T-3] 🎫 已开单 T-3")
    assert (msg["Message-ID"], msg["In-Reply-To"]) == (
        "<rentian.T-3.12@example.test>",
        "<a1@client.example>",
    )
    assert msg["Auto-Submitted"] == "auto-replied"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    alert = Outgoing(id=13, channel="email", recipient_type="person", address=ENGINEER,
                     kind="sla.breach", ref="T-3", text="超时")  # fmt: skip
    sent = render(alert, address=SUPPORT)
    assert (
        sent is not None and sent["To"] == ENGINEER and sent["Auto-Submitted"] == "auto-generated"
    )
    post = Outgoing(id=14, channel="email", recipient_type="chat", address=SUPPORT,
                    kind="progress.sync", ref="", text="进度")  # fmt: skip
    assert render(post, address=SUPPORT) is None  # no group to post in


async def test_an_unreachable_smtp_server_is_a_network_error() -> None:
    closed = EmailSettings(enabled=True, address=SUPPORT, smtp_host="127.0.0.1",
                           smtp_port=_closed_port(), smtp_tls=False)  # fmt: skip
    message = Outgoing(
        id=1, channel="email", recipient_type="person", address=CLIENT, kind="k", ref="", text="x"
    )
    with pytest.raises(NetworkError):
        await EmailSender(closed).send(message)


def _closed_port() -> int:
    from tests.fakes.mailservers import free_port

    return free_port()


def test_the_throttle_stops_a_sender_after_the_hourly_limit() -> None:
    throttle = Throttle(limit=2)
    start = clock.now()
    assert [throttle.allow(CLIENT, start + timedelta(minutes=m)) for m in (0, 1, 2)] == [
        True,
        True,
        False,
    ]
    assert throttle.allow(ENGINEER, start + timedelta(minutes=2))  # per sender
    assert throttle.allow(CLIENT, start + timedelta(minutes=60))  # the first one has aged out


# -- real servers -----------------------------------------------------------------------------

needs_servers = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


@pytest.fixture
def servers() -> Iterator[MailServers]:
    with mail_servers([SUPPORT, CLIENT, ENGINEER, OUTSIDER]) as running:
        yield running


def settings_for(servers: MailServers) -> EmailSettings:
    return EmailSettings(
        enabled=True, address=SUPPORT, imap_host="127.0.0.1", imap_port=servers.imap_port,
        imap_tls=False, imap_user=SUPPORT, imap_password=PASSWORD, smtp_host="127.0.0.1",
        smtp_port=servers.smtp_port, smtp_tls=False, smtp_starttls=False,
        authserv_id="mx.vendor.example",
    )  # fmt: skip


class Desk:
    """A running email channel on an engagement, and ways to look at what happened."""

    def __init__(self, runtime: Runtime, servers: MailServers) -> None:
        self.runtime = runtime
        self.servers = servers
        self.adapter = mail_adapter.create(runtime.settings)
        self.handled: list[Inbound] = []

    async def handle(self, inbound: Inbound) -> Outcome:
        self.handled.append(inbound)
        return await asyncio.to_thread(self.runtime.bus.handle, inbound)

    async def accept(self, inbound: Inbound) -> bool:  # mail does not use the inbox
        raise AssertionError(f"mail {inbound.event_id} went to the inbox")

    async def start(self) -> None:
        await self.adapter.start(Inlet(accept=self.accept, handle=self.handle))
        await wait_until(lambda: self.adapter.watcher.connected.is_set())

    async def mail(self, sender: str, subject: str, body: str, **headers: str) -> str:
        raw = raw_mail(subject, body, sender=sender, **headers)
        message_id = str(message_from_bytes(raw, policy=default)["Message-ID"])
        await aiosmtplib.send(raw, sender=sender, recipients=[SUPPORT], hostname="127.0.0.1",
                              port=self.servers.smtp_port, use_tls=False, start_tls=False)  # fmt: skip
        return message_id

    async def drain(self) -> None:
        dispatcher = Dispatcher(
            self.runtime.engine, {"email": self.adapter.sender()}, OutboxSettings()
        )
        await dispatcher.drain_once()

    def tickets(self) -> list[Ticket]:
        with transaction(self.runtime.engine) as session:
            return list(session.execute(select(Ticket).order_by(Ticket.number)).scalars())  # type: ignore[arg-type]

    def notes(self) -> list[str]:
        with transaction(self.runtime.engine) as session:
            query = (
                select(col(TicketEvent.text))
                .where(col(TicketEvent.kind) == "note")
                .order_by(col(TicketEvent.id))
            )
            return [str(t) for t in session.execute(query).scalars()]


@pytest.fixture
def mail_runtime(servers: MailServers, engine: Engine, db_url: str, tmp_path: Path) -> Runtime:
    """A runtime with the email channel on these servers and the test engagement applied."""
    runtime = build(Settings(db=db_url, email=settings_for(servers)), engine)
    path = tmp_path / "mail.toml"
    path.write_text(ENGAGEMENT, encoding="utf-8")
    ConsoleHarness(runtime).apply(path)
    return runtime


@pytest.fixture
async def desk(servers: MailServers, mail_runtime: Runtime) -> AsyncIterator[Desk]:
    running = Desk(mail_runtime, servers)
    await running.start()
    yield running
    await running.adapter.stop()


async def wait_until(check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if await result if isinstance(result, Awaitable) else result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


async def inbox(servers: MailServers, user: str) -> list[EmailMessage]:
    """Every message in `user`'s INBOX, read over IMAP."""
    client = aioimaplib.IMAP4(host="127.0.0.1", port=servers.imap_port, timeout=5)
    await client.wait_hello_from_server()
    await client.login(user, PASSWORD)
    await client.select("INBOX")
    found = await client.search("ALL")
    messages = []
    for number in found.lines[0].decode().split():
        fetched = await client.fetch(number, "(BODY.PEEK[])")
        raw = next(bytes(line) for line in fetched.lines if isinstance(line, bytearray))
        messages.append(message_from_bytes(raw, policy=default))
    await client.logout()
    # Closed here, not when the server's goodbye is read: the test's event loop may end first,
    # and a transport collected unclosed warns in whichever test runs next.
    client.protocol.transport.close()
    return messages  # type: ignore[return-value]


async def answers(desk: Desk, user: str, count: int) -> list[EmailMessage]:
    """`user`'s mailbox once it holds `count` messages, draining the outbox meanwhile."""

    async def arrived() -> bool:
        await desk.drain()
        return _count(desk.servers, user) >= count

    await wait_until(arrived)
    return await inbox(desk.servers, user)


def _count(servers: MailServers, user: str) -> int:
    box = servers.maildir(user)
    return sum(1 for sub in ("new", "cur") if (box / sub).exists() for _ in (box / sub).iterdir())


@needs_servers
async def test_new_email_opens_a_ticket_and_the_confirmation_arrives(desk: Desk) -> None:
    original = await desk.mail(
        CLIENT, "【高】报表导出超时", "导出 10 万行时超时\n\n附：错误截图稍后发"
    )
    await wait_until(lambda: len(desk.notes()) == 1)
    [ticket] = desk.tickets()
    assert (ticket.ref, ticket.severity, ticket.title) == ("T-1", "P2", "报表导出超时")
    assert desk.notes() == ["导出 10 万行时超时\n\n附：错误截图稍后发"]
    [answer] = await answers(desk, CLIENT, 1)
    assert answer["Subject"].startswith("[T-1] ") and "已开单" in answer["Subject"]
    assert answer["In-Reply-To"] == original and answer["Auto-Submitted"] == "auto-replied"
    assert answer["Message-ID"].startswith("<rentian.T-1.")
    assert "T-1" in answer.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@needs_servers
async def test_replies_thread_by_in_reply_to_and_by_subject_token(desk: Desk) -> None:
    await desk.mail(CLIENT, "[P3] 页面打不开", "首页 500")
    [confirmation] = await answers(desk, CLIENT, 1)
    await desk.mail(ENGINEER, f"Re: {confirmation['Subject']}", "/响应 T-1\n正在排查\n\n> 旧内容",
                    In_Reply_To=confirmation["Message-ID"],  # the engineer's domain vouches:
                    Authentication_Results="mx.vendor.example; dmarc=pass header.from=vendor.example")  # fmt: skip
    await wait_until(lambda: "正在排查" in desk.notes())
    assert desk.tickets()[0].acked_at is not None
    await desk.mail(CLIENT, "Re: [T-1] 页面打不开", "补充：只有 Chrome 有问题")
    await wait_until(lambda: "补充：只有 Chrome 有问题" in desk.notes())
    assert len(desk.tickets()) == 1


@needs_servers
async def test_a_forged_reply_from_outside_does_not_attach(desk: Desk) -> None:
    await desk.mail(CLIENT, "登录失败", "提示密码错误")
    await wait_until(lambda: len(desk.notes()) == 1)
    await desk.mail(OUTSIDER, "Re: [T-1] 登录失败", "/关闭 T-1\n已解决，请关闭",
                    In_Reply_To="<rentian.T-1.1@example.test>")  # fmt: skip
    await wait_until(lambda: len(desk.handled) == 4)
    assert desk.notes() == ["提示密码错误"]
    assert desk.tickets()[0].status != "closed"
    refusals = await answers(desk, OUTSIDER, 2)
    assert len(refusals) == 2
    with transaction(desk.runtime.engine) as session:
        query = select(col(OutboxMessage.kind)).where(
            col(OutboxMessage.reply_to).endswith(f" {OUTSIDER}")
        )
        assert set(session.execute(query).scalars()) == {"error.permission"}


@needs_servers
async def test_out_of_office_and_bounces_make_no_ticket_and_no_answer(desk: Desk) -> None:
    await desk.mail(CLIENT, "自动回复：不在办公室", "我在休假", Auto_Submitted="auto-replied")
    desk.servers.deliver(SUPPORT, bounce("<rentian.T-1.1@example.test>"))  # MAIL FROM:<>
    await desk.mail(CLIENT, "真正的问题", "数据不同步")  # processed after the two above
    await wait_until(lambda: len(desk.tickets()) == 1)
    assert desk.tickets()[0].title == "真正的问题"
    assert [i.raw["subject"] for i in desk.handled][:1] == ["真正的问题"]
    assert len(await answers(desk, CLIENT, 1)) == 1  # the real ticket's confirmation only


@needs_servers
async def test_mail_delivered_while_stopped_is_processed_after_restart_once(desk: Desk) -> None:
    await desk.adapter.stop()
    await desk.mail(CLIENT, "夜间告警", "磁盘满")
    await desk.start()
    await wait_until(lambda: len(desk.tickets()) == 1)
    await desk.adapter.stop()
    await desk.start()  # a restart finds nothing UNSEEN: nothing runs twice
    await desk.mail(CLIENT, "第二个问题", "CPU 高")
    await wait_until(lambda: len(desk.tickets()) == 2)
    assert [t.title for t in desk.tickets()] == ["夜间告警", "第二个问题"]
    assert len([i for i in desk.handled if i.text.startswith("/工单")]) == 2


@needs_servers
async def test_a_redelivered_mail_is_a_duplicate(desk: Desk) -> None:
    raw = raw_mail("重复投递", "内容", message_id="<same@client.example>")
    desk.servers.deliver(SUPPORT, raw)
    desk.servers.deliver(SUPPORT, raw)
    await wait_until(lambda: len([i for i in desk.handled if i.text.startswith("/工单")]) == 2)
    assert len(desk.tickets()) == 1


@needs_servers
async def test_the_watcher_reconnects_when_the_server_drops(desk: Desk) -> None:
    desk.servers.restart_imap()
    await desk.mail(CLIENT, "断线后的邮件", "重连后应处理")
    await wait_until(lambda: len(desk.tickets()) == 1, timeout=15)
    assert desk.tickets()[0].title == "断线后的邮件"


@needs_servers
async def test_a_refused_recipient_is_a_final_refusal(desk: Desk) -> None:
    message = Outgoing(id=5, channel="email", recipient_type="person", address="nobody@example.test",
                       kind="sla.breach", ref="T-1", text="超时")  # fmt: skip
    with pytest.raises(PlatformRefused) as refused:
        await desk.adapter.sender().send(message)
    assert (refused.value.retryable, refused.value.code) == (False, "550")


@needs_servers
async def test_serve_loads_the_channel_and_answers_by_itself(
    mail_runtime: Runtime, servers: MailServers
) -> None:
    app = create_app(mail_runtime, scheduler=False)
    async with app.router.lifespan_context(app):
        desk = Desk(mail_runtime, servers)  # only to send and look; the app runs the channel
        await desk.mail(CLIENT, "[P4] 咨询：如何导出报表", "谢谢")
        await wait_until(lambda: _count(servers, CLIENT) == 1)
    [answer] = await inbox(servers, CLIENT)
    assert answer["Subject"].startswith("[T-1] ")
