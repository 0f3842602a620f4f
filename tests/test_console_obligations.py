"""The SOW's recurring obligations in the web console (#16 part 3 × #15), over occurrences made
through the chat commands at fixed instants: the portfolio's overdue count and its place in
"worst first", the engagement page's section, the signatures page's `O-n` and `O-n/window`
records, the evidence pack (checked by its own verify.py) and the read API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import pytest
from sqlalchemy import select
from sqlmodel import col

from app.runtime import Runtime
from domain import obligations as rules
from handlers import obligations as handler
from storage.db import transaction
from storage.models_obligations import ObligationOccurrence as Occ
from tests import console_web
from tests import test_obligations as obligations_data
from tests.harness import ConsoleHarness, demo_text
from tests.test_evidence_pack import download, verify
from web import api_models
from web.views import obligation_records, sla

SECTION = obligations_data.SECTION + obligations_data.WINDOW  # the health check, training, window
API = "/api/v1/engagements/DEMO-2026/obligations"


@pytest.fixture(autouse=True)
def _fresh_memo() -> None:
    sla.MEMO.clear()


@pytest.fixture
def duties(runtime: Runtime, tmp_path: Path) -> ConsoleHarness:
    """The demo engagement with three obligations: O-1 the December health check (left
    overdue), O-2 an upgrade window signed by both, O-3 a training acknowledged by the client,
    O-4 January's health check done early (evidence nobody signs), O-5 February's (open)."""
    harness = ConsoleHarness(runtime)
    path = tmp_path / "duties.toml"
    path.write_text(demo_text(obligations=False) + SECTION, encoding="utf-8")
    harness.apply(path)
    harness.at("2026-11-25T10:00:00+08:00")
    harness.tick()
    assert [o.ref for o in _rows(harness)] == ["O-1", "O-2", "O-3", "O-4", "O-5"]
    said = [
        ("sunwei", "/义务 方案 O-2 https://plan.example/u1 回退：快照还原", "obligation.plan"),
        ("sunwei", "/义务 签署 O-2", "obligation.signed"),
        ("wangli", "/义务 签署 O-2", "obligation.approved"),
        ("malin", "/义务 完成 O-3 培训已完成，签到表见群文件", "obligation.submitted"),
        ("wangli", "/义务 确认 O-3", "obligation.acknowledged"),
    ]
    for user, text, kind in said:
        assert harness.one(user, text).kind == kind, text
    harness.at("2026-12-03T10:00:00+08:00")
    done = harness.one("sunwei", "/义务 完成 O-4 https://docs.example/hc-2027-01 提前完成")
    assert done.kind == "obligation.done", done.text
    return harness


def _rows(harness: ConsoleHarness) -> list[Occ]:
    with transaction(harness.runtime.engine) as session:
        rows = list(session.execute(select(Occ).order_by(col(Occ.number))).scalars())
        for row in rows:
            session.expunge(row)
        return rows


def _page(harness: ConsoleHarness, path: str, user: str = "wangli") -> str:
    answer = console_web.signed_in(harness.runtime, user).get(path)
    assert answer.status_code == 200, answer.text
    return answer.text


def _section(html: str) -> str:
    found = re.search(r'<section class="card" id="obligations">(.*?)</section>', html, re.S)
    assert found is not None, "no obligations section"
    return found.group(1)


# -- the portfolio ----------------------------------------------------------------------------


def test_the_portfolio_counts_overdue_obligations_and_puts_them_before_blockers(
    demo: ConsoleHarness, tmp_path: Path
) -> None:
    quiet = tmp_path / "quiet.toml"  # DEMO-2026 without its own obligations: only a blocker
    quiet.write_text(demo_text(obligations=False), encoding="utf-8")
    demo.apply(quiet)
    other = console_web.other_engagement(demo.runtime, tmp_path, extra=SECTION)
    demo.tick()  # EN-2026's occurrences
    demo.at("2026-12-03T10:00:00+08:00")  # its O-1 (due 1 Dec) is overdue
    assert demo.one("chenjing", '/阻塞 "环境访问延迟：VPN 未开通"').kind == "blocker.opened"
    assert other.one("en-sunwei", "/obligations").kind == "obligation.list"
    html = _page(demo, "/", "zhoumin")  # the customer manager sees both
    assert "义务逾期" in html
    order = re.findall(r'<a class="strong" href="/e/([A-Z0-9-]+)">', html)
    assert order == ["EN-2026", "DEMO-2026"]  # an overdue obligation outranks an open blocker
    counts = dict(re.findall(r'href="/e/([A-Z0-9-]+)">.*?<td class="num obligations[^"]*">(\d+)</td>',
                             html, re.S))  # fmt: skip
    assert counts == {"EN-2026": "1", "DEMO-2026": "0"}
    by_code = _page(demo, "/?sort=code&lang=en", "zhoumin")
    assert "Obligations overdue" in by_code
    assert re.findall(r'<a class="strong" href="/e/([A-Z0-9-]+)">', by_code) == [
        "DEMO-2026",
        "EN-2026",
    ]
    by_duty = _page(demo, "/?sort=obligations", "zhoumin")
    assert re.findall(r'<a class="strong" href="/e/([A-Z0-9-]+)">', by_duty)[0] == "EN-2026"


# -- the engagement page ----------------------------------------------------------------------


def test_the_engagement_page_shows_compliance_overdue_upcoming_and_windows(
    duties: ConsoleHarness,
) -> None:
    html = _page(duties, "/e/DEMO-2026")
    section = _section(html)
    assert "定期义务" in section
    # December and Q4: O-3 on time (evidence on 25 Nov), O-1 and O-2 pending (O-1 in grace).
    rows = re.findall(r"<tr><td>(本月|本季度) ([^<]+)<div", section)
    assert rows == [("本月", "2026-12"), ("本季度", "2026 Q4")]
    table = section.split("<h3>")[0]
    assert table.count('title="O-3">1</td>') == 2 and table.count('title="O-1, O-2">2</td>') == 2
    overdue, upcoming, *rest = section.split("<h3>")[1:]
    assert "O-1" in overdue and "月度系统健康检查" in overdue and "2026-12-01" in overdue
    assert "逾期" in overdue and "O-2" not in overdue
    assert [r for r in re.findall(r"<td>(O-\d+)</td>", upcoming)] == ["O-2", "O-3", "O-4"]
    # The window: its time in Beijing time, its signing state, who signed, its plan.
    window = upcoming.split("<td>O-2</td>")[1].split("</tr>")[0]
    assert "2026-12-05 22:00 → 2026-12-06 02:00" in window
    assert "双方已签署" in window and "厂商、甲方" in window and "https://plan.example/u1" in window
    # The training: who submitted it and who acknowledged it.
    training = upcoming.split("<td>O-3</td>")[1].split("</tr>")[0]
    assert "已完成" in training and "培训已完成，签到表见群文件" in training
    assert "马林" in training and "✔ 王丽" in training and "2026-11-25 10:00" in training
    early = upcoming.split("<td>O-4</td>")[1].split("</tr>")[0]
    assert "https://docs.example/hc-2027-01" in early and "孙伟" in early
    assert rest == []  # nothing done in the last 30 days that was due then
    figure = re.search(r"义务逾期</span><span class=\"value ([a-z]*)\">(\d+)<", html)
    assert figure is not None and figure.groups() == ("bad", "1")
    english = _section(_page(duties, "/e/DEMO-2026?lang=en"))
    assert "Recurring obligations" in english and "signed by both parties" in english
    assert "signed: vendor, client" in english  # joined as the page's language writes them
    assert "overdue" in english and "Due in the next 30 days" in english


def test_a_missed_obligation_counts_as_missed_once_its_grace_is_over(
    duties: ConsoleHarness,
) -> None:
    duties.at("2026-12-07T10:00:00+08:00")  # two working days after 2 Dec: O-1 is missed
    table = _section(_page(duties, "/e/DEMO-2026")).split("<h3>")[0]
    assert table.count('class="num bad" title="O-1">1</td>') == 2  # the month's and quarter's


def test_an_engagement_without_obligations_has_no_section(
    demo: ConsoleHarness, tmp_path: Path
) -> None:
    assert 'id="obligations"' in _page(demo, "/e/DEMO-2026")  # the demo has two
    quiet = tmp_path / "quiet.toml"
    quiet.write_text(demo_text(obligations=False), encoding="utf-8")
    demo.apply(quiet)
    html = _page(demo, "/e/DEMO-2026")
    assert 'id="obligations"' not in html and "义务逾期" not in html
    assert "义务逾期" in _page(demo, "/")  # the portfolio's column is always there


# -- signatures -------------------------------------------------------------------------------


def test_the_signatures_page_shows_the_acknowledgement_and_the_windows_plan(
    duties: ConsoleHarness,
) -> None:
    html = _page(duties, "/e/DEMO-2026/signatures")
    ack = _signed_row(html, "定期义务确认 O-3")
    assert "运维交接培训" in ack and "王丽" in ack and "✔ 内容与签署一致" in ack
    assert "审计链中没有" not in ack and "条目不成立" not in ack
    plan = _signed_row(html, "升级窗口方案 O-2")
    assert "季度升级窗口" in plan and "2026-12-05 22:00 → 2026-12-06 02:00" in plan
    assert "孙伟" in plan and "王丽" in plan and "✔ 内容与签署一致" in plan
    assert "审计链中没有" not in plan and "条目不成立" not in plan
    assert "O-4" not in html  # evidence nobody signs is not a signed record
    # The rows changed behind the bot's back: the recomputed hashes no longer match.
    with transaction(duties.runtime.engine) as session:
        for number, column, value in (
            (3, "evidence_note", "培训已完成"),
            (2, "plan_note", "无回退"),
        ):
            occ = session.execute(select(Occ).where(col(Occ.number) == number)).scalar_one()
            setattr(occ, column, value)
            session.add(occ)
    changed = _page(duties, "/e/DEMO-2026/signatures")
    for what in ("定期义务确认 O-3", "升级窗口方案 O-2"):
        assert "✘ 内容已与签署的哈希不符" in _signed_row(changed, what), what


def _signed_row(html: str, what: str) -> str:
    found = re.search(rf"<strong>{re.escape(what)}</strong>(.*?)</tr>", html, re.S)
    assert found is not None, what
    return found.group(1) + "".join(  # the other signers' rows, up to the next record
        re.findall(
            r'<tr class="more">(.*?)</tr>',
            html.split(f"<strong>{what}</strong>")[1].split("<strong>")[0],
            re.S,
        )
    )


def test_the_records_content_hashes_to_what_was_recorded(duties: ConsoleHarness) -> None:
    seen = 0
    with transaction(duties.runtime.engine) as session:
        for occ in session.execute(select(Occ)).scalars():
            if occ.content_hash is not None:
                assert handler.content_hash("DEMO-2026", occ) == occ.content_hash
                seen += 1
            if occ.window_hash is not None:
                assert handler.window_hash("DEMO-2026", occ) == occ.window_hash
                seen += 1
    assert seen >= 2
    assert set(get_args(api_models.ObligationState)) == {rules.OPEN, rules.SUBMITTED, rules.DONE}
    assert set(get_args(api_models.WindowState)) == {
        obligation_records.UNPLANNED, obligation_records.PLANNED, obligation_records.APPROVED,
        obligation_records.BLOCKED, obligation_records.STARTED, obligation_records.ENDED,
    }  # fmt: skip


def _sha(content: Any) -> str:
    import hashlib

    from storage.audit import canonical

    return hashlib.sha256(canonical(content).encode()).hexdigest()


# -- the evidence pack ------------------------------------------------------------------------


def test_the_pack_holds_the_obligations_and_verify_py_checks_them(
    duties: ConsoleHarness, tmp_path: Path
) -> None:
    folder = download(duties, tmp_path / "pack")
    records = {p.stem for p in (folder / "records").glob("*.json")}
    assert records == {"obligation-O-3", "window-O-2", "obligation-O-4"}
    assert {f"{r}.html" for r in records} <= {p.name for p in (folder / "records").glob("*.html")}
    rows = {o.ref: o for o in _rows(duties)}
    ack = _record(folder, "obligation-O-3")
    assert ack["content"] == ["DEMO-2026", "O-3", "training", "2026-12-10", "",
                              "培训已完成，签到表见群文件"]  # fmt: skip
    assert ack["content_hash"] == rows["O-3"].content_hash == _sha(ack["content"])
    assert [(s["name"], s["party"]) for s in ack["signatures"]] == [("王丽", "client")]
    assert [r["action"] for r in ack["recorded_by"]] == ["obligation.submitted"]
    plan = _record(folder, "window-O-2")
    assert plan["subject"] == "O-2/window" and plan["content_hash"] == rows["O-2"].window_hash
    assert plan["content"][3:] == ["2026-12-05T14:00:00+00:00", "2026-12-05T18:00:00+00:00",
                                   "https://plan.example/u1", "回退：快照还原"]  # fmt: skip
    assert sorted(s["party"] for s in plan["signatures"]) == ["client", "vendor"]
    early = _record(folder, "obligation-O-4")
    assert early["signatures"] == [] and early["recorded_by"][0]["action"] == "obligation.done"
    html = (folder / "records" / "obligation-O-3.html").read_text(encoding="utf-8")
    assert "运维交接培训" in html and "王丽" in html and "obligation.submitted" in html
    result = verify(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 signed records" in result.stdout and "2 signatures" not in result.stdout
    assert "3 signatures and 3 obligation evidence or window plan entries" in result.stdout


def test_a_changed_obligation_record_fails_even_with_its_hashes_redone(
    duties: ConsoleHarness, tmp_path: Path
) -> None:
    """Evidence nobody signed is held by the audit entry that recorded it: rewriting the
    content, its content hash and the manifest does not get past verify.py."""
    folder = download(duties, tmp_path / "pack")
    path = folder / "records" / "obligation-O-4.json"
    data = path.read_bytes()
    at = data.index("提前完成".encode(), data.index(b'"content": '))
    path.write_bytes(data[:at] + "按时完成".encode() + data[at + len("提前完成".encode()) :])
    changed = verify(folder)
    assert changed.returncode != 0 and "records/obligation-O-4.json" in changed.stdout
    assert "content was changed" in changed.stdout
    record = _record(folder, "obligation-O-4")
    record["content_hash"] = _sha(record["content"])
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    import hashlib

    manifest["files"]["records/obligation-O-4.json"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    forged = verify(folder)
    assert forged.returncode != 0, forged.stdout
    assert "content was changed" not in forged.stdout and "does not match" not in forged.stdout
    assert "its content differs from what audit entry" in forged.stdout


def test_a_months_pack_holds_what_was_recorded_in_it(
    duties: ConsoleHarness, tmp_path: Path
) -> None:
    november = download(duties, tmp_path / "nov", "?month=2026-11")
    assert {p.stem for p in (november / "records").glob("*.json")} == {"obligation-O-3",
                                                                        "window-O-2"}  # fmt: skip
    assert verify(november).returncode == 0
    december = download(duties, tmp_path / "dec", "?month=2026-12")
    assert {p.stem for p in (december / "records").glob("*.json")} == {"obligation-O-4"}
    result = verify(december)
    assert result.returncode == 0, result.stdout


def _record(folder: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (folder / "records" / f"{name}.json").read_text(encoding="utf-8")
    )
    return data


# -- the read API -----------------------------------------------------------------------------


def test_the_api_lists_occurrences_a_page_at_a_time(duties: ConsoleHarness) -> None:
    api = console_web.client(duties.runtime)
    api.headers["authorization"] = f"Bearer {console_web.api_token(duties.runtime, 'DEMO-2026')}"
    first = api.get(API, params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [i["ref"] for i in page["items"]] == ["O-1", "O-2"] and page["next_cursor"]
    rest = api.get(API, params={"limit": 10, "cursor": page["next_cursor"]}).json()
    assert [i["ref"] for i in rest["items"]] == ["O-3", "O-4", "O-5"] and rest[
        "next_cursor"
    ] is None
    items = {i["ref"]: i for i in page["items"] + rest["items"]}
    assert (
        items["O-1"]["overdue"]
        and items["O-1"]["state"] == "open"
        and items["O-1"]["window"] is None
    )
    window = items["O-2"]["window"]
    assert window["start_at"] == "2026-12-05T22:00:00+08:00" and window["state"] == "approved"
    assert (
        window["signed_by"] == ["vendor", "client"]
        and window["plan_link"] == "https://plan.example/u1"
    )
    assert window["plan_hash"] == _rows(duties)[1].window_hash
    training = items["O-3"]
    assert (training["state"], training["title"], training["overdue"]) == (
        "done",
        "运维交接培训",
        False,
    )
    assert training["submitted_by"] == {"key": "ma.lin", "name": "马林"}
    assert training["done_by"] == {"key": "wang.li", "name": "王丽"}
    assert training["submitted_at"] == "2026-11-25T10:00:00+08:00"
    done = api.get(API, params={"state": "done"}).json()["items"]
    assert [i["ref"] for i in done] == ["O-3", "O-4"]
    january = api.get(API, params={"from": "2027-01-01", "to": "2027-01-31", "key": "health_check"})
    assert [i["ref"] for i in january.json()["items"]] == ["O-4"]
    for bad in ({"state": "late"}, {"from": "2027-02-01", "to": "2027-01-01"}, {"cursor": "dDox"},
                {"key": "a b"}, {"limit": 0}):  # fmt: skip
        assert api.get(API, params=bad).status_code == 422, bad


def test_the_api_is_for_the_engagements_viewers_only(
    duties: ConsoleHarness, tmp_path: Path
) -> None:
    console_web.other_engagement(duties.runtime, tmp_path)
    assert console_web.signed_in(duties.runtime, "liuyang").get(API).status_code == 200
    assert console_web.signed_in(duties.runtime, "zhaogang").get(API).status_code == 404
    assert console_web.signed_in(duties.runtime, "en-wangli").get(API).status_code == 404
    assert console_web.client(duties.runtime).get(API).status_code == 401
    stranger = console_web.client(duties.runtime)
    stranger.headers["authorization"] = f"Bearer {console_web.api_token(duties.runtime, 'EN-2026')}"
    assert stranger.get(API).status_code == 404
    assert stranger.get("/api/v1/engagements/EN-2026/obligations").json()["items"] == []
    schema = console_web.client(duties.runtime).get("/api/openapi.json").json()
    assert "/v1/engagements/{code}/obligations" in schema["paths"]
    assert "Obligation" in schema["components"]["schemas"]
