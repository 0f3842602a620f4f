"""Signing in to the web console: `/看板` sends a one-time link directly, the link signs in once
before it expires, the session cookie is safe, and nothing is shown to nobody."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters import console
from bot import clock
from storage import outbox
from storage.db import transaction
from storage.models import ConsoleLink, ConsoleSession
from tests import console_web
from tests.harness import ConsoleHarness

LINK = re.compile(r"http://127\.0\.0\.1:8080/signin/([A-Za-z0-9_-]{43})")


def _token(text: str) -> str:
    found = LINK.search(text)
    assert found, text
    return found.group(1)


def test_dashboard_in_a_group_sends_the_link_directly_never_to_the_group(demo: ConsoleHarness):
    inbound = console.parse("demo-group", "sunwei", "/看板", now=clock.now())
    outcome = demo.runtime.bus.handle(inbound, deliver=True)  # as `rentian say` does
    [reply] = outcome.replies
    assert "私信" in reply.text and "/signin/" not in reply.text
    [notice] = [n for n in outcome.notices if n.kind == "console.link"]
    assert (notice.recipient_type, notice.address) == ("person", "sunwei")
    _token(notice.text)
    # Delivered on the console at once: the stored row keeps no usable token.
    [row] = demo.outbox(kind="console.link")
    assert "/signin/…" in row.text and not LINK.search(row.text)


def test_dashboard_in_a_direct_chat_answers_with_the_link(demo: ConsoleHarness):
    [reply] = demo.say("wangli", "/dashboard", direct=True)
    assert reply.kind == "console.link" and _token(reply.text)


def test_an_engineer_may_not_open_the_console(demo: ConsoleHarness):
    [reply] = demo.say("zhaogang", "/看板")
    assert reply.kind != "console.link" and "/signin/" not in reply.text


def test_a_link_signs_in_once_and_the_url_is_clean_after(demo: ConsoleHarness):
    outcome = demo.send("sunwei", "/看板", direct=True)
    token = _token(outcome.replies[0].text)
    browser = console_web.client(demo.runtime)
    landing = browser.get(f"/signin/{token}")  # a preview fetching the link does not spend it
    assert landing.status_code == 200 and 'action="/signin"' in landing.text
    assert "/static/signin.js" in landing.text
    answer = browser.post("/signin", data={"token": token}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "rentian_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Max-Age=36000" in cookie and "Secure" not in cookie  # plain http on loopback
    again = console_web.client(demo.runtime).post("/signin", data={"token": token})
    assert again.status_code == 410 and "已使用" in again.text and "/看板" in again.text


def test_an_expired_link_and_a_forged_one_are_refused_with_how_to_get_a_new_one(
    demo: ConsoleHarness,
):
    token = console_web.link_token(demo.runtime, "sunwei")
    clock.set_now(clock.now() + timedelta(minutes=15))
    expired = console_web.client(demo.runtime).post("/signin", data={"token": token})
    assert expired.status_code == 410 and "已过期" in expired.text
    forged = console_web.client(demo.runtime).post("/signin", data={"token": "x" * 43})
    assert forged.status_code == 404 and "/看板" in forged.text
    english = console_web.client(demo.runtime).post("/signin?lang=en", data={"token": "x" * 43})
    assert "Not a valid sign-in link" in english.text and "/dashboard" in english.text
    with transaction(demo.runtime.engine) as session:
        assert session.execute(select(ConsoleSession)).first() is None


def test_the_cookie_is_secure_when_served_over_https(demo: ConsoleHarness):
    token = console_web.link_token(demo.runtime, "sunwei")
    browser = console_web.client(demo.runtime)
    browser.base_url = "https://console.vendor.example"  # type: ignore[assignment]
    answer = browser.post("/signin", data={"token": token}, follow_redirects=False)
    assert "Secure" in answer.headers["set-cookie"]


def test_links_are_rate_limited_per_person(demo: ConsoleHarness):
    for _ in range(5):
        assert demo.send("sunwei", "/看板", direct=True).replies[0].kind == "console.link"
    [refused] = demo.say("sunwei", "/看板", direct=True)
    assert refused.kind == "console.refused" and "一小时" in refused.text
    assert demo.send("wangli", "/看板", direct=True).replies[0].kind == "console.link"
    clock.set_now(clock.now() + timedelta(hours=1, minutes=1))
    assert demo.send("sunwei", "/看板", direct=True).replies[0].kind == "console.link"


def test_a_session_lasts_a_working_day_and_sign_out_ends_it(demo: ConsoleHarness):
    browser = console_web.signed_in(demo.runtime, "sunwei")
    assert browser.get("/").status_code == 200
    clock.set_now(clock.now() + timedelta(hours=9, minutes=59))
    assert browser.get("/").status_code == 200
    clock.set_now(clock.now() + timedelta(minutes=1))
    ended = browser.get("/")
    assert ended.status_code == 401 and "/看板" in ended.text
    again = console_web.signed_in(demo.runtime, "sunwei")
    held = again.cookies["rentian_session"]
    out = again.post("/signout", follow_redirects=False)
    assert out.status_code == 303 and 'rentian_session=""' in out.headers["set-cookie"]
    replayed = console_web.client(demo.runtime)  # the old cookie, kept by someone: ended too
    replayed.cookies.set("rentian_session", held)
    assert replayed.get("/").status_code == 401


def test_no_page_without_a_session_and_every_answer_has_the_security_headers(
    demo: ConsoleHarness,
):
    browser = console_web.client(demo.runtime)
    for path in ("/", "/e/DEMO-2026"):
        answer = browser.get(path)
        assert answer.status_code == 401
        assert "/看板" in answer.text
    answer = browser.get("/signin/abc")
    headers = answer.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert browser.get("/api/v1/engagements").status_code == 401


def test_only_the_hash_of_a_link_is_stored(demo: ConsoleHarness):
    token = console_web.link_token(demo.runtime, "sunwei")
    with transaction(demo.runtime.engine) as session:
        [row] = session.execute(select(ConsoleLink)).scalars().all()
        assert token not in row.token_hash and len(row.token_hash) == 64


def test_scrub_cuts_the_token_out():
    text = "链接：\nhttp://h/signin/" + "a" * 43
    assert outbox.scrub(text) == "链接：\nhttp://h/signin/…"


@pytest.mark.parametrize("user", ["nobody"])
def test_an_account_nobody_has_sees_nothing(demo: ConsoleHarness, user: str):
    browser = console_web.signed_in(demo.runtime, user)
    assert browser.get("/e/DEMO-2026").status_code in (403, 404)
