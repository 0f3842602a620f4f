"""DingTalk's HTTP mode (`mode = "http"`), whose signature covers the timestamp but not the
body: each signed pair is accepted once within `http_window_seconds`, across instances, and
what arrives this way may not sign unless `http_allow_signing` says so. Stream mode, the
default, has no HTTP route at all. The serve app's lifespan runs, so replies reach the fake's
robot API as in production."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from adapters.dingtalk.signature import sign
from app.http import create_app
from app.runtime import Runtime, build
from bot import clock
from config.settings import DingtalkSettings, Settings
from handlers.housekeeping import DEDUPE_WINDOW
from storage.db import make_engine, transaction
from storage.models import InboundKey, Signature
from tests.fakes.dingtalk_server import GROUP_PATH, FakeDingtalk
from tests.harness import ConsoleHarness, drain_inbox
from tests.test_dingtalk import CLIENT_ID, ENGAGEMENT, ROBOT, SECRET, SUN_WEI, WANG_LI, until
from tests.test_dingtalk import callback as message

PATH = "/webhooks/dingtalk"
# The vendor PM also has a console identity: estimates are signing commands, which HTTP mode
# refuses, so the PM prepares CR-1 at the console.
HTTP_ENGAGEMENT = ENGAGEMENT.replace(
    f'dingtalk = "{SUN_WEI}"', f'dingtalk = "{SUN_WEI}"\nconsole = "sunwei"'
)


def pair(at: datetime) -> dict[str, str]:
    """The `timestamp` and `sign` headers DingTalk sends with a callback made at `at`."""
    timestamp = str(int(at.timestamp() * 1000))
    return {"timestamp": timestamp, "sign": sign(timestamp, SECRET)}


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeDingtalk]:
    server = FakeDingtalk(client_id=CLIENT_ID, client_secret=SECRET, robot_code=ROBOT).start()
    yield server
    server.stop()


@pytest.fixture
def runtime_with(
    db_url: str, engine: Engine, fake: FakeDingtalk, tmp_path: Path
) -> Callable[..., Runtime]:
    """A runtime over the test's database with the DingTalk channel as given (HTTP mode)."""
    path = tmp_path / "dt.toml"
    path.write_text(HTTP_ENGAGEMENT, encoding="utf-8")

    def make(**dingtalk_settings: Any) -> Runtime:
        section = DingtalkSettings(**{
            "enabled": True, "mode": "http", "client_id": CLIENT_ID, "client_secret": SECRET,
            "robot_code": ROBOT, "api_base": fake.url, **dingtalk_settings,
        })  # fmt: skip
        return build(Settings(db=db_url, dingtalk=section), engine)

    ConsoleHarness(make()).apply(path)
    return make


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """`rentian serve`'s app for `runtime`, lifespan and all (dispatcher, no scheduler)."""
    app = create_app(runtime, scheduler=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rentian.test") as http:
            yield http


@pytest.fixture
async def http(runtime_with: Callable[..., Runtime]) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(runtime_with()) as client:
        yield client


def outbox(runtime: Runtime) -> list[tuple[int, str, str]]:
    drain_inbox(runtime)  # what the callbacks left in the inbox, as its workers would
    return [(r.id or 0, r.kind, r.ref) for r in ConsoleHarness(runtime).outbox()]


def texts(fake: FakeDingtalk) -> list[str]:
    """What the robot said in the group, in order."""
    return [json.loads(c.body["msgParam"])["content"] for c in fake.sends if c.path == GROUP_PATH]


# -- the route exists only in HTTP mode ----------------------------------------------------


async def test_stream_mode_has_no_http_route(runtime_with: Callable[..., Runtime]) -> None:
    runtime = runtime_with(mode="stream")
    app = create_app(runtime, scheduler=False)  # no lifespan: the stream is not started
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rentian.test") as client:
        genuine = message("/工单 P2 报表导出超时")
        assert (await client.post(PATH, json=genuine, headers=pair(clock.now()))).status_code == 404
    assert outbox(runtime) == []


# -- each signed pair once -----------------------------------------------------------------


async def test_a_captured_pair_is_accepted_once_whatever_the_body(
    runtime_with: Callable[..., Runtime], http: httpx.AsyncClient
) -> None:
    runtime = runtime_with()
    captured = pair(clock.now())
    first = message("/进度", msg_id="genuine-1", sender=SUN_WEI)
    assert (await http.post(PATH, json=first, headers=captured)).status_code == 200
    before = outbox(runtime)
    assert [kind for _, kind, _ in before] == ["status"]
    posing = message("/工单 P1 全部系统宕机", msg_id="forged-2", sender=WANG_LI)  # a new body
    for _ in range(2):
        answer = await http.post(PATH, json=posing, headers=captured)
        assert (answer.status_code, answer.json()) == (401, {"error": "replayed"})
    assert outbox(runtime) == before  # nothing changed
    fresh = message("/进度", msg_id="genuine-3", sender=SUN_WEI)  # the next genuine callback
    later = pair(clock.now() + timedelta(milliseconds=1))
    assert (await http.post(PATH, json=fresh, headers=later)).status_code == 200


async def test_a_spent_pair_is_refused_by_every_instance(
    runtime_with: Callable[..., Runtime], db_url: str
) -> None:
    captured = pair(clock.now())
    async with serving(runtime_with()) as one:
        genuine = message("/进度", msg_id="genuine-1", sender=SUN_WEI)
        assert (await one.post(PATH, json=genuine, headers=captured)).status_code == 200
    other_engine = make_engine(db_url)  # another instance on the same database, after a restart
    try:
        other = build(runtime_with().settings, other_engine)
        async with serving(other) as two:
            posing = message("/工单 P1 伪造", msg_id="forged-2", sender=WANG_LI)
            assert (await two.post(PATH, json=posing, headers=captured)).status_code == 401
        assert [kind for _, kind, _ in outbox(other)] == ["status"]
        with transaction(other_engine) as session:
            keys = session.execute(select(InboundKey).where(InboundKey.channel == "dingtalk-sign"))
            assert [k.key for k in keys.scalars()] == [
                f"{captured['timestamp']}:{captured['sign']}"
            ]
    finally:
        other_engine.dispose()


async def test_a_forged_or_stale_pair_is_not_remembered(
    runtime_with: Callable[..., Runtime], http: httpx.AsyncClient
) -> None:
    runtime = runtime_with()
    forged = {"timestamp": pair(clock.now())["timestamp"], "sign": sign("1", "guess")}
    stale = pair(clock.now() - timedelta(minutes=10))
    for headers in (forged, stale):
        response = await http.post(PATH, json=message("/进度", sender=SUN_WEI), headers=headers)
        assert response.status_code == 401
    with transaction(runtime.engine) as session:
        assert session.execute(select(InboundKey)).first() is None


# -- the window --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "offset", "status"),
    [
        (None, timedelta(seconds=-299), 200),  # sent 299 s ago: the default window is 300 s
        (None, timedelta(seconds=-301), 401),  # replayed 5 minutes later
        (None, timedelta(seconds=299), 200),  # our clock a little behind DingTalk's
        (None, timedelta(seconds=301), 401),  # from the future
        (60, timedelta(seconds=-61), 401),  # the operator's own window
        (60, timedelta(seconds=61), 401),
        (60, timedelta(seconds=-59), 200),
    ],
)
async def test_the_window_is_the_setting_both_ways(
    runtime_with: Callable[..., Runtime], window: int | None, offset: timedelta, status: int
) -> None:
    runtime = runtime_with(**({} if window is None else {"http_window_seconds": window}))
    async with serving(runtime) as client:
        body = message("/进度", sender=SUN_WEI)
        response = await client.post(PATH, json=body, headers=pair(clock.now() + offset))
        assert response.status_code == status
    assert len(outbox(runtime)) == (1 if status == 200 else 0)


def test_spent_pairs_outlive_every_window_they_could_be_replayed_in() -> None:
    """A pair stays acceptable from `window` before its timestamp to `window` after: up to
    twice the window after it was spent. The dedupe prune keeps keys far longer than that."""
    with pytest.raises(ValidationError):
        DingtalkSettings(http_window_seconds=3601)
    assert 2 * timedelta(seconds=3600) < DEDUPE_WINDOW


# -- what HTTP mode may do ----------------------------------------------------------------


def prepare_cr(runtime: Runtime) -> None:
    """CR-1 filed and estimated by the PM at the console; it waits for both signatures."""
    console = ConsoleHarness(runtime)
    filed = console.one("sunwei", '/变更 "库存报表" 每日 8 点推送库存汇总', direct=True)
    assert filed.kind == "cr.filed"
    assert console.one("sunwei", "/评估 CR-1 senior=3 mid=2", direct=True).kind == "cr.estimated"


def signatures(runtime: Runtime) -> list[tuple[str, str]]:
    with transaction(runtime.engine) as session:
        rows = session.execute(select(Signature).where(Signature.voided_at.is_(None)))  # type: ignore[union-attr]
        return [(s.subject, s.party) for s in rows.scalars()]


async def test_http_mode_refuses_signing_but_not_everyday_work(
    runtime_with: Callable[..., Runtime], fake: FakeDingtalk
) -> None:
    runtime = runtime_with()
    prepare_cr(runtime)
    async with serving(runtime) as client:
        sign = message("/签署 CR-1", msg_id="sign-1", sender=WANG_LI)
        assert (await client.post(PATH, json=sign, headers=pair(clock.now()))).status_code == 200
        await until(lambda: len(texts(fake)) == 1)
        status = message("/进度", msg_id="status-2", sender=WANG_LI)
        later = pair(clock.now() + timedelta(milliseconds=1))
        assert (await client.post(PATH, json=status, headers=later)).status_code == 200
        await until(lambda: len(texts(fake)) == 2)
    refusal, progress = texts(fake)
    assert "/签署" in refusal and "确认身份" in refusal  # the command and why
    group_rows = [(kind, ref) for _, kind, ref in outbox(runtime)[-2:]]
    assert group_rows == [("error.permission", ""), ("status", "DT-2026")]
    assert "DT-2026" in progress
    assert signatures(runtime) == []  # CR-1 stays unsigned


async def test_http_allow_signing_lets_the_approver_sign(
    runtime_with: Callable[..., Runtime], fake: FakeDingtalk
) -> None:
    runtime = runtime_with(http_allow_signing=True)
    prepare_cr(runtime)
    async with serving(runtime) as client:
        sign = message("/签署 CR-1", msg_id="sign-1", sender=WANG_LI)
        assert (await client.post(PATH, json=sign, headers=pair(clock.now()))).status_code == 200
        await until(lambda: len(texts(fake)) == 1)
    assert outbox(runtime)[-1][1:] == ("cr.signed", "CR-1")
    assert signatures(runtime) == [("CR-1", "client")]
