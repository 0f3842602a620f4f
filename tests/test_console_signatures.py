"""The signatures page: every signed record with who signed it (name, party, role), when in the
engagement's time, on which channel and message, its content hash and whether the content still
hashes to it; the audit chain re-checked as the page loads. Only for the engagement's viewers."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from storage.db import transaction
from storage.models import ChangeRequest, Engagement
from tests import console_web
from tests.harness import ConsoleHarness
from tests.test_evidence_pack import make_signed_records, other_engagement
from web.views import signatures as views


def _rows(html: str) -> list[str]:
    return re.findall(r"<tr class=\"(?:first|more)\">(.*?)</tr>", html, re.S)


def test_the_page_lists_every_signed_record_with_its_signers(demo: ConsoleHarness, tmp_path: Path):
    make_signed_records(demo, other_engagement(demo, tmp_path))
    page = console_web.signed_in(demo.runtime, "sunwei").get("/e/DEMO-2026/signatures")
    assert page.status_code == 200, page.text
    html = page.text
    assert "/static/signatures.css" in html and "style=" not in html
    for record in ("范围基线 v1", "变更单 CR-1", "验收单 D-1", "月度人天结算 2026-11"):
        assert record in html
    assert "新增库存报表" in html and "同步设计文档" in html
    rows = _rows(html)
    assert len(rows) == 7  # scope 2, CR 2, acceptance 1, month 2
    assert sum("王丽" in row for row in rows) == 4 and sum("孙伟" in row for row in rows) == 3
    assert "甲方审批人" in html and "厂商项目经理" in html
    assert "2026-11-25 10:00" in html and "2026-12-01 10:00" in html  # Asia/Shanghai
    assert html.count("console") >= 7 and "demo-group" in html
    assert re.search(r"消息 [0-9a-f]+-\d+", html)
    assert html.count("内容与签署一致") == 4 and "不符" not in html
    assert "审计链已校验" in html and "校验于 2026-12-01 10:00" in html
    assert "/e/DEMO-2026/evidence.zip" in html and "evidence.zip?month=2026-11" in html


def test_a_record_whose_content_changed_after_signing_is_flagged(demo: ConsoleHarness,
                                                                 tmp_path: Path):  # fmt: skip
    make_signed_records(demo)
    with transaction(demo.runtime.engine) as session:  # what no command may do: the DB edited
        cr = session.execute(select(ChangeRequest)).scalar_one()
        cr.title = "改过的标题"
        session.add(cr)
    html = console_web.signed_in(demo.runtime, "wangli").get("/e/DEMO-2026/signatures").text
    assert html.count("内容与签署一致") == 3 and "内容已与签署的哈希不符" in html
    assert "审计链已校验" in html  # the chain itself still holds


def test_a_broken_chain_is_shown_as_broken(demo: ConsoleHarness):
    make_signed_records(demo)
    with transaction(demo.runtime.engine) as session:
        from storage.models import AuditEntry

        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "delivery.accepted")
        ).scalar_one()  # fmt: skip
        entry.data = entry.data.replace("demo-group", "elsewhere")
        session.add(entry)
        bad = entry.id
    html = console_web.signed_in(demo.runtime, "wangli").get("/e/DEMO-2026/signatures").text
    assert f"审计链断开：条目 #{bad}" in html and "审计链已校验" not in html
    assert "条目不成立" in html  # the acceptance's own entry


def test_the_page_in_english(demo: ConsoleHarness, tmp_path: Path):
    other = other_engagement(demo, tmp_path)
    other.at("2026-11-25T10:00:00+08:00")
    other.one("en-sunwei", '/task add "Order sync" est=2d level=senior')
    other.one("en-sunwei", "/scope sign")
    other.one("en-wangli", "/scope sign")
    html = console_web.signed_in(demo.runtime, "en-wangli").get("/e/EN-2026/signatures").text
    assert "Scope baseline v1" in html and "baselined, signed by both" in html
    assert "client approver" in html.lower() and "Audit chain verified" in html
    assert "content matches what was signed" in html and "Download the evidence pack" in html
    zh = console_web.signed_in(demo.runtime, "en-wangli").get("/e/EN-2026/signatures?lang=zh")
    assert "范围基线 v1" in zh.text


def test_older_months_are_left_to_the_pack(demo: ConsoleHarness, monkeypatch):
    """The page rebuilds the statements of the newest few months only (each reads its month's
    work log); an older one shows its recorded hash, re-checked by the evidence pack."""
    make_signed_records(demo)
    monkeypatch.setattr(views, "MONTHS_REHASHED", 0)
    html = console_web.signed_in(demo.runtime, "wangli").get("/e/DEMO-2026/signatures").text
    assert "较早的月份未在此页重算" in html and html.count("内容与签署一致") == 3
    with transaction(demo.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalars().first()
        assert engagement is not None
        records = views.signed_records(session, engagement, months_rehashed=0)
        [month] = [r for r in records if r.kind == "month"]
        assert month.deferred and month.statement is None and month.recorded_hash


def test_nothing_signed_yet(demo: ConsoleHarness):
    html = console_web.signed_in(demo.runtime, "chenjing").get("/e/DEMO-2026/signatures").text
    assert "还没有已签署的记录" in html and "审计链已校验" in html


def test_only_the_engagements_viewers_see_it(demo: ConsoleHarness, tmp_path: Path):
    other_engagement(demo, tmp_path)
    assert console_web.signed_in(demo.runtime, "en-wangli").get(
        "/e/DEMO-2026/signatures"
    ).status_code == 404  # fmt: skip
    assert console_web.signed_in(demo.runtime, "zhaogang").get(
        "/e/DEMO-2026/signatures"
    ).status_code == 404  # fmt: skip
    assert console_web.signed_in(demo.runtime, "wangli").get(
        "/e/EN-2026/signatures"
    ).status_code == 404  # fmt: skip
    assert console_web.client(demo.runtime).get("/e/DEMO-2026/signatures").status_code == 401
    assert console_web.signed_in(demo.runtime, "zhoumin").get(
        "/e/DEMO-2026/signatures"
    ).status_code == 200  # fmt: skip
