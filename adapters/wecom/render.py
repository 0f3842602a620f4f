"""Outbox rows as WeCom API calls: pure.

- a person: `message/send` from the app (`agent_id`) to their WeCom user id;
- a chat: `appchat/send` to the app group chat (the client falls back to `message/send` when
  the address turns out to be a user id: a direct chat);
- a chat written as `webhook:KEY` in the engagement's `[[chats]]`: the group robot. A group
  robot is send-only: messages in that group never reach the bot.

Buttons: the rows of `adapters.decisions.DECISIONS` (`cr.estimated`, `delivery.submitted`,
`sla.breach`, `ticket.suggested`, `obligation.ask_ack`, `obligation.sign`) sent through
`message/send` (to a person, or in a direct chat) go as a `template_card` of type
`button_interaction` when the text fits a card (160 characters; longer ones stay plain text,
nothing is cut). Each button's key is
a command (`/sign CR-1`, `/accept D-1`, `/ack T-3`); the click comes back as a signed
`template_card_event` (see `parse`). App group chats and group robots get plain text: WeCom
offers no interactive cards there. The card is not updated after the click (the bot's answer
says what happened).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from adapters.decisions import decision
from bot.message import Outgoing

WEBHOOK_PREFIX = "webhook:"
CARD_TEXT_MAX = 160  # WeCom's advised length of a card's `sub_title_text`
CARD_TITLE_MAX = 36


@dataclass(frozen=True)
class Call:
    """One WeCom API call: `kind` is "message", "appchat" or "webhook"; `to` its recipient."""

    kind: str
    to: str
    body: dict[str, Any]


def render(message: Outgoing, agent_id: int) -> Call:
    """The WeCom call that delivers an outbox row (text messages)."""
    text = {"msgtype": "text", "text": {"content": message.text}}
    if message.recipient_type == "person":
        return Call("message", message.address, {"touser": message.address, "agentid": agent_id,
                                                  **text, "safe": 0})  # fmt: skip
    if message.address.startswith(WEBHOOK_PREFIX):
        return Call("webhook", message.address.removeprefix(WEBHOOK_PREFIX), text)
    return Call("appchat", message.address, {"chatid": message.address, **text, "safe": 0})


def card(message: Outgoing, agent_id: int, user_id: str) -> dict[str, Any] | None:
    """The `message/send` body of a button card for this row; None when it has no buttons
    or its text does not fit a card."""
    asked = decision(message.kind, message.ref)
    # The audit chain's anchor line (🔗 …) goes into a field of its own, not the card's text.
    lines = message.text.strip().splitlines()
    anchors = [line.removeprefix("🔗").strip() for line in lines if line.startswith("🔗")]
    text = "\n".join(line for line in lines if not line.startswith("🔗"))
    if asked is None or len(text) > CARD_TEXT_MAX:
        return None
    # One button, the first answer; its key is the English command in either language.
    button = asked.buttons[0]
    english = message.locale == "en"
    title = text.splitlines()[0] if text else message.ref
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": _clip(title, CARD_TITLE_MAX)},
        "sub_title_text": text,
        "task_id": task_id(message),
        "button_list": [
            {"text": button.label(english), "style": 1, "key": button.command(message.ref, True)}
        ],
    }
    if anchors:
        card["horizontal_content_list"] = [
            {"keyname": "Audit" if english else "审计链", "value": anchor} for anchor in anchors
        ]
    return {
        "touser": user_id,
        "agentid": agent_id,
        "msgtype": "template_card",
        "template_card": card,
    }


def task_id(message: Outgoing) -> str:
    """A card's `task_id` (letters, digits, `_-@`, unique per app): from the outbox key."""
    return "rt_" + hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:40]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
