"""`POST /webhooks/dingtalk`: the robot's signed HTTP callback (`mode = "http"` only).

The `timestamp`/`sign` headers are checked (`signature.verify`) within `http_window_seconds` of
now. The signature does not cover the body, so a captured pair could carry any body: each pair
is accepted once, remembered in the intake dedupe table (channel `dingtalk-sign`) that every
instance shares. Forged, stale or replayed -> 401, malformed -> 400; nothing changes. What
arrives this way is `Assurance.REPLAYABLE` (no signing) unless `http_allow_signing`. The
callback is answered once the inbox holds the message; the inbox and the bus dedupe on `msgId`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from adapters.dingtalk.parse import parse
from adapters.dingtalk.signature import verify
from adapters.plumbing import Answer, hand_over
from bot import clock
from bot.assurance import Assurance

if TYPE_CHECKING:
    from adapters.replay import SpentKeys
    from bot.channels import Inlet
    from config.settings import DingtalkSettings

PATH = "/webhooks/dingtalk"
SPENT_CHANNEL = "dingtalk-sign"  # `inbound_key.channel` of the HTTP signatures already accepted

log = logging.getLogger("rentian.dingtalk")


class CallbackReceiver:
    """Checks the signature, freshness and novelty of a callback, then hands it to the inbox."""

    def __init__(self, settings: DingtalkSettings, spent: SpentKeys) -> None:
        self.secret = settings.client_secret
        self.window = timedelta(seconds=settings.http_window_seconds)
        self.spent = spent
        # The signature proves the pair came from DingTalk, not that this body did.
        self.assurance = Assurance.PLATFORM if settings.http_allow_signing else Assurance.REPLAYABLE

    async def receive(self, headers: dict[str, str], body: bytes, inlet: Inlet) -> Answer:
        timestamp, signature = headers.get("timestamp", ""), headers.get("sign", "")
        problem = verify(timestamp, signature, self.secret, clock.now(), self.window)
        if problem:
            log.warning("dingtalk callback refused: %s signature", problem)
            return Answer.of_json(400 if problem == "missing" else 401, {"error": problem})
        try:
            payload = json.loads(body)
        except ValueError as error:
            log.warning("dingtalk callback: malformed body: %s", error)
            return Answer.of_json(400, {"error": "malformed"})
        if not isinstance(payload, dict):
            return Answer.of_json(400, {"error": "malformed"})
        # Spent before the inbox takes it, in a transaction of its own: a replay racing the genuine
        # callback (or reaching another instance) waits on the unique key and is refused. The
        # pair can pass `verify` only within the window (at most an hour): the table's 30 days
        # outlast it.
        if not await asyncio.to_thread(self.spent.spend, f"{timestamp}:{signature}"):
            log.warning("dingtalk callback refused: replayed signature (timestamp %s)", timestamp)
            return Answer.of_json(401, {"error": "replayed"})
        inbound = parse(payload, now=clock.now(), assurance=self.assurance)
        if inbound is not None:
            await hand_over(inlet.accept, inbound, log, "dingtalk callback")
        return Answer.of_json(200, {})
