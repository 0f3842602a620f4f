"""The dispatcher: drains the outbox to the channels, with exponential backoff.

A row is leased, marked `sending` just before its send, then marked sent; a failure
schedules a retry (10 s, 20 s, 40 s… up to the cap) until `max_attempts`, after which the
row is `failed` and shows in `rentian outbox --status failed`. Stopping between claim and
send loses nothing: the lease runs out and the row is sent again. A process killed during
a send leaves the row `sending`: once its lease has run out it is sent again where the
channel's sends are idempotent (`bot.channels.IDEMPOTENT_SENDS`), else it becomes `unknown`
(`rentian outbox --status unknown`) and waits for an operator's `--requeue`.

What the dispatcher records or logs of a failure goes through `bot.redact` first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from base.errors import AdapterError
from bot import clock
from bot.channels import IDEMPOTENT_SENDS, Sender
from bot.message import Outgoing
from bot.redact import redact
from config.settings import OutboxSettings
from storage import outbox
from storage.models import OutboxMessage

log = logging.getLogger("rentian.dispatcher")


@dataclass(frozen=True)
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def backoff(attempts: int, settings: OutboxSettings) -> timedelta:
    """The wait before attempt `attempts + 1`: doubling from the base, capped."""
    seconds = settings.backoff_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.backoff_max_seconds))


def next_attempt(attempts: int, now: datetime, settings: OutboxSettings) -> datetime | None:
    """When to try again after `attempts` failures; None once the maximum is reached."""
    if attempts >= settings.max_attempts:
        return None
    return now + backoff(attempts, settings)


def to_outgoing(row: OutboxMessage) -> Outgoing:
    return Outgoing(
        id=row.id or 0, channel=row.channel, recipient_type=row.recipient_type,
        address=row.address, kind=row.kind, ref=row.ref, text=row.text, reply_to=row.reply_to,
        dedupe_key=row.dedupe_key or f"outbox-{row.id}", payload=dict(row.payload or {}),
        locale=row.locale,
    )  # fmt: skip


class Dispatcher:
    """Sends due outbox rows through the channels it has senders for."""

    def __init__(
        self, engine: Engine, senders: Mapping[str, Sender], settings: OutboxSettings
    ) -> None:
        self.engine = engine
        self.senders = dict(senders)
        self.settings = settings
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Something was committed: drain now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the batch in flight, claim no more; pending rows stay pending."""
        self._stopping = True
        self._wake.set()

    async def drain_once(self) -> DrainResult:
        """Claim what is due now and try each row once."""
        if not self.senders:
            return DrainResult()
        now = clock.now()
        lease = timedelta(seconds=self.settings.lease_seconds)
        rows = await asyncio.to_thread(outbox.claim, self.engine, list(self.senders), now, lease,
                                       self.settings.batch, IDEMPOTENT_SENDS)  # fmt: skip
        sent = retried = failed = 0
        for row in rows:
            # The window in which a kill leaves the outcome unknown: this send, no longer.
            if not await asyncio.to_thread(outbox.begin, self.engine, row, clock.now(), lease):
                continue  # its claim ran out while the batch was slow: another dispatcher has it
            outcome = await self._send(row)
            sent += outcome == "sent"
            retried += outcome == "retry"
            failed += outcome == "failed"
        return DrainResult(sent, retried, failed)

    async def _send(self, row: OutboxMessage) -> str:
        assert row.id is not None
        try:
            await self.senders[row.channel].send(to_outgoing(row))
        except AdapterError as error:
            retry_at = next_attempt(row.attempts, clock.now(), self.settings)
            if not error.retryable:
                retry_at = None
            return await self._retry(row, redact(str(error)), retry_at)
        except Exception as error:  # a bug in a sender must not stop the others
            log.exception("outbox %s: sender crashed", row.id)
            retry_at = next_attempt(row.attempts, clock.now(), self.settings)
            return await self._retry(row, redact(repr(error)), retry_at)
        await asyncio.to_thread(outbox.mark_sent, self.engine, row.id, clock.now())
        return "sent"

    async def _retry(self, row: OutboxMessage, error: str, retry_at: datetime | None) -> str:
        assert row.id is not None
        log.warning("outbox %s to %s failed (attempt %s): %s", row.id, row.channel,
                    row.attempts, error)  # fmt: skip
        await asyncio.to_thread(outbox.mark_retry, self.engine, row.id, error, retry_at)
        return "retry" if retry_at else "failed"

    async def run(self, poll_seconds: float = 1.0) -> None:
        """Drain until stopped: on every wake-up and at least every `poll_seconds`."""
        while not self._stopping:
            self._wake.clear()  # before draining: a wake-up during the drain is kept
            try:
                result = await self.drain_once()
            except Exception:
                log.exception("outbox drain failed; retrying")
                result = DrainResult()
            if result.sent + result.retried + result.failed == self.settings.batch:
                continue  # a full batch: there may be more
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_seconds)
