"""The HTTP app: `/healthz`, the platforms' webhooks and the web console (`web`); its lifespan starts the channels'
long connections and the handling side — the inbox workers, the dispatcher and the
scheduler — either in a worker process of their own (`process="separate"`, what `rentian
serve` does by default) or in this process ("inline"), and stops them cleanly (nothing
half-handled or half-sent; waiting events and pending rows stay for the next start). Request
bodies are bounded (`BodyLimit`) before any route reads them: before any signature check."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.runtime import Runtime
from app.worker import WorkerProcess, channel_adapters, handling
from bot.channels import ChannelAdapter, Inlet
from bot.inbox import Inbox
from bot.inbox import pending as inbox_pending
from storage import outbox
from storage.db import transaction
from web.alerts import install as install_alerts
from web.app import install as install_console

log = logging.getLogger("rentian.http")


def create_app(
    runtime: Runtime, *, scheduler: bool = True,
    process: Literal["separate", "inline"] = "inline",
) -> FastAPI:  # fmt: skip
    """The HTTP app with every enabled channel's routes; its lifespan runs the channels' long
    connections and the handling side, in a worker process (`process="separate"`) or in this
    one (`app.state.inbox` is the inbox: a test without the lifespan drains it itself)."""
    adapters = channel_adapters(runtime)
    inbox = Inbox(runtime.engine, runtime.bus, runtime.settings.intake)
    inlet = inbox.inlet()
    worker = WorkerProcess(scheduler=scheduler) if process == "separate" else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime
        if worker is None:
            async with handling(runtime, inbox, adapters, scheduler=scheduler) as dispatcher:
                app.state.dispatcher = dispatcher
                async with _channels(adapters, inlet):
                    yield
            return
        worker.start()
        inbox.on_accept, runtime.bus.on_commit = worker.wake_inbox, worker.wake_outbox
        try:
            async with _channels(adapters, inlet):
                yield
        finally:
            # After the channels: nothing is accepted any more. Each worker ends its batch.
            await asyncio.to_thread(worker.stop)
            inbox.on_accept = runtime.bus.on_commit = None

    # No schema (`/openapi.json`) either: it would list every route to anyone who asks.
    app = FastAPI(title="Rentian", openapi_url=None, docs_url=None, redoc_url=None,
                  lifespan=lifespan)  # fmt: skip
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.http.max_body_bytes)
    app.state.inbox, app.state.worker = inbox, worker
    for adapter in adapters:
        adapter.install(app, inlet)
    install_console(app, runtime)
    install_alerts(app, runtime)

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
            "inbox_pending": waiting, **_worker_health(worker),
        })  # fmt: skip

    return app


@asynccontextmanager
async def _channels(adapters: list[ChannelAdapter], inlet: Inlet) -> AsyncIterator[None]:
    """The channels' long connections, open for the block (they only accept into the inbox)."""
    for adapter in adapters:
        await adapter.start(inlet)
    try:
        yield
    finally:
        for adapter in adapters:
            await adapter.stop()


def _worker_health(worker: WorkerProcess | None) -> dict[str, object]:
    """Where commands are handled: "inline" (here), or the worker process — "alive" or "down"
    (it is being started again; accepted events wait in the inbox meanwhile)."""
    if worker is None:
        return {"worker": "inline"}
    return {"worker": "alive" if worker.alive else "down", "worker_pid": worker.pid,
            "worker_restarts": worker.restarts}  # fmt: skip


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
