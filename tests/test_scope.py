"""Tasks, the two-party scope baseline, change requests with two-party sign-off, and delay
notices — end to end through the console with the clock set."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.runtime import Runtime
from config.settings import DEMO_ENGAGEMENT
from storage.db import transaction
from storage.models import AuditEntry, Signature, Task
from tests.harness import ConsoleHarness, english_engagement


def actions(harness: ConsoleHarness) -> list[str]:
    with transaction(harness.runtime.engine) as session:
        return [
            a.action for a in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        ]


@pytest.fixture
def planned(demo: ConsoleHarness) -> ConsoleHarness:
    demo.at("2026-11-25T10:00:00+08:00")
    demo.one(
        "sunwei",
        '/任务 新增 "订单数据同步" est=2d level=senior prio=high due=2026-12-10 owner=@zhaogang',
    )
    demo.one("sunwei", '/任务 新增 "报表迁移" est=1.5 level=中级 prio=中')
    return demo


@pytest.fixture
def baselined(planned: ConsoleHarness) -> ConsoleHarness:
    planned.one("sunwei", "/范围 签署")
    planned.one("wangli", "/范围 签署")
    return planned


def test_tasks_before_the_baseline(planned: ConsoleHarness) -> None:
    listing = planned.one("liuyang", "/任务 列表")
    assert "估算合计 3.5 人天" in listing.text
    assert (
        "K-1 订单数据同步 · 高级工程师 · 优先级高 · 已用 0 / 估算 2 人天 · 计划 2026-12-10"
        in listing.text
    )
    edited = planned.one("sunwei", "/任务 修改 K-2 est=2d")
    assert edited.kind == "task.edited" and "估算 2 人天" in edited.text
    assert planned.one("zhaogang", '/任务 新增 "x" est=1d level=senior').kind == "error.permission"
    assert planned.one("sunwei", '/任务 新增 "x" est=1d').kind == "error.usage"
    assert planned.one("sunwei", '/任务 新增 "x" est=abc level=senior').kind == "error.usage"
    refused = planned.one("zhaogang", "/报工 4h K-1 x")
    assert refused.kind == "error.state" and "/范围 签署" in refused.text


def test_scope_is_baselined_when_both_parties_sign(planned: ConsoleHarness) -> None:
    first = planned.one("sunwei", "/范围 签署")
    assert first.kind == "scope.signed" and "等待甲方审批人" in first.text
    assert planned.one("sunwei", "/范围 签署").kind == "error.state"
    assert planned.one("zhoumin", "/范围 签署").kind == "error.permission"
    assert (
        planned.one("liuyang", "/范围 签署").kind == "error.permission"
    )  # a member, not the approver
    done = planned.one("wangli", "/范围 签署")
    assert done.kind == "scope.baselined" and "范围基线 v1" in done.text
    assert "scope.baselined" in actions(planned)
    assert "v1" in planned.one("liuyang", "/范围").text
    assert planned.one("zhaogang", "/报工 4h K-1 开发").kind == "worklog.logged"
    assert "已用 0.5 / 估算 2 人天" in planned.one("liuyang", "/任务 K-1").text


def test_a_change_before_the_second_signature_voids_the_first(planned: ConsoleHarness) -> None:
    planned.one("wangli", "/范围 签署")
    planned.one("sunwei", '/任务 新增 "监控告警" est=1d level=junior')
    assert ("scope.voided", "person", "wang.li") in planned.kinds(kind="scope.voided")
    assert planned.one("sunwei", "/范围 签署").kind == "scope.signed"  # waits for the client again
    assert planned.one("wangli", "/范围 签署").kind == "scope.baselined"


def test_after_the_baseline_scope_changes_only_through_change_requests(
    baselined: ConsoleHarness,
) -> None:
    refused = baselined.one("sunwei", '/任务 新增 "新报表" est=1d level=mid')
    assert refused.kind == "error.state" and "cr=CR-n" in refused.text
    frozen = baselined.one("sunwei", "/任务 修改 K-1 est=5d")
    assert frozen.kind == "error.state" and "/变更" in frozen.text
    assert baselined.one("sunwei", "/范围 签署").kind == "error.state"


def test_change_request_life_cycle(baselined: ConsoleHarness) -> None:
    filed = baselined.one("liuyang", '/变更 "新增库存报表" 每日 8 点推送库存汇总')
    assert (filed.kind, filed.ref) == ("cr.filed", "CR-1")
    assert baselined.one("zhaogang", "/签署 CR-1").kind == "error.permission"
    assert baselined.one("sunwei", "/签署 CR-1").kind == "error.state"  # no estimate yet
    estimated = baselined.one("sunwei", "/评估 CR-1 senior=3 mid=2 due=+5d")
    assert estimated.kind == "cr.estimated" and "合计 5 人天" in estimated.text
    assert baselined.one("sunwei", "/签署 CR-1").kind == "cr.signed"
    assert baselined.one("sunwei", "/签署 CR-1").kind == "error.state"  # the same person twice
    assert (
        baselined.one("liuyang", "/签署 CR-1").kind == "error.permission"
    )  # a member, not the approver
    assert baselined.one("zhaogang", "/报工 1h CR-1 x").kind == "error.state"  # not effective yet
    effective = baselined.one("wangli", "/签署 CR-1")
    assert effective.kind == "cr.effective" and "预算增加" in effective.text
    assert "高级工程师：合同 63" in baselined.one("wangli", "/预算").text
    assert (
        baselined.one("sunwei", '/任务 新增 "库存报表" est=3d level=senior cr=CR-1').kind
        == "task.added"
    )
    assert baselined.one("zhaogang", "/报工 2h CR-1 需求分析").kind == "worklog.logged"
    assert baselined.one("sunwei", "/评估 CR-1 senior=4").kind == "error.state"  # effective: frozen
    assert baselined.one("wangli", "/驳回 CR-1 算了").kind == "error.state"
    shown = baselined.one("liuyang", "/变更 CR-1")
    assert shown.kind == "cr.show" and "孙伟" in shown.text and "王丽" in shown.text
    assert "CR-1 已生效" in baselined.one("liuyang", "/变更 列表").text
    for action in ("cr.filed", "cr.estimated", "cr.signed", "cr.effective"):
        assert action in actions(baselined)


def test_two_signers_of_one_party_are_refused(runtime: Runtime, tmp_path: Path) -> None:
    text = DEMO_ENGAGEMENT.read_text(encoding="utf-8")
    text = text.replace('roles = ["customer_manager"]', 'roles = ["customer_manager", "vendor_pm"]')
    path = tmp_path / "two-pms.toml"
    path.write_text(text, encoding="utf-8")
    harness = ConsoleHarness(runtime)
    harness.apply(path)
    harness.one("liuyang", '/变更 "x" y')
    harness.one("sunwei", "/评估 CR-1 mid=1")
    harness.one("sunwei", "/签署 CR-1")
    refused = harness.one("zhoumin", "/签署 CR-1")
    assert refused.kind == "error.state" and "孙伟" in refused.text and "另一方" in refused.text


def test_re_estimating_voids_signatures_and_shows_the_diff(baselined: ConsoleHarness) -> None:
    baselined.one("sunwei", '/cr "API 限流" 为开放接口加限流')
    baselined.one("sunwei", "/评估 CR-1 senior=2")
    baselined.one("wangli", "/签署 CR-1")
    replies = baselined.say("sunwei", "/评估 CR-1 senior=3")
    assert [r.kind for r in replies] == ["cr.estimated", "cr.voided"]
    assert "高级工程师 2，合计 2 人天 → 高级工程师 3，合计 3 人天" in replies[1].text
    assert ("cr.voided", "person", "wang.li") in baselined.kinds(kind="cr.voided")
    with transaction(baselined.runtime.engine) as session:
        signature = session.execute(
            select(Signature).where(Signature.subject == "CR-1")
        ).scalar_one()
        assert signature.voided_at is not None
    assert baselined.one("sunwei", "/签署 CR-1").kind == "cr.signed"  # the client must sign again


def test_rejected_change_request(baselined: ConsoleHarness) -> None:
    baselined.one("liuyang", '/变更 "大屏" 新增监控大屏')
    rejected = baselined.one("wangli", "/驳回 CR-1 本期不做")
    assert rejected.kind == "cr.rejected" and "本期不做" in rejected.text
    assert baselined.one("sunwei", "/评估 CR-1 mid=1").kind == "error.state"
    assert baselined.one("zhaogang", "/报工 1h CR-1 x").kind == "error.state"


def test_delay_notice_and_overdue_warning(baselined: ConsoleHarness) -> None:
    baselined.at("2026-12-11T09:00:00+08:00")
    baselined.tick()
    (overdue,) = baselined.outbox(kind="plan.overdue")
    assert overdue.recipient == "sun.wei" and overdue.ref == "K-1"
    baselined.at("2026-12-11T10:00:00+08:00")
    baselined.tick()
    assert len(baselined.outbox(kind="plan.overdue")) == 1  # once per task and date
    assert (
        baselined.one("lina", "/延期 K-1 2026-12-20 x").kind == "error.permission"
    )  # not its engineer
    assert baselined.one("zhaogang", "/延期 K-1 2026-12-01 x").kind == "error.state"  # the past
    notice = baselined.one("zhaogang", "/延期 K-1 2026-12-20 甲方接口文档延迟提供")
    assert notice.kind == "plan.delay" and "2026-12-10 → 2026-12-20（计划 v2）" in notice.text
    assert sorted(r for _, _, r in baselined.kinds(kind="plan.delay") if _ == "person") == [
        "wang.li",
        "zhou.min",
    ]
    assert (
        "计划 v2：2026-12-10 → 2026-12-20（甲方接口文档延迟提供）"
        in baselined.one("liuyang", "/任务 K-1").text
    )
    baselined.at("2026-12-21T09:00:00+08:00")
    baselined.tick()
    assert len(baselined.outbox(kind="plan.overdue")) == 2
    assert "plan.delay" in actions(baselined)
    with transaction(baselined.runtime.engine) as session:
        task = session.execute(select(Task).where(Task.number == 1)).scalar_one()
        assert task.plan_version == 2


def test_scope_and_change_requests_in_english(runtime: Runtime, tmp_path: Path) -> None:
    en = ConsoleHarness(runtime, chat="en-group")
    en.apply(english_engagement(tmp_path))
    en.one("sunwei", '/task add "order sync" est=2d level=senior')
    assert "waiting for the client approver" in en.one("sunwei", "/scope sign").text
    assert "scope baseline v1 is in force" in en.one("wangli", "/scope sign").text
    en.one("liuyang", '/cr "inventory report" daily summary')
    assert "person-days in all" in en.one("sunwei", "/cr estimate CR-1 senior=1").text
    en.one("sunwei", "/sign CR-1")
    assert "effective" in en.one("wangli", "/sign CR-1").text
