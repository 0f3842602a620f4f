"""DingTalk robot callbacks as `Inbound` messages.

The one parser for both ways in (stream frames and HTTP callbacks). It reads the payload with
the SDK's `ChatbotMessage.from_dict`, as the stream client does: what that refuses to read is
refused here too, so both ways accept the same messages. The session webhook and its expiry are
kept in `Inbound.raw` (they expire: every send is proactive).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from dingtalk_stream import ChatbotMessage

from bot.assurance import Assurance
from bot.message import ChatType, Inbound, Mention

CHANNEL = "dingtalk"
GROUP = "2"  # conversationType of a group chat ("1": a direct chat)

log = logging.getLogger("rentian.dingtalk")


def parse(
    payload: Any, *, now: datetime, assurance: Assurance = Assurance.PLATFORM
) -> Inbound | None:
    """A robot callback (`ChatbotMessage` JSON) as an `Inbound`; None unless it is a text.
    `assurance`: how far the way it came proves the sender (`stream`: the platform's word;
    `webhook`: a replayable signature, unless the settings allow it to sign)."""
    if not isinstance(payload, dict):
        return None
    try:
        message = ChatbotMessage.from_dict(payload)
    except Exception as error:  # wrong shapes inside (text, atUsers, expiry)
        log.warning("dingtalk callback: unreadable message: %s", error)
        return None
    if message.message_type != "text" or message.text is None or not message.message_id:
        return None
    sender = str(message.sender_staff_id or message.sender_id or "")
    conversation = str(message.conversation_id or "")
    if not sender or not conversation:
        return None
    group = str(message.conversation_type) == GROUP
    mentions = tuple(_mention(user, message.chatbot_user_id) for user in message.at_users or [])
    msg_id = str(message.message_id)
    alt = str(message.sender_id or "")
    return Inbound(
        channel=CHANNEL, chat_id=conversation if group else sender,
        chat_type=ChatType.GROUP if group else ChatType.DIRECT, sender_id=sender,
        sender_name=str(message.sender_nick or ""),
        sender_alt_ids=(alt,) if alt and alt != sender else (),
        text=strip_bot_mention(str(message.text.content or ""), only_bot=_only_bot(mentions)),
        event_id=msg_id, message_id=msg_id, received_at=now, mentions=mentions, assurance=assurance,
        raw={"conversation_id": conversation, "robot_code": message.robot_code or "",
             "session_webhook": message.session_webhook or "",
             "session_webhook_expired_time": message.session_webhook_expired_time or 0},
    )  # fmt: skip


def _mention(user: Any, bot_id: str | None) -> Mention:
    external = str(user.staff_id or user.dingtalk_id or "")
    return Mention(external_id=external, is_bot=bool(bot_id) and user.dingtalk_id == bot_id)


def _only_bot(mentions: tuple[Mention, ...]) -> bool:
    return bool(mentions) and all(m.is_bot for m in mentions)


def strip_bot_mention(text: str, *, only_bot: bool) -> str:
    """The text without a leading @robot (DingTalk usually strips it; some clients don't).
    Only when the robot is the one person mentioned: a leading `@name` is then the robot."""
    text = text.strip()
    if only_bot and text.startswith("@"):
        _, _, rest = text.partition(" ")
        return rest.strip()
    return text
