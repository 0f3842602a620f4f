"""Every setting's shape is checked when settings load, what a channel needs only when it is
enabled; each problem is one `section.key: problem` line that never repeats the value."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from base.errors import ConfigError
from config.settings import Settings, describe, load_settings

AES_KEY = base64.b64encode(bytes(range(200, 232))).decode().rstrip("=")  # has '+' and '/'
WECOM = {
    "enabled": True,
    "corp_id": "ww1234567890abcdef",
    "agent_id": 1000002,
    "secret": "app-secret_1",
    "token": "Tok3n",
    "encoding_aes_key": AES_KEY,
}
FEISHU = {
    "enabled": True,
    "app_id": "cli_a1b2c3d4e5f6a7b8",
    "app_secret": "s3cret",
    "encrypt_key": "e-key",
    "verification_token": "v-token",
}
DINGTALK = {
    "enabled": True,
    "client_id": "dingabcdef123456",
    "client_secret": "ding-app-secret",
    "robot_code": "dingrobot123",
}
EMAIL = {"enabled": True, "address": "support@example.test", "smtp_host": "smtp.example.test"}


def problems(**sections: Any) -> list[str]:
    try:
        Settings(**sections)
    except ValidationError as error:
        return describe(error)
    return []


@pytest.mark.parametrize(
    "sections",
    [
        pytest.param({}, id="defaults: every channel off"),
        pytest.param(
            {"wecom": {"enabled": False, "token": "", "encoding_aes_key": ""}},
            id="empty values of a disabled channel",
        ),
        pytest.param({"wecom": WECOM}, id="wecom enabled"),
        pytest.param({"wecom": {**WECOM, "token": "A" * 32}}, id="wecom token of 32"),
        pytest.param(
            {"wecom": {**WECOM, "api_base": "http://127.0.0.1:8080/"}},
            id="wecom api_base on loopback",
        ),
        pytest.param(
            {"wecom": {**WECOM, "api_base": "https://gw.corp.example/qyapi"}},
            id="wecom api_base with a path prefix",
        ),
        pytest.param({"wecom": {"encoding_aes_key": AES_KEY}}, id="aes key on a disabled channel"),
        pytest.param({"feishu": FEISHU}, id="feishu webhook"),
        pytest.param(
            {"feishu": {**FEISHU, "encrypt_key": "test-encrypt-key"}}, id="feishu encrypted webhook"
        ),
        pytest.param(
            {"feishu": {**FEISHU, "mode": "longconn", "verification_token": ""}},
            id="feishu long connection needs no token",
        ),
        pytest.param({"feishu": {**FEISHU, "domain": "https://open.larksuite.com/"}}, id="lark"),
        pytest.param(
            {"feishu": {**FEISHU, "domain": "http://127.0.0.1:9000"}}, id="feishu http on loopback"
        ),
        pytest.param({"dingtalk": DINGTALK}, id="dingtalk stream"),
        pytest.param(
            {"dingtalk": {**DINGTALK, "mode": "http", "api_base": "http://[::1]:9000"}},
            id="dingtalk http, IPv6 loopback",
        ),
        pytest.param({"email": EMAIL}, id="email, send only"),
        pytest.param(
            {"email": {**EMAIL, "imap_host": "::1", "imap_user": "support"}},
            id="email watching a mailbox",
        ),
        pytest.param(
            {"email": {**EMAIL, "smtp_port": 587, "smtp_tls": False, "smtp_starttls": True}},
            id="email starttls",
        ),
        pytest.param({"email": {**EMAIL, "address": "客服@例子.中国"}}, id="internationalised"),
        pytest.param({"http": {"host": "0.0.0.0", "port": 65535}}, id="http on every interface"),
        pytest.param(
            {"outbox": {"batch": 1000, "backoff_seconds": 60, "backoff_max_seconds": 60}},
            id="outbox limits",
        ),
    ],
)
def test_accepted(sections: dict[str, Any]) -> None:
    assert problems(**sections) == []


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        # WeCom: the console's EncodingAESKey is 43 base64 characters, the token 1-32 alphanumerics
        (
            {"wecom": {"encoding_aes_key": AES_KEY[:42]}},
            "wecom.encoding_aes_key: must be 43 characters of base64 (got 42)",
        ),
        (
            {"wecom": {"encoding_aes_key": AES_KEY + "="}},
            "wecom.encoding_aes_key: must be 43 characters of base64, without the trailing '=' (got 44)",
        ),
        (
            {"wecom": {"encoding_aes_key": AES_KEY[:42] + "-"}},
            "wecom.encoding_aes_key: must be 43 characters of base64: A-Z a-z 0-9 + / (character 43 is not)",
        ),
        (
            {"wecom": {"encoding_aes_key": AES_KEY + "\n"}},
            "wecom.encoding_aes_key: must be 43 characters of base64 (got 44, with whitespace around them)",
        ),
        (
            {"wecom": {"token": "A" * 33}},
            "wecom.token: must be 1-32 letters or digits (got 33 characters)",
        ),
        (
            {"wecom": {"token": "wecom-callback-token"}},
            "wecom.token: must be 1-32 letters or digits (character 6 is neither)",
        ),
        (
            {"wecom": {"corp_id": "ww12 34"}},
            "wecom.corp_id: must be printable ASCII with no spaces (character 5 is whitespace)",
        ),
        ({"wecom": {"agent_id": -1}}, "wecom.agent_id: must be at least 0"),
        ({"wecom": {**WECOM, "agent_id": 0}}, "wecom: enabled, but agent_id is not set"),
        (
            {"wecom": {"enabled": True}},
            "wecom: enabled, but corp_id, agent_id, secret, token and encoding_aes_key are not set",
        ),
        # Feishu
        (
            {"feishu": {"app_id": "a1b2c3"}},
            "feishu.app_id: must be the App ID from the developer console, like cli_a1b2c3d4e5f6a7b8",
        ),
        (
            {"feishu": {"encrypt_key": "密钥"}},
            "feishu.encrypt_key: must be printable ASCII with no spaces (character 1 is not printable ASCII)",
        ),
        (
            {"feishu": {"verification_token": "tok\ten"}},
            "feishu.verification_token: must be printable ASCII with no spaces (character 4 is whitespace)",
        ),
        (
            {"feishu": {"domain": "https://open.feishu.cn/open-apis"}},
            "feishu.domain: must be scheme and host only, like https://open.feishu.cn (no path)",
        ),
        (
            {"feishu": {"domain": "http://open.feishu.cn"}},
            "feishu.domain: must be https (http only for 127.0.0.1, localhost or ::1)",
        ),
        ({"feishu": {"mode": "websocket"}}, "feishu.mode: must be 'webhook' or 'longconn'"),
        (
            {"feishu": {**FEISHU, "encrypt_key": ""}},
            "feishu: enabled, but encrypt_key is not set",
        ),
        (
            {"feishu": {**FEISHU, "verification_token": ""}},
            "feishu: enabled, but verification_token is not set",
        ),
        (
            {"feishu": {**FEISHU, "mode": "longconn", "app_secret": ""}},
            "feishu: enabled, but app_secret is not set",
        ),
        # DingTalk, and the URL rules every api_base shares
        (
            {"dingtalk": {"client_id": "ding abc"}},
            "dingtalk.client_id: must be printable ASCII with no spaces (character 5 is whitespace)",
        ),
        (
            {"dingtalk": {**DINGTALK, "robot_code": ""}},
            "dingtalk: enabled, but robot_code is not set",
        ),
        ({"dingtalk": {"mode": "webhook"}}, "dingtalk.mode: must be 'stream' or 'http'"),
        (
            {"dingtalk": {"api_base": "api.dingtalk.com"}},
            "dingtalk.api_base: must be an http(s) URL, like https://api.example.com",
        ),
        (
            {"dingtalk": {"api_base": "ftp://api.dingtalk.com"}},
            "dingtalk.api_base: must be an http(s) URL, like https://api.example.com",
        ),
        (
            {"dingtalk": {"api_base": "https://"}},
            "dingtalk.api_base: must name a host, like https://api.example.com",
        ),
        (
            {"dingtalk": {"api_base": "https://api.dingtalk.com?x=1"}},
            "dingtalk.api_base: must not have a query or fragment (nothing after '?' or '#')",
        ),
        (
            {"dingtalk": {"api_base": "https://api.dingtalk.com#"}},
            "dingtalk.api_base: must not have a query or fragment (nothing after '?' or '#')",
        ),
        (
            {"dingtalk": {"api_base": "https://api.dingtalk.com "}},
            "dingtalk.api_base: must be an http(s) URL with no spaces (character 25 is not allowed)",
        ),
        (
            {"dingtalk": {"api_base": "https://api.ding*talk.com"}},
            "dingtalk.api_base: has a malformed host name",
        ),
        (
            {"dingtalk": {"api_base": "https://api.dingtalk.com:99999"}},
            "dingtalk.api_base: has a malformed port (1-65535)",
        ),
        (
            {"wecom": {"api_base": "https://me:pw@qyapi.weixin.qq.com"}},
            "wecom.api_base: must not contain a user name or password",
        ),
        ({"wecom": {**WECOM, "api_base": ""}}, "wecom: enabled, but api_base is not set"),
        # email
        (
            {"email": {"address": "support"}},
            "email.address: must be an email address, like support@vendor.example",
        ),
        (
            {"email": {"address": "a@b@example.test"}},
            "email.address: must be an email address, like support@vendor.example",
        ),
        ({"email": {"imap_port": 0}}, "email.imap_port: must be at least 1"),
        ({"email": {"smtp_port": 65536}}, "email.smtp_port: must be at most 65535"),
        (
            {"email": {"smtp_host": "smtp.example.test:465"}},
            "email.smtp_host: must be a host name without a port (the port has its own setting)",
        ),
        (
            {"email": {"imap_host": "imaps://imap.example.test"}},
            "email.imap_host: must be a host name or address, not a URL",
        ),
        ({"email": {"enabled": True}}, "email: enabled, but smtp_host is not set"),
        (
            {"email": {**EMAIL, "imap_host": "imap.example.test"}},
            "email: enabled, but imap_user is not set",
        ),
        (
            {"email": {**EMAIL, "smtp_starttls": True}},
            "email: smtp_tls and smtp_starttls exclude each other: TLS from the start (port 465) or STARTTLS (port 587)",
        ),
        # the rest
        ({"http": {"host": ""}}, "http.host: must not be empty"),
        ({"http": {"port": 0}}, "http.port: must be at least 1"),
        ({"http": {"port": "http"}}, "http.port: must be a whole number"),
        ({"outbox": {"batch": 0}}, "outbox.batch: must be at least 1"),
        ({"outbox": {"max_attempts": 1000}}, "outbox.max_attempts: must be at most 100"),
        ({"outbox": {"lease_seconds": 5}}, "outbox.lease_seconds: must be at least 10"),
        (
            {"outbox": {"backoff_seconds": 60, "backoff_max_seconds": 30}},
            "outbox: backoff_max_seconds must be at least backoff_seconds",
        ),
        ({"bot": {"names": ["人天", " "]}}, "bot.names.1: must not be empty"),
        ({"wecom": {"enabled": "sometimes"}}, "wecom.enabled: must be true or false"),
        ({"http": {"prot": 8080}}, "http.prot: unknown setting (did you mean port?)"),
        ({"wecon": {}}, "wecon: unknown setting (did you mean wecom?)"),
    ],
)
def test_rejected(sections: dict[str, Any], expected: str) -> None:
    assert problems(**sections) == [expected]


def test_every_problem_is_listed() -> None:
    assert problems(http={"port": 0}, wecom={"token": "a-b"}, email={"address": "x"}) == [
        "http.port: must be at least 1",
        "wecom.token: must be 1-32 letters or digits (character 2 is neither)",
        "email.address: must be an email address, like support@vendor.example",
    ]


SECRETS = {
    "RENTIAN_WECOM__SECRET": "Sup3r Secret",
    "RENTIAN_WECOM__TOKEN": "not-a-token-Sup3rSecret",
    "RENTIAN_WECOM__ENCODING_AES_KEY": "Sup3rSecretKey" * 3,
    "RENTIAN_FEISHU__APP_SECRET": "Sup3r\nSecret",
    "RENTIAN_FEISHU__ENCRYPT_KEY": "Sup3r Secret",
    "RENTIAN_DINGTALK__CLIENT_SECRET": "Sup3r Secret",
}


def test_problems_never_repeat_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as raised:
        load_settings()
    lines = describe(raised.value)
    assert len(lines) == len(SECRETS)
    assert not [line for line in lines if "Sup3r" in line]


def test_environment_values_are_checked_like_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTIAN_WECOM__ENCODING_AES_KEY", AES_KEY[:42])
    monkeypatch.setenv("RENTIAN_HTTP__PORT", "eighty")
    with pytest.raises(ValidationError) as raised:
        load_settings()
    assert describe(raised.value) == [
        "http.port: must be a whole number",
        "wecom.encoding_aes_key: must be 43 characters of base64 (got 42)",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"[http\nport = 1\n",
            "TOML syntax error: Expected ']' at the end of a table declaration "
            "(at line 1, column 6)",
        ),
        (b"[http]\nhost = '\xff'\n", "not UTF-8 text"),
    ],
)
def test_unreadable_settings_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "rentian.toml"
    path.write_bytes(content)
    monkeypatch.setenv("RENTIAN_CONFIG", str(path))
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value) == f"settings: {path}: {expected}"


def test_missing_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RENTIAN_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"^settings: .*nope\.toml: file not found$"):
        load_settings()
