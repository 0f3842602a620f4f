"""The operator commands behind `rentian …`: each takes the parsed arguments, returns an exit code."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import Session

from adapters import console
from app.runtime import Runtime, build
from bot import clock
from bot.bus import Outcome
from bot.message import Outgoing
from config.settings import DEMO_ENGAGEMENT, load_settings
from storage import audit, outbox
from storage.db import transaction
from storage.models import OutboxMessage

if TYPE_CHECKING:
    from handlers.sow import EngagementSpec


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
        _apply_demo(runtime)
    return 0


def engagement_apply(args: argparse.Namespace) -> int:
    runtime = _runtime(args)
    _apply_file(runtime, Path(args.file))
    return 0


def _apply_file(runtime: Runtime, path: Path) -> None:
    from handlers.sow import load_engagement_file

    _apply(runtime, load_engagement_file(path))


def _apply_demo(runtime: Runtime) -> None:
    """The demo engagement, dated from last month on its first creation (see handlers.demo)."""
    from handlers import demo
    from handlers.sow import load_engagement_file
    from storage.models import Engagement

    spec = load_engagement_file(DEMO_ENGAGEMENT)
    with transaction(runtime.engine) as session:
        start = session.execute(
            select(Engagement.start_date).where(Engagement.code == spec.code)
        ).scalar_one_or_none()
    today = clock.local(clock.now(), spec.timezone).date()
    _apply(runtime, demo.dated(spec, start or demo.demo_start(today)))


def _apply(runtime: Runtime, spec: EngagementSpec) -> None:
    from handlers import engagements

    with transaction(runtime.engine) as session:
        result = engagements.apply(session, spec, clock.now())
    print(f"engagement {result.code}: {result.action}")
    for change in result.changes:
        print(f"  {change}")


def say(args: argparse.Namespace) -> int:
    words = args.text[1:] if args.text[:1] == ["--"] else args.text  # `--` ended the options
    text = " ".join(words).strip()
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
    outcome = runtime.bus.handle(inbound, deliver=args.channel == console.CHANNEL)
    _print_outcome(outcome, args.chat, args.json)
    return 0


def _print_outcome(outcome: Outcome, chat_id: str, as_json: bool) -> None:
    """The replies, then the other console messages the message caused (`[→ @lina] …`)."""
    if as_json:  # replies as {kind, ref, text}; notices add "to": "@person" or "#chat"
        items = [{"kind": r.kind, "ref": r.ref, "text": r.text} for r in outcome.replies]
        items += [{"kind": n.kind, "ref": n.ref, "text": n.text, "to": _addressee(n)}
                  for n in outcome.notices]  # fmt: skip
        print(json.dumps(items, ensure_ascii=False))
        return
    for reply in outcome.replies:
        print(reply.text)
    for notice in outcome.notices:
        print(console.render(notice, here=chat_id))


def _addressee(message: Outgoing) -> str:
    return ("@" if message.recipient_type == "person" else "#") + message.address


def chat(args: argparse.Namespace) -> int:
    """A console REPL: each line is a message from the current user; `/as USER` switches.

    The replies and notices a line causes are printed here, by this process (see `say`),
    whether or not a server is running.
    """
    runtime = _runtime(args)
    user = args.user
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Rentian console — chat {args.chat}. /as USER switches speaker, /quit leaves.")
    try:
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
            words = text.split(maxsplit=1)
            if words[0] in ("/as", "／as"):
                user = _switch_speaker(runtime, args.chat, user, words[1:])
                continue
            inbound = console.parse(args.chat, user, text, now=clock.now(), direct=args.direct,
                                    bot_names=runtime.bot_names)  # fmt: skip
            _print_outcome(runtime.bus.handle(inbound, deliver=True), args.chat, as_json=False)
    except KeyboardInterrupt:
        print()
        return 0


def _switch_speaker(runtime: Runtime, chat_id: str, user: str, words: list[str]) -> str:
    """`/as NAME`: speak as that console user; with no name or an unknown one, say why."""
    names = _console_names(runtime, chat_id)
    if not words:
        print(f"(speaking as {user}; /as NAME switches to another console user: "
              f"{', '.join(names) or 'none known here'})")  # fmt: skip
        return user
    wanted = words[0].strip()
    if wanted in names or not names:
        print(f"(now speaking as {wanted})")
        return wanted
    close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"known here: {', '.join(names)}"
    print(f"(no console user {wanted!r} in this chat's engagement; {hint} Still {user}.)")
    return user


def _console_names(runtime: Runtime, chat_id: str) -> list[str]:
    """The console names of the people of this chat's engagement (of every engagement when
    the chat is not bound yet)."""
    from storage.models import ChatBinding, Identity

    query = select(Identity.external_id).where(Identity.channel == console.CHANNEL)
    with transaction(runtime.engine) as session:
        bound = session.execute(
            select(ChatBinding.engagement_id).where(
                ChatBinding.channel == console.CHANNEL, ChatBinding.chat_id == chat_id
            )
        ).scalar_one_or_none()
        if bound is not None:
            query = query.where(Identity.engagement_id == bound)
        return sorted(set(session.execute(query).scalars()))


def tick(args: argparse.Namespace) -> int:
    """Run the due jobs; print each job's result, then every message the run queued."""
    from bot.scheduler import tick as run_due

    runtime = _runtime(args)
    before = _last_outbox_id(runtime)
    with clock.frozen(clock.now()) as now:  # one instant for the whole run
        results = run_due(runtime.engine, runtime.jobs)
    for name, ok in results:
        print(f"{name}: {'ok' if ok else 'FAILED (see log)'}")
    if not results:
        print("nothing due")
    queued = _queued_since(runtime, before, now)
    for row in queued:
        where = "@" + row.recipient if row.recipient_type == "person" else "#" + row.recipient
        print(f"  queued {row.kind} {row.ref or '-'} → {row.channel} {where}")
    if results:
        print(f"{len(queued)} message(s) queued")
    return 0 if all(ok for _, ok in results) else 1


def _last_outbox_id(runtime: Runtime) -> int:
    with transaction(runtime.engine) as session:
        query = select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)  # type: ignore[union-attr]
        return int(session.execute(query).scalar() or 0)


def _queued_since(runtime: Runtime, after: int, now: datetime) -> list[OutboxMessage]:
    """Rows added after id `after` at the run's instant (jobs stamp their rows with it)."""
    with transaction(runtime.engine) as session:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.id > after, OutboxMessage.created_at == now)  # type: ignore[operator]
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
        )
        return list(session.execute(query).scalars())


def outbox_list(args: argparse.Namespace) -> int:
    runtime = _runtime(args)
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


def inbox(args: argparse.Namespace) -> int:
    """Inbound events by their dedupe keys; a failed one with its error (bot.intake)."""
    from bot import intake

    runtime = _runtime(args)
    with transaction(runtime.engine) as session:
        rows = intake.listing(session, args.status, args.limit)
    if args.json:
        print(json.dumps([intake.as_json(row) for row in rows], ensure_ascii=False))
        return 0
    for row in rows:
        error = f"  ! {row.error_class}: {row.error}" if row.status == intake.FAILED else ""
        print(f"{row.received_at.isoformat()} {row.status:<7} {row.channel:<8} {row.key}{error}")
    if not rows:
        print("no inbound events" if not args.status else f"no {args.status} inbound events")
    return 0


def audit_verify(args: argparse.Namespace) -> int:
    """The chain, then (`--anchors FILE`) the anchors the client kept: a deleted tail or a
    recomputed chain holds together, but no longer matches what was posted at the time."""
    anchors = None
    if args.anchors:
        anchors = audit.find_anchors(Path(args.anchors).read_text(encoding="utf-8", errors="replace"))
        if not anchors:
            print(f"rentian: {args.anchors}: no audit chain anchors in it "
                  "(they look like #1234·3f9a12bc4d5e0718)", file=sys.stderr)  # fmt: skip
            return 2
    runtime = _runtime(args)
    result = audit.verify(runtime.engine)
    if result.ok:
        print(f"audit log OK: {result.checked} entries, chain intact")
    else:
        print(f"audit log BROKEN at entry #{result.bad_id}: {result.problem} "
              f"({result.checked} entries before it are intact)")  # fmt: skip
    if anchors is None:
        return 0 if result.ok else 1
    failures = audit.check_anchors(runtime.engine, anchors)
    held = "all hold" if not failures else f"{len(failures)} fail{'s' if len(failures) == 1 else ''}"
    print(f"{len(anchors)} anchors from {args.anchors}: {held}")
    for failure in failures:
        print(f"  anchor {failure.anchor} FAILS: {failure.problem}")
    return 0 if result.ok and not failures else 1


def export_statement(args: argparse.Namespace) -> int:
    from handlers import statement, statement_export
    from storage.models import Engagement

    runtime = _runtime(args)
    with transaction(runtime.engine) as session:
        engagement = session.execute(
            select(Engagement).where(Engagement.code == args.engagement)
        ).scalar_one_or_none()
        if engagement is None:
            print(f"rentian: no engagement {args.engagement!r}", file=sys.stderr)
            return 2
        try:
            month = statement.month_named(
                args.month, clock.local(clock.now(), engagement.timezone).date()
            )
        except ValueError:
            print(f"rentian: --month: not a month: {args.month!r} "
                  "(YYYY-MM such as 2026-11, or last, this)", file=sys.stderr)  # fmt: skip
            return 2
        built = statement.build(session, engagement, month)
    out = Path(args.out)
    kind = args.format or ("csv" if out.suffix.lower() == ".csv" else "xlsx")
    out.parent.mkdir(parents=True, exist_ok=True)
    (statement_export.write_csv if kind == "csv" else statement_export.write_xlsx)(built, out)
    signed = (
        "signed by both parties"
        if built.confirmed
        else ("closed by the vendor" if built.closed else "unsigned")
    )
    print(f"{out}: {args.engagement} {month}, {len(built.entries)} entries, "
          f"{built.total_minutes} minutes, {signed}")  # fmt: skip
    return 0


def serve(args: argparse.Namespace) -> int:
    from app.serve import run

    runtime = _runtime(args)
    host = args.host or runtime.settings.http.host
    port = args.port or runtime.settings.http.port
    return run(runtime, host, port)
