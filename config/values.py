"""The shapes of setting values, each checked when it is set: keys and tokens, base URLs
(https, or http on loopback), hosts, ports, mail addresses. Every check passes "" (unset); what
an enabled channel needs is checked by its section (`config.settings`)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

# -- value shapes: each check passes "" (unset); `_Channel` says what an enabled channel needs


def invalid(message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError("settings", message, context)


def _first_outside(value: str, allowed: re.Pattern[str]) -> int:
    """1-based position of the first character not matched by `allowed`; 0 if none."""
    return next((i for i, char in enumerate(value, 1) if not allowed.fullmatch(char)), 0)


_VISIBLE = re.compile(r"[!-~]")  # printable ASCII but the space
_ALNUM = re.compile(r"[A-Za-z0-9]")
_BASE64 = re.compile(r"[A-Za-z0-9+/]")


def _visible(value: str) -> str:
    """Ids, keys and secrets: printable ASCII, no whitespace (a pasted newline is the usual slip)."""
    if at := _first_outside(value, _VISIBLE):
        what = "whitespace" if value[at - 1].isspace() else "not printable ASCII"
        raise invalid("must be printable ASCII with no spaces (character {at} is {what})",
                       at=at, what=what)  # fmt: skip
    return value


def check_aes_key(value: str) -> str:
    """An EncodingAESKey: 43 base64 characters, the 32-byte key without its trailing '='."""
    if not value:
        return value
    if value.strip() != value:
        raise invalid("must be 43 characters of base64 (got {n}, with whitespace around them)",
                       n=len(value))  # fmt: skip
    if len(value) == 44 and value.endswith("="):
        raise invalid("must be 43 characters of base64, without the trailing '=' (got 44)")
    if len(value) != 43:
        raise invalid("must be 43 characters of base64 (got {n})", n=len(value))
    if at := _first_outside(value, _BASE64):
        raise invalid("must be 43 characters of base64: A-Z a-z 0-9 + / (character {at} is not)",
                       at=at)  # fmt: skip
    return value


def check_wecom_token(value: str) -> str:
    """WeCom's console takes a callback Token of up to 32 letters and digits."""
    if len(value) > 32:
        raise invalid("must be 1-32 letters or digits (got {n} characters)", n=len(value))
    if at := _first_outside(value, _ALNUM):
        raise invalid("must be 1-32 letters or digits (character {at} is neither)", at=at)
    return value


def check_feishu_app_id(value: str) -> str:
    if value and not re.fullmatch(r"cli_[A-Za-z0-9]+", value):
        raise invalid("must be the App ID from the developer console, like cli_a1b2c3d4e5f6a7b8")
    return value


def _base_url(value: str) -> str:
    """An http(s) API address: scheme, host, optional port and path; no query or credentials."""
    if not value:
        return value
    if at := _first_outside(value, _VISIBLE):
        raise invalid("must be an http(s) URL with no spaces (character {at} is not allowed)",
                       at=at)  # fmt: skip
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise invalid("must be an http(s) URL, like https://api.example.com")
    if "@" in parts.netloc:
        raise invalid("must not contain a user name or password")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise invalid("must not have a query or fragment (nothing after '?' or '#')")
    host = parts.hostname or ""
    if not host:
        raise invalid("must name a host, like https://api.example.com")
    if not (re.fullmatch(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?", host) or _is_ip(host)):
        raise invalid("has a malformed host name")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise invalid("has a malformed port (1-65535)")
    return value


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_feishu_domain(value: str) -> str:
    """The Feishu SDK takes an origin only, https unless it is the loopback (tests' fakes)."""
    parts = urlsplit(_base_url(value))
    if value and parts.path.rstrip("/"):
        raise invalid("must be scheme and host only, like https://open.feishu.cn (no path)")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise invalid("must be https (http only for 127.0.0.1, localhost or ::1)")
    return value


def check_host(value: str) -> str:
    """A host name or IP address; the port has a setting of its own."""
    _visible(value)
    if "/" in value or "@" in value:
        raise invalid("must be a host name or address, not a URL")
    if value.count(":") == 1:
        raise invalid("must be a host name without a port (the port has its own setting)")
    return value


def check_email_address(value: str) -> str:
    label = r"[^\W_](?:[\w-]*[^\W_])?"
    if value and not re.fullmatch(rf"[^@\s]+@{label}(?:\.{label})*", value):
        raise invalid("must be an email address, like support@vendor.example")
    return value


def check_not_blank(value: str) -> str:
    if not value.strip():
        raise invalid("must not be empty")
    return value


Visible = Annotated[str, AfterValidator(_visible)]
BaseUrl = Annotated[str, AfterValidator(_base_url)]
Host = Annotated[str, AfterValidator(check_host)]
Port = Annotated[int, Field(ge=1, le=65535)]
