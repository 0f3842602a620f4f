"""Housekeeping jobs that keep tables from growing without bound."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import col

from bot.scheduler import Run
from storage.models import InboundKey

# Platforms redeliver within minutes or hours; a month of keys is far beyond any retry.
DEDUPE_WINDOW = timedelta(days=30)


def prune_inbound_keys(run: Run) -> None:
    with run.context() as ctx:
        ctx.session.execute(
            delete(InboundKey).where(col(InboundKey.received_at) < run.now - DEDUPE_WINDOW)
        )
