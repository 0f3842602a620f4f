"""Feishu events as `Inbound` messages: pure, no SDK.

A message event (`im.message.receive_v1`, schema 2.0) becomes the person's words, with the
`@_user_n` keys of mentions as `@name` tokens; a card button click (`card.action.trigger`)
becomes the command the button carries, said by the person who clicked.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from bot.lexer import normalise
from bot.message import ChatType, Inbound, Mention

CHANNEL = "feishu"
_MENTION_KEY = re.compile(r"@_user_\d+")


def parse(payload: dict[str, Any], *, now: datetime, bot_names: frozenset[str]) -> Inbound | None:
    """A verified `im.message.receive_v1` event (schema 2.0) as an `Inbound`; None when it is
    not a person's text or rich-text message."""
    header, event = payload.get("header") or {}, payload.get("event") or {}
    message, sender = event.get("message") or {}, event.get("sender") or {}
    ids = sender.get("sender_id") or {}
    if sender.get("sender_type", "user") != "user" or not ids.get("open_id"):
        return None  # other bots and the app itself
    mentions = {m.get("key", ""): _mention(m, bot_names) for m in message.get("mentions") or []}
    text = message_text(message.get("message_type", ""), message.get("content", ""), mentions)
    event_id = header.get("event_id") or message.get("message_id")
    if text is None or not event_id or not message.get("chat_id"):
        return None
    chat_type = ChatType.DIRECT if message.get("chat_type") == "p2p" else ChatType.GROUP
    alt_ids = tuple(ids[k] for k in ("user_id", "union_id") if ids.get(k))
    return Inbound(
        channel=CHANNEL, chat_id=message["chat_id"], chat_type=chat_type,
        sender_id=ids["open_id"], sender_alt_ids=alt_ids, text=text, event_id=event_id,
        received_at=now, mentions=tuple(mentions.values()),
        message_id=message.get("message_id", ""), reply_to=message.get("parent_id") or "",
        raw=payload,
    )  # fmt: skip


def message_text(message_type: str, content: str, mentions: dict[str, Mention]) -> str | None:
    """The words of a `text` or `post` message, with `@_user_n` keys as `@name` tokens."""
    try:
        body = json.loads(content) if content else {}
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if message_type == "text":
        raw = str(body.get("text", ""))
    elif message_type == "post":
        raw = _post_text(body, mentions)
    else:
        return None
    return _MENTION_KEY.sub(lambda m: _token(mentions.get(m.group(0)), m.group(0)), raw).strip()


def _post_text(body: dict[str, Any], mentions: dict[str, Mention]) -> str:
    """Rich text as plain lines; the title only when the body says nothing (a title before a
    command would hide the command)."""
    if "content" not in body and len(body) == 1:  # {"zh_cn": {...}}: one language wrapped
        body = next(iter(body.values())) or {}
    lines = []
    for paragraph in body.get("content") or []:
        lines.append("".join(_post_element(e, mentions) for e in paragraph or []))
    text = "\n".join(line for line in lines if line.strip())
    return text or str(body.get("title") or "")


def _post_element(element: dict[str, Any], mentions: dict[str, Mention]) -> str:
    tag = element.get("tag")
    if tag in ("text", "a"):
        return str(element.get("text", ""))
    if tag == "at":
        key = str(element.get("user_id", ""))
        found = mentions.get(key)
        return _token(found, key) if found else f"@{_compact(element.get('user_name') or key)}"
    return ""  # images, media, emoji: nothing a command reads


def _mention(raw: dict[str, Any], bot_names: frozenset[str]) -> Mention:
    ids = raw.get("id") or {}
    name = _compact(raw.get("name") or "")
    external_id = ids.get("open_id") or ids.get("user_id") or name
    return Mention(external_id=external_id, name=name or external_id,
                   is_bot=bool(name) and normalise(name).lower() in bot_names)  # fmt: skip


def _token(mention: Mention | None, fallback: str) -> str:
    return f"@{mention.name}" if mention else fallback


def _compact(name: str) -> str:
    """A display name as one token: `@John Smith` would otherwise end at the space."""
    return "".join(str(name).split())


def parse_card_action(payload: dict[str, Any], *, now: datetime) -> Inbound | None:
    """A button click (`card.action.trigger`) as the command its value carries, said by the
    person who clicked, in the chat where the card is."""
    event = payload.get("event") or {}
    operator, context = event.get("operator") or {}, event.get("context") or {}
    value = (event.get("action") or {}).get("value") or {}
    command, chat_id = value.get("command"), context.get("open_chat_id")
    open_id = operator.get("open_id")
    if not isinstance(command, str) or not command or not chat_id or not open_id:
        return None
    message_id = context.get("open_message_id") or ""
    event_id = (payload.get("header") or {}).get("event_id")
    event_id = event_id or f"card:{message_id}:{open_id}:{command}"
    chat_type = ChatType.DIRECT if value.get("chat_type") == "direct" else ChatType.GROUP
    alt_ids = tuple(operator[k] for k in ("user_id", "union_id") if operator.get(k))
    return Inbound(
        channel=CHANNEL, chat_id=chat_id, chat_type=chat_type, sender_id=open_id,
        sender_alt_ids=alt_ids, text=command, event_id=event_id, received_at=now,
        message_id=message_id, raw=payload,
    )  # fmt: skip
