"""Credentials a platform presents that must count only once: DingTalk's HTTP signatures.

The bus dedupes each message by its event id; this is for what comes before the bus, when the
signature does not cover the body (a captured pair could carry any body within its window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import clock
from storage.db import insert_ignore, make_engine, transaction
from storage.models import InboundKey

if TYPE_CHECKING:
    from sqlalchemy import Engine


class SpentKeys:
    """The keys already accepted, kept in the intake dedupe table under `channel`: durable,
    shared by every instance on the database, and pruned with it (`intake.prune`, 30 days) long
    after the last moment a key could pass its freshness check.

    The one place an adapter writes to storage: adapters are given settings, not the runtime's
    engine, so this opens its own on the same database (`close()` disposes of it)."""

    def __init__(self, db: str, channel: str) -> None:
        self.channel = channel
        self.engine: Engine = make_engine(db)

    def spend(self, key: str) -> bool:
        """True the first time `key` is seen (written and committed at once)."""
        with transaction(self.engine) as session:
            return insert_ignore(session, InboundKey, channel=self.channel, key=key,
                                 received_at=clock.now())  # fmt: skip

    def close(self) -> None:
        self.engine.dispose()
