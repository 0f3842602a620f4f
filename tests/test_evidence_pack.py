"""The evidence pack: signed records made through the chat (a scope baseline, an effective
change request, an accepted deliverable, a closed month), downloaded as a zip, unzipped and
checked by its own verify.py in a separate Python with nothing of the project on its path;
then one byte of a record, or one audit line, changed: it fails and says where."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import change_requests, delivery
from handlers.statement import build as build_statement
from storage import audit
from storage.db import transaction
from storage.models import AuditEntry, Baseline, ChangeRequest, Deliverable, Engagement, Period
from tests import console_web
from tests.harness import ConsoleHarness
from web import verify_pack
from web.views import signatures as views

RECORDS = ["scope-v1", "cr-CR-1", "acceptance-D-1", "month-2026-11"]


def make_signed_records(harness: ConsoleHarness, other: ConsoleHarness | None = None) -> None:
    """A scope baseline, an effective change request, an accepted deliverable and a locked
    month, all signed through chat commands; `other`'s activity interleaved (the chain is
    shared)."""
    harness.at("2026-11-25T10:00:00+08:00")
    harness.one("sunwei", '/任务 新增 "订单数据同步" est=2d level=senior prio=high due=2026-12-10')
    harness.one("sunwei", '/任务 新增 "报表迁移" est=1.5 level=中级 prio=中')
    assert harness.one("sunwei", "/范围 签署").kind == "scope.signed"
    if other is not None:
        assert other.one("en-liuyang", "/ticket P3 another engagement's ticket").kind
    assert harness.one("wangli", "/范围 签署").kind == "scope.baselined"
    harness.one("liuyang", '/变更 "新增库存报表" 每日 8 点推送库存汇总')
    harness.one("sunwei", "/评估 CR-1 senior=3 mid=2 due=+5d")
    assert harness.one("sunwei", "/签署 CR-1").kind == "cr.signed"
    assert harness.one("wangli", "/签署 CR-1").kind == "cr.effective"
    harness.one("sunwei", '/交付 K-1 "同步设计文档" https://docs.example/sync')
    assert harness.one("wangli", "/验收 D-1").kind == "delivery.accepted"
    harness.at("2026-11-25T17:00:00+08:00")
    harness.one("liuyang", "/工单 P2 报表慢")
    harness.one("zhaogang", "/报工 1d T-1 排查")
    harness.at("2026-12-01T10:00:00+08:00")
    assert harness.one("sunwei", "/结算 关闭 2026-11").kind == "period.closed"
    if other is not None:
        other.one("en-liuyang", "/ticket P4 one more")
    assert harness.one("wangli", "/结算 确认 2026-11").kind == "period.confirmed"


def other_engagement(harness: ConsoleHarness, folder: Path) -> ConsoleHarness:
    """The demo engagement's English twin (EN-2026), every account its own (`en-…`)."""
    return console_web.other_engagement(harness.runtime, folder, shared=())


@pytest.fixture
def signed(demo: ConsoleHarness, tmp_path: Path) -> ConsoleHarness:
    make_signed_records(demo, other_engagement(demo, tmp_path))
    return demo


def download(harness: ConsoleHarness, folder: Path, query: str = "", user: str = "wangli") -> Path:
    browser = console_web.signed_in(harness.runtime, user)
    answer = browser.get(f"/e/DEMO-2026/evidence.zip{query}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert "attachment" in answer.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as pack:
        assert pack.testzip() is None
        pack.extractall(folder)
    return folder


def verify(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python3 verify.py` in the unzipped folder, isolated (-I: no PYTHONPATH, no user site,
    not even the script's folder's neighbours of the project)."""
    return subprocess.run(
        [sys.executable, "-I", "verify.py", *args], cwd=folder, capture_output=True,
        text=True, encoding="utf-8", timeout=120, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )  # fmt: skip


def test_the_pack_verifies_with_the_standard_library_alone(signed: ConsoleHarness, tmp_path):
    folder = download(signed, tmp_path / "pack")
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    for record in RECORDS:
        assert f"records/{record}.json" in names and f"records/{record}.html" in names
    assert {"audit.jsonl", "manifest.json", "README.txt", "verify.py"} <= names
    assert "statements/statement-DEMO-2026-2026-11.xlsx" in names
    result = verify(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout and "通过" in result.stdout
    assert "4 signed records" in result.stdout
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == names - {"manifest.json"}
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    assert "python3 verify.py" in readme and "如何校验" in readme and "What it proves" in readme


def test_each_record_holds_the_content_its_signers_hashed(signed: ConsoleHarness, tmp_path):
    """The content in each record is the bytes the handlers hashed when it was signed."""
    folder = download(signed, tmp_path / "pack")
    record = _record(folder, "cr-CR-1")
    with transaction(signed.runtime.engine) as session:
        eng = session.execute(select(Engagement).where(Engagement.code == "DEMO-2026")).scalar_one()
        cr = session.execute(select(ChangeRequest)).scalar_one()
        baseline = session.execute(select(Baseline)).scalar_one()
        found = session.execute(select(Deliverable)).scalar_one()
        period = session.execute(select(Period)).scalar_one()
        cr_hash = change_requests._hash(cr)
        statement_hash = build_statement(session, eng, "2026-11").content_hash
        snapshot = baseline.snapshot
        assert found.content_hash == delivery.content_hash(
            eng.code, found.ref, "K-1", found.name, found.link
        )
    assert record["content_hash"] == cr_hash == _hash(record["content"])
    assert [(s["name"], s["party"]) for s in record["signatures"]] == [
        ("孙伟", "vendor"), ("王丽", "client"),
    ]  # fmt: skip
    assert all(s["via"] == "console:demo-group" and s["message"] for s in record["signatures"])
    assert _record(folder, "scope-v1")["content"] == json.loads(snapshot)
    assert _hash(_record(folder, "scope-v1")["content"]) == baseline.content_hash
    assert _record(folder, "acceptance-D-1")["content_hash"] == found.content_hash
    month = _record(folder, "month-2026-11")
    assert month["content_hash"] == statement_hash == period.content_hash
    assert len(month["content"]["entries"]) == 1 and month["content"]["month"] == "2026-11"


def test_a_byte_changed_in_a_signed_record_fails_and_names_it(signed: ConsoleHarness, tmp_path):
    folder = download(signed, tmp_path / "pack")
    path = folder / "records" / "cr-CR-1.json"
    data = path.read_bytes()
    at = data.index(b'"content": ')
    at = data.index(b"senior", at)
    path.write_bytes(data[:at] + b"S" + data[at + 1 :])  # senior -> Senior, in the content
    result = verify(folder)
    assert result.returncode != 0, result.stdout
    assert "FAILED" in result.stdout and "未通过" in result.stdout
    assert "records/cr-CR-1.json" in result.stdout and "CR-1" in result.stdout
    assert "content was changed" in result.stdout


def test_a_changed_audit_line_fails(signed: ConsoleHarness, tmp_path):
    folder = download(signed, tmp_path / "pack")
    path = folder / "audit.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index, entry = next((i, json.loads(line)) for i, line in enumerate(lines)
                        if json.loads(line).get("action") == "cr.signed")  # fmt: skip
    entry["actor"] = "someone.else"
    lines[index] = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    result = verify(folder)
    assert result.returncode != 0
    assert f"audit entry #{entry['id']} (cr.signed CR-1) does not match its hash" in result.stdout


def test_a_deleted_audit_line_breaks_the_links(signed: ConsoleHarness, tmp_path):
    folder = download(signed, tmp_path / "pack")
    path = folder / "audit.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    del lines[3]
    path.write_text("".join(lines), encoding="utf-8")
    result = verify(folder)
    assert result.returncode != 0 and "does not link to the entry before it" in result.stdout


def test_other_engagements_entries_are_links_only(signed: ConsoleHarness, tmp_path):
    folder = download(signed, tmp_path / "pack")
    text = (folder / "audit.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    withheld = [line for line in lines if line.get("withheld")]
    assert withheld, "the other engagement's ticket lies inside the range"
    assert all(set(line) == {"id", "prev_hash", "hash", "withheld"} for line in withheld)
    assert "another engagement" not in text and "EN-2026" not in text
    with transaction(signed.runtime.engine) as session:
        eng = session.execute(select(Engagement).where(Engagement.code == "DEMO-2026")).scalar_one()
        first, last = views.span(session, eng.id or 0)
    assert (lines[0]["id"], lines[-1]["id"]) == (first, last)
    assert lines[0]["prev_hash"] == audit.GENESIS or lines[0]["id"] > 1


def test_the_anchors_posted_in_the_chat_hold(signed: ConsoleHarness, tmp_path):
    folder = download(signed, tmp_path / "pack")
    chat = "\n".join(m.text for m in signed.outbox() if "#" in m.text)
    replies = tmp_path / "chat.txt"
    replies.write_text(chat + "\n🔗 审计链 #1·" + "0" * 16, encoding="utf-8")
    kept = [a for a in audit.find_anchors(chat)]
    held = verify(folder, "--anchors", str(replies))
    assert held.returncode != 0 and "anchor #1·0000000000000000 fails" in held.stdout
    if kept:  # the signing replies end with the chain's anchor
        good = tmp_path / "good.txt"
        good.write_text(chat, encoding="utf-8")
        assert verify(folder, "--anchors", str(good)).returncode == 0


def test_one_months_pack(signed: ConsoleHarness, tmp_path):
    folder = download(signed, tmp_path / "month", "?month=2026-11")
    names = {p.name for p in (folder / "records").glob("*.json")}
    assert names == {f"{r}.json" for r in RECORDS}  # all signed in November, or its close
    assert verify(folder).returncode == 0
    december = download(signed, tmp_path / "dec", "?month=2026-12")
    assert {p.name for p in (december / "records").glob("*.json")} == {"month-2026-11.json"}
    assert (
        not list((december / "statements").glob("*"))
        if (december / "statements").exists()
        else True
    )
    result = verify(december)
    assert result.returncode == 0, result.stdout
    browser = console_web.signed_in(signed.runtime, "wangli")
    for bad in ("2026-13", "2026-1", "abc", "1999-01", "2026-11x"):
        assert browser.get(f"/e/DEMO-2026/evidence.zip?month={bad}").status_code == 400


def test_the_pack_is_for_its_engagements_viewers_only(signed: ConsoleHarness, tmp_path):
    stranger = console_web.signed_in(signed.runtime, "en-wangli")
    assert stranger.get("/e/DEMO-2026/evidence.zip").status_code == 404
    assert stranger.get("/e/EN-2026/evidence.zip").status_code == 200
    engineer = console_web.signed_in(signed.runtime, "zhaogang")
    assert engineer.get("/e/DEMO-2026/evidence.zip").status_code == 404
    assert console_web.client(signed.runtime).get("/e/DEMO-2026/evidence.zip").status_code == 401


def test_an_empty_engagement_makes_a_pack_that_verifies(demo: ConsoleHarness, tmp_path):
    folder = download(demo, tmp_path / "pack")
    result = verify(folder)
    assert result.returncode == 0, result.stdout


def test_verify_py_is_python_39_and_standard_library_only():
    source = Path(verify_pack.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 9))
    modules = {alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}  # fmt: skip
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}  # fmt: skip
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}
    # Nothing newer than 3.9 that parsing alone does not catch: zip(strict=), datetime.UTC.
    assert not any(
        isinstance(node, ast.keyword) and node.arg == "strict" for node in ast.walk(tree)
    )
    assert not any(
        isinstance(node, ast.Attribute) and node.attr == "UTC" for node in ast.walk(tree)
    )


def test_verify_py_hashes_as_the_server_does():
    """Its anchor pattern and entry hash are the chain's (storage/audit.py)."""
    assert verify_pack.ANCHOR.pattern == audit._ANCHOR.pattern
    from datetime import UTC, datetime

    at = datetime(2026, 11, 25, 2, 0, 1, 123456, tzinfo=UTC)
    data = audit.canonical({"hash": "x", "名": "值"})
    expected = audit.entry_hash("prev", at, 7, "sun.wei", "cr.signed", "CR-1", data)
    line = {"prev_hash": "prev", "at": at.isoformat(), "engagement_id": 7, "actor": "sun.wei",
            "action": "cr.signed", "ref": "CR-1", "data": data}  # fmt: skip
    assert verify_pack.entry_hash(line) == expected
    assert verify_pack.canonical({"b": [1, "二"], "a": None}) == audit.canonical(
        {"b": [1, "二"], "a": None}
    )


def test_the_page_check_of_the_chain_finds_a_rewritten_entry(signed: ConsoleHarness):
    with transaction(signed.runtime.engine) as session:
        eng = session.execute(select(Engagement).where(Engagement.code == "DEMO-2026")).scalar_one()
        held = views.chain_check(session, eng.id or 0)
        assert held.ok and held.whole_span and held.checked >= 10
        small = views.chain_check(session, eng.id or 0, window=3)
        assert small.ok and small.checked == 3 and not small.whole_span
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "cr.signed")
        ).scalars().first()  # fmt: skip
        assert entry is not None
        entry.actor = "someone.else"
        session.add(entry)
        session.flush()
        broken = views.chain_check(session, eng.id or 0)
        assert not broken.ok and broken.bad_id == entry.id
        assert "content does not match" in broken.problem
        session.rollback()


def _record(folder: Path, name: str) -> dict:
    return json.loads((folder / "records" / f"{name}.json").read_text(encoding="utf-8"))


def _hash(content: object) -> str:
    return hashlib.sha256(audit.canonical(content).encode()).hexdigest()
