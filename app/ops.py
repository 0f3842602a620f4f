"""The operator commands behind `rentian …`: each takes the parsed arguments, returns an exit code."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import col

from app.runtime import Runtime, from_args
from bot import clock
from config.settings import DEMO_ENGAGEMENT
from storage import audit
from storage.db import transaction
from storage.models import OutboxMessage

if TYPE_CHECKING:
    from handlers.sow import EngagementSpec


def init(args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    runtime = from_args(args)
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
    runtime = from_args(args)
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
            select(col(Engagement.start_date)).where(col(Engagement.code) == spec.code)
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


def tick(args: argparse.Namespace) -> int:
    """Run the due jobs; print each job's result, then every message the run queued."""
    from bot.scheduler import tick as run_due

    runtime = from_args(args)
    before = _last_outbox_id(runtime)
    with clock.frozen(clock.now()) as now:  # one instant for the whole run
        results = run_due(runtime.engine, runtime.jobs, runtime.vocabulary)
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
        query = select(col(OutboxMessage.id)).order_by(col(OutboxMessage.id).desc()).limit(1)
        return int(session.execute(query).scalar() or 0)


def _queued_since(runtime: Runtime, after: int, now: datetime) -> list[OutboxMessage]:
    """Rows added after id `after` at the run's instant (jobs stamp their rows with it)."""
    with transaction(runtime.engine) as session:
        query = (
            select(OutboxMessage)
            .where(col(OutboxMessage.id) > after, col(OutboxMessage.created_at) == now)
            .order_by(col(OutboxMessage.id))
        )
        return list(session.execute(query).scalars())


def audit_verify(args: argparse.Namespace) -> int:
    """The chain, then (`--anchors FILE`) the anchors the client kept: a deleted tail or a
    recomputed chain holds together, but no longer matches what was posted at the time."""
    anchors = None
    if args.anchors:
        anchors = audit.find_anchors(
            Path(args.anchors).read_text(encoding="utf-8", errors="replace")
        )
        if not anchors:
            print(f"rentian: {args.anchors}: no audit chain anchors in it "
                  "(they look like #1234·3f9a12bc4d5e0718)", file=sys.stderr)  # fmt: skip
            return 2
    runtime = from_args(args)
    result = audit.verify(runtime.engine)
    if result.ok:
        print(f"audit log OK: {result.checked} entries, chain intact")
    else:
        print(f"audit log BROKEN at entry #{result.bad_id}: {result.problem} "
              f"({result.checked} entries before it are intact)")  # fmt: skip
    if anchors is None:
        return 0 if result.ok else 1
    failures = audit.check_anchors(runtime.engine, anchors)
    held = (
        "all hold" if not failures else f"{len(failures)} fail{'s' if len(failures) == 1 else ''}"
    )
    print(f"{len(anchors)} anchors from {args.anchors}: {held}")
    for failure in failures:
        print(f"  anchor {failure.anchor} FAILS: {failure.problem}")
    return 0 if result.ok and not failures else 1


def export_statement(args: argparse.Namespace) -> int:
    from handlers import statement, statement_export
    from storage.models import Engagement

    runtime = from_args(args)
    with transaction(runtime.engine) as session:
        engagement = session.execute(
            select(Engagement).where(col(Engagement.code) == args.engagement)
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
    # The entries are spooled (see statement.EntrySpool): the file is written after the
    # transaction, so that writers do not wait on the seconds a large xlsx takes.
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

