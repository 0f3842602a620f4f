"""Signatures as rows, through the console: the monthly close signs like the scope and change
requests do, a signature on content that changed no longer counts, and /sign and /reject route
by the reference's prefix."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot import clock
from handlers import signing, statement
from handlers.declared import signing as declared_signing
from storage.db import transaction
from storage.models import Engagement, Period, Person, Signature, WorkLog
from tests.harness import ConsoleHarness


def signatures(harness: ConsoleHarness, subject: str) -> list[tuple[str, str, bool]]:
    """(person key, party, void) of every signature on `subject`, oldest first."""
    with transaction(harness.runtime.engine) as session:
        rows = session.execute(
            select(Signature, Person.key)
            .join(Person, col(Person.id) == col(Signature.person_id))
            .where(col(Signature.subject) == subject)
            .order_by(col(Signature.id))
        ).all()
        return [(key, s.party, s.voided_at is not None) for s, key in rows]


@pytest.fixture
def month(demo: ConsoleHarness) -> ConsoleHarness:
    demo.at("2026-11-25T17:00:00+08:00")
    demo.one("liuyang", "/工单 P2 报表慢")
    demo.one("zhaogang", "/报工 1d T-1 排查")
    demo.at("2026-12-01T10:00:00+08:00")
    return demo


def test_the_monthly_close_is_two_signatures_on_the_statement(month: ConsoleHarness) -> None:
    month.one("sunwei", "/结算 关闭 2026-11")
    assert signatures(month, "2026-11") == [("sun.wei", "vendor", False)]
    month.one("wangli", "/结算 重开 2026-11 少了一天")
    assert signatures(month, "2026-11") == [("sun.wei", "vendor", True)]  # void, not deleted
    month.one("sunwei", "/结算 关闭 2026-11")
    assert month.one("wangli", "/结算 确认 2026-11").kind == "period.confirmed"
    assert signatures(month, "2026-11") == [
        ("sun.wei", "vendor", True), ("sun.wei", "vendor", False), ("wang.li", "client", False),
    ]  # fmt: skip
    with transaction(month.runtime.engine) as session:
        eng = session.execute(select(Engagement)).scalar_one()
        built = statement.build(session, eng, "2026-11")
        period = session.execute(select(Period)).scalar_one()
        held = session.execute(
            select(Signature).where(col(Signature.voided_at).is_(None))
        ).scalars()
        assert {s.content_hash for s in held if s.subject == "2026-11"} == {built.content_hash}
        assert (period.status, period.locked, period.content_hash) == (
            "locked",
            True,
            built.content_hash,
        )
    assert built.closed is not None and built.closed.name == "孙伟"
    assert built.confirmed is not None and built.confirmed.name == "王丽"


def test_a_statement_that_changed_after_the_close_is_not_confirmed(month: ConsoleHarness) -> None:
    month.one("sunwei", "/结算 关闭 2026-11")
    with transaction(month.runtime.engine) as session:  # what no command can do to a closed month
        log = session.execute(select(WorkLog)).scalar_one()
        session.add(WorkLog(engagement_id=log.engagement_id, person_id=log.person_id, level=log.level,
                            work_date=date(2026, 11, 26), minutes=60, target_kind="ticket",
                            target_ref="T-1", note="x", created_by_id=log.person_id, created_at=clock.now()))  # fmt: skip
    refused = month.one("wangli", "/结算 确认 2026-11")
    assert refused.kind == "error.state" and "/结算 重开 2026-11" in refused.text
    assert signatures(month, "2026-11") == [("sun.wei", "vendor", False)]
    month.one("wangli", "/结算 重开 2026-11 结算单有变化")
    month.one("sunwei", "/结算 关闭 2026-11")
    assert month.one("wangli", "/结算 确认 2026-11").kind == "period.confirmed"


def test_a_scope_signature_on_an_older_task_list_no_longer_counts(demo: ConsoleHarness) -> None:
    demo.at("2026-11-25T10:00:00+08:00")
    demo.one(
        "sunwei", '/任务 新增 "订单数据同步" est=2d level=senior due=2026-12-10 owner=@zhaogang'
    )
    assert demo.one("sunwei", "/范围 签署").kind == "scope.signed"
    assert demo.one("zhaogang", "/延期 K-1 2026-12-20 接口文档晚到").kind == "plan.delay"
    waiting = demo.one("wangli", "/范围 签署")  # the PM signed the plan before the delay
    assert waiting.kind == "scope.signed" and "等待厂商项目经理签署" in waiting.text
    assert signatures(demo, "scope") == [("sun.wei", "vendor", True), ("wang.li", "client", False)]
    assert demo.one("sunwei", "/范围 签署").kind == "scope.baselined"


def test_sign_and_reject_route_by_prefix() -> None:
    assert set(signing.ROUTES) == {"CR", "D"}
    # the declaration names the prefixes without importing the routes: the two agree
    assert tuple(p for p, r in signing.ROUTES.items() if r.sign) == declared_signing.SIGNED
    assert tuple(p for p, r in signing.ROUTES.items() if r.reject) == declared_signing.REJECTED
    sign, reject = declared_signing.COMMANDS
    assert (sign.name, sign.args[0].prefixes, sign.args[0].metavar) == (
        "sign",
        ("CR",),
        ("CR-n", "CR-n"),
    )
    assert (reject.name, reject.args[0].prefixes) == ("reject", ("CR", "D"))
    assert reject.args[0].metavar == ("CR-n|D-n", "CR-n|D-n")


def test_sign_takes_no_deliverable(demo: ConsoleHarness) -> None:
    assert demo.one("wangli", "/签署 D-1").kind == "error.usage"  # acceptance is /验收
