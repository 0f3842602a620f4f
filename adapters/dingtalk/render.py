"""Outbox rows as DingTalk robot API calls: pure.

A chat ("cid...") is posted to through `/v1.0/robot/groupMessages/send`; a person, or a direct
chat (a staff id), through `/v1.0/robot/oToMessages/batchSend`. Rows that ask someone to decide
become ActionCards whose buttons post the command into the conversation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from adapters.decisions import DECISIONS, decision
from bot.message import Outgoing

GROUP_PATH = "/v1.0/robot/groupMessages/send"
DIRECT_PATH = "/v1.0/robot/oToMessages/batchSend"
GROUP_PREFIX = "cid"  # open conversation ids of group chats start with it


@dataclass(frozen=True)
class Call:
    """One DingTalk API call: path and JSON body."""

    path: str
    body: dict[str, Any]


# A button opens DingTalk's `dtmd://dingtalkclient/sendMessage` link, which posts the command
# into the conversation as the person who clicked.
SEND_MESSAGE_LINK = "dtmd://dingtalkclient/sendMessage?content="


def render(message: Outgoing, robot_code: str) -> Call:
    """The robot API call that delivers an outbox row: an ActionCard for a decision, text
    otherwise."""
    if decision(message.kind, message.ref) is not None:
        key, param = render_card(message)
    else:
        key, param = "sampleText", {"content": message.text}
    body = {"robotCode": robot_code, "msgKey": key,
            "msgParam": json.dumps(param, ensure_ascii=False)}  # fmt: skip
    if message.recipient_type == "chat" and message.address.startswith(GROUP_PREFIX):
        return Call(GROUP_PATH, {**body, "openConversationId": message.address})
    return Call(DIRECT_PATH, {**body, "userIds": [message.address]})


def render_card(message: Outgoing) -> tuple[str, dict[str, Any]]:
    """(msgKey, msgParam) of the ActionCard for a decision: one button per possible answer."""
    en = message.locale == "en"
    asked = DECISIONS[message.kind]
    title = asked.title(message.ref, en)
    buttons = [(b.label(en), b.command(message.ref, en)) for b in asked.buttons]
    param: dict[str, Any] = {"title": title, "text": f"### {title}\n\n{message.text}"}
    if len(buttons) == 1:
        ((label, command),) = buttons
        return "sampleActionCard", {**param, "singleTitle": label,
                                    "singleURL": command_link(command)}  # fmt: skip
    for number, (label, command) in enumerate(buttons, start=1):
        param[f"actionTitle{number}"] = label
        param[f"actionURL{number}"] = command_link(command)
    return f"sampleActionCard{len(buttons)}", param


def command_link(command: str) -> str:
    """The link that makes the DingTalk client send `command` as the person who clicks."""
    return SEND_MESSAGE_LINK + quote(command, safe="")
