"""The console channel: `rentian say` and `rentian chat`, and the everyday test harness.

A console "chat" is any id you choose; a user is the `console` identity in the
engagement file. `@name` in the text mentions that console user (or the bot by name).
"""

from __future__ import annotations

import itertools
import sys
import uuid
from datetime import datetime
from typing import TextIO

from bot.lexer import normalise, tokenize
from bot.message import ChatType, Inbound, Mention, Outgoing

CHANNEL = "console"
# A line's event id when the caller gives none: this process's random prefix and a counter.
# Unique as a uuid4 per line would be (the prefix is one, drawn once), without the system's
# random source on every line.
_PROCESS = uuid.uuid4().hex
_LINES = itertools.count(1)


def parse(
    chat_id: str,
    user: str,
    text: str,
    *,
    now: datetime,
    direct: bool = False,
    event_id: str | None = None,
    bot_names: frozenset[str] = frozenset(),
) -> Inbound:
    """A line typed on the console, as an `Inbound` from `user` in `chat_id`."""
    mentions = _mentions(text, bot_names) if "@" in text or "＠" in text else ()
    message_id = event_id or f"{_PROCESS}-{next(_LINES)}"
    return Inbound(
        channel=CHANNEL, chat_id=chat_id, chat_type=ChatType.DIRECT if direct else ChatType.GROUP,
        sender_id=user, sender_name=user, text=text, event_id=message_id,
        message_id=message_id, received_at=now, mentions=mentions,
    )  # fmt: skip


def _mentions(text: str, bot_names: frozenset[str]) -> tuple[Mention, ...]:
    """The `@name` tokens of `text`. Only a text with an `@` or `＠` can hold one: a token is a
    piece of the text, so the caller skips tokenizing every other (most of them)."""
    return tuple(
        Mention(external_id=t.text[1:], name=t.text[1:], is_bot=normalise(t.text[1:]) in bot_names)
        for t in tokenize(text)
        if t.is_mention
    )


def render(message: Outgoing, here: str = "") -> str:
    """How a message shows on the console: in the chat `here` plain, others with their
    recipient (`[→ @lina]` a person, `[→ #ops-room]` another chat)."""
    if message.recipient_type == "person":
        return f"[→ @{message.address}] {message.text}"
    if here and message.address != here:
        return f"[→ #{message.address}] {message.text}"
    return message.text


class ConsoleSender:
    """Prints what the dispatcher sends to console recipients (in `serve`, to its log)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    async def send(self, message: Outgoing) -> None:
        out = self.out or sys.stdout
        where = f"@{message.address}" if message.recipient_type == "person" else message.address
        print(f"[console {where}] {message.kind} {message.ref} {message.text}".rstrip(), file=out)
        out.flush()
