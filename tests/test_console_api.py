"""The read API under /api/v1: tickets, work logs, signatures, budget and SLA of the
engagements the caller may see, read with an API token or the console's session; pages that
walk every item once; filters; 4xx, never 5xx, for whatever is wrong with a request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot import clock
from domain.catalog import SEVERITIES
from domain.lifecycles.tickets import STATES
from storage import signin
from storage.db import transaction
from storage.models import ApiToken, Engagement
from tests import console_web
from tests.harness import ConsoleHarness
from web import api_models, api_queries

DEMO = "/api/v1/engagements/DEMO-2026"
ENDPOINTS = ("", "/tickets", "/worklogs", "/signatures", "/budget", "/sla")


def _token(demo: ConsoleHarness, code: str = "DEMO-2026", name: str = "ci") -> str:
    with transaction(demo.runtime.engine) as session:
        engagement = session.execute(select(Engagement).where(Engagement.code == code)).scalar_one()
        assert engagement.id is not None
        return signin.create_api_token(session, engagement.id, name, clock.now())


def _bearer(demo: ConsoleHarness, token: str) -> TestClient:
    browser = console_web.client(demo.runtime)
    browser.headers["Authorization"] = f"Bearer {token}"
    return browser


def _ok(browser: TestClient, path: str, **params: Any) -> Any:
    answer = browser.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _walk(browser: TestClient, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = _ok(browser, path, limit=limit, **params, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the pages never ended")


def _make_records(demo: ConsoleHarness) -> None:
    """Tickets, work logs and signatures, made as people make them: in the chat."""
    assert demo.one("liuyang", "/工单 P2 报表导出超时").kind == "ticket.opened"  # T-1
    assert demo.one("liuyang", "/工单 P3 同步任务失败").kind == "ticket.opened"  # T-2
    assert demo.one("wangli", "/工单 P1 生产库宕机").kind == "ticket.opened"  # T-3
    assert demo.one("zhaogang", "/响应 T-1").kind == "ticket.acked"
    assert demo.one("sunwei", "/指派 T-2 @lina").kind == "ticket.assigned"
    clock.set_now(clock.now() + timedelta(hours=1))  # T-3 (P1: 15 min) is past its response
    for user, text in (("zhaogang", "/报工 4h T-1 排查慢查询"),
                       ("zhaogang", "/报工 半天 svc=ops_monitoring 巡检"),
                       ("lina", "/报工 2h T-2 排查同步"), ("lina", "/报工 1h T-2 复查")):  # fmt: skip
        assert demo.one(user, text).kind == "worklog.logged", text
    assert demo.one("liuyang", '/变更 "新增库存报表" 每日 8 点推送库存汇总').kind == "cr.filed"
    assert demo.one("sunwei", "/评估 CR-1 senior=3 mid=2 due=+5d").kind == "cr.estimated"
    demo.one("sunwei", "/签署 CR-1")
    assert demo.one("wangli", "/签署 CR-1").kind == "cr.effective"


@pytest.fixture
def made(demo: ConsoleHarness) -> ConsoleHarness:
    _make_records(demo)
    return demo


def test_every_endpoint_answers_a_token_and_a_session_alike(made: ConsoleHarness):
    by_token = _bearer(made, _token(made))
    by_session = console_web.signed_in(made.runtime, "wangli")
    for path in ENDPOINTS:
        assert _ok(by_token, DEMO + path) == _ok(by_session, DEMO + path), path
    engagement = _ok(by_token, DEMO)
    assert engagement["code"] == "DEMO-2026" and engagement["phase"] in ("start", "execution")
    assert engagement["used_minutes"] == 11 * 60 and engagement["used_person_days"] == 1.375
    assert engagement["contracted_person_days"] == 205 + 5  # the SOW's, and CR-1's 3 + 2
    tickets = _ok(by_token, DEMO + "/tickets")["items"]
    assert [t["ref"] for t in tickets] == ["T-1", "T-2", "T-3"]
    first = tickets[0]
    assert first["severity"] == "P2" and first["status"] == "in_progress"
    assert first["reporter"]["name"] == "刘洋" and first["assignee"]["key"] == "zhao.gang"
    assert first["opened_at"] == "2026-11-25T10:00:00+08:00"  # the engagement's time, its offset
    assert first["acked_at"].endswith("+08:00") and first["resolved_at"] is None
    assert tickets[1]["assignee"]["name"] == "李娜"
    logs = _ok(by_token, DEMO + "/worklogs")["items"]
    assert [(w["person"]["name"], w["minutes"], w["target"]["ref"]) for w in logs] == [
        ("赵刚", 240, "T-1"), ("赵刚", 240, "ops_monitoring"), ("李娜", 120, "T-2"),
        ("李娜", 60, "T-2")]  # fmt: skip
    assert logs[0]["level"] == "senior" and logs[0]["person_days"] == 0.5
    assert logs[0]["date"] == "2026-11-25" and logs[0]["voided"] is False
    signatures = _ok(by_token, DEMO + "/signatures")["items"]
    assert {(s["subject"], s["party"]) for s in signatures} == {("CR-1", "vendor"),
                                                                ("CR-1", "client")}  # fmt: skip
    assert all(len(s["content_hash"]) == 64 and not s["voided"] for s in signatures)
    budget = _ok(by_token, DEMO + "/budget")
    senior = next(line for line in budget["levels"] if line["level"] == "senior")
    assert senior["contracted_person_days"] == 63 and senior["used_minutes"] == 480
    assert budget["total"]["left_minutes"] == 210 * 8 * 60 - 660
    assert budget["total"]["used_minutes"] == 660 and budget["burn"]["runs_out"]
    sla = _ok(by_token, DEMO + "/sla", month="2026-11")
    p1 = next(line for line in sla["severities"] if line["severity"] == "P1")
    assert p1["response"] == {"met": 0, "total": 1}  # T-3 is late: an outcome already
    p2 = next(line for line in sla["severities"] if line["severity"] == "P2")
    assert p2["response"] == {"met": 1, "total": 1}  # T-1 acknowledged at once
    assert sla["total"]["response"] == {"met": 1, "total": 2}
    assert _ok(by_token, DEMO + "/sla")["month"] == "2026-11"  # this month by default


def test_a_token_sees_its_one_engagement_only(made: ConsoleHarness, en: ConsoleHarness):
    english = _bearer(made, _token(made, "EN-2026"))
    listed = _ok(english, "/api/v1/engagements")
    assert [e["code"] for e in listed["items"]] == ["EN-2026"] and listed["next_cursor"] is None
    for path in ENDPOINTS:
        answer = english.get(DEMO + path)
        assert answer.status_code == 404, path
        assert answer.json() == {"error": "not_found", "message": "no such engagement",
                                 "details": []}  # fmt: skip
        assert english.get("/api/v1/engagements/EN-2026" + path).status_code == 200
    assert english.get("/api/v1/engagements/NOPE-1/tickets").status_code == 404


def test_an_engineer_signed_in_sees_nothing(made: ConsoleHarness):
    engineer = console_web.signed_in(made.runtime, "zhaogang")
    assert _ok(engineer, "/api/v1/engagements")["items"] == []
    assert engineer.get(DEMO + "/tickets").status_code == 404


def test_no_caller_a_forged_or_a_revoked_token_is_401(made: ConsoleHarness):
    nobody = console_web.client(made.runtime)
    answer = nobody.get(DEMO + "/tickets?limit=0")  # who asks comes first: 401, not 422
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"] == "unauthorized"
    assert _bearer(made, "rt_" + "x" * 43).get(DEMO).status_code == 401
    assert _bearer(made, "x" * 500).get(DEMO).status_code == 401
    basic = console_web.client(made.runtime)
    basic.headers["Authorization"] = "Basic d2FuZ2xpOng="
    assert basic.get(DEMO).status_code == 401
    token = _token(made)
    browser = _bearer(made, token)
    assert browser.get(DEMO).status_code == 200
    with transaction(made.runtime.engine) as session:
        [row] = signin.api_tokens(session)
        assert signin.revoke_api_token(session, row.id or 0, clock.now())
    revoked = browser.get(DEMO)
    assert (
        revoked.status_code == 401 and revoked.json()["message"] == "invalid or revoked API token"
    )


def test_a_token_notes_its_last_use_at_most_once_a_minute(made: ConsoleHarness):
    browser = _bearer(made, _token(made))

    def last_used() -> Any:
        with transaction(made.runtime.engine) as session:
            return session.execute(select(ApiToken)).scalar_one().last_used_at

    assert last_used() is None
    first = clock.now()
    assert browser.get(DEMO + "/tickets?limit=0").status_code == 422  # counted all the same
    assert last_used() == first
    clock.set_now(first + timedelta(seconds=59))
    _ok(browser, DEMO)
    assert last_used() == first
    clock.set_now(first + timedelta(minutes=1))
    _ok(browser, DEMO)
    assert last_used() == first + timedelta(minutes=1)


def test_pages_walk_every_item_exactly_once(made: ConsoleHarness, en: ConsoleHarness):
    for number in range(4, 12):
        made.one("liuyang", f"/工单 P4 问题 {number}")
    browser = _bearer(made, _token(made))
    for path, key in (("/tickets", "ref"), ("/worklogs", "id"), ("/signatures", "id")):
        everything = _ok(browser, DEMO + path, limit=200)
        assert everything["next_cursor"] is None
        for limit in (1, 2, 3):
            walked = _walk(browser, DEMO + path, limit)
            assert [item[key] for item in walked] == [item[key] for item in everything["items"]]
    assert len(_walk(browser, DEMO + "/tickets", 4)) == 11
    page = _ok(browser, DEMO + "/tickets", limit=11)
    assert len(page["items"]) == 11 and page["next_cursor"] is None  # no empty last page
    # The engagements a person sees, a page at a time too.
    director = console_web.signed_in(made.runtime, "qianhao")
    walked = _walk(director, "/api/v1/engagements", 1)
    assert [e["code"] for e in walked] == ["DEMO-2026", "EN-2026"]


def test_a_filter_python_applies_looks_at_so_many_rows_a_page(
    made: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
):
    """`breached` needs each ticket's calendars: a page reads a bounded number of rows, may come
    back short (even empty) with a cursor, and the walk still finds every match once."""
    for number in range(4, 12):
        made.one("liuyang", f"/工单 P4 问题 {number}")
    made.one("wangli", "/工单 P1 又宕机")  # T-12: breached an hour on
    clock.set_now(clock.now() + timedelta(hours=1))
    browser = _bearer(made, _token(made))
    monkeypatch.setattr(api_queries, "_FILTER_BATCH", 3)
    monkeypatch.setattr(api_queries, "SCAN_MAX", 3)
    first = _ok(browser, DEMO + "/tickets", limit=5, breached="true")
    assert [t["ref"] for t in first["items"]] == ["T-3"] and first["next_cursor"]
    walked = _walk(browser, DEMO + "/tickets", 5, breached="true")
    assert [t["ref"] for t in walked] == ["T-3", "T-12"]
    assert len(_walk(browser, DEMO + "/tickets", 2, breached="false")) == 10


def test_filters(made: ConsoleHarness):
    browser = _bearer(made, _token(made))

    def refs(**params: Any) -> list[str]:
        return [t["ref"] for t in _walk(browser, DEMO + "/tickets", 2, **params)]

    assert refs(severity="P1") == ["T-3"]
    assert refs(status="open") == ["T-2", "T-3"]
    assert refs(breached="true") == ["T-3"] and refs(breached="false") == ["T-1", "T-2"]
    assert refs(assignee="li.na") == ["T-2"] and refs(assignee="nobody") == []
    assert refs(opened_after="2026-11-25T10:00:00+08:00") == ["T-1", "T-2", "T-3"]
    assert refs(opened_before="2026-11-25T02:00:00Z") == []
    assert refs(opened_after="2026-11-26T00:00:00+08:00") == []
    assert refs(severity="P3", status="open", breached="false") == ["T-2"]

    def logs(**params: Any) -> list[tuple[str, int]]:
        walked = _walk(browser, DEMO + "/worklogs", 3, **params)
        return [(w["person"]["key"], w["minutes"]) for w in walked]

    assert logs(person="li.na") == [("li.na", 120), ("li.na", 60)]
    assert logs(target="ops_monitoring") == [("zhao.gang", 240)]
    assert len(logs(month="2026-11")) == 4 and logs(month="2026-10") == []
    assert len(logs(**{"from": "2026-11-25", "to": "2026-11-25"})) == 4
    assert logs(**{"from": "2026-11-26"}) == [] and logs(to="2026-11-24") == []
    subjects = _ok(browser, DEMO + "/signatures", subject="CR-1")["items"]
    assert len(subjects) == 2 and _ok(browser, DEMO + "/signatures", subject="scope")["items"] == []


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/tickets", {"limit": 0}, "query.limit"),
        ("/tickets", {"limit": 201}, "query.limit"),
        ("/tickets", {"limit": "many"}, "query.limit"),
        ("/tickets", {"cursor": "not a cursor"}, "query.cursor"),
        ("/tickets", {"cursor": "AAAA"}, "query.cursor"),
        ("/tickets", {"cursor": "dzoz"}, "query.cursor"),  # a work-log cursor ("w:3")
        ("/tickets", {"cursor": "dDo5OTk5OTk5OTk5OTk5"}, "query.cursor"),  # t:9999999999999
        ("/tickets", {"severity": "P9"}, "query.severity"),
        ("/tickets", {"status": "lost"}, "query.status"),
        ("/tickets", {"breached": "maybe"}, "query.breached"),
        ("/tickets", {"assignee": "x" * 65}, "query.assignee"),
        ("/tickets", {"assignee": "li\x00na"}, "query.assignee"),
        ("/tickets", {"opened_after": "2026-11-25T10:00:00"}, "query.opened_after"),  # no offset
        ("/tickets", {"opened_after": "0001-01-01T00:00:00+01:00"}, "query.opened_after"),
        ("/tickets", {"opened_before": "yesterday"}, "query.opened_before"),
        ("/worklogs", {"month": "2026-13"}, "query.month"),
        ("/worklogs", {"month": "0000-01"}, "query.month"),
        ("/worklogs", {"month": "2026-11", "to": "2026-11-30"}, "query.month"),
        ("/worklogs", {"from": "2026-11-30", "to": "2026-11-01"}, "query.from"),
        ("/worklogs", {"from": "2026-02-30"}, "query.from"),
        ("/signatures", {"subject": "CR 1"}, "query.subject"),
        ("/sla", {"month": "9999-12"}, "query.month"),
        ("/sla", {"month": "2026-1"}, "query.month"),
    ],
)
def test_a_bad_parameter_is_a_422_that_says_which(
    made: ConsoleHarness, path: str, params: dict[str, Any], parameter: str
):
    answer = _bearer(made, _token(made)).get(DEMO + path, params=params)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid_request" and body["message"]
    assert [d["parameter"] for d in body["details"]] == [parameter]


def test_a_bad_code_is_422_and_an_unknown_path_404(made: ConsoleHarness):
    browser = _bearer(made, _token(made))
    assert browser.get("/api/v1/engagements/" + "x" * 41).status_code == 422
    missing = browser.get("/api/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert browser.post(DEMO + "/tickets").status_code == 405  # reading only


def test_the_schema_lists_every_read_and_nothing_else(demo: ConsoleHarness):
    browser = console_web.client(demo.runtime)
    schema = _ok(browser, "/api/openapi.json")
    paths = {
        "/v1/engagements", "/v1/engagements/{code}", "/v1/engagements/{code}/tickets",
        "/v1/engagements/{code}/worklogs", "/v1/engagements/{code}/signatures",
        "/v1/engagements/{code}/budget", "/v1/engagements/{code}/sla",
        "/v1/engagements/{code}/obligations",
    }  # fmt: skip
    assert set(schema["paths"]) == paths  # no webhook, sign-in, page or evidence route
    assert "webhooks" not in schema
    for path, operations in schema["paths"].items():
        assert set(operations) == {"get"}, path
        responses = operations["get"]["responses"]
        assert {"200", "401", "422"} <= set(responses), path
        assert ("404" in responses) == ("{code}" in path), path
        for status in ("401", "422"):
            assert responses[status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
    assert set(schema["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyCookie"}
    assert browser.get("/openapi.json").status_code == 404  # the server's own: none
    # The schema's enumerations are the catalogue's.
    assert set(get_args(api_models.Severity)) == set(SEVERITIES)
    assert set(get_args(api_models.TicketStatus)) == set(STATES)
