"""`rentian console-link` and `rentian api-token`: the web console's sign-in links and the read
API's tokens, from the operator's command line."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from app.runtime import from_args
from bot import clock
from storage import signin
from storage.db import transaction
from storage.models import Engagement, Identity

NAME_MAX = 80


def console_link(args: argparse.Namespace) -> int:
    """Print a one-time sign-in link for an account (as `/看板` would send it)."""
    from handlers.dashboard import LinkSettings, link  # a command's module loads when it runs

    runtime = from_args(args)
    account = signin.Account(args.channel, args.user)
    limits = LinkSettings.of(runtime.settings)
    with transaction(runtime.engine) as session:
        known = session.execute(
            select(col(Identity.id)).where(col(Identity.channel) == account.channel,
                                      col(Identity.external_id) == account.external_id).limit(1)
        ).first()  # fmt: skip
        if known is None:
            print(f"rentian console-link: no person has the {args.channel} account "
                  f"{args.user!r} in any engagement", file=sys.stderr)  # fmt: skip
            return 1
        token = signin.issue_link(session, account, now=clock.now(), minutes=limits.minutes,
                                  per_hour=limits.per_hour)  # fmt: skip
    if token is None:
        print(f"rentian console-link: {limits.per_hour} links were issued to this account in "
              "the last hour; try again later", file=sys.stderr)  # fmt: skip
        return 1
    print(link(limits.url, token))
    return 0


def api_token_create(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name or len(name) > NAME_MAX:
        print(f"rentian api-token: --name must be 1 to {NAME_MAX} characters", file=sys.stderr)
        return 2
    runtime = from_args(args)
    with transaction(runtime.engine) as session:
        engagement = _engagement(session, args.engagement)
        if engagement is None or engagement.id is None:
            print(f"rentian api-token: no engagement {args.engagement!r}", file=sys.stderr)
            return 1
        token = signin.create_api_token(session, engagement.id, name, clock.now())
    print(token)
    print("(shown once: only its hash is kept. Send it as `Authorization: Bearer <token>`.)",
          file=sys.stderr)  # fmt: skip
    return 0


def api_token_list(args: argparse.Namespace) -> int:
    runtime = from_args(args)
    with transaction(runtime.engine) as session:
        engagement_id = None
        if args.engagement:
            engagement = _engagement(session, args.engagement)
            if engagement is None:
                print(f"rentian api-token: no engagement {args.engagement!r}", file=sys.stderr)
                return 1
            engagement_id = engagement.id
        codes = {
            row_id: code
            for row_id, code in session.execute(select(col(Engagement.id), col(Engagement.code)))
        }
        rows = signin.api_tokens(session, engagement_id)
        print(f"{'id':>4}  {'engagement':<14} {'name':<24} {'created':<17} {'last used':<17} state")
        for row in rows:
            state = "revoked " + _at(row.revoked_at) if row.revoked_at else "live"
            print(f"{row.id:>4}  {codes.get(row.engagement_id, '?'):<14} {row.name:<24} "
                  f"{_at(row.created_at):<17} {_at(row.last_used_at) or '-':<17} {state}")  # fmt: skip
    return 0


def api_token_revoke(args: argparse.Namespace) -> int:
    runtime = from_args(args)
    with transaction(runtime.engine) as session:
        if not signin.revoke_api_token(session, args.id, clock.now()):
            print(f"rentian api-token: no live token {args.id}", file=sys.stderr)
            return 1
    print(f"token {args.id} revoked")
    return 0


def _engagement(session: Session, code: str) -> Engagement | None:
    return session.execute(select(Engagement).where(col(Engagement.code) == code)).scalar()


def _at(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""
