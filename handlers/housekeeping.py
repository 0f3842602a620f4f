"""Housekeeping jobs that keep tables from growing without bound."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from bot.scheduler import Job, JobContext
from storage.db import transaction
from storage.models import InboundKey

# Platforms redeliver within minutes or hours; a month of keys is far beyond any retry.
DEDUPE_WINDOW = timedelta(days=30)


def prune_inbound_keys(job: JobContext) -> None:
    with transaction(job.engine) as session:
        session.execute(
            delete(InboundKey).where(InboundKey.received_at < job.now - DEDUPE_WINDOW)  # type: ignore[operator]
        )


JOBS = [
    Job("intake.prune", timedelta(hours=6), prune_inbound_keys, "forget dedupe keys after 30 days"),
]
