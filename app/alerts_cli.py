"""`rentian alert-token create|list|revoke`: the monitoring systems' tokens, one engagement
each, printed once and stored hashed (`handlers.alerts`)."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select
from sqlmodel import col

from app.runtime import from_args
from bot import clock
from storage.db import transaction
from storage.models import Engagement

NAME_MAX = 80


def create(args: argparse.Namespace) -> int:
    from handlers import alerts

    name = (args.name or "monitoring").strip()
    if not name or len(name) > NAME_MAX:
        print(f"rentian alert-token: --name must be 1 to {NAME_MAX} characters", file=sys.stderr)
        return 2
    runtime = from_args(args)
    with transaction(runtime.engine) as session:
        engagement = session.execute(
            select(Engagement).where(col(Engagement.code) == args.engagement)
        ).scalar_one_or_none()
        if engagement is None or engagement.id is None:
            print(f"rentian alert-token: no engagement {args.engagement!r}", file=sys.stderr)
            return 1
        token = alerts.create_token(session, engagement.id, name, clock.now())
    print(token)
    print("(shown once: only its hash is kept. Send it as `Authorization: Bearer <token>` to "
          "/webhooks/alerts/alertmanager, /zabbix or /generic.)", file=sys.stderr)  # fmt: skip
    return 0


def listing(args: argparse.Namespace) -> int:
    from handlers import alerts

    runtime = from_args(args)
    with transaction(runtime.engine) as session:
        codes = {e.id: e.code for e in session.execute(select(Engagement)).scalars()}
        wanted = [i for i, code in codes.items() if code == args.engagement]
        if args.engagement and not wanted:
            print(f"rentian alert-token: no engagement {args.engagement!r}", file=sys.stderr)
            return 1
        rows = alerts.tokens(session, wanted[0] if wanted else None)
        for row in rows:
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "live"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            print(f"{row.id}\t{codes.get(row.engagement_id, '?')}\t{row.name}\t{state}\t"
                  f"last used {used}")  # fmt: skip
    return 0


def revoke(args: argparse.Namespace) -> int:
    from handlers import alerts

    runtime = from_args(args)
    with transaction(runtime.engine) as session:
        done = alerts.revoke_token(session, args.id, clock.now())
    if not done:
        print(f"rentian alert-token: no live token {args.id}", file=sys.stderr)
        return 1
    print(f"alert token {args.id} revoked")
    return 0
