"""Secrets never leave memory: the one helper that masks them in what we record and log.

`redact(text)` replaces with `***` the secret values registered at start (`register_settings`:
every credential of the loaded settings) and whatever has the shape of a credential:
`corpsecret=…`, `access_token=…`, `"appSecret": "…"`, `x-acs-dingtalk-access-token: …`,
`Authorization: Bearer …`, a URL's password. The dispatcher writes `last_error` through it,
adapters the text of their errors, and `install_logging` every log record.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    from config.settings import Settings

MASK = "***"
MIN_SECRET_LENGTH = 4  # a shorter value would mask parts of ordinary words everywhere

# A setting that holds a credential: app_secret, encrypt_key, verification_token, secret,
# token, encoding_aes_key, imap_password, smtp_password, client_secret.
_SECRET_SETTING = re.compile(r"secret|token|password|key")

_NAME = r"[\w.-]*(?:secret|token|password|passwd|aes_?key|encrypt_?key|api_?key)"
_PATTERNS = (
    # A credential's name, `=` or `:`, then its value: query strings, JSON and Python reprs
    # (`corpsecret=…`, `"appSecret": "…"`, `'x-acs-dingtalk-access-token': '…'`)…
    re.compile(
        rf"""(?ix)
        ( {_NAME} (?: \\?["']?\s*=\s*\\?["']? | \\?["']\s*:\s*\\?["']? | : ) )
        [^\s"'\\&,;<>(){{}}\[\]]+
        """
    ),
    # …and a header (`x-acs-dingtalk-access-token: …`), not a message such as DingTalk's
    # `invalidClientIdOrSecret: 无效的clientId或者clientSecret`: a value shaped like a token.
    re.compile(rf"(?i)({_NAME}:\s+)[A-Za-z0-9._~+/=-]{{8,}}"),
    re.compile(
        r"(?i)(\bauthorization\\?[\"']?\s*[=:]\s*\\?[\"']?(?:(?:bearer|basic|token)\s+)?)"
        r"[^\s\"'\\,;]+"
    ),
    re.compile(r"(?i)(\bbearer\s+)[\w.~+/=-]+"),
    re.compile(r"(?i)([?&](?:key|ticket)=)[^\s&#\"'<>]+"),  # a WeCom robot's key, a stream ticket
    re.compile(r"(?i)(\b[a-z][a-z\d+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)"),  # scheme://user:PASSWORD@
    re.compile(r"(?i)(\bAUTH\s+(?:PLAIN|LOGIN)\s+)\S+"),  # SMTP AUTH: base64 of the password
)

_lock = threading.Lock()
_secrets: set[str] = set()
_known: re.Pattern[str] | None = None  # the registered values, longest first


def redact(text: str) -> str:
    """`text` with every registered secret and every credential-shaped value masked."""
    known = _known
    if known is not None:
        text = known.sub(MASK, text)
    for pattern in _PATTERNS:
        text = pattern.sub(rf"\g<1>{MASK}", text)
    return text


def register(*secrets: str) -> None:
    """Mask these values from now on (as written, and URL-encoded as in a query string)."""
    global _known
    values = {v for s in secrets if len(s) >= MIN_SECRET_LENGTH for v in (s, quote(s, safe=""))}
    with _lock:
        _secrets.update(values)
        ordered = sorted(_secrets, key=len, reverse=True)
        _known = re.compile("|".join(map(re.escape, ordered))) if ordered else None


def register_settings(settings: Settings) -> None:
    """Every credential of these settings, and the password of the database URL."""
    secrets = [
        value
        for section in settings.model_dump().values()
        if isinstance(section, dict)
        for name, value in section.items()
        if _SECRET_SETTING.search(name) and isinstance(value, str)
    ]
    password = urlsplit(settings.db).password
    if password:
        secrets += [password, unquote(password)]
    register(*secrets)


def clear() -> None:
    """Forget the registered values (tests)."""
    global _known
    with _lock:
        _secrets.clear()
        _known = None


_REDACTING = "_rentian_redacting"
_FORMATTER = logging.Formatter()


def install_logging() -> None:
    """Redact every log record as it is made: its message with its arguments, its traceback
    and stack. This covers every logger and every handler, those added later included
    (uvicorn's, pytest's), which a `logging.Filter` cannot: on the root logger it sees only
    the root's own records, not those of the loggers below it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, _REDACTING, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redacted(previous(*args, **kwargs))

    setattr(factory, _REDACTING, True)
    logging.setLogRecordFactory(factory)


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its secrets masked; a record without any is left as it is."""
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the message: logging reports both
        message = f"{record.msg} {record.args!r}"
    if redact(message) != message and not _mask_arguments(record):
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        trace = _FORMATTER.formatException(record.exc_info)
        if redact(trace) != trace:  # the text replaces the exception, which nothing re-renders
            record.exc_text, record.exc_info = redact(trace), None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def _mask_arguments(record: logging.LogRecord) -> bool:
    """Mask the string arguments one by one, keeping the record's shape for formatters that
    read its arguments (uvicorn's access log); False when that does not hide every secret."""
    if not isinstance(record.args, tuple) or not record.args:
        return False
    args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
    try:
        message = str(record.msg) % args
    except Exception:
        return False
    if redact(message) != message:
        return False
    record.args = args
    return True
