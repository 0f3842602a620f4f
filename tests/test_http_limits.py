"""The HTTP edge: request bodies are bounded before any signature check (413, memory flat
under a stream of oversize bodies, measured on a real `rentian serve`), and the app's schema
is not published."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from app.http import create_app
from app.runtime import build
from config.settings import HttpSettings, Settings, WecomSettings

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-25T10:00:00+08:00"
MiB = 1024 * 1024
WECOM = {
    "enabled": "true", "corp_id": "ww1234567890abcdef", "agent_id": "1000002", "secret": "s3cret",
    "token": "wecomCallbackToken",
    "encoding_aes_key": base64.b64encode(b"0123456789abcdef0123456789abcdef").decode().rstrip("="),
    "api_base": "http://127.0.0.1:9",  # never called: nothing is sent in these tests
}  # fmt: skip
PATH = "/webhooks/wecom?msg_signature=x&timestamp=1&nonce=n"  # read whole before it is checked


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(db=f"sqlite:///{tmp_path / 'rentian.db'}",
                        http=HttpSettings(max_body_bytes=4096), wecom=WecomSettings(**WECOM))  # fmt: skip
    app = create_app(build(settings), scheduler=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rentian.test") as http:
        yield http


async def _chunks(size: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A chunked body (no Content-Length) of `size` bytes."""
    for start in range(0, size, chunk):
        yield b"x" * min(chunk, size - start)


async def test_a_body_over_the_limit_is_refused_before_the_route_reads_it(
    client: httpx.AsyncClient,
) -> None:
    at_limit = await client.post(PATH, content=b"x" * 4096)
    assert at_limit.status_code == 400  # read whole, then refused: not a WeCom message
    declared = await client.post(PATH, content=b"x" * 4097)
    assert declared.status_code == 413
    streamed = await client.post(PATH, content=_chunks(4097, chunk=1000))
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413
    assert (await client.post(PATH, content=_chunks(4096, chunk=1000))).status_code == 400


async def test_the_schema_and_docs_are_not_served(client: httpx.AsyncClient) -> None:
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert (await client.get(path)).status_code == 404


# -- a real server under a stream of oversize bodies -----------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak so far) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`rentian serve` with the WeCom webhook on a free port; its output is kept in a file."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RENTIAN_NOW": NOW,
           "RENTIAN_DB": f"sqlite:///{tmp_path / 'rentian.db'}",
           **{f"RENTIAN_WECOM__{key.upper()}": value for key, value in WECOM.items()}}  # fmt: skip
    subprocess.run([sys.executable, "-m", "app", "init"], env=env, check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    port = _free_port()
    log = (tmp_path / "serve.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _started(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def test_memory_stays_flat_under_a_stream_of_oversize_bodies(
    server: tuple[subprocess.Popen[str], str],
) -> None:
    process, url = server
    for _ in range(600):
        if _started(url) or process.poll() is not None:
            break
        await asyncio.sleep(0.05)  # the process is starting up
    assert process.poll() is None and _started(url)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for _ in range(3):  # warm up the code paths a refusal takes
            assert (await client.post(PATH, content=b"x" * 1000)).status_code == 400
            assert (await client.post(PATH, content=_chunks(2 * MiB))).status_code == 413
        before = _memory_kib(process.pid)

        async def oversize() -> int:
            return (await client.post(PATH, content=_chunks(10 * MiB))).status_code

        statuses = []
        for _ in range(5):  # twenty 10 MB bodies, chunked, four at a time
            statuses += await asyncio.gather(*(oversize() for _ in range(4)))
        forged = await client.post(PATH, content=_chunks(100 * MiB),
                                   headers={"content-length": str(100 * MiB)})  # fmt: skip
        statuses.append(forged.status_code)
    after = _memory_kib(process.pid)
    assert statuses == [413] * 21
    grown = after["VmHWM"] - before["VmHWM"]
    print(f"serve memory: VmRSS {before['VmRSS']} -> {after['VmRSS']} KiB, "
          f"peak VmHWM {before['VmHWM']} -> {after['VmHWM']} KiB (+{grown} KiB)")  # fmt: skip
    assert grown < 8 * 1024, f"the server's peak memory grew by {grown} KiB"
