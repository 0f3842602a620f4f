"""Pure helpers of the email channel: raw RFC 5322 bytes to a `Mail`, and back to facts.

Nothing here does I/O. `read` decodes headers (RFC 2047) and bodies in any charset Python
knows (GB2312/GBK read as GB18030), turns HTML-only mail into text, removes quoted text from
replies and lists attachments; `loop_reason` says why a mail must never be answered
(RFC 3834 auto-replies, bulk and list mail, RFC 3464 delivery reports, our own mail).
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default
from email.utils import parseaddr
from html.parser import HTMLParser

log = logging.getLogger("rentian.email")

# Our outgoing Message-IDs carry the reference they are about: <rentian.T-12.34@example.test>.
OUR_ID = re.compile(r"<rentian\.([A-Z]+-\d+)\.\d+@[^>]+>")
SUBJECT_TICKET = re.compile(r"\[(T-\d+)\]")
_SEVERITY_TAGS = {
    "[P1]": "P1", "[P2]": "P2", "[P3]": "P3", "[P4]": "P4",
    "【紧急】": "P1", "【高】": "P2", "【中】": "P3", "【低】": "P4",
}  # fmt: skip
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|sv|回复|答复|转发)\s*[:：]\s*)+", re.IGNORECASE)
_CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030"}
_BULK = frozenset({"bulk", "junk", "auto_reply", "list"})
_QUOTE_HEADERS = (
    re.compile(r"^-{2,}\s*(original message|原始邮件|forwarded message|转发邮件)\s*-{2,}", re.I),
    re.compile(r"^(from|发件人)\s*[:：].+", re.I),
)
_ON_WROTE = re.compile(r"^on\s.+wrote:\s*$", re.IGNORECASE | re.DOTALL)
_CN_WROTE = re.compile(r"写道\s*[:：]\s*$")


@dataclass(frozen=True)
class Attachment:
    name: str
    size: int


@dataclass(frozen=True)
class Mail:
    """One email, decoded: who, about what, what is new in it, and how it threads."""

    message_id: str
    sender: str  # lowercase address
    sender_name: str
    subject: str
    text: str  # the new text: quotes and signature removed, CRLF normalised
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"


def read(raw: bytes) -> Mail | None:
    """The mail in `raw`, or None (logged) if it has no usable sender."""
    try:
        msg = message_from_bytes(raw, policy=default)
        name, address = parseaddr(str(msg.get("From", "")))
    except Exception:  # the email package raises on a few malformed headers
        log.warning("unreadable email (%d bytes) ignored", len(raw), exc_info=True)
        return None
    if "@" not in address:
        log.warning("email without a sender address ignored")
        return None
    message_id = _first_id(str(msg.get("Message-ID", ""))) or _synthetic_id(raw)
    return Mail(
        message_id=message_id, sender=address.strip().lower(), sender_name=name.strip(),
        subject=_header(msg, "Subject"), text=strip_quotes(body_text(msg)),
        in_reply_to=_first_id(str(msg.get("In-Reply-To", ""))),
        references=tuple(_ids(str(msg.get("References", "")))),
        attachments=tuple(attachments(msg)), headers=_loop_headers(msg),
        content_type=msg.get_content_type(),
    )  # fmt: skip


def loop_reason(mail: Mail, own_address: str) -> str | None:
    """Why `mail` must not be answered (auto-reply, bulk, bounce, our own), or None."""
    if mail.sender == own_address.lower():
        return "from our own address"
    headers = mail.headers
    auto = headers.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    if headers.get("precedence", "").strip().lower() in _BULK:
        return f"Precedence: {headers['precedence']}"
    for name in ("x-autoreply", "x-autorespond"):
        if name in headers:
            return f"{name} header"
    if mail.content_type == "multipart/report" or "list-id" in headers:
        return "delivery report" if mail.content_type == "multipart/report" else "list mail"
    local = mail.sender.split("@")[0]
    if local in ("mailer-daemon", "postmaster"):
        return "mailer daemon"
    return None


def ticket_ref(mail: Mail) -> str:
    """The ticket this mail answers: by In-Reply-To/References to our ids, else `[T-n]`."""
    for message_id in (mail.in_reply_to, *reversed(mail.references)):
        found = OUR_ID.fullmatch(message_id)
        if found and found.group(1).startswith("T-"):
            return found.group(1)
    found = SUBJECT_TICKET.search(mail.subject)
    return found.group(1) if found else ""


def severity_and_title(subject: str) -> tuple[str, str]:
    """`[P1] db down` -> ("P1", "db down"); no tag means P3, the default severity."""
    title, severity = _REPLY_PREFIX.sub("", subject).strip(), "P3"
    for tag, level in _SEVERITY_TAGS.items():
        at = title.upper().find(tag)
        if at >= 0:
            severity = level
            title = (title[:at] + title[at + len(tag) :]).strip()
            break
    return severity, title


def body_text(msg: Message) -> str:
    """The plain-text body, or the HTML body as text; CRLF normalised."""
    plain = _find_part(msg, "text/plain")
    if plain is not None:
        return _normalise(_decode(plain))
    rich = _find_part(msg, "text/html")
    return _normalise(html_to_text(_decode(rich))) if rich is not None else ""


def strip_quotes(text: str) -> str:
    """The new part of a reply: up to the quote header or signature, without `>` lines."""
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _starts_quote(line, lines[index + 1] if index + 1 < len(lines) else ""):
            break
        if line.rstrip() == "--":  # "-- " opens the signature
            break
        if not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
    return "\n".join(kept).strip()


def attachments(msg: Message) -> list[Attachment]:
    found = []
    for part in msg.walk():
        name = part.get_filename()
        if part.is_multipart() or not name:
            continue
        payload = part.get_payload(decode=True)
        found.append(Attachment(str(name), len(payload) if isinstance(payload, bytes) else 0))
    return found


def html_to_text(markup: str) -> str:
    parser = _TextParser()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient; this is belt and braces for odd input
        log.warning("unparsable HTML body; tags stripped crudely")
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    text = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", text)).strip()


class _TextParser(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.quoting = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag == "blockquote":  # quoted text of a reply: dropped like ">" lines
            self.quoting += 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(self.skipping - 1, 0)
        elif tag == "blockquote":
            self.quoting = max(self.quoting - 1, 0)
        if tag in self._BLOCKS and tag != "br":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping and not self.quoting:
            self.parts.append(re.sub(r"\s+", " ", data))


def _starts_quote(line: str, following: str) -> bool:
    stripped = line.strip()
    if any(pattern.match(stripped) for pattern in _QUOTE_HEADERS):
        return True
    if _CN_WROTE.search(stripped):
        return True
    if stripped.lower().startswith("on "):  # "On <date>, <name> wrote:", maybe wrapped once
        return bool(_ON_WROTE.match(stripped) or _ON_WROTE.match(f"{stripped} {following.strip()}"))
    return False


def _find_part(msg: Message, content_type: str) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() == content_type and not part.get_filename():
            return part
    return None


def _decode(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload())
    charset = (part.get_content_charset() or "utf-8").lower()
    charset = _CHARSET_ALIASES.get(charset, charset)
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        log.info("unknown charset %r; read as UTF-8", charset)
        return payload.decode("utf-8", errors="replace")


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name, "")
    except Exception:
        log.info("undecodable %s header", name)
        return ""
    return re.sub(r"\s+", " ", str(value or "")).strip()


def _loop_headers(msg: Message) -> dict[str, str]:
    names = ("auto-submitted", "precedence", "x-autoreply", "x-autorespond", "list-id")
    return {name: _header(msg, name) for name in names if msg.get(name) is not None}


def _ids(value: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value)


def _first_id(value: str) -> str:
    found = _ids(value)
    return found[0] if found else ""


def _synthetic_id(raw: bytes) -> str:
    """A stable id for a mail without Message-ID, so a redelivery is still a duplicate."""
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@no-message-id.rentian>"
