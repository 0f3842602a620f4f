"""The HTTP app: `/healthz` and the platforms' webhooks; its lifespan runs the dispatcher and
the scheduler, and stops them cleanly (nothing half-sent; pending rows stay pending)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from adapters.console import ConsoleSender
from bot.dispatcher import Dispatcher, Sender
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from storage import outbox
from storage.db import transaction

log = logging.getLogger("rentian.http")
STOP_TIMEOUT_SECONDS = 15.0


def senders_for(runtime: Runtime) -> dict[str, Sender]:
    """A sender per enabled channel (platform adapters plug in here as they land)."""
    return {"console": ConsoleSender()}


def create_app(runtime: Runtime, *, scheduler: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        dispatcher = Dispatcher(runtime.engine, senders_for(runtime), runtime.settings.outbox)
        runtime.bus.on_commit = lambda: loop.call_soon_threadsafe(dispatcher.wake)
        task = asyncio.create_task(dispatcher.run(), name="rentian-dispatcher")
        jobs = Scheduler(runtime.engine, runtime.jobs) if scheduler else None
        if jobs:
            jobs.start()
        app.state.runtime, app.state.dispatcher = runtime, dispatcher
        try:
            yield
        finally:
            if jobs:
                jobs.shutdown()
            dispatcher.stop()
            try:
                await asyncio.wait_for(task, STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                log.warning("dispatcher did not stop in time; unsent rows stay pending")
            runtime.bus.on_commit = None

    app = FastAPI(title="Rentian", docs_url=None, redoc_url=None, lifespan=lifespan)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            with transaction(runtime.engine) as session:
                session.execute(text("SELECT 1"))
                pending = outbox.count_pending(session)
        except Exception as error:  # the database is the one thing health depends on
            log.warning("health check: database unavailable: %s", error)
            return JSONResponse({"status": "error", "database": "unavailable"}, status_code=503)
        return JSONResponse({
            "status": "ok", "database": runtime.engine.dialect.name,
            "channels": runtime.settings.enabled_channels(), "outbox_pending": pending,
        })  # fmt: skip

    return app
