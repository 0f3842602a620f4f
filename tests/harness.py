"""The console channel as a test harness: say things as people, read replies and the outbox.

This drives the real bus, handlers and database; only the person typing is simulated.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from sqlalchemy import select

from adapters import console
from app.runtime import Runtime
from bot import clock, inbox
from bot.inbox import Inbox
from bot.outcome import Outcome, Reply
from bot.scheduler import tick
from config.settings import DEMO_ENGAGEMENT
from handlers import engagements
from handlers.sow import load_engagement_file
from storage.db import transaction
from storage.models import OutboxMessage

_OBLIGATIONS = re.compile(r"^\[\[obligations\]\]\n(?:(?!\[).*(?:\n|$))*", re.M)


def demo_text(*, obligations: bool = True) -> str:
    """The demo engagement file's text; `obligations=False`: without its `[[obligations]]`, for
    a test that declares its own, or whose scheduler must say nothing about them."""
    text = DEMO_ENGAGEMENT.read_text(encoding="utf-8")
    return text if obligations else _OBLIGATIONS.sub("", text)


def english_engagement(folder: Path) -> Path:
    """The demo engagement in English, under another code (EN-2026) and chat (en-group)."""
    text = DEMO_ENGAGEMENT.read_text(encoding="utf-8")
    text = text.replace('locale = "zh-CN"', 'locale = "en"').replace('"DEMO-2026"', '"EN-2026"')
    text = text.replace('id = "demo-group"', 'id = "en-group"')
    path = folder / "en.toml"
    path.write_text(text, encoding="utf-8")
    return path


def drain_inbox(runtime: Runtime, seconds: float = 20.0) -> int:
    """Handle what waits in the inbox, as the app's workers would (they run only in the app's
    lifespan), and return once it is empty: how many events this call handled. Where a
    running app's workers hold some, it polls (bounded) until they have committed them."""
    workers = Inbox(runtime.engine, runtime.bus, runtime.settings.intake)
    deadline = time.monotonic() + seconds
    handled = workers.drain()
    while True:
        with transaction(runtime.engine) as session:
            if not inbox.pending(session):
                return handled
        assert time.monotonic() < deadline, "the inbox did not empty"
        time.sleep(0.01)
        handled += workers.drain()


class ConsoleHarness:
    def __init__(self, runtime: Runtime, chat: str = "demo-group") -> None:
        self.runtime = runtime
        self.chat = chat

    def apply(self, path: Path | str) -> engagements.ApplyResult:
        spec = load_engagement_file(path)
        with transaction(self.runtime.engine) as session:
            return engagements.apply(session, spec, clock.now())

    def send(self, user: str, text: str, *, chat: str | None = None, direct: bool = False,
             event_id: str | None = None) -> Outcome:  # fmt: skip
        inbound = console.parse(chat or self.chat, user, text, now=clock.now(), direct=direct,
                                event_id=event_id, bot_names=self.runtime.bot_names)  # fmt: skip
        return self.runtime.bus.handle(inbound)

    def say(self, user: str, text: str, **where: object) -> list[Reply]:
        return self.send(user, text, **where).replies  # type: ignore[arg-type]

    def one(self, user: str, text: str, **where: object) -> Reply:
        replies = self.say(user, text, **where)
        assert len(replies) >= 1, f"no reply to {text!r}"
        return replies[0]

    def at(self, moment: str) -> None:
        """Set the clock (engagement-local times are written with their offset)."""
        clock.set_now(moment)

    def tick(self) -> list[tuple[str, bool]]:
        """`rentian tick`: run the scheduler jobs due now."""
        return tick(self.runtime.engine, self.runtime.jobs, self.runtime.vocabulary)

    def kinds(self, **filters: str) -> list[tuple[str, str, str]]:
        """(kind, recipient_type, recipient) of outbox rows, oldest first."""
        return [(r.kind, r.recipient_type, r.recipient) for r in self.outbox(**filters)]

    def outbox(self, **filters: str) -> list[OutboxMessage]:
        with transaction(self.runtime.engine) as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)  # type: ignore[arg-type]
            for name, value in filters.items():
                query = query.where(getattr(OutboxMessage, name) == value)
            return list(session.execute(query).scalars())
