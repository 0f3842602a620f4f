"""Encrypted Feishu `/工单` callbacks at 200 req/s for 60 s (smoke: 20 req/s for 2 s) into one
`rentian serve`, on a SQLite file and on PostgreSQL when a server answers, against a bare
FastAPI app doing the same verify + decrypt (the lark SDK's, as adapters/feishu/webhook.py)
and answering 200, under the same load in the same run.

Each database is measured twice: as `serve` runs by default (`[intake] process = "separate"`:
commands handled in a worker process) and with `process = "inline"` (one process, as before
issue #14). Targets (issue #14): ack p99 ≤ 1.5x the reference's and under 50 ms; the backlog (inbox rows,
or tickets still to be written) empty within 5 s of the burst's end; 0 lost, 0 duplicated.
Latency is open-loop, from each request's due time (benchmarks/loadgen.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from benchmarks.common import (
    BENCH_NOW,
    Row,
    Unavailable,
    bench_env,
    fresh_pg_database,
    judged,
    scratch,
)
from benchmarks.loadgen import Load, Post, generate
from benchmarks.serving import (
    ENCRYPT_KEY,
    ROOT,
    TOKEN,
    WEBHOOK,
    Callback,
    Cluster,
    base_env,
    feishu_settings,
    free_port,
    lost_and_duplicated,
    prepare_database,
    ticket_callbacks,
    wait_processed,
    warm_up,
)

REFERENCE = "bare FastAPI + lark SDK verify/decrypt"
P99_RATIO, P99_CEILING_MS, BACKLOG_S = 1.5, 50.0, 5.0
DRAIN_TIMEOUT_S = 300.0  # for the backlog to empty after the burst, before a leg fails
# `rentian serve` as it runs by default (commands in a worker process), then with everything
# in the serving process (as before issue #14): the same load, the same run.
PROCESSES = ("separate", "inline")


def reference_app() -> FastAPI:
    """The reference (`uvicorn --factory benchmarks.bench_webhook:reference_app`): what any
    Feishu webhook must do before it can answer — parse, verify the signature and token,
    decrypt — with the same SDK calls as Rentian's receiver, then 200."""
    import lark_oapi as lark
    from lark_oapi.core.model import RawRequest

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    def verify(headers: dict[str, str], body: bytes) -> bool:
        events: list[object] = []
        handler = (
            lark.EventDispatcherHandler.builder(ENCRYPT_KEY, TOKEN)
            .register_p2_im_message_receive_v1(events.append)
            .build()
        )
        raw = RawRequest()
        raw.uri, raw.headers, raw.body = WEBHOOK, headers, body
        return handler.do(raw).status_code == 200 and len(events) == 1

    @app.post(WEBHOOK)
    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        headers = {"-".join(p.capitalize() for p in k.split("-")): v
                   for k, v in request.headers.items()}  # fmt: skip
        ok = await asyncio.to_thread(verify, headers, body)  # the SDK is synchronous
        return JSONResponse({"msg": "success" if ok else "refused"}, 200 if ok else 401)

    return app


@dataclass
class Measured:
    load: Load
    backlog_s: float  # after the burst's last answer until everything was processed
    lost: int
    duplicated: int


def run(smoke: bool) -> list[Row]:
    rate, seconds = (20.0, 2.0) if smoke else (200.0, 60.0)
    now = datetime.fromisoformat(BENCH_NOW)
    callbacks = ticket_callbacks(int(rate * seconds))
    requests = [c.signed(now) for c in callbacks]
    rows: list[Row] = []
    with scratch() as folder:
        reference = _reference(folder, requests, rate)
        for process in PROCESSES:
            db = f"sqlite:///{folder / f'rentian-{process}.db'}"
            sqlite = _leg(db, folder / f"sqlite-{process}", callbacks, requests, rate, process)
            rows += _rows(_label("SQLite", process), sqlite, reference, rate, seconds, smoke)
        for process in PROCESSES:
            try:
                with fresh_pg_database() as url:
                    pg = _leg(url, folder / f"pg-{process}", callbacks, requests, rate, process)
            except Unavailable as why:
                print(f"bench_webhook: PostgreSQL rows skipped: {why}", file=sys.stderr)
                break
            rows += _rows(_label("PostgreSQL", process), pg, reference, rate, seconds, smoke)
    return rows


def _label(database: str, process: str) -> str:
    return database if process == "separate" else f"{database}, [intake] process = inline"


def _leg(db: str, folder: Path, callbacks: list[Callback], requests: list[Post], rate: float,
         process: str) -> Measured | str:  # fmt: skip
    """One `rentian serve` under the load, or why it failed (the other legs still run)."""
    try:
        return _rentian(db, folder, callbacks, requests, rate, process)
    except RuntimeError as error:
        print(f"bench_webhook: {folder.name} failed: {error}", file=sys.stderr)
        return str(error).splitlines()[0]


def _reference(folder: Path, requests: list[Post], rate: float) -> Load:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", f"{__name__}:reference_app",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "info"]  # fmt: skip
    with (folder / "reference.log").open("wb") as log:
        process = subprocess.Popen(command, env=bench_env(), cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)
        url = f"http://127.0.0.1:{port}{WEBHOOK}"
        for headers, body in requests[:10]:
            httpx.post(url, content=body, headers=headers, timeout=30).raise_for_status()
        return generate([url], requests, rate=rate)
    finally:
        process.kill()
        process.wait(timeout=10)


def _rentian(
    db: str,
    folder: Path,
    callbacks: list[Callback],
    requests: list[Post],
    rate: float,
    process: str = "separate",
) -> Measured:
    from storage.db import make_engine
    from tests.fakes.feishu_server import FakeFeishu

    folder.mkdir()
    fake = FakeFeishu(app_id=f"cli_{uuid.uuid4().hex[:12]}", app_secret="s3cret").start()
    engine = make_engine(db)
    try:
        env = base_env(db, BENCH_NOW, INTAKE__PROCESS=process,
                       **feishu_settings(fake.app_id, fake.app_secret, fake.url))  # fmt: skip
        prepare_database(env, folder)
        with Cluster(folder) as cluster:
            instance = cluster.start("rentian-0", env)
            cluster.wait_healthy()
            url = instance.url + WEBHOOK
            warm = warm_up(url, datetime.fromisoformat(BENCH_NOW))
            # The worker process starts after the server answers: the load waits for it.
            if wait_processed(engine, warm, timeout=DRAIN_TIMEOUT_S) is None:
                raise RuntimeError(f"the warm-up was not handled\n{cluster.logs()}")
            load = generate([url], requests, rate=rate)
            done = wait_processed(engine, callbacks, timeout=DRAIN_TIMEOUT_S)
            if done is None:
                raise RuntimeError(f"not processed within {DRAIN_TIMEOUT_S:g} s after the "
                                   f"burst\n{cluster.logs()}")  # fmt: skip
            lost, duplicated = lost_and_duplicated(engine, callbacks)
            return Measured(load, max(0.0, done - load.ended), lost, duplicated)
    finally:
        engine.dispose()
        fake.stop()


def _rows(label: str, ours: Measured | str, reference: Load, rate: float, seconds: float,
          smoke: bool) -> list[Row]:  # fmt: skip
    if isinstance(ours, str):  # the leg failed: one row that says why
        return [Row(f"Feishu webhook, {rate:g} req/s × {seconds:g} s, {label}", float("nan"),
                    float("nan"), "-", REFERENCE, higher_is_better=False, target="",
                    met=None if smoke else False, note=f"failed: {ours}")]  # fmt: skip
    p99, ref_p99 = ours.load.percentile(99), reference.percentile(99)
    ratio_ok = judged(p99 / ref_p99 if ref_p99 else float("nan"), f"≤ {P99_RATIO}", smoke)
    summary = {
        "p50_ms": round(ours.load.percentile(50), 2),
        "reference_p50_ms": round(reference.percentile(50), 2),
        "achieved_req_s": round(ours.load.rate, 1),
        "reference_req_s": round(reference.rate, 1),
        "errors": dict(ours.load.failures),
        "reference_errors": dict(reference.failures),
    }
    processed_ok = (ours.backlog_s <= BACKLOG_S and not ours.lost and not ours.duplicated
                    and not ours.load.errors)  # fmt: skip
    return [
        Row(f"Feishu webhook ack p99, {rate:g} req/s × {seconds:g} s, {label}", p99, ref_p99,
            "ms", REFERENCE, higher_is_better=False, target=f"≤ {P99_RATIO}",
            met=None if ratio_ok is None else ratio_ok and p99 < P99_CEILING_MS,
            note=f"also p99 < {P99_CEILING_MS:g} ms; {json.dumps(summary)}"),
        Row(f"Feishu webhook backlog after the burst, {label}", ours.backlog_s, float("nan"),
            "s", "-", higher_is_better=False,
            target=f"≤ {BACKLOG_S:g} s; 0 lost, 0 duplicated",
            met=None if smoke else processed_ok,
            note=f"lost {ours.lost}, duplicated {ours.duplicated}, errors {ours.load.errors}"),
    ]  # fmt: skip


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the reference app at {base} did not start")
