"""The web console in a real browser (Debian's Chromium, driven by Playwright): a vendor PM takes
the link `/看板` sends, signs in, opens the portfolio, the engagement and a ticket, sees the
charts drawn, downloads the evidence pack and checks it with its own `verify.py`.

Where no Chromium is installed the test is skipped, saying so. Screenshots are left in the
test's temporary folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.runtime import build
from config.settings import DEMO_ENGAGEMENT, Settings
from storage.db import make_engine
from storage.migrate import upgrade
from tests.conftest import DEFAULT_NOW
from tests.harness import ConsoleHarness

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here (apt-get install chromium): browser tests skipped"
)

# What the demo engagement holds when the PM opens the console: tickets, work, a signed scope
# baseline, an effective change request and an acceptance.
STORY = [
    ("liuyang", "/工单 P2 svc=bigdata_dev 报表导出超时"),
    ("liuyang", "/工单 P3 权限申请流程咨询"),
    ("zhaogang", "/响应 T-1"),
    ("zhaogang", "/报工 4h T-1 排查慢查询"),
    ("lina", "/报工 1d svc=ops_monitoring 巡检"),
    ("zhaogang", "/解决 T-1 已修复导出分页"),
    ("sunwei", '/任务 新增 "订单数据同步" est=2d level=senior prio=high due=+10d owner=@zhaogang'),
    ("sunwei", "/范围 签署"),
    ("wangli", "/范围 签署"),
    ("liuyang", '/变更 "新增库存报表" 每日 8 点推送库存汇总'),
    ("sunwei", "/评估 CR-1 senior=3 mid=2 due=+5d"),
    ("sunwei", "/签署 CR-1"),
    ("wangli", "/签署 CR-1"),
    ("sunwei", '/交付 K-1 "同步程序 v1" https://git.example/sync'),
    ("wangli", "/验收 D-1"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`rentian serve` on a demo database with the story above; (its URL, its environment)."""
    db = f"sqlite:///{tmp_path / 'rentian.db'}"
    engine = make_engine(db)
    upgrade(engine)
    harness = ConsoleHarness(build(Settings(db=db), engine))
    harness.apply(DEMO_ENGAGEMENT)
    for user, text in STORY:
        replies = harness.say(user, text)
        assert replies and not replies[0].kind.startswith(("error", "refused")), (text, replies)
    engine.dispose()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RENTIAN_DB": db, "RENTIAN_NOW": DEFAULT_NOW,
           "RENTIAN_CONSOLE__PUBLIC_URL": url}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)  # starting up
        yield url, env
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _link(env: dict[str, str]) -> str:
    said = subprocess.run(
        [sys.executable, "-m", "app", "say", "--json", "--chat", "demo-group", "--user", "sunwei",
         "/看板"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    [notice] = [item for item in json.loads(said.stdout) if item["kind"] == "console.link"]
    assert notice["to"] == "@sunwei"
    return str(notice["text"].split("\n")[-1])


def _browser_env() -> dict[str, str]:
    """Chromium keeps the real clock (under libfaketime the suite's own processes do not)."""
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}


def test_a_pm_signs_in_from_the_chat_and_checks_the_evidence(served, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, env = served
    link = _link(env)
    assert link.startswith(f"{url}/signin/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, env=_browser_env(),
                                             args=["--no-sandbox"])  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000},
                                    accept_downloads=True)  # fmt: skip
            page.goto(link)
            page.wait_for_url(f"{url}/")  # signed in, and the token is out of the address bar
            assert "/signin/" not in page.url
            page.screenshot(path=str(tmp_path / "portfolio.png"), full_page=True)
            assert "DEMO-2026" in page.content()

            page.click("a[href='/e/DEMO-2026']")
            page.wait_for_url(f"{url}/e/DEMO-2026")
            charts = page.locator("svg")
            assert charts.count() >= 2
            assert page.locator("svg polyline, svg path, svg rect").count() > 10  # drawn, with data
            page.screenshot(path=str(tmp_path / "engagement.png"), full_page=True)

            page.click("a[href='/e/DEMO-2026/tickets/T-1']")
            page.wait_for_url(f"{url}/e/DEMO-2026/tickets/T-1")
            assert "报表导出超时" in page.content()
            page.screenshot(path=str(tmp_path / "ticket.png"), full_page=True)

            page.goto(f"{url}/e/DEMO-2026/signatures")
            with page.expect_download() as download:
                page.click("a[href^='/e/DEMO-2026/evidence.zip']")
            pack = tmp_path / "evidence.zip"
            download.value.save_as(pack)
        finally:
            browser.close()

    folder = tmp_path / "pack"
    with zipfile.ZipFile(pack) as archive:
        archive.extractall(folder)
    verify = next(folder.rglob("verify.py"))
    checked = subprocess.run([sys.executable, "-I", str(verify)], cwd=verify.parent,
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    record = next(p for p in sorted(verify.parent.rglob("*.json"))
                  if p.parent.name == "records")  # fmt: skip
    data = bytearray(record.read_bytes())
    at = data.index(b'"', len(data) // 2)  # one byte inside the record's content
    data[at + 1] = ord("X") if data[at + 1] != ord("X") else ord("Y")
    record.write_bytes(bytes(data))
    tampered = subprocess.run([sys.executable, "-I", str(verify)], cwd=verify.parent,
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert tampered.returncode != 0
    assert record.name in tampered.stdout + tampered.stderr
