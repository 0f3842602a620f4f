"""Delivery and acceptance end to end through the console with the clock set: deliverables
for tasks and effective change requests, acceptance and rejection, training, and /closeout."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.commands import all_commands
from app.runtime import Runtime
from bot import clock
from bot.bus import Bus
from bot.commands import Arg, Command
from bot.registry import Registry
from handlers import closeout, delivery
from handlers.declared import delivery as declared_delivery
from storage.audit import canonical
from storage.db import transaction
from storage.models import (
    AuditEntry,
    ChangeRequest,
    Deliverable,
    Engagement,
    Period,
    Person,
    Task,
    Training,
)
from tests.harness import ConsoleHarness, english_engagement

DESIGN = '/交付 K-1 "同步设计文档" https://docs.example/sync'


def _with_delivery(runtime: Runtime) -> None:
    """The bus with this module's commands, whether or not `handlers` registers them yet."""
    names = {c.name for c in all_commands()}
    extra = [c for c in declared_delivery.COMMANDS if c.name not in names]
    if "reject" not in names:  # the shared /reject (change requests) calls the same hook
        extra.append(Command("reject", ("驳回",), ("", ""),
                             lambda ctx, cmd: delivery.reject(ctx, cmd.arg("ref"), cmd.arg("reason")),
                             args=(Arg("ref", "ref", ("", ""), prefixes=("D",)), Arg("reason", "text", ("", ""))),
                             roles=frozenset({"client_approver", "vendor_pm"})))  # fmt: skip
    runtime.registry = Registry([*all_commands(), *extra])
    runtime.bus = Bus(
        runtime.engine, runtime.registry, runtime.settings.bot.names, vocabulary=runtime.vocabulary
    )


def _seed(harness: ConsoleHarness, code: str) -> None:
    """Task K-1, effective CR-1 and CR-2 still awaiting signatures, as the scope module leaves them."""
    with transaction(harness.runtime.engine) as session:
        eng = session.execute(select(Engagement).where(Engagement.code == code)).scalar_one()
        pm = session.execute(
            select(Person).where(Person.engagement_id == eng.id, Person.key == "sun.wei")
        ).scalar_one()
        now, eid, pid = clock.now(), eng.id or 0, pm.id or 0
        session.add(Task(engagement_id=eid, number=1, title="数据同步", level="senior",
                         estimate_minutes=480, created_by_id=pid, created_at=now))  # fmt: skip
        for number, status in ((1, "effective"), (2, "estimated")):
            session.add(ChangeRequest(engagement_id=eid, number=number, title=f"变更{number}",
                                      status=status, filed_by_id=pid, filed_at=now))  # fmt: skip


@pytest.fixture
def zh(demo: ConsoleHarness) -> ConsoleHarness:
    _with_delivery(demo.runtime)
    _seed(demo, "DEMO-2026")
    return demo


@pytest.fixture
def en(runtime: Runtime, tmp_path: Path) -> ConsoleHarness:
    harness = ConsoleHarness(runtime, chat="en-group")
    harness.apply(english_engagement(tmp_path))
    _with_delivery(runtime)
    _seed(harness, "EN-2026")
    return harness


def row(harness: ConsoleHarness, model: type, **where: object) -> Any:
    with transaction(harness.runtime.engine) as session:
        query = select(model).filter_by(**where)
        return session.execute(query).scalar_one()


def audits(harness: ConsoleHarness, action: str) -> list[dict[str, object]]:
    with transaction(harness.runtime.engine) as session:
        rows = session.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars()
        return [{"ref": a.ref, "actor": a.actor, **json.loads(a.data)} for a in rows]


def dms(harness: ConsoleHarness, kind: str) -> list[str]:
    return sorted(r for _, t, r in harness.kinds(kind=kind) if t == "person")


def test_deliver_for_a_task_and_an_effective_cr(zh: ConsoleHarness) -> None:
    submitted = zh.one("sunwei", DESIGN)
    assert (submitted.kind, submitted.ref) == ("delivery.submitted", "D-1")
    assert "K-1 数据同步" in submitted.text and "待甲方审批人验收" in submitted.text
    assert dms(zh, "delivery.submitted") == ["wang.li"]
    assert "/验收 D-1" in zh.outbox(kind="delivery.submitted", recipient="wang.li")[0].text
    d1 = row(zh, Deliverable, number=1)
    expected = ["DEMO-2026", "D-1", "K-1", "同步设计文档", "https://docs.example/sync"]
    assert d1.content_hash == hashlib.sha256(canonical(expected).encode()).hexdigest()
    assert audits(zh, "delivery.submitted")[0]["hash"] == d1.content_hash
    cr = zh.one("sunwei", "/交付 CR-1 库存报表脚本 已合并到 main 分支")
    assert (cr.kind, cr.ref) == ("delivery.submitted", "D-2")
    assert row(zh, Deliverable, number=2).link == "已合并到 main 分支"


def test_deliver_refusals(zh: ConsoleHarness) -> None:
    unsigned = zh.one("sunwei", "/交付 CR-2 接口文档 https://docs.example/api")
    assert unsigned.kind == "error.state" and "/签署 CR-2" in unsigned.text
    assert zh.one("sunwei", "/交付 K-9 x https://x").kind == "error.not_found"
    assert zh.one("sunwei", "/交付 CR-9 x https://x").kind == "error.not_found"
    assert zh.one("sunwei", '/交付 K-1 "只有名称"').kind == "error.usage"
    refused = zh.one("zhaogang", DESIGN)
    assert refused.kind == "error.permission" and "厂商项目经理" in refused.text
    assert zh.outbox(kind="delivery.submitted") == []


def test_accept_signs_and_completes_the_task(zh: ConsoleHarness) -> None:
    zh.one("sunwei", DESIGN)
    zh.at("2026-11-26T15:00:00+08:00")
    accepted = zh.one("wangli", "/验收 D-1")
    assert (accepted.kind, accepted.ref) == ("delivery.accepted", "D-1")
    assert "王丽 已签署 D-1「同步设计文档」的验收单，K-1 已完成" in accepted.text
    task = row(zh, Task, number=1)
    assert task.status == "done" and task.done_at == clock.now()
    d1 = row(zh, Deliverable, number=1)
    assert d1.status == "accepted" and d1.decided_at == clock.now()
    [entry] = audits(zh, "delivery.accepted")
    assert (entry["ref"], entry["hash"], entry["person"], entry["party"]) == (
        "D-1", d1.content_hash, "wang.li", "client",
    )  # fmt: skip
    assert dms(zh, "delivery.accepted") == ["sun.wei", "zhou.min"]
    twice = zh.one("wangli", "/accept D-1")
    assert twice.kind == "error.state" and "2026-11-26 15:00" in twice.text
    assert zh.one("wangli", "/验收 D-7").kind == "error.not_found"
    listing = zh.one("liuyang", "/交付列表")
    assert (
        listing.kind == "delivery.list"
        and "D-1「同步设计文档」 → K-1 · 已验收 · 王丽" in listing.text
    )


@pytest.mark.parametrize("user", ["sunwei", "liuyang"])
def test_only_the_client_approver_accepts(zh: ConsoleHarness, user: str) -> None:
    zh.one("sunwei", DESIGN)
    refused = zh.one(user, "/验收 D-1")
    assert refused.kind == "error.permission" and "甲方审批人" in refused.text
    assert row(zh, Deliverable, number=1).status == "submitted"


def test_reject_with_reason_then_redeliver(zh: ConsoleHarness) -> None:
    zh.one("sunwei", DESIGN)
    by_pm = zh.one("sunwei", "/驳回 D-1 自己撤回")
    assert by_pm.kind == "error.permission" and "甲方审批人" in by_pm.text
    assert zh.one("wangli", "/驳回 D-1").kind == "error.usage"
    rejected = zh.one("wangli", "/驳回 D-1 缺少部署步骤")
    assert (rejected.kind, rejected.ref) == ("delivery.rejected", "D-1")
    assert "缺少部署步骤" in rejected.text and "/交付" in rejected.text
    assert dms(zh, "delivery.rejected") == ["sun.wei"]
    assert audits(zh, "delivery.rejected")[0]["reason"] == "缺少部署步骤"
    late = zh.one("wangli", "/验收 D-1")
    assert late.kind == "error.state" and "/交付" in late.text
    assert zh.one("wangli", "/驳回 D-1 again").kind == "error.state"
    assert row(zh, Task, number=1).status == "open"
    again = zh.one("sunwei", '/交付 K-1 "同步设计文档 v2" https://docs.example/sync-v2')
    assert again.ref == "D-2" and zh.one("wangli", "/验收 D-2").kind == "delivery.accepted"
    assert row(zh, Task, number=1).status == "done"
    listing = zh.one("sunwei", "/交付列表").text
    assert "D-1「同步设计文档」 → K-1 · 已驳回" in listing and "缺少部署步骤" in listing


def test_training_is_recorded_only_once_held(zh: ConsoleHarness) -> None:
    recorded = zh.one(
        "sunwei", '/培训 "运维交接" 2026-11-20 参加人=王丽,刘洋 手册=https://docs.example/ops'
    )
    assert recorded.kind == "training.recorded" and "王丽,刘洋" in recorded.text
    training = row(zh, Training, topic="运维交接")
    assert training.held_on == date(2026, 11, 20)
    assert training.manual == "https://docs.example/ops"
    assert audits(zh, "training.recorded")[0]["topic"] == "运维交接"
    assert zh.one("wangli", "/培训 today 2026-11-25").kind == "training.recorded"
    future = zh.one("sunwei", '/培训 "数据平台" 2026-11-26')
    assert future.kind == "error.state" and "2026-11-26" in future.text
    assert zh.one("zhaogang", '/培训 "x" 2026-11-20').kind == "error.permission"


def test_closeout_lists_what_is_missing_then_says_ready(zh: ConsoleHarness) -> None:
    zh.at("2027-01-10T10:00:00+08:00")  # November and December have ended
    zh.one("sunwei", DESIGN)
    zh.one("liuyang", "/工单 报表导出超时")
    missing = zh.one("zhaogang", "/结项")
    assert (missing.kind, missing.ref) == ("closeout", "DEMO-2026")
    for line in ("待验收的交付物：D-1", "未完成的任务：K-1", "还没有培训记录", "未关闭的工单：T-1",
                 "未双方签署的月度结算：2026-11、2026-12"):  # fmt: skip
        assert line in missing.text
    zh.one("wangli", "/验收 D-1")
    zh.one("zhaogang", "/解决 T-1 已修复")
    zh.one("liuyang", "/关闭 T-1")
    zh.one("wangli", '/培训 "运维交接" 2027-01-08')
    with transaction(zh.runtime.engine) as session:
        eid = session.execute(select(Engagement.id)).scalar_one()
        session.add(Period(engagement_id=eid, month="2026-11", status="locked"))
        session.add(Period(engagement_id=eid, month="2026-12", status="closed"))  # unconfirmed
    almost = zh.one("liuyang", "/closeout").text
    assert "2026-12" in almost and "2026-11" not in almost and "D-1" not in almost
    with transaction(zh.runtime.engine) as session:
        december = session.execute(select(Period).where(Period.month == "2026-12")).scalar_one()
        december.status = "locked"
    ready = zh.one("liuyang", "/结项")
    assert ready.kind == "closeout" and "DEMO-2026 可以结项" in ready.text


def test_months_to_sign() -> None:
    start, end = date(2026, 11, 1), date(2027, 4, 30)
    assert closeout.months_to_sign(start, end, date(2026, 11, 30)) == []
    assert closeout.months_to_sign(start, end, date(2026, 12, 1)) == ["2026-11"]
    assert closeout.months_to_sign(start, end, date(2027, 1, 10)) == ["2026-11", "2026-12"]
    assert (
        closeout.months_to_sign(start, end, date(2028, 6, 1))[-1] == "2027-04"
    )  # not past the end


def test_summary_lines(zh: ConsoleHarness) -> None:
    zh.one("sunwei", DESIGN)
    zh.one("sunwei", "/交付 CR-1 脚本 https://git.example/x")
    with transaction(zh.runtime.engine) as session:
        eng = session.execute(select(Engagement)).scalar_one()
        assert delivery.summary_lines(session, eng, "zh-CN") == ["待验收交付物 2 个：D-1、D-2"]
        assert delivery.summary_lines(session, eng, "en") == [
            "2 deliverable(s) awaiting acceptance: D-1, D-2"
        ]
    zh.one("wangli", "/验收 D-1")
    zh.one("wangli", "/验收 D-2")
    with transaction(zh.runtime.engine) as session:
        eng = session.execute(select(Engagement)).scalar_one()
        assert delivery.summary_lines(session, eng, "zh-CN") == []


def test_english_engagement(en: ConsoleHarness) -> None:
    submitted = en.one("sunwei", '/deliver K-1 "sync design" https://docs.example/sync')
    assert "Deliverable D-1 'sync design' submitted" in submitted.text
    assert (
        "Accept: /accept D-1" in en.outbox(kind="delivery.submitted", recipient="wang.li")[0].text
    )
    refused = en.one("sunwei", "/accept D-1")
    assert refused.kind == "error.permission" and "client approver" in refused.text
    unsigned = en.one("sunwei", "/deliver CR-2 api https://x")
    assert "is not effective yet" in unsigned.text and "/sign CR-2" in unsigned.text
    assert (
        "signed the acceptance of D-1 'sync design'; K-1 is done"
        in en.one("wangli", "/accept D-1").text
    )
    late = en.one("wangli", "/reject D-1 too late")
    assert late.kind == "error.state" and "D-1 was accepted at" in late.text
    en.at("2026-12-02T10:00:00+08:00")
    closing = en.one("wangli", "/closeout").text
    assert closing.startswith("Before EN-2026 can close:")
    assert (
        "No training recorded" in closing
        and "Months not signed by both parties: 2026-11" in closing
    )
    assert en.one("wangli", "/training handover 2026-12-05").kind == "error.state"
    assert (
        "Training 'handover' on 2026-12-01 recorded"
        in en.one("wangli", "/training handover 2026-12-01").text
    )
