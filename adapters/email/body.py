"""The text of an email and its attachments: pure, no I/O.

Bodies in any charset Python knows (GB2312/GBK read as GB18030); HTML-only mail turned into
text; the quoted part of a reply and the signature removed.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser

log = logging.getLogger("rentian.email")

_CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030"}
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
