"""`rentian`: the operator's command line (see the operator contract in ARCHITECTURE.md).

Global options work before or after the command: --db, --config, --now (also RENTIAN_DB,
RENTIAN_CONFIG, RENTIAN_NOW). Heavy parts (the HTTP server, SDKs) load only when used.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bot import clock
from bot.errors import ConfigError

Command = Callable[[argparse.Namespace], int]


def _global_options(defaults: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    default: Any = None if defaults else argparse.SUPPRESS
    parser.add_argument("--db", default=default, help="database URL (RENTIAN_DB)")
    parser.add_argument("--config", default=default, help="settings file (RENTIAN_CONFIG)")
    parser.add_argument("--now", default=default, help="fix the clock, ISO-8601 (RENTIAN_NOW)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    from bot import ops as c

    parser = argparse.ArgumentParser(
        prog="rentian", parents=[_global_options(True)],
        description="Rentian (人天): chat-ops for engineering services sold by the person-day.",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_global_options(False)]

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, parents=common, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    init = add("init", c.init, "create or migrate the database schema")
    init.add_argument("--demo", action="store_true", help="also apply the demo engagement")

    engagement = sub.add_parser("engagement", help="manage engagements")
    engagement_sub = engagement.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply = engagement_sub.add_parser("apply", parents=common, help="create or update from a file")
    apply.add_argument("file", help="engagement file (TOML)")
    apply.set_defaults(handler=c.engagement_apply)

    say = add("say", c.say, "deliver one message as a user; print the bot's replies")
    _speaker_options(say)
    say.add_argument("--channel", default="console", help="channel the message comes from")
    say.add_argument("--json", action="store_true", help="print replies as one JSON array")
    say.add_argument("--event-id", help="platform event id (a repeated id is a redelivery)")
    # REMAINDER: the message may contain words such as "-2h"; options go before it.
    say.add_argument("text", nargs=argparse.REMAINDER, help="the message (after the options)")

    chat = add("chat", c.chat, "interactive console chat (/as USER switches speaker)")
    _speaker_options(chat)

    add("tick", c.tick, "run every scheduler job that is due at now")

    out = add("outbox", c.outbox_list, "list outgoing messages")
    out.add_argument("--json", action="store_true")
    out.add_argument("--status", choices=["pending", "sent", "failed"])
    out.add_argument("--limit", type=int, default=200)

    audit = sub.add_parser("audit", help="the audit log")
    audit_sub = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", parents=common, help="check the hash chain")
    verify.set_defaults(handler=c.audit_verify)

    export = sub.add_parser("export", help="export records")
    export_sub = export.add_subparsers(dest="what", required=True, metavar="WHAT")
    statement = export_sub.add_parser(
        "statement", parents=common, help="monthly person-day statement"
    )
    statement.add_argument("--engagement", required=True, help="engagement code")
    statement.add_argument("--month", required=True, help="YYYY-MM")
    statement.add_argument("--out", required=True, help="output file")
    statement.add_argument("--format", choices=["xlsx", "csv"], default=None,
                           help="xlsx (default) or csv: a flat list of entries")  # fmt: skip
    statement.set_defaults(handler=c.export_statement)

    serve = add("serve", c.serve, "HTTP app, scheduler, dispatcher and every configured channel")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    return parser


def _speaker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chat", required=True, help="chat id")
    parser.add_argument("--user", required=True, help="the sender's id on the channel")
    parser.add_argument("--direct", action="store_true", help="a direct (one-to-one) chat")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.command != "serve" else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.config:
        os.environ["RENTIAN_CONFIG"] = args.config
    now = args.now or os.environ.get("RENTIAN_NOW")
    try:
        clock.set_now(now or None)
    except ValueError:
        print(f"rentian: --now: not an ISO-8601 time: {now!r} (e.g. 2026-11-25T09:30:00+08:00)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        return int(args.handler(args))
    except ConfigError as error:
        print(f"rentian: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"rentian: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        if not isinstance(error, OperationalError | ProgrammingError):
            raise
        print(f"rentian: database error: {str(error.orig).strip()}. If the schema is missing "
              "or old, run `rentian init`.", file=sys.stderr)  # fmt: skip
        return 2
    finally:
        clock.set_now(None)
        from storage.db import dispose_all

        dispose_all()


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=1))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
