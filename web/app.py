"""The web console on the HTTP app: sign-in through one-time links, the pages, the evidence
pack and the read API (mounted at `/api`, with its own OpenAPI schema), behind security
headers (docs/security.md, "Web console")."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import clock
from storage import signin
from web import api, evidence, pages
from web.auth import SESSION_COOKIE, SignInNeeded, reading, session_viewer
from web.render import STATIC, locale_of, page

# No inline script or style anywhere: every script and style sheet is a file under /static.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")  # fmt: skip
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_TOKEN_MAX = 100  # a token is 43 characters; anything much longer is not one


def install(app: FastAPI, runtime: Any) -> None:
    """Add the console's routes to `app` (the server's HTTP app)."""
    app.state.runtime = runtime
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(SignInNeeded, _sign_in_needed)
    app.add_api_route("/signin/{token}", _signin_page, methods=["GET"],
                      response_class=HTMLResponse)  # fmt: skip
    app.add_api_route("/signin", _signin, methods=["POST"])
    app.add_api_route("/signout", _signout, methods=["POST"])
    app.add_api_route("/signed-out", _signed_out, methods=["GET"], response_class=HTMLResponse)
    app.include_router(pages.router)
    app.include_router(evidence.router)
    app.mount("/api", api.build(runtime))


def _signin_page(request: Request, token: str) -> Response:
    """The link's page: a button that signs in (a script presses it at once). A GET does not
    spend the link, so a chat app that fetches links to preview them cannot use it up."""
    locale = locale_of(request, "zh-CN")
    if len(token) > _TOKEN_MAX:
        return _link_refused(request, locale, "unknown")
    return page(request, "signin.html", locale, token=token)


def _signin(request: Request, token: str = Form(max_length=_TOKEN_MAX)) -> Response:
    """Spend the link, start a session and go to the portfolio: the token leaves the URL."""
    now = clock.now()
    settings = request.app.state.runtime.settings
    with reading(request) as session:
        state, account = signin.redeem_link(session, token, now)
        if account is None:
            return _link_refused(request, locale_of(request, "zh-CN"), state)
        cookie = signin.start_session(session, account, now=now,
                                      hours=settings.console.session_hours)  # fmt: skip
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age=settings.console.session_hours * 3600, httponly=True,
        samesite="lax", secure=_secure(request, settings.console_url()), path="/",
    )  # fmt: skip
    return response


def _signout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and len(token) <= _TOKEN_MAX:
        with reading(request) as session:
            signin.end_session(session, token, clock.now())
    response = RedirectResponse("/signed-out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _signed_out(request: Request) -> Response:
    return page(request, "signed_out.html", locale_of(request, "zh-CN"))


def _secure(request: Request, public_url: str) -> bool:
    return request.url.scheme == "https" or public_url.startswith("https://")


def _link_refused(request: Request, locale: str, state: str) -> Response:
    status = {"used": 410, "expired": 410}.get(state, 404)
    return page(request, "link_refused.html", locale, state=state, status_code=status)


def _sign_in_needed(request: Request, _error: Exception) -> Response:
    with reading(request) as session:  # a stale cookie: say so rather than loop
        viewer = session_viewer(session, request)
    return page(request, "sign_in_needed.html", locale_of(request, "zh-CN"),
                viewer=viewer, status_code=401)  # fmt: skip


class SecurityHeaders:
    """Every response gets the headers above; pages and API answers are not cached (a shared
    browser's history or a proxy keeps no engagement data), the static files are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *_HEADERS]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
