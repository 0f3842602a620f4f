"""`rentian serve`: uvicorn running the HTTP app; the commands are handled in a worker process
of its own (`[intake] process`, app/worker.py); SIGINT/SIGTERM stop both cleanly."""

from __future__ import annotations

import argparse
import os

import uvicorn

from app.http import create_app
from app.runtime import Runtime, from_args


def command(args: argparse.Namespace) -> int:
    """`rentian serve`. Its `--db` and `--now` go into the environment too: the worker process
    it starts reads its settings from there, and must use the same database and clock."""
    if args.db:
        os.environ["RENTIAN_DB"] = args.db
    if args.now:
        os.environ["RENTIAN_NOW"] = args.now
    runtime = from_args(args)
    return run(runtime, args.host or runtime.settings.http.host,
               args.port or runtime.settings.http.port)  # fmt: skip


def banner(runtime: Runtime, host: str, port: int) -> str:
    db = runtime.engine.url.render_as_string(hide_password=True)
    channels = ", ".join(runtime.settings.enabled_channels())
    handling = {"separate": "in a worker process", "inline": "in this process"}
    return "\n".join([
        f"Rentian (人天) serving on http://{host}:{port}  (health: /healthz)",
        f"  database : {db}",
        f"  channels : {channels}",
        f"  commands : handled {handling[runtime.settings.intake.process]}",
        f"  jobs     : {', '.join(job.name for job in runtime.jobs)}",
        "  talk to it in another terminal:",
        "    .venv/bin/rentian chat --chat demo-group --user wangli     (client approver 王丽)",
        "    .venv/bin/rentian chat --chat demo-group --user zhaogang   (engineer 赵刚)",
        "    .venv/bin/rentian chat --chat demo-group --user sunwei     (vendor PM 孙伟)",
        f"  web console: {runtime.settings.console_url()}/  (sign in: send /看板 in the chat, "
        "or .venv/bin/rentian console-link --user sunwei)",
        "  stop with Ctrl-C",
    ])  # fmt: skip


def run(runtime: Runtime, host: str, port: int) -> int:
    print(banner(runtime, host, port), flush=True)
    app = create_app(runtime, process=runtime.settings.intake.process)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="on",
                            timeout_graceful_shutdown=10)  # fmt: skip
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1
