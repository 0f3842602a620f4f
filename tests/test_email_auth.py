"""Who sent a mail: Authentication-Results (RFC 8601) read as a pure function, trusted only from
our own MTA, and what each outcome lets a mail do — end to end against real mail servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib
import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from adapters.email import parse as mail_parse
from adapters.email.authres import AuthResult, authentication_results, vouched_by
from adapters.email.mail import read
from app.runtime import build
from base.errors import ConfigError
from bot import clock
from bot.assurance import Assurance
from config.settings import Settings
from handlers.engagements import engagement_fields
from handlers.sow import parse_engagement
from storage.db import transaction
from storage.models import ChangeRequest, OutboxMessage, TicketEvent
from tests.fakes.mailservers import MailServers, mail_servers, skip_reason
from tests.harness import ConsoleHarness
from tests.test_email import Desk, settings_for, wait_until

SUPPORT = "support@example.test"
CLIENT = "wang.li@client.example"
AUTHSERV = "mx.vendor.example"
SPOOFED = (
    f"{AUTHSERV}; spf=fail (client.example does not designate 203.0.113.9 as permitted sender) "
    "smtp.mailfrom=client.example; dmarc=fail (p=reject dis=none) header.from=client.example"
)
VOUCHED = f"{AUTHSERV}; dmarc=pass header.from=client.example"


# -- pure: reading one Authentication-Results header -------------------------------------------


def test_a_plain_header_reads_into_its_server_and_results() -> None:
    assert authentication_results("mx.vendor.example; dmarc=pass header.from=client.example") == (
        "mx.vendor.example",
        [AuthResult("dmarc", "pass", {"header.from": "client.example"})],
    )


def test_comments_several_methods_a_version_and_a_reason() -> None:
    value = (
        "mx.vendor.example (Postfix; 3.7) 1; spf=pass (sender SPF authorized) "
        "smtp.mailfrom=bounce@mail.client.example; dkim=pass (2048-bit key; (nested) unprotected) "
        'header.d=client.example header.i=@client.example header.s=s1 header.b="AbC+/x"; '
        'dmarc=fail reason="policy; quoted" (p=REJECT) header.from=client.example'
    )
    server, results = authentication_results(value)
    assert server == "mx.vendor.example"
    dkim = {"header.d": "client.example", "header.i": "@client.example", "header.s": "s1",
            "header.b": "AbC+/x"}  # fmt: skip
    assert results == [
        AuthResult("spf", "pass", {"smtp.mailfrom": "bounce@mail.client.example"}),
        AuthResult("dkim", "pass", dkim),
        AuthResult("dmarc", "fail", {"header.from": "client.example"}, reason="policy; quoted"),
    ]


def test_folding_case_and_spaces_around_the_signs_do_not_matter() -> None:
    value = (
        "MX.Vendor.Example;\r\n\tDMARC = Pass\r\n  Header . From = Client.Example ;\r\n SPF=None"
    )
    assert authentication_results(value) == (
        "mx.vendor.example",
        [AuthResult("dmarc", "pass", {"header.from": "Client.Example"}),
         AuthResult("spf", "none", {})],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mx.vendor.example; none", ("mx.vendor.example", [])),
        ('"mx.vendor.example"; dkim/1=pass header.d=client.example',
         ("mx.vendor.example", [AuthResult("dkim", "pass", {"header.d": "client.example"})])),
        ("", ("", [])),
        (";;;", ("", [])),
        ("dmarc=pass header.from=client.example", ("", [])),  # no authserv-id: nobody's
        ("mx.vendor.example; dmarc=pass (unclosed comment header.from=client.example",
         ("mx.vendor.example", [AuthResult("dmarc", "pass", {})])),
        ('mx.vendor.example; dmarc=pass reason="unclosed', ("mx.vendor.example",
         [AuthResult("dmarc", "pass", {}, reason="unclosed")])),
    ],
)  # fmt: skip
def test_odd_and_broken_headers_read_without_raising(
    value: str, expected: tuple[str, list[AuthResult]]
) -> None:
    assert authentication_results(value) == expected


# -- pure: did the sender's domain vouch for the mail, by our own MTA's word? -------------------


def mail_with(*results: str, sender: str = CLIENT) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, SUPPORT, "Re: [T-1] 报表"
    msg["Message-ID"] = make_msgid(domain="client.example")
    for value in results:
        msg["Authentication-Results"] = value
    msg.set_content("/签署 CR-1")
    return msg.as_bytes()


def vouch(*results: str, authserv_id: str = AUTHSERV, sender: str = CLIENT) -> str:
    mail = read(mail_with(*results, sender=sender))
    assert mail is not None
    return vouched_by(mail, authserv_id)


@pytest.mark.parametrize(
    ("results", "method"),
    [
        ([VOUCHED], "dmarc"),
        ([f"{AUTHSERV.upper()}; DMARC=PASS header.from=CLIENT.example"], "dmarc"),
        ([f"{AUTHSERV}; spf=pass smtp.mailfrom=client.example"], "spf"),
        ([f"{AUTHSERV}; spf=pass smtp.mailfrom=bounces+x@mail.client.example"], "spf"),
        ([f"{AUTHSERV}; dkim=pass header.d=client.example"], "dkim"),
        ([f"{AUTHSERV}; dkim=pass header.i=@eu.client.example"], "dkim"),
        # a signature of the mail provider as well as the client's own: the aligned one counts
        ([f"{AUTHSERV}; dkim=pass header.d=esp.example; dkim=pass header.d=client.example"], "dkim"),
        # the results of one MTA, written by its milters as several headers
        ([f"{AUTHSERV}; spf=fail smtp.mailfrom=esp.example", f"{AUTHSERV}; dkim=pass header.d=client.example",
          f"{AUTHSERV}; dmarc=pass header.from=client.example"], "dmarc"),
        # the domain has no DMARC policy (none): aligned SPF or DKIM decides
        ([f"{AUTHSERV}; dmarc=none header.from=client.example; spf=pass smtp.mailfrom=client.example"], "spf"),
    ],
)  # fmt: skip
def test_our_mtas_aligned_pass_vouches(results: list[str], method: str) -> None:
    assert vouch(*results) == method


@pytest.mark.parametrize(
    "results",
    [
        [],
        [SPOOFED],  # issue #12: the approver's address, SPF and DMARC failed
        # the sender's own header (another authserv-id) says what they like
        [SPOOFED, "client.example; dmarc=pass header.from=client.example"],
        ["mx.vendor.example.evil.example; dmarc=pass header.from=client.example"],
        [f"{AUTHSERV}; dmarc=pass header.from=other.example"],  # about another From
        [f"{AUTHSERV}; spf=pass smtp.mailfrom=attacker.example"],  # not aligned
        [f"{AUTHSERV}; dkim=pass header.d=evilclient.example"],  # a suffix, not a subdomain
        [f"{AUTHSERV}; dkim=pass header.d=example"],  # a bare top-level domain
        [f"{AUTHSERV}; spf=softfail smtp.mailfrom=client.example"],
        [f"{AUTHSERV}; dkim=neutral header.d=client.example; spf=temperror smtp.mailfrom=client.example"],
        [f"{AUTHSERV}; dkim=pass"],  # pass, but for whom?
        [f"{AUTHSERV}; dmarc=pass"],
        # DMARC failed by our MTA's verdict: an aligned-looking SPF pass does not overrule it
        [f"{AUTHSERV}; dmarc=fail header.from=client.example; spf=pass smtp.mailfrom=mail.client.example"],
        # our MTA's headers contradict each other (a forged one it failed to strip): no trust
        [f"{AUTHSERV}; dmarc=fail header.from=client.example", VOUCHED],
        [f"{AUTHSERV}; dkim=pass header.d=client.example", f"{AUTHSERV}; dkim=fail header.d=client.example"],
    ],
)  # fmt: skip
def test_anything_else_does_not_vouch(results: list[str]) -> None:
    assert vouch(*results) == ""


def test_without_an_authserv_id_no_header_is_trusted() -> None:
    assert vouch(VOUCHED, authserv_id="") == ""


def test_parse_sets_the_assurance() -> None:
    def assurance(*results: str, authserv_id: str = AUTHSERV) -> Assurance:
        inbound = mail_parse.parse(mail_with(*results), address=SUPPORT, now=clock.now(),
                                     authserv_id=authserv_id)  # fmt: skip
        assert inbound is not None
        return inbound.assurance

    assert assurance(VOUCHED) == Assurance.DOMAIN
    assert assurance(SPOOFED) == Assurance.ADDRESS
    assert assurance(VOUCHED, authserv_id="") == Assurance.ADDRESS
    assert assurance() == Assurance.ADDRESS
    inbound = mail_parse.parse(mail_with(VOUCHED), address=SUPPORT, now=clock.now(),
                                 authserv_id=AUTHSERV)  # fmt: skip
    assert inbound is not None
    assert {step.assurance for step in mail_parse.commands(inbound)} == {Assurance.DOMAIN}


# -- the engagement key -------------------------------------------------------------------------


def engagement_data(**extra: object) -> dict[str, object]:
    head = {"code": "AUTH-2026", "name": "n", "client": "c", "vendor": "v",
            "start": "2026-11-01", "end": "2027-04-30", **extra}  # fmt: skip
    return {"engagement": head}


def test_email_signing_is_off_unless_the_engagement_says_so() -> None:
    assert engagement_fields(parse_engagement(engagement_data()))["rules"]["email_signing"] is False
    spec = parse_engagement(engagement_data(email_signing=True))
    assert spec.email_signing is True
    assert engagement_fields(spec)["rules"]["email_signing"] is True
    with pytest.raises(ConfigError) as error:
        parse_engagement(engagement_data(email_signing="yes"))
    assert error.value.problems == ["engagement.email_signing: must be true or false, not 'yes'"]


# -- real servers -------------------------------------------------------------------------------

needs_servers = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

ENGAGEMENT = f"""
[engagement]
code = "AUTH-2026"
name = "邮件签署"
client = "示例集团"
vendor = "示例科技"
start = 2026-11-01
end = 2027-04-30
email_signing = {{signing}}

[budget]
senior = 10

[[people]]
id = "wang.li"
name = "王丽"
party = "client"
roles = ["client_approver"]
[people.identities]
email = "{CLIENT}"
console = "wangli"

[[people]]
id = "sun.wei"
name = "孙伟"
party = "vendor"
roles = ["vendor_pm"]
[people.identities]
console = "sunwei"

[[chats]]
channel = "console"
id = "auth-group"

[[chats]]
channel = "email"
id = "{SUPPORT}"
"""

OpenDesk = Callable[..., Awaitable[Desk]]


@pytest.fixture
def servers() -> Iterator[MailServers]:
    with mail_servers([SUPPORT, CLIENT]) as running:
        yield running


@pytest.fixture
async def open_desk(
    servers: MailServers, engine: Engine, db_url: str, tmp_path: Path
) -> AsyncIterator[OpenDesk]:
    """Opens the email channel on the servers, trusting `authserv_id`, on the engagement
    above with `email_signing`; CR-1 is estimated and signed by the vendor PM."""
    desks: list[Desk] = []

    async def opening(*, authserv_id: str = AUTHSERV, signing: bool = False) -> Desk:
        email = settings_for(servers).model_copy(update={"authserv_id": authserv_id})
        runtime = build(Settings(db=db_url, email=email), engine)
        path = tmp_path / "auth.toml"
        path.write_text(ENGAGEMENT.format(signing=str(signing).lower()), encoding="utf-8")
        console = ConsoleHarness(runtime, chat="auth-group")
        console.apply(path)
        console.say("sunwei", '/变更 "新增库存报表" 每日 8 点推送库存汇总')
        console.say("sunwei", "/评估 CR-1 senior=3")
        assert console.one("sunwei", "/签署 CR-1").kind == "cr.signed"
        desk = Desk(runtime, servers)
        await desk.start()
        desks.append(desk)
        return desk

    yield opening
    for desk in desks:
        await desk.adapter.stop()


async def send(desk: Desk, subject: str, body: str, *results: str) -> str:
    """Mail from the client's address with these Authentication-Results; its Message-ID."""
    msg = message_from_bytes(mail_with(*results), policy=default)
    del msg["Subject"]
    msg["Subject"] = subject
    msg.set_content(body)
    await aiosmtplib.send(msg.as_bytes(), sender=CLIENT, recipients=[SUPPORT], hostname="127.0.0.1",
                          port=desk.servers.smtp_port, use_tls=False, start_tls=False)  # fmt: skip
    return str(msg["Message-ID"])


def answers_to(desk: Desk, message_id: str) -> list[tuple[str, str]]:
    """(kind, text) of what the bot answered to the mail `message_id`, in order."""
    with transaction(desk.runtime.engine) as session:
        rows = session.execute(select(OutboxMessage).where(
            col(OutboxMessage.reply_to).startswith(f"{message_id} ")).order_by(col(OutboxMessage.id))
        ).scalars()  # fmt: skip
        return [(row.kind, row.text) for row in rows]


async def answer(desk: Desk, message_id: str) -> tuple[str, str]:
    """The bot's (first) answer to `message_id`, once it is in the client's mailbox."""

    async def mailed() -> bool:
        await desk.drain()
        return any(f"In-Reply-To: {message_id}".encode() in p.read_bytes() for p in _mails(desk))

    await wait_until(mailed)
    return answers_to(desk, message_id)[0]


def _mails(desk: Desk) -> list[Path]:
    box = desk.servers.maildir(CLIENT)
    return [p for sub in ("new", "cur") if (box / sub).exists() for p in (box / sub).iterdir()]


def cr_status(desk: Desk) -> str:
    with transaction(desk.runtime.engine) as session:
        return str(session.execute(select(col(ChangeRequest.status))).scalar_one())


def notes(desk: Desk) -> list[str]:
    with transaction(desk.runtime.engine) as session:
        query = select(col(TicketEvent.text)).where(col(TicketEvent.kind) == "note")
        return [
            str(text) for text in session.execute(query.order_by(col(TicketEvent.id))).scalars()
        ]


async def open_ticket(desk: Desk, *results: str) -> None:
    await send(desk, "报表导出超时", "导出 10 万行时超时", *results)
    await wait_until(lambda: notes(desk) == ["导出 10 万行时超时"])


@needs_servers
async def test_a_spoofed_approver_address_cannot_sign(open_desk: OpenDesk) -> None:
    desk = await open_desk(signing=True)  # even where mail may sign
    await open_ticket(desk, SPOOFED)  # a spoofed mail still opens a ticket
    spoof = await send(desk, "Re: [T-1] 报表导出超时", "/签署 CR-1", SPOOFED,
                       "client.example; dmarc=pass header.from=client.example")  # fmt: skip
    kind, text = await answer(desk, spoof)
    assert kind == "error.permission"
    assert "/签署" in text and "项目群" in text  # why, and where to do it instead
    assert cr_status(desk) == "estimated"


@needs_servers
async def test_a_vouched_mail_works_but_signs_only_where_the_engagement_allows(
    open_desk: OpenDesk, tmp_path: Path
) -> None:
    desk = await open_desk()
    await open_ticket(desk, VOUCHED)
    status = await send(desk, "Re: [T-1] 报表导出超时", "/进度", VOUCHED)
    assert (await answer(desk, status))[0] == "status"
    signing = await send(desk, "Re: [T-1] 报表导出超时", "/签署 CR-1", VOUCHED)
    assert (await answer(desk, signing))[0] == "error.permission"
    assert cr_status(desk) == "estimated"

    path = tmp_path / "auth.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("email_signing = false",
                                                             "email_signing = true"))  # fmt: skip
    assert ConsoleHarness(desk.runtime).apply(path).action == "updated"
    signing = await send(desk, "Re: [T-1] 报表导出超时", "/签署 CR-1", VOUCHED)
    assert (await answer(desk, signing))[0] == "cr.effective"
    assert cr_status(desk) == "effective"


@needs_servers
async def test_without_an_authserv_id_mail_opens_tickets_and_adds_notes_only(
    open_desk: OpenDesk,
) -> None:
    desk = await open_desk(authserv_id="", signing=True)
    await open_ticket(desk, VOUCHED)  # nothing is trusted: this header is anyone's
    reply = await send(desk, "Re: [T-1] 报表导出超时", "/进度\n补充：只有导出受影响", VOUCHED)
    await wait_until(lambda: "补充：只有导出受影响" in notes(desk))
    kind, text = await answer(desk, reply)
    assert kind == "error.permission" and "/进度" in text
    signing = await send(desk, "Re: [T-1] 报表导出超时", "/签署 CR-1", VOUCHED)
    assert (await answer(desk, signing))[0] == "error.permission"
    assert cr_status(desk) == "estimated"
