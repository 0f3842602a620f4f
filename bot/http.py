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
from bot.bus import Outcome
from bot.channels import load
from bot.dispatcher import Dispatcher, Sender
from bot.message import Inbound
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from storage import outbox
from storage.db import transaction

log = logging.getLogger("rentian.http")
STOP_TIMEOUT_SECONDS = 15.0


def create_app(runtime: Runtime, *, scheduler: bool = True) -> FastAPI:
    """The HTTP app with every enabled channel's routes; its lifespan runs the dispatcher, the
    scheduler and the channels' long connections."""
    adapters = [
        load(name, runtime.settings)
        for name in runtime.settings.enabled_channels()
        if name != "console"
    ]

    async def handle(inbound: Inbound) -> Outcome:
        return await asyncio.to_thread(runtime.bus.handle, inbound)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        senders: dict[str, Sender] = {
            "console": ConsoleSender(),
            **{a.name: a.sender() for a in adapters},
        }
        dispatcher = Dispatcher(runtime.engine, senders, runtime.settings.outbox)
        runtime.bus.on_commit = lambda: loop.call_soon_threadsafe(dispatcher.wake)
        task = asyncio.create_task(dispatcher.run(), name="rentian-dispatcher")
        jobs = Scheduler(runtime.engine, runtime.jobs) if scheduler else None
        if jobs:
            jobs.start()
        for adapter in adapters:
            await adapter.start(handle)
        app.state.runtime, app.state.dispatcher = runtime, dispatcher
        try:
            yield
        finally:
            for adapter in adapters:
                await adapter.stop()
            if jobs:
                jobs.shutdown()
            dispatcher.stop()
            try:
                await asyncio.wait_for(task, STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                log.warning("dispatcher did not stop in time; unsent rows stay pending")
            runtime.bus.on_commit = None

    app = FastAPI(title="Rentian", docs_url=None, redoc_url=None, lifespan=lifespan)
    for adapter in adapters:
        adapter.install(app, handle)

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
