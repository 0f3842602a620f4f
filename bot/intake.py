"""The intake boundary: what the bus accepts from any channel, and the record it keeps of an
event whose handling failed (`rentian inbox --status failed`).

Every `Inbound` is cleaned once, at the start of `Bus.handle`: C0/C1 control characters go
(a text keeps its line breaks and tabs), and so do NUL and lone surrogates, which PostgreSQL
text cannot hold; ids are bounded, names cut short. A text longer than `MAX_TEXT_CHARS` is
refused with a reply when it is meant for the bot.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from sqlalchemy import exc as sa
from sqlalchemy import select, update
from sqlmodel import Session, col

from base.errors import UserError
from bot import clock
from bot.commands import MessageContext
from bot.i18n import tr
from bot.message import Inbound, Mention
from bot.registry import Registry
from storage.db import insert_ignore
from storage.models import InboundKey

# A chat message is a command, or a ticket's title or note: not a document. What is longer
# (logs, specifications) belongs in an attachment or a linked file.
MAX_TEXT_CHARS = 4000
MAX_ID_CHARS = 512  # platform ids are far shorter; this keeps any id within index limits
MAX_NAME_CHARS = 200
MAX_ERROR_CHARS = 200

FAILED = "failed"  # an inbound key's status; the others are "handled"

_TEXT_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but \t and \n
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# What `clean_text` (a text) and `_id` or `_line` (an id, a name) would remove or change:
# controls, and surrogates (a pair is joined, a lone one dropped); `\r` is among the controls.
_DIRTY_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_DIRTY = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# SQLSTATE classes of a database that cannot be used just now: connection (08), a deadlock
# or serialisation conflict (40), resources (53), shutting down (57), system (58).
_TRANSIENT_SQLSTATES = frozenset({"08", "40", "53", "57", "58"})


def clean(inbound: Inbound) -> Inbound:
    """`inbound` as the bus may store it, in every field that reaches the database.

    Nearly every message needs no change: a few regex searches and length checks find that,
    and `inbound` itself is returned, not a copy rebuilt field by field."""
    if _is_clean(inbound):
        return inbound
    return _cleaned(inbound)


def _is_clean(inbound: Inbound) -> bool:
    """Whether `_cleaned` would change no field: text, ids and names free of what it removes,
    ids and names within their bounds, and the tuples it rebuilds already tuples of `Mention`."""
    alt_ids, mentions = inbound.sender_alt_ids, inbound.mentions
    if type(alt_ids) is not tuple or type(mentions) is not tuple:
        return False
    ids = [inbound.chat_id, inbound.sender_id, inbound.event_id, inbound.message_id,
           inbound.reply_to, *alt_ids]  # fmt: skip
    names = [inbound.sender_name]
    for mention in mentions:
        if type(mention) is not Mention:
            return False
        ids.append(mention.external_id)
        names.append(mention.name)
    return (
        _DIRTY_TEXT.search(inbound.text) is None
        and _DIRTY.search("".join(ids) + "".join(names)) is None
        and max(map(len, ids)) <= MAX_ID_CHARS
        and max(map(len, names)) <= MAX_NAME_CHARS
    )


def _cleaned(inbound: Inbound) -> Inbound:
    return replace(
        inbound,
        text=clean_text(inbound.text),
        chat_id=_id(inbound.chat_id),
        sender_id=_id(inbound.sender_id),
        sender_name=_line(inbound.sender_name, MAX_NAME_CHARS),
        sender_alt_ids=tuple(_id(alt) for alt in inbound.sender_alt_ids),
        event_id=_id(inbound.event_id),
        message_id=_id(inbound.message_id),
        reply_to=_id(inbound.reply_to),
        mentions=tuple(
            Mention(_id(m.external_id), _line(m.name, MAX_NAME_CHARS), m.is_bot)
            for m in inbound.mentions
        ),
    )


def clean_text(text: str) -> str:
    """Without control characters but line breaks (`\\r\\n` and `\\r` become `\\n`) and tabs."""
    return _TEXT_CONTROLS.sub("", _no_surrogates(text.replace("\r\n", "\n").replace("\r", "\n")))


def too_long(text: str) -> bool:
    return len(text) > MAX_TEXT_CHARS


def addressed(registry: Registry, text: str, where: MessageContext) -> bool:
    """Whether `text` is meant for the bot, judged by its start (a command, even a wrong one)."""
    try:
        return registry.parse(text[:MAX_TEXT_CHARS], where) is not None
    except UserError:
        return True


def too_long_reply(locale: str) -> str:
    return tr(locale,
              "消息太长（{n} 字以上），没有处理。请精简后再发；日志、文档等长内容请作为附件或链接提供。",
              "This message is too long (over {n} characters) and was not handled. Shorten it; "
              "send long content such as logs or documents as an attachment or a link.",
              n=MAX_TEXT_CHARS)  # fmt: skip


def retryable(error: Exception) -> bool:
    """The database could not be used just now (unreachable, busy, a deadlock): another
    delivery of the event may succeed, so the platform should deliver it again."""
    if isinstance(error, sa.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, sa.OperationalError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)  # psycopg has it; sqlite3 does not
    return not sqlstate or sqlstate[:2] in _TRANSIENT_SQLSTATES


def mark_failed(session: Session, inbound: Inbound, error: Exception) -> None:
    """In the event's own transaction: its key records that a handler failed."""
    name, message = describe(error)
    session.execute(
        update(InboundKey)
        .where(col(InboundKey.channel) == inbound.channel, col(InboundKey.key) == inbound.event_id)
        .values(status=FAILED, error_class=name, error=message)
    )


def record_failure(session: Session, inbound: Inbound, error: Exception) -> bool:
    """In a transaction of its own, after the event's was rolled back: its key, with the error.
    False if the key is there already (another instance handled the event)."""
    name, message = describe(error)
    return insert_ignore(
        session, InboundKey, channel=inbound.channel, key=inbound.event_id,
        received_at=clock.now(), status=FAILED, error_class=name, error=message,
    )  # fmt: skip


def describe(error: BaseException) -> tuple[str, str]:
    """The error's class and the first line of its message, cut short. For a database error
    the driver's own: SQLAlchemy's adds the statement and its parameters (the message's text)."""
    cause = error.orig if isinstance(error, sa.DBAPIError) and error.orig else error
    kind = type(cause)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    lines = str(cause).strip().splitlines()
    return name, _line(lines[0] if lines else "", MAX_ERROR_CHARS)


def listing(session: Session, status: str | None, limit: int) -> list[InboundKey]:
    """Inbound events, newest first; only those of `status` if given."""
    query = select(InboundKey).order_by(
        col(InboundKey.received_at).desc(), col(InboundKey.id).desc()
    )
    if status:
        query = query.where(col(InboundKey.status) == status)
    return list(session.execute(query.limit(limit)).scalars())


def as_json(row: InboundKey) -> dict[str, object]:
    return {
        "channel": row.channel, "key": row.key, "received_at": row.received_at.isoformat(),
        "status": row.status, "error_class": row.error_class, "error": row.error,
    }  # fmt: skip


def _no_surrogates(text: str) -> str:
    """Pairs of surrogates joined into the character they stand for; lone ones dropped."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")


def _id(value: str) -> str:
    """An id as it may be stored. One that had to change keeps a digest of what it was, so
    that it stays distinct: from other events (a dedupe key) and from the clean id it
    resembles (`wangli\\x00` is not `wangli`)."""
    cleaned = _CONTROLS.sub("", _no_surrogates(value))
    if cleaned == value and len(value) <= MAX_ID_CHARS:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{cleaned[: MAX_ID_CHARS - 17]}#{digest}"


def _line(value: str, limit: int) -> str:
    value = _CONTROLS.sub("", _no_surrogates(value))
    return value if len(value) <= limit else value[: limit - 1] + "…"
