"""The monitoring webhooks: POST /webhooks/alerts/{alertmanager,zabbix,generic}.

Each request carries `Authorization: Bearer <token>` (`rentian alert-token create`), and the
token names its engagement: without a live token the answer is 401 and nothing changes; a body
that is not the source's JSON is 400. A delivery is handled once: the same body again (a
retry) is answered 200 and changes nothing. The body is already bounded (`app.http.BodyLimit`).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from bot import clock
from bot.bus import Bus
from bot.context import Context
from bot.vocabulary import Vocabulary
from domain import alerts as rules
from storage.db import insert_ignore, transaction
from storage.models import Engagement, InboundKey


class Runtime(Protocol):
    """What the routes use of the app's runtime (`app.runtime.Runtime`)."""

    engine: Engine
    bus: Bus

    @property
    def vocabulary(self) -> Vocabulary: ...


DELIVERY_CHANNEL = "alerts"  # its delivery keys share the intake's dedupe table (and its pruning)


def install(app: FastAPI, runtime: Runtime) -> None:
    for source in rules.SOURCES:
        _route(app, runtime, source)


def _route(app: FastAPI, runtime: Runtime, source: str) -> None:
    async def receive(request: Request) -> JSONResponse:
        authorization = request.headers.get("authorization", "")
        raw = await request.body()
        status, answer = await run_in_threadpool(deliver, runtime, source, authorization, raw)
        return JSONResponse(answer, status_code=status)

    app.add_api_route(f"/webhooks/alerts/{source}", receive, methods=["POST"],
                      name=f"alerts_{source}")  # fmt: skip


def deliver(runtime: Runtime, source: str, authorization: str, raw: bytes
            ) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """Handle one delivery in one transaction: (HTTP status, JSON answer)."""
    from handlers import alerts

    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return 401, {"error": "a bearer token is required"}
    now = clock.now()
    with transaction(runtime.engine) as session:
        engagement_id = alerts.token_engagement(session, token.strip(), now)
        engagement = session.get(Engagement, engagement_id) if engagement_id else None
        if engagement is None or engagement.id is None:
            return 401, {"error": "unknown or revoked token"}
        try:
            body = json.loads(raw)
            events = rules.parse(source, body, engagement.timezone)
        except (ValueError, rules.PayloadError) as error:
            message = str(error) if isinstance(error, rules.PayloadError) else "not valid JSON"
            return 400, {"error": message[:300]}
        key = f"{engagement.id}:{rules.delivery_key(source, body)}"
        if not insert_ignore(session, InboundKey, channel=DELIVERY_CHANNEL, key=key,
                             received_at=now):  # fmt: skip
            return 200, {"duplicate": True, "actions": []}
        ctx = Context.system(session, now, runtime.vocabulary, engagement)
        settings = alerts.settings_of(ctx)
        actions = [alerts.handle(ctx, event, settings) for event in events]
    if runtime.bus.on_commit is not None:  # wake the dispatcher: there may be posts
        runtime.bus.on_commit()
    return 200, {"duplicate": False, "actions": actions}
