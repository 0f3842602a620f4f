"""What each degree of certainty about the sender allows (bot.assurance), and the bus refusing
a signature that arrives with too little of it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from adapters import console
from bot import clock
from bot.assurance import EVERYDAY, INTAKE, SIGNING, Assurance, permits
from storage.db import transaction
from storage.models import Engagement
from tests.harness import ConsoleHarness


@pytest.mark.parametrize(
    ("assurance", "allowed"),
    [
        (Assurance.PLATFORM, {INTAKE, EVERYDAY, SIGNING}),
        (Assurance.DOMAIN, {INTAKE, EVERYDAY}),
        (Assurance.REPLAYABLE, {INTAKE, EVERYDAY}),
        (Assurance.ADDRESS, {INTAKE}),
    ],
)
def test_what_each_assurance_permits(assurance: Assurance, allowed: set[Assurance]) -> None:
    assert {n for n in (INTAKE, EVERYDAY, SIGNING) if permits(assurance, n)} == allowed


def test_only_a_domain_vouched_mail_may_sign_and_only_where_the_engagement_allows_it() -> None:
    assert permits(Assurance.DOMAIN, SIGNING, email_signing=True)
    assert not permits(Assurance.REPLAYABLE, SIGNING, email_signing=True)
    assert not permits(Assurance.ADDRESS, SIGNING, email_signing=True)


def _say(demo: ConsoleHarness, user: str, text: str, assurance: Assurance) -> str:
    inbound = console.parse("demo-group", user, text, now=clock.now())
    (reply, *_) = demo.runtime.bus.handle(replace(inbound, assurance=assurance)).replies
    return reply.kind


def test_the_bus_refuses_what_the_sender_is_not_proven_enough_for(demo: ConsoleHarness) -> None:
    demo.say("liuyang", '/变更 "新增库存报表" 每日 8 点推送库存汇总')
    demo.say("sunwei", "/评估 CR-1 senior=3")
    assert _say(demo, "wangli", "/签署 CR-1", Assurance.REPLAYABLE) == "error.permission"
    assert _say(demo, "wangli", "/签署 CR-1", Assurance.DOMAIN) == "error.permission"
    assert _say(demo, "liuyang", "/进度", Assurance.ADDRESS) == "error.permission"
    assert _say(demo, "liuyang", "/工单 P3 报表慢", Assurance.ADDRESS) == "ticket.opened"
    assert _say(demo, "liuyang", "/进度", Assurance.REPLAYABLE) == "status"
    with transaction(demo.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalars().first()
        assert engagement is not None
        engagement.rules = {**(engagement.rules or {}), "email_signing": True}
    assert _say(demo, "wangli", "/签署 CR-1", Assurance.DOMAIN) != "error.permission"
    assert _say(demo, "sunwei", "/签署 CR-1", Assurance.PLATFORM) == "cr.effective"
