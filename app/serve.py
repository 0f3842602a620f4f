"""`rentian serve`: uvicorn running the HTTP app; SIGINT/SIGTERM stop it cleanly."""

from __future__ import annotations

import uvicorn

from app.http import create_app
from app.runtime import Runtime


def banner(runtime: Runtime, host: str, port: int) -> str:
    db = runtime.engine.url.render_as_string(hide_password=True)
    channels = ", ".join(runtime.settings.enabled_channels())
    return "\n".join([
        f"Rentian (人天) serving on http://{host}:{port}  (health: /healthz)",
        f"  database : {db}",
        f"  channels : {channels}",
        f"  jobs     : {', '.join(job.name for job in runtime.jobs)}",
        "  talk to it in another terminal:",
        "    .venv/bin/rentian chat --chat demo-group --user wangli     (client approver 王丽)",
        "    .venv/bin/rentian chat --chat demo-group --user zhaogang   (engineer 赵刚)",
        "    .venv/bin/rentian chat --chat demo-group --user sunwei     (vendor PM 孙伟)",
        "  stop with Ctrl-C",
    ])  # fmt: skip


def run(runtime: Runtime, host: str, port: int) -> int:
    print(banner(runtime, host, port), flush=True)
    config = uvicorn.Config(create_app(runtime), host=host, port=port, log_level="info",
                            lifespan="on", timeout_graceful_shutdown=10)  # fmt: skip
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1
