"""Monitoring alerts into tickets (#16 part 2), through real HTTP on the real database:
tokens, Alertmanager (webhook v4), Zabbix and generic payloads, re-fires, recoveries, flaps,
storms and redeliveries."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import col

from app.runtime import Runtime
from bot import clock
from bot.scheduler import run_job
from config.settings import DEMO_ENGAGEMENT
from handlers import alerts
from storage.db import transaction
from storage.models import Engagement, OutboxMessage, Ticket, TicketEvent
from storage.models_alerts import AlertGroup
from tests import console_web
from tests.harness import ConsoleHarness

PAYLOADS = Path(__file__).parent / "payloads" / "alerts"
SECTION = """
[alerts]
severity_map = { critical = "P1", high = "P2", warning = "P3" }
default_severity = "P4"
routes = [{ match = { team = "bigdata" }, service = "bigdata_dev" }]
resolve_on_recovery = {resolve}
flap_minutes = 30
max_posts_per_minute = 3
"""


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def setup(runtime: Runtime, tmp_path: Path, *, resolve: bool = True) -> tuple[TestClient, str]:
    text = DEMO_ENGAGEMENT.read_text(encoding="utf-8") + SECTION.replace(
        "{resolve}", "true" if resolve else "false"
    )
    path = tmp_path / "alerts.toml"
    path.write_text(text, encoding="utf-8")
    ConsoleHarness(runtime).apply(path)
    with transaction(runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalars().first()
        assert engagement is not None and engagement.id is not None
        token = alerts.create_token(session, engagement.id, "prometheus", clock.now())
    return console_web.client(runtime), token  # the server's own app, routes as served


def post(client: TestClient, token: str, source: str, body: Any) -> Any:
    return client.post(f"/webhooks/alerts/{source}", json=body,
                       headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def tickets(runtime: Runtime) -> list[Ticket]:
    with transaction(runtime.engine) as session:
        rows = session.execute(select(Ticket).order_by(col(Ticket.id))).scalars()
        return [Ticket.model_validate(t.model_dump()) for t in rows]


def history(runtime: Runtime, ticket_id: int | None) -> list[tuple[str, str]]:
    with transaction(runtime.engine) as session:
        rows = session.execute(select(TicketEvent).where(col(TicketEvent.ticket_id) == ticket_id)
                               .order_by(col(TicketEvent.id))).scalars()  # fmt: skip
        return [(e.kind, e.text) for e in rows]


def posts(runtime: Runtime) -> list[OutboxMessage]:
    with transaction(runtime.engine) as session:
        query = select(OutboxMessage).where(col(OutboxMessage.kind).startswith("alert."))
        return [OutboxMessage.model_validate(m.model_dump()) for m in session.execute(query).scalars()]  # fmt: skip


def test_no_token_or_a_bad_one_is_401_and_changes_nothing(runtime: Runtime, tmp_path: Path) -> None:
    client, token = setup(runtime, tmp_path)
    body = payload("alertmanager_firing")
    assert client.post("/webhooks/alerts/alertmanager", json=body).status_code == 401
    assert post(client, "ra_wrong", "alertmanager", body).status_code == 401
    assert post(client, token[:-2], "generic", payload("generic")).status_code == 401
    with transaction(runtime.engine) as session:
        [row] = alerts.tokens(session)
        assert alerts.revoke_token(session, row.id or 0, clock.now())
    assert post(client, token, "alertmanager", body).status_code == 401
    assert tickets(runtime) == []


def test_bad_json_or_shape_is_400(runtime: Runtime, tmp_path: Path) -> None:
    client, token = setup(runtime, tmp_path)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/webhooks/alerts/generic", content=b"{not json",
                       headers=headers).status_code == 400  # fmt: skip
    assert post(client, token, "alertmanager", {"version": "4", "alerts": []}).status_code == 400
    assert post(client, token, "zabbix", {"event_id": "1"}).status_code == 400
    assert post(client, token, "generic", [1, 2]).status_code == 400
    assert tickets(runtime) == []


def test_alertmanager_fire_refire_resolve_flap(runtime: Runtime, tmp_path: Path) -> None:
    client, token = setup(runtime, tmp_path)
    firing = payload("alertmanager_firing")
    answer = post(client, token, "alertmanager", firing)
    assert answer.status_code == 200 and answer.json()["actions"] == ["open"]
    [ticket] = tickets(runtime)
    assert ticket.severity == "P1" and ticket.service == "bigdata_dev"
    assert ticket.opened_at == datetime.fromisoformat("2026-11-25T01:50:00.123456+00:00")
    assert "HiveServer2Down" in ticket.title and "team=bigdata" in ticket.title
    [(kind, opened)] = history(runtime, ticket.id)
    assert kind == "opened" and "prometheus.bd.example" in opened and "description:" in opened
    # The same delivery again: nothing changes.
    again = post(client, token, "alertmanager", firing)
    assert again.json() == {"duplicate": True, "actions": []}
    assert len(history(runtime, ticket.id)) == 1
    # A re-fire (Alertmanager's repeat: endsAt moved on) is a note on the same ticket.
    clock.set_now(clock.now() + timedelta(minutes=5))
    firing["alerts"][0]["endsAt"] = "2026-11-25T02:09:00Z"
    assert post(client, token, "alertmanager", firing).json()["actions"] == ["note"]
    assert len(tickets(runtime)) == 1 and history(runtime, ticket.id)[-1][0] == "note"
    # Recovered: resolved, pending the client's confirmation.
    clock.set_now(clock.now() + timedelta(minutes=5))
    assert post(client, token, "alertmanager", payload("alertmanager_resolved")).json()[
        "actions"] == ["resolve"]  # fmt: skip
    [ticket] = tickets(runtime)
    assert ticket.status == "resolved" and ticket.resolved_at == clock.now()
    # Firing again ten minutes later: flapping, the same ticket reopened.
    clock.set_now(clock.now() + timedelta(minutes=10))
    firing["alerts"][0]["endsAt"] = "2026-11-25T02:30:00Z"
    assert post(client, token, "alertmanager", firing).json()["actions"] == ["reopen"]
    [ticket] = tickets(runtime)
    assert ticket.status == "open" and ticket.resolved_at is None
    kinds = [kind for kind, _ in history(runtime, ticket.id)]
    assert kinds == ["opened", "note", "resolved", "reopened"]
    assert [p.kind for p in posts(runtime)] == ["alert.opened", "alert.resolved", "alert.reopened"]


def test_recovery_is_a_note_unless_the_engagement_resolves(
    runtime: Runtime, tmp_path: Path
) -> None:
    client, token = setup(runtime, tmp_path, resolve=False)
    post(client, token, "alertmanager", payload("alertmanager_firing"))
    answer = post(client, token, "alertmanager", payload("alertmanager_resolved"))
    assert answer.json()["actions"] == ["note"]
    [ticket] = tickets(runtime)
    assert ticket.status == "open"
    assert post(client, token, "alertmanager", payload("alertmanager_resolved")).json()[
        "duplicate"]  # fmt: skip


def test_zabbix_problem_and_recovery(runtime: Runtime, tmp_path: Path) -> None:
    client, token = setup(runtime, tmp_path)
    assert post(client, token, "zabbix", payload("zabbix_problem")).json()["actions"] == ["open"]
    [ticket] = tickets(runtime)
    assert ticket.severity == "P2" and ticket.service == "bigdata_dev"
    assert ticket.opened_at == datetime.fromisoformat("2026-11-25T09:55:00+08:00")
    assert "bd-dn-07" in ticket.title
    assert post(client, token, "zabbix", payload("zabbix_recovery")).json()["actions"] == [
        "resolve"]  # fmt: skip
    assert tickets(runtime)[0].status == "resolved"


def test_generic_payload_and_bounded_start(runtime: Runtime, tmp_path: Path) -> None:
    client, token = setup(runtime, tmp_path)
    assert post(client, token, "generic", payload("generic")).json()["actions"] == ["open"]
    future = {**payload("generic"), "dedupe_key": "future", "starts_at": "2027-01-01T00:00:00Z"}
    ancient = {**payload("generic"), "dedupe_key": "old", "starts_at": "2020-01-01T00:00:00Z",
               "labels": {}, "severity": "unknown"}  # fmt: skip
    post(client, token, "generic", future)
    post(client, token, "generic", ancient)
    first, later, old = tickets(runtime)
    assert first.severity == "P3" and first.opened_at == datetime.fromisoformat(
        "2026-11-25T09:30:00+08:00")  # fmt: skip
    assert later.opened_at == clock.now()
    assert old.opened_at == clock.now() - timedelta(days=1) and old.severity == "P4"
    assert old.service is None or old.service == "ops_monitoring"
    assert "out of bounds" in history(runtime, old.id)[0][1] or "超出范围" in history(
        runtime, old.id)[0][1]  # fmt: skip


def test_a_storm_opens_one_ticket_per_group_and_posts_a_summary(
    runtime: Runtime, tmp_path: Path
) -> None:
    client, token = setup(runtime, tmp_path)
    for i in range(300):  # 300 alerts in 30 groups, all within the same minute
        body = {"dedupe_key": f"group-{i % 30}", "title": f"disk full #{i % 30}",
                "severity": "critical", "labels": {"host": f"dn-{i}"}}  # fmt: skip
        assert post(client, token, "generic", body).status_code == 200
    assert len(tickets(runtime)) == 30
    with transaction(runtime.engine) as session:
        held = session.execute(select(func.count()).select_from(AlertGroup)
                               .where(col(AlertGroup.held_at).is_not(None))).scalar_one()  # fmt: skip
    assert held == 27
    [job] = [j for j in runtime.jobs if j.name == "alerts.summary"]  # as the scheduler runs it
    assert run_job(runtime.engine, job, runtime.vocabulary, clock.now())
    assert run_job(runtime.engine, job, runtime.vocabulary, clock.now())  # nothing more to say
    sent = posts(runtime)
    chats = {p.recipient for p in sent}
    per_chat = len(sent) // len(chats)
    assert per_chat == 4, [p.kind for p in sent]  # 3 tickets, then one summary
    summary = [p for p in sent if p.kind == "alert.summary"]
    assert len(summary) == len(chats) and "27" in summary[0].text


@pytest.mark.parametrize("source", ["alertmanager", "zabbix", "generic"])
def test_each_route_needs_a_token(runtime: Runtime, tmp_path: Path, source: str) -> None:
    client, _ = setup(runtime, tmp_path)
    assert client.post(f"/webhooks/alerts/{source}", json={},
                       headers={"Authorization": "Basic abc"}).status_code == 401  # fmt: skip
