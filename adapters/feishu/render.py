"""Outbox rows as Feishu messages: pure, no SDK.

Rows that ask someone to decide (`adapters.decisions.DECISIONS`: `cr.estimated`,
`delivery.submitted`, `sla.breach`, `ticket.suggested`, `obligation.ask_ack`, `obligation.sign`)
become interactive cards whose buttons carry the command they run; the rest plain text.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from adapters.decisions import DECISIONS, decision
from bot.message import Outgoing

UUID_MAX_LENGTH = 50  # Feishu's limit on the dedupe `uuid` of a send


def render(message: Outgoing) -> tuple[str, str]:
    """(msg_type, content) of the Feishu message for an outbox row: an interactive card with
    buttons for rows that ask for a decision, plain text otherwise."""
    if decision(message.kind, message.ref) is not None:
        return "interactive", json.dumps(render_card(message), ensure_ascii=False)
    return "text", json.dumps({"text": message.text}, ensure_ascii=False)


def render_card(message: Outgoing) -> dict[str, Any]:
    """The card for a decision: the row's text and one button per possible answer."""
    en = message.locale == "en"
    asked = DECISIONS[message.kind]
    title = asked.title(message.ref, en)
    chat_type = "group" if message.recipient_type == "chat" else "direct"
    buttons = [
        {
            "tag": "button", "type": button.style,
            "text": {"tag": "plain_text", "content": button.label(en)},
            "value": {"command": button.command(message.ref, en),
                      "chat_type": chat_type, "title": title, "text": message.text},
        }
        for button in asked.buttons
    ]  # fmt: skip
    return _card(title, [message.text], buttons)


def answer_card(value: dict[str, Any], operator: str, replies: list[str]) -> dict[str, Any]:
    """The card after a click: what it said, then who clicked and the bot's answer."""
    said = [f"<at id={operator}></at>: {reply}" for reply in replies]
    return _card(str(value.get("title", "")), [str(value.get("text", "")), *said], [])


def _card(title: str, paragraphs: list[str], buttons: list[dict[str, Any]]) -> dict[str, Any]:
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "lark_md", "content": p}} for p in paragraphs if p
    ]
    if buttons:
        elements.append({"tag": "action", "actions": buttons})
    return {
        "config": {"wide_screen_mode": True, "update_multi": True},
        "header": {"title": {"tag": "plain_text", "content": title}, "template": "blue"},
        "elements": elements,
    }


def send_uuid(dedupe_key: str) -> str:
    """Feishu's dedupe `uuid`: the outbox key, hashed when longer than Feishu allows."""
    if len(dedupe_key) <= UUID_MAX_LENGTH:
        return dedupe_key
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:UUID_MAX_LENGTH]
