"""Decrypted WeCom callback messages as `Inbound` messages: pure, no SDK.

A person's text, or a click on one of our card buttons (`template_card_event`, which wechatpy
1.8 does not know): the button's key is the command, run by the clicking user in their direct
chat. Everything else — images, other events, unreadable XML — is None.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

import xmltodict

from bot.message import ChatType, Inbound

CHANNEL = "wecom"
CARD_EVENT = "template_card_event"

log = logging.getLogger("rentian.wecom")


def parse(xml: str, *, now: datetime) -> Inbound | None:
    """A decrypted callback message as an `Inbound`; None unless it is a person's text or a
    click on one of our card buttons."""
    try:
        fields: dict[str, Any] = dict(xmltodict.parse(xml).get("xml") or {})
    except Exception as error:  # malformed XML
        log.warning("wecom callback: unreadable message: %s", error)
        return None
    kind = fields.get("MsgType")
    if not isinstance(kind, str):
        log.warning("wecom callback: unreadable message: no MsgType")
        return None
    if kind == "event":
        return _card_click(fields, now) if fields.get("Event") == CARD_EVENT else None
    if kind.lower() != "text" or not fields.get("MsgId"):
        return None
    sender = str(fields.get("FromUserName") or "")
    if not sender:
        return None
    chat_id = str(fields.get("ChatId") or "")
    msg_id = str(fields["MsgId"])
    return Inbound(
        channel=CHANNEL, chat_id=chat_id or sender,
        chat_type=ChatType.GROUP if chat_id else ChatType.DIRECT,
        sender_id=sender, text=str(fields.get("Content") or "").strip(), event_id=msg_id,
        message_id=msg_id, received_at=now,
        raw={"agent_id": str(fields.get("AgentID") or ""), "msg_id": msg_id, "xml": fields},
    )  # fmt: skip


def _card_click(fields: dict[str, Any], now: datetime) -> Inbound | None:
    """A button click: the button's key is the command, run by the clicking user in their
    direct chat; one effect per card, user and button however often WeCom delivers it."""
    sender, command = str(fields.get("FromUserName") or ""), str(fields.get("EventKey") or "")
    task = str(fields.get("TaskId") or "")
    if not sender or not command.startswith("/") or not task:
        return None
    digest = hashlib.sha256(f"{task}\n{sender}\n{command}".encode()).hexdigest()[:32]
    return Inbound(
        channel=CHANNEL, chat_id=sender, chat_type=ChatType.DIRECT, sender_id=sender,
        text=command, event_id=f"card-{digest}", received_at=now,
        raw={"agent_id": str(fields.get("AgentID") or ""), "task_id": task, "xml": fields},
    )  # fmt: skip
