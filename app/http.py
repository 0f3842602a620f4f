"""The HTTP app: `/healthz` and the platforms' webhooks; its lifespan runs the inbox workers,
the dispatcher and the scheduler, and stops them cleanly (nothing half-handled or half-sent;
waiting events and pending rows stay for the next start). Request
bodies are bounded (`BodyLimit`) before any route reads them: before any signature check."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.console import ConsoleSender
from app.channels import load
from app.runtime import Runtime
from bot.channels import Sender
from bot.dispatcher import Dispatcher
from bot.inbox import Inbox
from bot.inbox import pending as inbox_pending
from bot.scheduler import Scheduler
from storage import outbox
from storage.db import transaction

log = logging.getLogger("rentian.http")
STOP_TIMEOUT_SECONDS = 15.0


def create_app(runtime: Runtime, *, scheduler: bool = True) -> FastAPI:
    """The HTTP app with every enabled channel's routes; its lifespan runs the inbox workers,
    the dispatcher, the scheduler and the channels' long connections (`app.state.inbox` is the
    inbox: a test without the lifespan drains it itself)."""
    adapters = [
        load(name, runtime.settings)
        for name in runtime.settings.enabled_channels()
        if name != "console"
    ]
    inbox = Inbox(runtime.engine, runtime.bus, runtime.settings.intake)
    inlet = inbox.inlet()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        senders: dict[str, Sender] = {
            "console": ConsoleSender(),
            **{a.name: a.sender() for a in adapters},
        }
        dispatcher = Dispatcher(runtime.engine, senders, runtime.settings.outbox)

        def wake() -> None:  # called from the bus's worker threads
            loop.call_soon_threadsafe(dispatcher.wake)

        runtime.bus.on_commit = wake
        task = asyncio.create_task(dispatcher.run(), name="rentian-dispatcher")
        inbox.start()  # what an earlier run accepted and did not handle goes first
        jobs = (
            Scheduler(runtime.engine, runtime.jobs, runtime.vocabulary,
                      leader_poll_seconds=runtime.settings.scheduler.leader_poll_seconds)
            if scheduler
            else None
        )  # fmt: skip
        if jobs:
            jobs.start()
        for adapter in adapters:
            await adapter.start(inlet)
        app.state.runtime, app.state.dispatcher = runtime, dispatcher
        try:
            yield
        finally:
            for adapter in adapters:
                await adapter.stop()
            # After the channels: nothing is accepted any more. Each worker ends its batch.
            await asyncio.to_thread(inbox.stop, STOP_TIMEOUT_SECONDS)
            if jobs:
                jobs.shutdown()
            dispatcher.stop()
            try:
                await asyncio.wait_for(task, STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                log.warning("dispatcher did not stop in time; unsent rows stay pending")
            runtime.bus.on_commit = None

    # No schema (`/openapi.json`) either: it would list every route to anyone who asks.
    app = FastAPI(title="Rentian", openapi_url=None, docs_url=None, redoc_url=None,
                  lifespan=lifespan)  # fmt: skip
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.http.max_body_bytes)
    app.state.inbox = inbox
    for adapter in adapters:
        adapter.install(app, inlet)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            with transaction(runtime.engine) as session:
                session.execute(text("SELECT 1"))
                pending = outbox.count_pending(session)
                waiting = inbox_pending(session)
        except Exception as error:  # the database is the one thing health depends on
            log.warning("health check: database unavailable: %s", error)
            return JSONResponse({"status": "error", "database": "unavailable"}, status_code=503)
        return JSONResponse({
            "status": "ok", "database": runtime.engine.dialect.name,
            "channels": runtime.settings.enabled_channels(), "outbox_pending": pending,
            "inbox_pending": waiting,
        })  # fmt: skip

    return app


class BodyLimit:
    """Answers 413 to a request whose body is over `max_bytes`: at once when its Content-Length
    says so, else as soon as the bytes read (a chunked body) pass it. The app never holds
    more than `max_bytes` of a body, however much is sent; the server drops the rest as it
    arrives. (It does not close the connection: closing on unread data resets it, and the
    client would never see the 413.)"""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send, f"{declared} bytes declared")
            return
        read = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.max_bytes:
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except _TooLarge:
            if started:  # pragma: no cover - every route reads its body before it answers
                raise
            await self._refuse(scope, send, f"over {self.max_bytes} bytes read")

    async def _refuse(self, scope: Scope, send: Send, why: str) -> None:
        log.warning("%s %s refused with 413: body too large (%s; the limit is "
                    "http.max_body_bytes = %d)", scope["method"], scope["path"], why,
                    self.max_bytes)  # fmt: skip
        await send({
            "type": "http.response.start", "status": 413,
            "headers": [(b"content-type", b"application/json")],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": b'{"error": "request body too large"}'})


class _TooLarge(Exception):
    """Raised from `receive` past the limit; `BodyLimit` turns it into a 413."""


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
