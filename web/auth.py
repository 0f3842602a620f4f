"""Who is asking, for every console page and API call: the session cookie (signed in through a
one-time link), or, for the API, `Authorization: Bearer <token>`. Nothing is shown to nobody."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, Request
from sqlalchemy import Engine
from sqlmodel import Session

from bot import clock
from storage import signin
from storage.db import transaction
from web.access import Seat, Viewer, token_viewer, viewer_of

SESSION_COOKIE = "rentian_session"


class SignInNeeded(Exception):
    """A page was asked for without a live session: the answer says how to sign in."""


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.runtime.engine
    return engine


@contextmanager
def reading(request: Request) -> Iterator[Session]:
    """A transaction for a page or API call."""
    with transaction(engine_of(request)) as session:
        yield session


def session_viewer(session: Session, request: Request) -> Viewer | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 100:
        return None
    account = signin.session_account(session, token, clock.now())
    return None if account is None else viewer_of(session, account)


def page_viewer(session: Session, request: Request) -> Viewer:
    """The signed-in person, or `SignInNeeded` (a page telling how to get a link)."""
    viewer = session_viewer(session, request)
    if viewer is None:
        raise SignInNeeded
    return viewer


def api_viewer(session: Session, request: Request) -> Viewer:
    """The API's caller: a bearer token, else the browser's session; else 401."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        row = (signin.api_token(session, token.strip(), clock.now())
               if scheme.lower() == "bearer" and len(token) <= 100 else None)  # fmt: skip
        if row is None:
            raise HTTPException(401, "invalid or revoked API token",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        return token_viewer(session, row)
    viewer = session_viewer(session, request)
    if viewer is None:
        raise HTTPException(401, "sign in, or send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    return viewer


def seat_for(viewer: Viewer, code: str) -> Seat:
    """The viewer's seat in engagement `code`, or 404 — the same answer as for an engagement
    that does not exist, so a page never tells who else is a client here."""
    seat = viewer.seat_by_code(code)
    if seat is None:
        raise HTTPException(404, "no such engagement")
    return seat
