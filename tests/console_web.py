"""The web console in tests: an HTTP client on the real app (no lifespan: nothing is served
in the background) and a signed-in browser for any account, through a real one-time link."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from app.http import create_app
from app.runtime import Runtime
from bot import clock
from storage import signin
from storage.db import transaction
from tests.harness import ConsoleHarness, demo_text

BASE = "http://127.0.0.1:8080"


def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime, scheduler=False), base_url=BASE)


def link_token(runtime: Runtime, user: str, channel: str = "console") -> str:
    with transaction(runtime.engine) as session:
        token = signin.issue_link(session, signin.Account(channel, user), now=clock.now(),
                                  minutes=15, per_hour=1000)  # fmt: skip
    assert token is not None
    return token


def signed_in(runtime: Runtime, user: str, channel: str = "console") -> TestClient:
    """A browser signed in as `user` (a console name by default), cookie set."""
    browser = client(runtime)
    answer = browser.post("/signin", data={"token": link_token(runtime, user, channel)},
                          follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    return browser


def other_engagement(runtime: Runtime, folder: Path, shared: tuple[str, ...] = ("zhoumin",),
                     extra: str = "") -> ConsoleHarness:  # fmt: skip
    """The demo's English twin (EN-2026) with console accounts of its own (`en-…`), except
    `shared` ones: the customer manager holds that role in both engagements. `extra`: more
    sections of the engagement file (`[[obligations]]`…)."""
    text = demo_text(obligations=False) + extra
    text = text.replace('locale = "zh-CN"', 'locale = "en"').replace('"DEMO-2026"', '"EN-2026"')
    text = text.replace('id = "demo-group"', 'id = "en-group"')
    text = re.sub(r'console = "([a-z]+)"',
                  lambda m: m.group(0) if m.group(1) in shared else f'console = "en-{m.group(1)}"',
                  text)  # fmt: skip
    path = folder / "en-own.toml"
    path.write_text(text, encoding="utf-8")
    harness = ConsoleHarness(runtime, chat="en-group")
    harness.apply(path)
    return harness


def api_token(runtime: Runtime, code: str, name: str = "test") -> str:
    """A read-API token for engagement `code`."""
    from sqlalchemy import select

    from storage.models import Engagement

    with transaction(runtime.engine) as session:
        engagement = session.execute(select(Engagement).where(Engagement.code == code)).scalar_one()
        assert engagement.id is not None
        return signin.create_api_token(session, engagement.id, name, clock.now())
