"""The console's pages — portfolio, engagement, ticket, statement — signed in as each kind of
viewer, over data made through real chat commands, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests import console_web
from tests.harness import ConsoleHarness
from web.views import sla

ROW = re.compile(r'<a class="strong" href="/e/([A-Z0-9-]+)">')
TICKET = re.compile(r'<a href="/e/DEMO-2026/tickets/(T-\d+)">')


@pytest.fixture
def other(demo: ConsoleHarness, tmp_path: Path) -> ConsoleHarness:
    return console_web.other_engagement(demo.runtime, tmp_path)


@pytest.fixture(autouse=True)
def _fresh_memo() -> None:
    sla.MEMO.clear()  # each test's database is new: nothing remembered from another


def activity(demo: ConsoleHarness) -> None:
    """Tickets in every state, work, a change request made effective, a blocker."""
    demo.at("2026-11-23T10:00:00+08:00")
    assert demo.one("liuyang", "/工单 P2 报表导出超时").kind == "ticket.opened"  # T-1
    demo.one("zhaogang", "/响应 T-1")
    demo.one("zhaogang", "/报工 4h T-1 排查慢查询")
    demo.one("lina", "/报工 1d svc=ops_monitoring 巡检")
    demo.one("zhaogang", "/解决 T-1 已修复导出分页")
    demo.one("liuyang", "/关闭 T-1")
    demo.at("2026-11-25T09:30:00+08:00")
    demo.one("wangli", "/工单 紧急 生产库宕机")  # T-2, P1: first response due in 15 minutes
    demo.one("sunwei", "/指派 T-2 @lina")
    demo.one("liuyang", "/工单 P3 svc=bigdata_dev 日报延迟")  # T-3
    demo.one("liuyang", '/变更 "新增库存报表" 每日 8 点推送库存汇总')
    demo.one("sunwei", "/评估 CR-1 senior=3 mid=2 due=+5d")
    demo.one("sunwei", "/签署 CR-1")
    assert demo.one("wangli", "/签署 CR-1").kind == "cr.effective"
    demo.one("chenjing", '/阻塞 "环境访问延迟：VPN 未开通"')
    demo.at("2026-11-25T10:00:00+08:00")  # T-2 is late now


# -- who sees what ----------------------------------------------------------------------------


def test_the_portfolio_lists_the_engagements_each_viewer_may_see(
    demo: ConsoleHarness, other: ConsoleHarness
) -> None:
    for user, codes in (("sunwei", ["DEMO-2026"]), ("wangli", ["DEMO-2026"]),
                        ("en-sunwei", ["EN-2026"]), ("en-wangli", ["EN-2026"]),
                        ("zhoumin", ["DEMO-2026", "EN-2026"]), ("qianhao", ["DEMO-2026"])):  # fmt: skip
        answer = console_web.signed_in(demo.runtime, user).get("/")
        assert answer.status_code == 200, user
        assert sorted(ROW.findall(answer.text)) == codes, user


def test_someone_with_no_engagement_sees_a_clear_empty_portfolio(demo: ConsoleHarness) -> None:
    answer = console_web.signed_in(demo.runtime, "malin").get("/")  # an engineer
    assert answer.status_code == 200
    assert "没有您可查看的项目" in answer.text and not ROW.findall(answer.text)


@pytest.mark.parametrize("user", ["malin", "en-wangli", "en-sunwei"])
def test_an_engineer_and_the_other_engagements_people_get_404_everywhere(
    demo: ConsoleHarness, other: ConsoleHarness, user: str
) -> None:
    activity(demo)
    demo.at("2026-12-01T10:00:00+08:00")
    demo.one("sunwei", "/结算 关闭 2026-11")
    browser = console_web.signed_in(demo.runtime, user)
    for path in ("/e/DEMO-2026", "/e/DEMO-2026/tickets/T-1", "/e/DEMO-2026?severity=P1",
                 "/e/DEMO-2026/statements/2026-11.xlsx"):  # fmt: skip
        answer = browser.get(path)
        assert answer.status_code == 404, (user, path)
        assert "报表导出超时" not in answer.text and "生产库宕机" not in answer.text


def test_pages_need_a_session(demo: ConsoleHarness) -> None:
    browser = console_web.client(demo.runtime)
    for path in ("/", "/e/DEMO-2026", "/e/DEMO-2026/tickets/T-1",
                 "/e/DEMO-2026/statements/2026-11.xlsx"):  # fmt: skip
        assert browser.get(path).status_code == 401


# -- the portfolio ----------------------------------------------------------------------------


def test_a_portfolio_row_tells_phase_budget_sla_tickets_blockers_and_signatures(
    demo: ConsoleHarness, other: ConsoleHarness
) -> None:
    activity(demo)
    demo.one("liuyang", '/变更 "导出加水印" 报表导出加水印')  # CR-2, estimated: both must sign
    demo.one("sunwei", "/评估 CR-2 mid=1")
    demo.one("sunwei", "/签署 CR-2")  # the client's signature is awaited
    page = console_web.signed_in(demo.runtime, "zhoumin").get("/").text
    assert ROW.findall(page) == ["DEMO-2026", "EN-2026"]  # the worst first: DEMO has a late ticket
    demo_row = page[page.index("/e/DEMO-2026") : page.index("/e/EN-2026")]
    assert "剩 156 天" in demo_row  # to 2027-04-30
    assert "1.5 / " in demo_row  # 4 h + 1 day used, of the contract with CR-1
    assert "CR-2 · 甲方" in demo_row
    assert re.search(r'class="num bad">1</td>', demo_row)  # one ticket running late (T-2)
    assert re.search(r'class="num warn">1</td>', demo_row)  # one open blocker
    assert 'class="num ok" title="1/1">100%' in demo_row  # P2: T-1 met both targets
    by_code = console_web.signed_in(demo.runtime, "zhoumin").get("/?sort=code").text
    assert ROW.findall(by_code) == ["DEMO-2026", "EN-2026"]
    for sort in ("phase", "budget", "runout", "sla", "open", "late", "blockers", "waiting",
                 "nonsense", "x" * 500):  # fmt: skip
        answer = console_web.signed_in(demo.runtime, "zhoumin").get("/", params={"sort": sort})
        assert answer.status_code == 200 and sorted(ROW.findall(answer.text)) == [
            "DEMO-2026",
            "EN-2026",
        ]


# -- the engagement page ----------------------------------------------------------------------


def test_the_engagement_page_shows_burn_up_sla_tickets_heat_map_and_records(
    demo: ConsoleHarness,
) -> None:
    activity(demo)
    answer = console_web.signed_in(demo.runtime, "sunwei").get("/e/DEMO-2026")
    assert answer.status_code == 200
    page = answer.text
    burn = page[page.index('id="burn"') : page.index('id="sla"')]
    assert burn.count("<svg") == 1 and "人天燃尽" in burn
    assert burn.count("<polygon") == 2  # used: senior and mid, stacked
    assert "合同（含变更）" in burn and "预测" in burn
    contract = re.search(r'<polyline points="([^"]+)" fill="none" stroke="#d83931"', burn)
    assert contract and len(contract.group(1).split()) >= 4  # a step where CR-1 took effect
    sla_table = page[page.index('id="sla"') : page.index('id="tickets"')]
    assert "2026-W48" in sla_table and "P1 紧急" in sla_table
    assert 'title="1/1">100%' in sla_table  # T-1 (P2) responded and resolved in time
    assert 'title="0/1">0%' in sla_table  # T-2 (P1) missed its first response
    assert TICKET.findall(page) == ["T-3", "T-2", "T-1"]
    heat = page[page.index('id="timesheet"') : page.index('id="changes"')]
    assert "<svg" in heat and "赵刚" in heat and "李娜" in heat and "2026-11" in heat
    assert "李娜 · 中级工程师 23: 8小时" in heat  # a full day on the 23rd
    changes = page[page.index('id="changes"') : page.index('id="deliverables"')]
    assert "CR-1" in changes and "已生效" in changes and "新增库存报表" in changes
    assert "王丽" in changes and "孙伟" in changes
    assert "B-1" in page and "VPN 未开通" in page
    assert 'href="/e/DEMO-2026/signatures"' in page
    assert 'href="/e/DEMO-2026/evidence.zip"' in page
    assert "style=" not in page.replace("stylesheet", "")  # the CSP allows no inline style


def test_the_ticket_list_filters_and_pages(demo: ConsoleHarness) -> None:
    activity(demo)
    browser = console_web.signed_in(demo.runtime, "sunwei")

    def refs(**params: str) -> list[str]:
        answer = browser.get("/e/DEMO-2026", params=params)
        assert answer.status_code == 200
        return TICKET.findall(answer.text)

    assert refs(severity="P1") == ["T-2"]
    assert refs(state="closed") == ["T-1"]
    assert refs(state="unclosed") == ["T-3", "T-2"]
    assert refs(breached="1") == ["T-2"]
    assert refs(assignee="li.na") == ["T-2"]
    assert refs(severity="P2", state="unclosed") == []
    # Values that are not choices are no filter, never an error.
    assert refs(severity="P9", state="'; drop table ticket;--", assignee="nobody",
                page="-3") == ["T-3", "T-2", "T-1"]  # fmt: skip
    assert refs(page="99999999999999999999") == ["T-3", "T-2", "T-1"]
    for n in range(4, 56):
        demo.one("liuyang", f"/工单 P4 第 {n} 张")
    first, second = refs(), refs(page="2")
    assert len(first) == 50 and first[0] == "T-55" and second == ["T-5", "T-4", "T-3", "T-2", "T-1"]
    page = browser.get("/e/DEMO-2026", params={"page": "2"}).text
    assert "第 2 / 2 页" in page and "page=1" not in page  # the first page needs no number


def test_a_month_is_chosen_strictly(demo: ConsoleHarness) -> None:
    activity(demo)
    browser = console_web.signed_in(demo.runtime, "sunwei")
    assert browser.get("/e/DEMO-2026", params={"month": "2026-12"}).status_code == 200
    for bad in ("2026-13", "2026-1", "2027-05", "2026-10", "x" * 300, "2026-11-01"):
        answer = browser.get("/e/DEMO-2026", params={"month": bad})
        assert answer.status_code == 400, bad
        assert "YYYY-MM" in answer.text
    december = browser.get("/e/DEMO-2026", params={"month": "2026-12"}).text
    assert "本月无人报工" in december or "2026-12" in december


def test_a_ticket_page_shows_its_fields_clocks_and_timeline(demo: ConsoleHarness) -> None:
    activity(demo)
    browser = console_web.signed_in(demo.runtime, "wangli")
    page = browser.get("/e/DEMO-2026/tickets/T-1").text
    assert "报表导出超时" in page and "已关闭" in page
    assert "首次响应：2026-11-23 10:00 已响应" in page and "暂停累计" in page
    timeline = page[page.index('class="timeline"') :]
    assert timeline.index("开单") < timeline.index("响应") < timeline.index("解决")
    assert "刘洋" in timeline and "赵刚" in timeline
    late = browser.get("/e/DEMO-2026/tickets/t-2").text
    assert "已超时" in late and "李娜" in late
    for bad in ("T-99", "T-0", "X-1", "T-1x", "T-" + "9" * 40):
        answer = browser.get(f"/e/DEMO-2026/tickets/{bad}")
        assert answer.status_code == 404, bad


def test_english_pages(demo: ConsoleHarness, other: ConsoleHarness) -> None:
    activity(demo)
    browser = console_web.signed_in(demo.runtime, "sunwei")
    page = browser.get("/e/DEMO-2026?lang=en").text
    assert "Person-days burn-up" in page and "Tickets" in page and "人天燃尽" not in page
    assert "Change requests" in page and "effective" in page
    assert "工单" not in browser.get("/e/DEMO-2026/tickets/T-1").text.split("<main>")[1][:200]
    # An English engagement is in English without asking; the switch goes back to Chinese.
    en_page = console_web.signed_in(demo.runtime, "en-sunwei").get("/e/EN-2026").text
    assert (
        "SLA attainment by week and severity" in en_page and 'href="/e/EN-2026?lang=zh"' in en_page
    )
    assert "Portfolio" in console_web.signed_in(demo.runtime, "en-wangli").get("/").text


# -- statements -------------------------------------------------------------------------------


def test_a_closed_months_statement_downloads_an_open_one_does_not(demo: ConsoleHarness) -> None:
    activity(demo)
    demo.at("2026-12-01T10:00:00+08:00")
    browser = console_web.signed_in(demo.runtime, "wangli")
    assert browser.get("/e/DEMO-2026/statements/2026-11.xlsx").status_code == 404  # still open
    assert demo.one("sunwei", "/结算 关闭 2026-11").kind == "period.closed"
    page = browser.get("/e/DEMO-2026").text
    assert 'href="/e/DEMO-2026/statements/2026-11.xlsx"' in page
    answer = browser.get("/e/DEMO-2026/statements/2026-11.xlsx")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "DEMO-2026-2026-11-statement.xlsx" in answer.headers["content-disposition"]
    workbook = load_workbook(BytesIO(answer.content))
    assert workbook.sheetnames[0] == "人天结算单"
    assert workbook.worksheets[0]["A1"].value == "人天结算单 2026-11"
    for month in ("2026-12", "2026-13", "2027-05", "2026-1", "..", "x" * 200):
        refused = browser.get(f"/e/DEMO-2026/statements/{month}.xlsx")
        assert refused.status_code == 404, month
        assert "<html" in refused.text


# -- indexes ----------------------------------------------------------------------------------

# What the engagement page may read of an engagement's whole history, and why: the work log's
# sums by day, level and person (people x days rows come back; the burn-up needs every day) and
# the budget's total by level; the count of the ticket list's matches (its total, from an
# index); the delay notices, joined through the engagement's tasks (its requirement breakdown).
_WHOLE_ALLOWED = (
    re.compile(r"sum\(worklog\.minutes\).*GROUP BY", re.S),
    re.compile(r"^SELECT count\(\*\) AS count_1\s+FROM ticket\b", re.S),
    re.compile(r"FROM plan_change JOIN task\b"),
)


def test_the_pages_read_through_indexes(demo: ConsoleHarness) -> None:
    from tests.test_job_indexes import _capture, _full_reads, _history, _plan, _touches

    engine = demo.runtime.engine
    _history(engine)
    activity(demo)
    browser = console_web.signed_in(demo.runtime, "zhoumin")
    paths = ("/", "/e/DEMO-2026", "/e/DEMO-2026?breached=1&severity=P1", "/e/DEMO-2026?page=3",
             "/e/DEMO-2026/tickets/T-2")  # fmt: skip
    sent = _capture(engine, lambda: [browser.get(path).raise_for_status() for path in paths])
    checked, full = 0, []
    for statement, parameters in sent:
        if not _touches(statement) or any(p.search(statement) for p in _WHOLE_ALLOWED):
            continue
        plan = _plan(engine, statement, parameters)
        checked += 1
        full.extend(f"{line.strip()}  <-  {' '.join(statement.split())[:300]}"
                    for line in _full_reads(engine, statement, plan))  # fmt: skip
    assert checked > 20
    assert full == [], "\n".join(full)
