"""Secrets never leave memory: `bot.redact` against text, log records, and every channel's
failure path with the real SDKs against the fakes (tests/fakes), the dispatcher and the
database for real. Each failure must leave an informative `last_error` and log line, with
no secret in either."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import Engine

from adapters import feishu, wecom
from adapters.dingtalk.client import DingtalkSender
from adapters.email.client import EmailSender
from app.cli import main
from base.errors import NetworkError
from bot import clock, redact
from bot.channels import Sender
from bot.dispatcher import Dispatcher
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

AES_KEY = "a" * 43
MINUTE = timedelta(minutes=1)
DIRECT = Outgoing(id=99, channel="wecom", recipient_type="person", address="SunWei",
                  kind="progress.sync", ref="", text="日报", dedupe_key="k99")  # fmt: skip


@pytest.fixture
def redacting() -> Iterator[None]:
    """What `rentian` does at start: log records redacted; secrets registered per test."""
    previous = logging.getLogRecordFactory()
    redact.install_logging()
    yield
    redact.clear()
    logging.setLogRecordFactory(previous)


# -- the helper ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("url: /cgi-bin/gettoken?corpid=ww1&corpsecret=Zx9-abc_DEF (Caused by",
         "url: /cgi-bin/gettoken?corpid=ww1&corpsecret=*** (Caused by"),
        ("/cgi-bin/message/send?access_token=tok.en-1", "/cgi-bin/message/send?access_token=***"),
        ('{"appKey": "ding1", "appSecret": "s3cr3t+/="}', '{"appKey": "ding1", "appSecret": "***"}'),
        ("{'x-acs-dingtalk-access-token': 'abc123'}", "{'x-acs-dingtalk-access-token': '***'}"),
        ("Authorization: Bearer t-g1044abcdef", "Authorization: Bearer ***"),
        ('"tenant_access_token":"t-abc","expire":7200', '"tenant_access_token":"***","expire":7200'),
        ("login password=hunter2 refused", "login password=*** refused"),
        ("postgresql://rentian:pa%40ss@db:5432/r", "postgresql://rentian:***@db:5432/r"),
        ("/cgi-bin/webhook/send?key=693a91f6-7xxx", "/cgi-bin/webhook/send?key=***"),
        ("AUTH PLAIN AHN1cHBvcnQAc2VjcmV0", "AUTH PLAIN ***"),
    ],
)  # fmt: skip
def test_credential_patterns_are_masked(text: str, redacted: str) -> None:
    assert redact.redact(text) == redacted


def test_ordinary_text_is_left_alone() -> None:
    for text in (
        "wecom 42001: access_token expired",
        "feishu 230002: Bot/User can NOT be out of the chat.",
        "dingtalk HTTP 400 invalidClientIdOrSecret: 无效的clientId或者clientSecret",
        "SMTP 535: 5.7.8 Authentication credentials invalid",
        "outbox 3 to wecom failed (attempt 1): token refused again after a refresh",
    ):
        assert redact.redact(text) == text


def test_registered_values_are_masked_wherever_they_appear() -> None:
    try:
        redact.register("Top$ecret/42", "ab")  # too short to mask: it would eat ordinary words
        assert redact.redact("echo Top$ecret/42 and Top%24ecret%2F42") == "echo *** and ***"
        assert redact.redact("ab cd") == "ab cd"
    finally:
        redact.clear()
    assert redact.redact("echo Top$ecret/42") == "echo Top$ecret/42"


def test_every_secret_setting_is_registered() -> None:
    settings = Settings(
        db="postgresql://rentian:dbPASSWORD1@127.0.0.1/rentian",
        feishu=FeishuSettings(app_secret="fsAPPSECRET1", encrypt_key="fsENCRYPT1",
                              verification_token="fsVERIFY1"),
        dingtalk=DingtalkSettings(client_secret="dtCLIENTSECRET1"),
        wecom=WecomSettings(secret="wcSECRET1", token="wcTOKEN1", encoding_aes_key=AES_KEY),
        email=EmailSettings(imap_password="imapPASSWORD1", smtp_password="smtpPASSWORD1"),
    )  # fmt: skip
    secrets = ["dbPASSWORD1", "fsAPPSECRET1", "fsENCRYPT1", "fsVERIFY1", "dtCLIENTSECRET1",
               "wcSECRET1", "wcTOKEN1", AES_KEY, "imapPASSWORD1", "smtpPASSWORD1"]  # fmt: skip
    try:
        redact.register_settings(settings)
        assert redact.redact(" ".join(secrets)) == " ".join(["***"] * len(secrets))
        assert redact.redact("cli_a1b2 ding-robot support@vendor.example") == (
            "cli_a1b2 ding-robot support@vendor.example"
        )  # ids and addresses are not secrets
    finally:
        redact.clear()


# -- log records ---------------------------------------------------------------------------


def test_log_messages_arguments_and_tracebacks_are_redacted(
    redacting: None, caplog: pytest.LogCaptureFixture
) -> None:
    redact.register("Pa55-word-xyz")
    log = logging.getLogger("rentian.test")  # a child logger: its records reach the root
    with caplog.at_level(logging.DEBUG):
        log.warning("connecting with Pa55-word-xyz")
        log.warning("url %s failed: %r", "/gettoken?corpsecret=abc", {"appSecret": "def"})
        try:
            raise ConnectionError("refused: /send?access_token=ghi Pa55-word-xyz")
        except ConnectionError:
            log.exception("send failed")
    text = caplog.text
    for secret in ("Pa55-word-xyz", "corpsecret=abc", "'def'", "access_token=ghi"):
        assert secret not in text
    assert "corpsecret=***" in text and "'appSecret': '***'" in text
    assert "ConnectionError: refused: /send?access_token=*** ***" in text
    assert caplog.records[0].getMessage() == "connecting with ***"


def test_a_formatter_that_reads_the_arguments_still_can(redacting: None) -> None:
    """uvicorn's access log formats its record's arguments itself: they keep their shape."""
    from uvicorn.logging import AccessFormatter

    access = logging.getLogger("uvicorn.access")
    record = access.makeRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/webhooks/x?access_token=abc123", "1.1", 200), None,
    )  # fmt: skip
    line = AccessFormatter('%(client_addr)s "%(request_line)s" %(status_code)s').format(record)
    assert line == '127.0.0.1:5000 "GET /webhooks/x?access_token=*** HTTP/1.1" 200 OK'


def test_the_command_line_installs_redaction_and_registers_the_settings(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = logging.getLogRecordFactory()
    monkeypatch.setenv("RENTIAN_WECOM__SECRET", "cliWECOMsecret9")
    try:
        assert main(["--db", db_url, "outbox"]) == 0
        assert redact.redact("x cliWECOMsecret9") == "x ***"
        record = logging.getLogger("rentian.test").makeRecord(
            "rentian.test", logging.WARNING, __file__, 1, "%s", ("cliWECOMsecret9",), None
        )
        assert record.getMessage() == "***"
    finally:
        redact.clear()
        logging.setLogRecordFactory(previous)
    capsys.readouterr()


# -- every channel's failure path ----------------------------------------------------------


async def drain(engine: Engine, channel: str, address: str, sender: Sender) -> OutboxMessage:
    """Queue one message to `address` and try it once; the row as the failure left it."""
    with transaction(engine) as session:
        row_id = outbox.enqueue(
            session, now=clock.now(), channel=channel, recipient_type="person",
            recipient=address, address=address, kind="progress.sync", text="日报",
        )  # fmt: skip
    result = await Dispatcher(engine, {channel: sender}, OutboxSettings()).drain_once()
    assert result.sent == 0 and result.retried + result.failed == 1
    with transaction(engine) as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None
        return row


def assert_hidden(secrets: list[str], *texts: str) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"{secret!r} leaked: {text}"


WECOM_SECRET = "wecomCORPSECRETvalue123"
WECOM_TOKEN = "wecomCallbackToken9"


@pytest.fixture
def fake_wecom() -> Iterator[FakeWecom]:
    server = FakeWecom(corp_id="ww_redact", secret=WECOM_SECRET).start()
    yield server
    server.stop()


def wecom_settings(fake: FakeWecom, secret: str = WECOM_SECRET) -> Settings:
    section = WecomSettings(
        enabled=True, corp_id=fake.corp_id, agent_id=1000002, secret=secret,
        token=WECOM_TOKEN, encoding_aes_key=AES_KEY, api_base=fake.url,
    )  # fmt: skip
    return Settings(wecom=section)


async def test_wecom_token_fetch_failure(
    redacting: None, engine: Engine, fake_wecom: FakeWecom, caplog: pytest.LogCaptureFixture
) -> None:
    """WeCom cannot be reached: the token URL carries `corpsecret` in its query string."""
    settings = wecom_settings(fake_wecom)
    redact.register_settings(settings)
    sender = wecom.create(settings).sender()
    fake_wecom.stop()
    with caplog.at_level(logging.DEBUG):
        row = await drain(engine, "wecom", "SunWei", sender)
    assert row.status == "pending" and "ConnectionError" in row.last_error
    assert "/cgi-bin/gettoken" in row.last_error and "corpsecret=***" in row.last_error
    assert f"outbox {row.id} to wecom failed" in caplog.text
    assert_hidden([WECOM_SECRET], row.last_error, caplog.text)


async def test_wecom_refused_token_and_send_failure(
    redacting: None, engine: Engine, fake_wecom: FakeWecom, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong secret (40001), then a send that fails once a token is held: the send URL
    carries `access_token` in its query string."""
    redact.register_settings(wecom_settings(fake_wecom))
    redact.register("wrongWECOMsecret77")
    wrong = wecom.create(wecom_settings(fake_wecom, secret="wrongWECOMsecret77")).sender()
    sender = wecom.create(wecom_settings(fake_wecom)).sender()
    with caplog.at_level(logging.DEBUG):
        refused = await drain(engine, "wecom", "SunWei", wrong)
        await sender.send(DIRECT)  # the sender holds a token now (logged by urllib3)
        token = fake_wecom.sends[-1].query["access_token"]
        fake_wecom.stop()
        unreachable = await drain(engine, "wecom", "ZhouMin", sender)
    assert refused.status == "failed" and refused.last_error == "wecom 40001: invalid credential"
    assert "/cgi-bin/message/send" in unreachable.last_error
    assert "access_token=***" in unreachable.last_error
    assert_hidden([WECOM_SECRET, "wrongWECOMsecret77", token], refused.last_error,
                  unreachable.last_error, caplog.text)  # fmt: skip


FEISHU_SECRET = "feishuAPPSECRETvalue123"


async def test_feishu_token_and_send_failures(
    redacting: None, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeFeishu(app_id=f"cli_{uuid.uuid4().hex[:12]}", app_secret=FEISHU_SECRET).start()
    section = FeishuSettings(
        enabled=True, app_id=fake.app_id, app_secret=FEISHU_SECRET,
        encrypt_key="feishuENCRYPTkey1", verification_token="feishuVERIFY1", domain=fake.url,
    )  # fmt: skip
    redact.register_settings(Settings(feishu=section))
    redact.register("wrongFEISHUsecret77")
    # the SDK caches tokens per app id for the whole process: a fresh app id per sender
    wrong = section.model_copy(update={"app_id": f"cli_{uuid.uuid4().hex[:12]}",
                                       "app_secret": "wrongFEISHUsecret77"})  # fmt: skip
    sender = feishu.create(Settings(feishu=section)).sender()
    try:
        with caplog.at_level(logging.DEBUG):
            token_refused = await drain(engine, "feishu", "ou_sunwei",
                                        feishu.create(Settings(feishu=wrong)).sender())  # fmt: skip
            fake.refuse_next(99991400, "request trigger frequency limit", http_status=429)
            send_refused = await drain(engine, "feishu", "ou_sunwei", sender)
            token = fake.sends[-1].token
            fake.stop()
            unreachable = await drain(engine, "feishu", "ou_zhaogang", sender)
    finally:
        fake.stop()
    assert "app secret invalid" in token_refused.last_error
    assert "99991400" in send_refused.last_error and "frequency limit" in send_refused.last_error
    assert "feishu: ConnectionError" in unreachable.last_error
    assert_hidden([FEISHU_SECRET, "wrongFEISHUsecret77", "feishuENCRYPTkey1", "feishuVERIFY1",
                   token], token_refused.last_error, send_refused.last_error,
                  unreachable.last_error, caplog.text)  # fmt: skip


DINGTALK_SECRET = "dingtalkCLIENTSECRETvalue123"


async def test_dingtalk_token_and_send_failures(
    redacting: None, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeDingtalk(client_id="ding-redact", client_secret=DINGTALK_SECRET,
                        robot_code="ding-robot").start()  # fmt: skip
    section = DingtalkSettings(enabled=True, mode="http", client_id="ding-redact",
                               client_secret=DINGTALK_SECRET, robot_code="ding-robot",
                               api_base=fake.url)  # fmt: skip
    redact.register_settings(Settings(dingtalk=section))
    redact.register("wrongDINGsecret77")
    wrong = section.model_copy(update={"client_secret": "wrongDINGsecret77"})
    sender = DingtalkSender(section)
    try:
        with caplog.at_level(logging.DEBUG):
            token_refused = await drain(engine, "dingtalk", "user1",
                                        DingtalkSender(wrong))  # fmt: skip
            fake.refuse_next(503, "ServiceUnavailable", "系统繁忙")
            send_refused = await drain(engine, "dingtalk", "user1", sender)
            token = fake.sends[-1].headers["x-acs-dingtalk-access-token"]
            fake.stop()
            unreachable = await drain(engine, "dingtalk", "user2", sender)
    finally:
        fake.stop()
    assert "invalidClientIdOrSecret" in token_refused.last_error
    assert "ServiceUnavailable" in send_refused.last_error
    assert "dingtalk: ConnectError" in unreachable.last_error
    assert_hidden([DINGTALK_SECRET, "wrongDINGsecret77", token], token_refused.last_error,
                  send_refused.last_error, unreachable.last_error, caplog.text)  # fmt: skip


SMTP_PASSWORD = "smtpPASSWORDvalue123"


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _refuse_everyone(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:  # fmt: skip
    return AuthResult(success=False, handled=False)


async def test_email_smtp_authentication_failure(
    redacting: None, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    smtp = Controller(_Sink(), hostname="127.0.0.1", port=free_port(),
                      authenticator=_refuse_everyone, auth_require_tls=False)  # fmt: skip
    smtp.start()
    section = EmailSettings(
        enabled=True, address="support@vendor.example", smtp_host="127.0.0.1",
        smtp_port=smtp.port, smtp_tls=False, smtp_user="support@vendor.example",
        smtp_password=SMTP_PASSWORD, imap_password="imapPASSWORDvalue123",
    )  # fmt: skip
    redact.register_settings(Settings(email=section))
    try:
        with caplog.at_level(logging.DEBUG):
            row = await drain(engine, "email", "client@client.example",
                              EmailSender(section))  # fmt: skip
    finally:
        smtp.stop()
    assert row.status == "pending" and row.last_error.startswith("SMTP 535")
    assert f"outbox {row.id} to email failed" in caplog.text
    assert_hidden([SMTP_PASSWORD, "imapPASSWORDvalue123"], row.last_error, caplog.text)


def test_outbox_json_shows_the_redacted_error(
    redacting: None, engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the dispatcher wrote is what `rentian outbox --json` shows."""

    class Down:
        async def send(self, message: Outgoing) -> None:
            raise NetworkError("wecom: ConnectionError: url: /gettoken?corpsecret=abcdef1234")

    asyncio.run(drain(engine, "wecom", "SunWei", Down()))
    assert main(["--db", db_url, "outbox", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["last_error"] == "wecom: ConnectionError: url: /gettoken?corpsecret=***"
