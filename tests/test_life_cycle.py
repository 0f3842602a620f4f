"""A whole engagement through the console: start-up, scope, a change request, a delay, a
blocker, work logs, delivery and acceptance, the monthly close — then the audit chain holds."""

from __future__ import annotations

from app.cli import main
from tests.harness import ConsoleHarness


def test_full_life_cycle_and_the_audit_chain(demo: ConsoleHarness, db_url: str, capsys) -> None:
    d = demo
    d.at("2026-11-02T10:00:00+08:00")  # a Monday
    for item in ("1", "2", "3", "4", "5"):
        assert d.one("wangli", f"/完成 {item}").kind.startswith("checklist")
    d.one("sunwei", "/完成 6 简历已发")
    d.one("sunwei", "/完成 7 NDA 已签")
    d.one(
        "sunwei",
        '/任务 新增 "订单数据同步" est=3d level=senior prio=high due=2026-11-20 owner=@zhaogang',
    )
    d.one("sunwei", '/任务 新增 "报表迁移" est=2d level=mid due=2026-11-25 owner=@lina')
    d.one("sunwei", "/范围 签署")
    assert d.one("wangli", "/范围 签署").kind == "scope.baselined"

    d.at("2026-11-03T10:00:00+08:00")
    assert d.one("liuyang", '/变更 "新增库存报表" 每日推送').kind == "cr.filed"
    d.one("sunwei", "/评估 CR-1 senior=1")
    d.one("wangli", "/签署 CR-1")
    assert d.one("sunwei", "/签署 CR-1").kind == "cr.effective"
    assert d.one("sunwei", '/任务 新增 "库存报表" est=1d level=senior cr=CR-1').kind == "task.added"

    assert d.one("chenjing", '/阻塞 "环境访问延迟：VPN 未开通" task=K-1').kind == "blocker.opened"
    d.at("2026-11-04T10:00:00+08:00")
    assert d.one("chenjing", "/解除 B-1 VPN 已开通").kind == "blocker.cleared"
    assert d.one("zhaogang", "/延期 K-1 2026-11-24 VPN 晚开通一天").kind == "plan.delay"

    for day in ("2026-11-04", "2026-11-05", "2026-11-06"):
        d.at(f"{day}T17:00:00+08:00")
        assert d.one("zhaogang", "/报工 1d K-1 同步开发").kind == "worklog.logged"
    d.one("lina", "/报工 1d K-2 报表迁移")
    d.one("zhaogang", "/报工 1d CR-1 date=2026-11-05 ot=yes 库存报表")

    d.at("2026-11-10T10:00:00+08:00")
    assert (
        d.one("sunwei", '/交付 K-1 "同步程序 v1" https://git.example/sync').kind
        == "delivery.submitted"
    )
    assert d.one("wangli", "/验收 D-1").kind == "delivery.accepted"
    assert (
        d.one("sunwei", '/交付 CR-1 "库存报表" https://bi.example/stock').kind
        == "delivery.submitted"
    )
    assert d.one("wangli", "/驳回 D-2 缺少导出按钮").kind == "delivery.rejected"
    d.one(
        "sunwei",
        '/培训 "运维手册培训" 2026-11-10 attendees=陈静,刘洋 manual=https://wiki.example/ops',
    )

    d.at("2026-12-01T10:00:00+08:00")
    assert d.one("sunwei", "/结算 关闭 2026-11").kind == "period.closed"
    assert d.one("wangli", "/结算 确认 2026-11").kind == "period.confirmed"
    status = d.one("liuyang", "/进度").text
    assert "阶段：2 日常执行" in status and "范围：基线 v1 已签署" in status
    missing = d.one("liuyang", "/结项").text
    assert "K-2" in missing  # still open: a task not done

    capsys.readouterr()
    assert main(["--db", db_url, "audit", "verify"]) == 0
    assert "chain intact" in capsys.readouterr().out
