"""`rentian`: the operator's command line (the operator contract: docs/architecture.md).

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

from base.errors import ConfigError, StorageError
from bot import clock, redact

Command = Callable[[argparse.Namespace], int]


def _global_options(defaults: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    default: Any = None if defaults else argparse.SUPPRESS
    parser.add_argument("--db", default=default, help="database URL (RENTIAN_DB)")
    parser.add_argument("--config", default=default, help="settings file (RENTIAN_CONFIG)")
    parser.add_argument("--now", default=default, help="fix the clock, ISO-8601 (RENTIAN_NOW)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    from app import ops as c
    from app import queues, talk

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

    say = add("say", talk.say, "deliver one message as a user; print the bot's replies")
    _speaker_options(say)
    say.add_argument("--channel", default="console", help="channel the message comes from")
    say.add_argument("--json", action="store_true", help="print replies as one JSON array")
    say.add_argument("--event-id", help="platform event id (a repeated id is a redelivery)")
    # REMAINDER: the message may contain words such as "-2h"; options go before it. A message
    # that itself starts with "-" (say … --json -- -h) follows `--`, which ends the options.
    say.add_argument("text", nargs=argparse.REMAINDER,
                     help="the message, after the options; after -- if it starts with - (-- -h)")  # fmt: skip

    chat = add("chat", talk.chat, "interactive console chat (/as USER switches speaker)")
    _speaker_options(chat)

    add("tick", c.tick, "run every scheduler job that is due at now")

    out = add("outbox", queues.outbox_list, "list outgoing messages")
    out.add_argument("--json", action="store_true")
    out.add_argument("--status", choices=["pending", "sending", "sent", "failed", "unknown"])
    out.add_argument("--limit", type=int, default=200)
    out.add_argument("--requeue", type=int, metavar="ID",
                     help="send an unknown or failed message again")  # fmt: skip

    inbox = add(
        "inbox", queues.inbox, "list inbound events, newest first (failed: not handled again)"
    )
    inbox.add_argument("--json", action="store_true")
    inbox.add_argument("--status", choices=["pending", "handled", "failed"])
    inbox.add_argument("--limit", type=int, default=200)

    audit = sub.add_parser("audit", help="the audit log")
    audit_sub = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", parents=common, help="check the hash chain")
    verify.add_argument("--anchors", metavar="FILE",
                        help="also check the chain against the anchors (#1234·3f9a…) in FILE: "
                             "a chat export, saved mail, any text")  # fmt: skip
    verify.set_defaults(handler=c.audit_verify)

    export = sub.add_parser("export", help="export records")
    export_sub = export.add_subparsers(dest="what", required=True, metavar="WHAT")
    statement = export_sub.add_parser(
        "statement", parents=common, help="monthly person-day statement"
    )
    statement.add_argument("--engagement", required=True, help="engagement code")
    statement.add_argument("--month", required=True, help="YYYY-MM, or last / this (month)")
    statement.add_argument("--out", required=True, help="output file")
    statement.add_argument("--format", choices=["xlsx", "csv"], default=None,
                           help="xlsx (default) or csv: a flat list of entries")  # fmt: skip
    statement.set_defaults(handler=c.export_statement)

    from app import webadmin

    link = add("console-link", webadmin.console_link,
               "print a one-time sign-in link to the web console for an account")  # fmt: skip
    link.add_argument("--user", required=True, help="the account: a console name by default")
    link.add_argument("--channel", default="console",
                      help="the channel the account is on (feishu: an open_id, …)")  # fmt: skip

    token = sub.add_parser("api-token", help="the read API's tokens (one engagement each)")
    token_sub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", parents=common, help="create a token; printed once")
    create.add_argument("--engagement", required=True, help="engagement code")
    create.add_argument("--name", required=True, help="what it is for, e.g. 'BI dashboard'")
    create.set_defaults(handler=webadmin.api_token_create)
    listing = token_sub.add_parser("list", parents=common, help="the tokens, with last use")
    listing.add_argument("--engagement", help="only this engagement's")
    listing.set_defaults(handler=webadmin.api_token_list)
    revoke = token_sub.add_parser("revoke", parents=common, help="revoke a token by its id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(handler=webadmin.api_token_revoke)

    from app import alerts_cli

    alert_token = sub.add_parser("alert-token", help="monitoring webhooks' tokens (one engagement each)")
    alert_sub = alert_token.add_subparsers(dest="action", required=True, metavar="ACTION")
    a_create = alert_sub.add_parser("create", parents=common, help="create a token; printed once")
    a_create.add_argument("--engagement", required=True, help="engagement code")
    a_create.add_argument("--name", default="monitoring", help="which system, e.g. 'prometheus'")
    a_create.set_defaults(handler=alerts_cli.create)
    a_list = alert_sub.add_parser("list", parents=common, help="the tokens, with last use")
    a_list.add_argument("--engagement", help="only this engagement's")
    a_list.set_defaults(handler=alerts_cli.listing)
    a_revoke = alert_sub.add_parser("revoke", parents=common, help="revoke a token by its id")
    a_revoke.add_argument("id", type=int)
    a_revoke.set_defaults(handler=alerts_cli.revoke)

    serve = add(
        "serve",
        _serve,
        "HTTP app, scheduler, dispatcher and every configured "
        "channel (commands handled in a worker process: [intake] process)",
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=_port)
    worker = add(
        "worker",
        _worker,
        "the worker process `serve` starts and supervises (inbox, "
        "dispatcher, scheduler); not run by hand",
    )
    worker.add_argument("--no-scheduler", action="store_true", help="run no scheduler")
    return parser


def _serve(args: argparse.Namespace) -> int:
    from app.serve import command

    return command(args)


def _worker(args: argparse.Namespace) -> int:
    from app.worker import command

    return command(args)


def _port(text: str) -> int:
    """`serve --port`: 1-65535, as the `http.port` setting."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (1-65535): {text!r}")
    return int(text)


def _speaker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chat", required=True, help="chat id")
    parser.add_argument("--user", required=True, help="the sender's id on the channel")
    parser.add_argument("--direct", action="store_true", help="a direct (one-to-one) chat")


# Exit statuses besides a command's own 0/1: 2 for anything the operator must fix (argparse
# uses 2 for usage errors too); 130 after Ctrl-C, as a shell reports a process SIGINT ended;
# 141 when the reader of our output went away (`rentian outbox | head -1`), as a shell reports
# a process SIGPIPE ended: the output was cut short, which `set -o pipefail` should see.
EXIT_FIX_AND_RETRY = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A problem the operator can fix is one line on stderr, never a trace:
    `rentian: settings: …`, `rentian: database: …`, `rentian: <file>: …`."""
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # a reader that has gone shows up here, not at interpreter exit
    except BrokenPipeError:
        # As the Python docs advise (signal module, "Note on SIGPIPE"): point stdout at devnull
        # so that the interpreter's own flush at exit does not fail again, and stop quietly.
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.command in ("serve", "worker") else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    redact.install_logging()  # every command's records, serve's included: no secret in a log
    if args.config:
        os.environ["RENTIAN_CONFIG"] = args.config
    now = args.now or os.environ.get("RENTIAN_NOW")
    try:
        clock.set_now(now or None)
    except ValueError:
        return _fail(f"--now: not an ISO-8601 time: {now!r} (e.g. 2026-11-25T09:30:00+08:00)")
    try:
        _check_settings_and_database(args)
        return int(args.handler(args))
    except ConfigError as error:
        return _fail(str(error))
    except StorageError as error:
        return _fail(f"database: {error}")
    except FileNotFoundError as error:  # e.g. `export statement --out` into a missing folder
        return _fail(str(error))
    except Exception as error:
        from sqlalchemy.exc import OperationalError, ProgrammingError

        from storage.db import db_error_reason

        if not isinstance(error, OperationalError | ProgrammingError):
            raise
        return _fail(f"database: {db_error_reason(error)}. If the schema is missing or old, "
                     "run `rentian init`.")  # fmt: skip
    finally:
        clock.set_now(None)
        from storage.db import dispose_all

        dispose_all()


def _check_settings_and_database(args: argparse.Namespace) -> None:
    """Before the command runs: every setting, then the database's schema, which must be the
    newest (`init` is the command that creates or upgrades it, and checks for itself). The
    settings are kept on `args` for the command's runtime: read once per run."""
    from pydantic import ValidationError

    from config.settings import describe, load_settings
    from storage.db import make_engine
    from storage.migrate import check_schema

    try:
        settings = load_settings(**({"db": args.db} if args.db else {}))
    except ValidationError as error:
        raise ConfigError(describe(error), "settings") from None
    redact.register_settings(settings)
    args.settings = settings
    if args.command == "init":
        return
    engine = make_engine(settings.db, create=False)
    try:
        check_schema(engine)
    finally:
        engine.dispose()


def _fail(message: str) -> int:
    print(f"rentian: {message}", file=sys.stderr)
    return EXIT_FIX_AND_RETRY


def _discard_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (captured, as in tests): nothing to redirect
        pass


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=1))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
