"""`rentian serve`: health, the dispatcher and scheduler in the app's lifespan, and a clean
stop on SIGTERM that leaves unsent messages pending."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.http import create_app
from app.runtime import Runtime
from bot import clock
from storage import outbox
from storage.db import transaction
from tests.harness import ConsoleHarness

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-25T08:30:00+08:00"


async def test_healthz_and_lifespan_dispatch(demo: ConsoleHarness) -> None:
    runtime: Runtime = demo.runtime
    app = create_app(runtime, scheduler=False)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://rentian.test") as client,
    ):
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "ok" and health.json()["channels"] == ["console"]
        assert health.json()["worker"] == "inline"  # create_app's default: no worker process
        with transaction(runtime.engine) as session:
            row_id = outbox.enqueue(
                session,
                now=clock.now(),
                channel="console",
                recipient_type="person",
                recipient="zhou.min",
                address="zhoumin",
                kind="sla.breach",
                text="T-1 超时",
            )
        assert runtime.bus.on_commit is not None
        runtime.bus.on_commit()  # what the bus does after a commit
        for _ in range(500):
            (row,) = demo.outbox(id=row_id)
            if row.status == "sent":
                break
            await asyncio.sleep(0.01)  # yields to the app's dispatcher task
        assert row.status == "sent"
    assert runtime.bus.on_commit is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_process_starts_reports_health_and_stops_cleanly(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rentian.db'}"
    # A fixed clock: at start-up the scheduler runs every job once, and what they queue
    # (reminders, the sync, the digest) depends on the hour; at 08:30 on this Wednesday,
    # before the 09:00 digest and any first run, they queue nothing on their own.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RENTIAN_DB": db, "RENTIAN_NOW": NOW}
    subprocess.run(
        [sys.executable, "-m", "app", "init", "--demo"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    # A message for a channel this instance does not run: it must stay pending.
    from storage.db import make_engine

    engine = make_engine(db)
    with transaction(engine) as session:
        outbox.enqueue(
            session,
            now=clock.now(),
            channel="feishu",
            recipient_type="chat",
            recipient="oc_1",
            address="oc_1",
            kind="progress.sync",
            text="日报",
        )
    engine.dispose()
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = None
        for _ in range(300):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)  # the process is starting up
        assert health is not None and health.status_code == 200
        assert health.json()["outbox_pending"] == 1
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # uvicorn re-raises the signal once shut down, so the exit status says "ended by SIGTERM"
    assert process.returncode in (0, -signal.SIGTERM), output
    assert f"serving on http://127.0.0.1:{port}" in output
    assert "rentian chat --chat demo-group --user wangli" in output
    assert "Application shutdown complete" in output and "Traceback" not in output
    engine = make_engine(db)
    with transaction(engine) as session:
        assert outbox.count_pending(session) == 1
    engine.dispose()
