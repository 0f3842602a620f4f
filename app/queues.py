"""`rentian outbox` and `rentian inbox`: what was sent and received, and sending again."""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy import select
from sqlmodel import Session, col

from app.runtime import Runtime, from_args
from bot import clock
from storage import outbox
from storage.db import transaction
from storage.models import InboxEvent, OutboxMessage


def outbox_list(args: argparse.Namespace) -> int:
    runtime = from_args(args)
    if args.requeue is not None:
        return _requeue(runtime, args.requeue)
    with transaction(runtime.engine) as session:
        rows = outbox.listing(session, args.status, args.limit)
        codes = _engagement_codes(session, {r.engagement_id for r in rows if r.engagement_id})
    if args.json:
        print(json.dumps([_row_json(r, codes) for r in rows], ensure_ascii=False))
        return 0
    for row in rows:
        text = row.text.replace("\n", " ⏎ ")
        text = text if len(text) <= 60 else text[:59] + "…"
        error = f"  ! {row.last_error[:80]}" if row.last_error else ""
        print(f"{row.id:>5} {row.status:<7} {row.attempts:>2} {row.channel:<8} "
              f"{row.recipient_type}:{row.recipient:<16} {row.kind:<18} {row.ref:<7} {text}{error}")  # fmt: skip
    if not rows:
        print("outbox is empty" if not args.status else f"no {args.status} messages")
    return 0


def _requeue(runtime: Runtime, row_id: int) -> int:
    """`outbox --requeue ID`: the operator has the dispatcher send an unknown or failed row."""
    before = outbox.requeue(runtime.engine, row_id, clock.now())
    if before is None:
        print(f"rentian: no outbox message {row_id}", file=sys.stderr)
        return 2
    if before not in (outbox.UNKNOWN, outbox.FAILED):
        print(f"rentian: outbox message {row_id} is {before}: only unknown or failed messages "
              "are requeued", file=sys.stderr)  # fmt: skip
        return 1
    print(f"outbox message {row_id} ({before}) requeued: the dispatcher sends it again")
    return 0


def _engagement_codes(session: Session, ids: set[int]) -> dict[int, str]:
    from storage.models import Engagement

    if not ids:
        return {}
    query = select(col(Engagement.id), col(Engagement.code)).where(col(Engagement.id).in_(ids))
    return {int(i): str(c) for i, c in session.execute(query).all()}


def _row_json(row: OutboxMessage, codes: dict[int, str]) -> dict[str, object]:
    return {
        "id": row.id, "channel": row.channel, "recipient_type": row.recipient_type,
        "recipient": row.recipient, "engagement": codes.get(row.engagement_id or 0),
        "kind": row.kind, "ref": row.ref, "text": row.text, "status": row.status,
        "attempts": row.attempts, "created_at": row.created_at.isoformat(),
        "last_error": row.last_error,
    }  # fmt: skip


def inbox(args: argparse.Namespace) -> int:
    """Inbound events: those waiting in the inbox (`pending`, oldest first: the order they are
    handled in), then those handled or failed, by their dedupe keys, newest first; a failed
    one with its error (bot.intake). `--status` shows one kind only."""
    from bot import inbox as backlog
    from bot import intake

    runtime = from_args(args)
    rows: list[dict[str, object]] = []
    with transaction(runtime.engine) as session:
        if args.status in (None, backlog.PENDING):
            rows += [_waiting_json(row) for row in backlog.waiting(session, args.limit)]
        if args.status != backlog.PENDING and len(rows) < args.limit:
            keys = intake.listing(session, args.status, args.limit - len(rows))
            rows += [intake.as_json(row) for row in keys]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for row in rows:
        failed = row["status"] == intake.FAILED
        error = f"  ! {row['error_class']}: {row['error']}" if failed else ""
        print(f"{row['received_at']} {row['status']:<7} {row['channel']:<8} {row['key']}{error}")
    if not rows:
        print("no inbound events" if not args.status else f"no {args.status} inbound events")
    return 0


def _waiting_json(row: InboxEvent) -> dict[str, object]:
    """An inbox row in the shape of `bot.intake.as_json`, with status `pending`."""
    return {
        "channel": row.channel, "key": row.key, "received_at": row.received_at.isoformat(),
        "status": "pending", "error_class": "", "error": "",
    }  # fmt: skip
