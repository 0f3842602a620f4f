"""`rentian say` and `rentian chat`: the console, as a user of the engagement would talk."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import col

from adapters import console
from app.runtime import Runtime, from_args
from bot import clock
from bot.message import Outgoing
from bot.outcome import Outcome
from storage.db import transaction

if TYPE_CHECKING:
    pass


def say(args: argparse.Namespace) -> int:
    words = args.text[1:] if args.text[:1] == ["--"] else args.text  # `--` ended the options
    text = " ".join(words).strip()
    if not text:
        print("rentian say: the message is missing (options first, then the text)", file=sys.stderr)
        return 2
    runtime = from_args(args)
    inbound = console.parse(
        args.chat, args.user, text, now=clock.now(), direct=args.direct,
        event_id=args.event_id, bot_names=runtime.bot_names,
    )  # fmt: skip
    if args.channel != console.CHANNEL:
        from dataclasses import replace

        inbound = replace(inbound, channel=args.channel)
    outcome = runtime.bus.handle(inbound, deliver=args.channel == console.CHANNEL)
    _print_outcome(outcome, args.chat, args.json)
    return 0


def _print_outcome(outcome: Outcome, chat_id: str, as_json: bool) -> None:
    """The replies, then the other console messages the message caused (`[→ @lina] …`)."""
    if as_json:  # replies as {kind, ref, text}; notices add "to": "@person" or "#chat"
        items = [{"kind": r.kind, "ref": r.ref, "text": r.text} for r in outcome.replies]
        items += [{"kind": n.kind, "ref": n.ref, "text": n.text, "to": _addressee(n)}
                  for n in outcome.notices]  # fmt: skip
        print(json.dumps(items, ensure_ascii=False))
        return
    for reply in outcome.replies:
        print(reply.text)
    for notice in outcome.notices:
        print(console.render(notice, here=chat_id))


def _addressee(message: Outgoing) -> str:
    return ("@" if message.recipient_type == "person" else "#") + message.address


def chat(args: argparse.Namespace) -> int:
    """A console REPL: each line is a message from the current user; `/as USER` switches.

    The replies and notices a line causes are printed here, by this process (see `say`),
    whether or not a server is running.
    """
    runtime = from_args(args)
    user = args.user
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Rentian console — chat {args.chat}. /as USER switches speaker, /quit leaves.")
    try:
        while True:
            if interactive:
                print(f"{user}> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                return 0
            text = line.strip()
            if not text:
                continue
            if text in ("/quit", "/exit", "/退出"):
                return 0
            words = text.split(maxsplit=1)
            if words[0] in ("/as", "／as"):
                user = _switch_speaker(runtime, args.chat, user, words[1:])
                continue
            inbound = console.parse(args.chat, user, text, now=clock.now(), direct=args.direct,
                                    bot_names=runtime.bot_names)  # fmt: skip
            _print_outcome(runtime.bus.handle(inbound, deliver=True), args.chat, as_json=False)
            sys.stdout.flush()  # a pipe is block-buffered: whoever reads it waits for this answer
    except KeyboardInterrupt:
        print()
        return 0


def _switch_speaker(runtime: Runtime, chat_id: str, user: str, words: list[str]) -> str:
    """`/as NAME`: speak as that console user; with no name or an unknown one, say why."""
    names = _console_names(runtime, chat_id)
    if not words:
        print(f"(speaking as {user}; /as NAME switches to another console user: "
              f"{', '.join(names) or 'none known here'})")  # fmt: skip
        return user
    wanted = words[0].strip()
    if wanted in names or not names:
        print(f"(now speaking as {wanted})")
        return wanted
    close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"known here: {', '.join(names)}"
    print(f"(no console user {wanted!r} in this chat's engagement; {hint} Still {user}.)")
    return user


def _console_names(runtime: Runtime, chat_id: str) -> list[str]:
    """The console names of the people of this chat's engagement (of every engagement when
    the chat is not bound yet)."""
    from storage.models import ChatBinding, Identity

    query = select(col(Identity.external_id)).where(col(Identity.channel) == console.CHANNEL)
    with transaction(runtime.engine) as session:
        bound = session.execute(
            select(col(ChatBinding.engagement_id)).where(
                col(ChatBinding.channel) == console.CHANNEL, col(ChatBinding.chat_id) == chat_id
            )
        ).scalar_one_or_none()
        if bound is not None:
            query = query.where(col(Identity.engagement_id) == bound)
        return sorted(set(session.execute(query).scalars()))
