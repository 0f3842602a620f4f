"""No leak: every route of the console and its API, walked as every person of two engagements
(and as nobody), answers only for the engagements that person may see — and a page of one
engagement never names the other.

The two engagements: the demo (DEMO-2026) and its English twin (EN-2026) whose people have
console accounts of their own (`en-…`), except the customer manager, who holds that role in
both. Each has a ticket T-1 and a closed month 2026-11, so every route has something to show.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from tests import console_web
from tests.harness import ConsoleHarness

CODES = ("DEMO-2026", "EN-2026")
# Who sees what (domain/visibility.py): client people their engagement; the vendor's PM,
# customer manager and director theirs; engineers nothing.
SEES = {"wangli": True, "chenjing": True, "liuyang": True, "sunwei": True, "zhoumin": True,
        "qianhao": True, "malin": False, "zhaogang": False, "lina": False, "hejun": False}  # fmt: skip
# What fills a route's parameters.
VALUES = {"ref": "T-1", "month": "2026-11"}
# Routes that are not about an engagement's records (sign-in, health, the platforms' webhooks).
NOT_RECORDS = re.compile(r"^/(healthz|signin|signout|signed-out|webhooks|static)\b")


def _routes(app: object) -> list[str]:
    """Every GET path of the app and of the apps mounted in it (the read API)."""
    paths = []
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and "GET" in route.methods:
            paths.append(route.path)
        elif isinstance(route, Mount) and hasattr(route.app, "routes"):
            paths += [route.path + sub for sub in _routes(route.app)]
        elif hasattr(route, "original_router"):  # a router included without a prefix
            paths += _routes(route.original_router)
    return [p for p in paths if not NOT_RECORDS.match(p)]


def _accounts() -> list[tuple[str, str | None]]:
    """(account, the one engagement it belongs to — None for the customer manager, in both)."""
    accounts: list[tuple[str, str | None]] = [("zhoumin", None)]
    for user in SEES:
        if user != "zhoumin":
            accounts += [(user, "DEMO-2026"), (f"en-{user}", "EN-2026")]
    return accounts


def _may_see(account: str, home: str | None, code: str) -> bool:
    return SEES[account.removeprefix("en-")] and (home is None or home == code)


@pytest.fixture
def two(demo: ConsoleHarness, tmp_path: Path) -> ConsoleHarness:
    other = console_web.other_engagement(demo.runtime, tmp_path)
    demo.at("2026-11-20T10:00:00+08:00")
    for harness, prefix in ((demo, ""), (other, "en-")):
        assert (
            harness.one(f"{prefix}liuyang", "/ticket P3 report export slow").kind == "ticket.opened"
        )
        harness.one(f"{prefix}zhaogang", "/log 2h T-1 slow query")
    demo.at("2026-12-01T10:00:00+08:00")
    for harness, prefix in ((demo, ""), (other, "en-")):
        assert harness.one(f"{prefix}sunwei", "/period close 2026-11").kind == "period.closed"
    return demo


def test_every_route_answers_only_for_what_each_person_may_see(two: ConsoleHarness) -> None:
    app = console_web.client(two.runtime).app
    routes = _routes(app)
    assert any(r.startswith("/api/v1/") for r in routes) and "/e/{code}" in routes
    assert any("evidence" in r for r in routes) and any("statements" in r for r in routes)
    assert "/api/v1/engagements/{code}/obligations" in routes  # walked like every other read
    token_of = {code: console_web.api_token(two.runtime, code) for code in CODES}
    walked = 0
    for account, home in [*_accounts(), ("nobody", "")]:
        browser = console_web.signed_in(two.runtime, account)
        for route in routes:
            for code in CODES if "{code}" in route else (None,):
                path = route.format(code=code, **VALUES) if code else route
                answer = browser.get(path)
                walked += 1
                if code is None:  # a list of what the person sees
                    assert answer.status_code == 200, (account, path, answer.status_code)
                    for shown in CODES:
                        expected = home != "" and _may_see(account, home, shown)
                        assert (shown in answer.text) == expected, (account, path, shown)
                    continue
                allowed = home != "" and _may_see(account, home, code)
                assert answer.status_code == (200 if allowed else 404), (account, path)
                other = CODES[1 - CODES.index(code)]
                if allowed and "zip" not in path and "xlsx" not in path:
                    assert other not in answer.text, (account, path, "names", other)
    # An API token reads its own engagement, and answers 404 for the other.
    for code, token in token_of.items():
        api = console_web.client(two.runtime)
        api.headers["authorization"] = f"Bearer {token}"
        for route in (r for r in routes if r.startswith("/api/")):
            for target in CODES if "{code}" in route else (None,):
                path = route.format(code=target, **VALUES) if target else route
                answer = api.get(path)
                if target is None:
                    assert code in answer.text and CODES[1 - CODES.index(code)] not in answer.text
                else:
                    assert answer.status_code == (200 if target == code else 404), (code, path)
    assert walked > 400


def test_without_a_session_every_route_says_sign_in(two: ConsoleHarness) -> None:
    browser = console_web.client(two.runtime)
    for route in _routes(browser.app):
        for code in CODES if "{code}" in route else (None,):
            path = route.format(code=code, **VALUES) if code else route
            answer = browser.get(path)
            assert answer.status_code == 401, path
            told = answer.text.replace(path, "")  # the page's own address (its language switch)
            assert all(c not in told for c in CODES), path
