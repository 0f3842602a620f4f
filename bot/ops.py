"""The operator commands behind `rentian …`: each takes the parsed arguments, returns an exit code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from adapters import console
from bot import clock
from bot.bus import Reply
from bot.message import Outgoing
from bot.runtime import Runtime, build
from config.settings import DEMO_ENGAGEMENT, load_settings
from storage import audit, outbox
from storage.db import transaction
from storage.models import OutboxMessage


def _runtime(args: argparse.Namespace) -> Runtime:
    overrides = {"db": args.db} if getattr(args, "db", None) else {}
    return build(load_settings(**overrides))


def init(args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    runtime = _runtime(args)
    before, after = upgrade(runtime.engine)
    state = (
        "created"
        if before is None
        else ("up to date" if before == after else f"upgraded from {before}")
    )
    print(
        f"database {runtime.engine.url.render_as_string(hide_password=True)}: schema {after} ({state})"
    )
    if args.demo:
        _apply_file(runtime, DEMO_ENGAGEMENT)
    return 0


def engagement_apply(args: argparse.Namespace) -> int:
    runtime = _runtime(args)
    _apply_file(runtime, Path(args.file))
    return 0


def _apply_file(runtime: Runtime, path: Path) -> None:
    from handlers import engagements
    from handlers.sow import load_engagement_file

    spec = load_engagement_file(path)
    with transaction(runtime.engine) as session:
        result = engagements.apply(session, spec, clock.now())
    print(f"engagement {result.code}: {result.action}")
    for change in result.changes:
        print(f"  {change}")


def say(args: argparse.Namespace) -> int:
    text = " ".join(args.text).strip()
    if not text:
        print("rentian say: the message is missing (options first, then the text)", file=sys.stderr)
        return 2
    runtime = _runtime(args)
    inbound = console.parse(
        args.chat, args.user, text, now=clock.now(), direct=args.direct,
        event_id=args.event_id, bot_names=runtime.bot_names,
    )  # fmt: skip
    if args.channel != console.CHANNEL:
        from dataclasses import replace

        inbound = replace(inbound, channel=args.channel)
    outcome = runtime.bus.handle(inbound)
    if args.channel == console.CHANNEL:
        _delivered(runtime, [reply.id for reply in outcome.replies])
    _print_replies(outcome.replies, args.json)
    return 0


def _print_replies(replies: list[Reply], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"kind": r.kind, "ref": r.ref, "text": r.text} for r in replies],
                         ensure_ascii=False))  # fmt: skip
        return
    for reply in replies:
        print(reply.text)


def _delivered(runtime: Runtime, ids: list[int]) -> None:
    with transaction(runtime.engine) as session:
        outbox.mark_delivered(session, ids, clock.now())


def chat(args: argparse.Namespace) -> int:
    """A console REPL: each line is a message from the current user; `/as USER` switches."""
    runtime = _runtime(args)
    user = args.user
    interactive = sys.stdin.isatty()
    seen = _last_outbox_id(runtime)
    if interactive:
        print(f"Rentian console — chat {args.chat}. /as USER switches speaker, /quit leaves.")
    while True:
        if interactive:
            print(f"{user}> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return 0
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit", "/退出"):
            return 0
        if text.startswith(("/as ", "／as ")):
            user = text[4:].strip() or user
            print(f"(now speaking as {user})")
            continue
        inbound = console.parse(args.chat, user, text, now=clock.now(), direct=args.direct,
                                bot_names=runtime.bot_names)  # fmt: skip
        runtime.bus.handle(inbound)
        seen = _show_console_messages(runtime, args.chat, seen)


def _last_outbox_id(runtime: Runtime) -> int:
    with transaction(runtime.engine) as session:
        return int(
            session.execute(
                select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)
            ).scalar()
            or 0
        )  # type: ignore[union-attr]


def _show_console_messages(runtime: Runtime, chat_id: str, after: int) -> int:
    """Print this chat's new console messages and anyone's console direct messages."""
    with transaction(runtime.engine) as session:
        rows = list(session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.id > after, OutboxMessage.channel == console.CHANNEL,  # type: ignore[operator]
                   OutboxMessage.status == outbox.PENDING)
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
        ).scalars())  # fmt: skip
        shown = [r for r in rows if r.recipient_type == "person" or r.address == chat_id]
        for row in shown:
            print(console.render(_outgoing(row)))
        outbox.mark_delivered(session, [r.id or 0 for r in shown], clock.now())
    return max([after, *(r.id or 0 for r in rows)])


def _outgoing(row: OutboxMessage) -> Outgoing:
    from bot.dispatcher import to_outgoing

    return to_outgoing(row)


def tick(args: argparse.Namespace) -> int:
    from bot.scheduler import tick as run_due

    runtime = _runtime(args)
    results = run_due(runtime.engine, runtime.jobs)
    for name, ok in results:
        print(f"{name}: {'ok' if ok else 'FAILED (see log)'}")
    if not results:
        print("nothing due")
    return 0 if all(ok for _, ok in results) else 1


def outbox_list(args: argparse.Namespace) -> int:
    runtime = _runtime(args)
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


def _engagement_codes(session: Session, ids: set[int]) -> dict[int, str]:
    from storage.models import Engagement

    if not ids:
        return {}
    query = select(Engagement.id, Engagement.code).where(Engagement.id.in_(ids))  # type: ignore[union-attr]
    return {int(i): str(c) for i, c in session.execute(query).all()}


def _row_json(row: OutboxMessage, codes: dict[int, str]) -> dict[str, object]:
    return {
        "id": row.id, "channel": row.channel, "recipient_type": row.recipient_type,
        "recipient": row.recipient, "engagement": codes.get(row.engagement_id or 0),
        "kind": row.kind, "ref": row.ref, "text": row.text, "status": row.status,
        "attempts": row.attempts, "created_at": row.created_at.isoformat(),
        "last_error": row.last_error,
    }  # fmt: skip


def audit_verify(args: argparse.Namespace) -> int:
    runtime = _runtime(args)
    result = audit.verify(runtime.engine)
    if result.ok:
        print(f"audit log OK: {result.checked} entries, chain intact")
        return 0
    print(f"audit log BROKEN at entry #{result.bad_id}: {result.problem} "
          f"({result.checked} entries before it are intact)")  # fmt: skip
    return 1


def export_statement(args: argparse.Namespace) -> int:
    from handlers import statement, statement_export
    from storage.models import Engagement

    runtime = _runtime(args)
    try:
        statement.month_bounds(args.month)
    except ValueError:
        print(
            f"rentian: --month: not a month: {args.month!r} (YYYY-MM, e.g. 2026-11)",
            file=sys.stderr,
        )
        return 2
    with transaction(runtime.engine) as session:
        engagement = session.execute(
            select(Engagement).where(Engagement.code == args.engagement)
        ).scalar_one_or_none()
        if engagement is None:
            print(f"rentian: no engagement {args.engagement!r}", file=sys.stderr)
            return 2
        built = statement.build(session, engagement, args.month)
    out = Path(args.out)
    kind = args.format or ("csv" if out.suffix.lower() == ".csv" else "xlsx")
    out.parent.mkdir(parents=True, exist_ok=True)
    (statement_export.write_csv if kind == "csv" else statement_export.write_xlsx)(built, out)
    signed = (
        "signed by both parties"
        if built.confirmed
        else ("closed by the vendor" if built.closed else "unsigned")
    )
    print(f"{out}: {args.engagement} {args.month}, {len(built.entries)} entries, "
          f"{built.total_minutes} minutes, {signed}")  # fmt: skip
    return 0


def serve(args: argparse.Namespace) -> int:
    from bot.serve import run

    runtime = _runtime(args)
    host = args.host or runtime.settings.http.host
    port = args.port or runtime.settings.http.port
    return run(runtime, host, port)
