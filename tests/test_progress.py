"""Progress syncs, weekly reports and the morning digest across a realistic week with the clock
set: the National Day holiday (10-01..07) and the make-up Saturday 10-10 of 2026."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.runtime import Runtime
from tests.harness import ConsoleHarness, demo_text


@pytest.fixture
def autumn(runtime: Runtime, tmp_path: Path) -> ConsoleHarness:
    """The demo engagement started in September, applied (and its chat bound) on 10-05."""
    text = demo_text(obligations=False).replace(
        "start = 2026-11-01", "start = 2026-09-01"
    )
    path = tmp_path / "autumn.toml"
    path.write_text(text, encoding="utf-8")
    harness = ConsoleHarness(runtime)
    harness.at("2026-10-05T09:00:00+08:00")  # a holiday Monday
    harness.apply(path)
    return harness


def posts(harness: ConsoleHarness, kind: str) -> list:
    return harness.outbox(kind=kind)


def test_no_sync_on_holidays_then_one_at_the_time_on_a_working_day(autumn: ConsoleHarness) -> None:
    for moment in (
        "2026-10-05T17:40:00+08:00",
        "2026-10-07T18:00:00+08:00",
        "2026-10-08T17:29:00+08:00",
    ):
        autumn.at(moment)
        autumn.tick()
    assert posts(autumn, "progress.sync") == []
    autumn.at("2026-10-08T17:30:00+08:00")
    autumn.tick()
    autumn.at("2026-10-08T17:36:00+08:00")
    autumn.tick()
    (sync,) = posts(autumn, "progress.sync")
    assert (sync.recipient, sync.ref) == ("demo-group", "2026-10-08")
    head, anchor = sync.text.splitlines()  # the sync ends with the audit chain's head
    assert head == "📊 DEMO-2026 进度同步 2026-10-08：今日无新进展，无待办事项。"
    assert anchor.startswith("🔗 审计链 #1·")


def test_the_sync_reports_the_day(autumn: ConsoleHarness) -> None:
    autumn.at("2026-10-08T10:00:00+08:00")
    autumn.one("liuyang", "/工单 P2 svc=bigdata_dev 报表导出超时")
    autumn.one("liuyang", "/工单 P4 咨询导出格式")
    autumn.one("zhaogang", "/报工 4h T-1 排查")
    autumn.one("zhaogang", "/解决 T-2 已答复")
    autumn.one("chenjing", '/阻塞 "VPN 未开通"')
    autumn.one("sunwei", '/任务 新增 "同步程序" est=2d level=senior due=2026-10-10 owner=@zhaogang')
    autumn.one("liuyang", '/变更 "新报表" 说明')
    autumn.one("sunwei", "/评估 CR-1 senior=1")
    autumn.one("sunwei", "/签署 CR-1")
    autumn.at("2026-10-08T17:30:00+08:00")
    autumn.tick()
    (sync,) = posts(autumn, "progress.sync")
    text = sync.text
    assert "今日报工 0.5 人天：\n· 赵刚 0.5 → T-1" in text
    assert "工单：新开 T-1、T-2；解决 T-2" in text
    assert "· T-1 P2 报表导出超时 · 🔴 已超时" in text  # 30 min response, never acknowledged
    assert "· B-1 VPN 未开通 · 陈静 · 已 7小时30分" in text
    assert "✍️ CR-1 待签署：甲方审批人" in text
    assert "· K-1 同步程序 · 2026-10-10 · 赵刚" in text  # Saturday 10-10 is a working day
    assert "💰 人天 0.5/205" in text
    status = autumn.one("wangli", "/进度").text
    assert "今日报工 0.5 人天" in status and "✍️ CR-1 待签署" in status


def test_a_missed_sync_is_posted_late_once_and_the_week_ends_on_the_make_up_saturday(
    autumn: ConsoleHarness,
) -> None:
    autumn.at("2026-10-08T17:30:00+08:00")
    autumn.tick()
    autumn.at("2026-10-10T10:00:00+08:00")  # the bot was down all Friday
    autumn.tick()
    autumn.tick()
    late = [r for r in posts(autumn, "progress.sync") if r.ref == "2026-10-09"]
    assert len(late) == 1 and "（补发）" in late[0].text
    assert (
        posts(autumn, "progress.weekly") == []
    )  # Saturday's the week's last working day: at 17:30
    autumn.at("2026-10-10T17:31:00+08:00")
    autumn.tick()
    (weekly,) = posts(autumn, "progress.weekly")
    assert weekly.ref == "2026-W41" and "周报 2026-W41（2026-10-05 → 2026-10-11）" in weekly.text
    assert "（补发）" not in weekly.text
    assert [r.ref for r in posts(autumn, "progress.sync")] == [
        "2026-10-08",
        "2026-10-09",
        "2026-10-10",
    ]
    autumn.at("2026-10-11T17:31:00+08:00")  # Sunday: nothing new
    autumn.tick()
    assert len(posts(autumn, "progress.sync")) == 3 and len(posts(autumn, "progress.weekly")) == 1


def test_weekly_figures(autumn: ConsoleHarness) -> None:
    autumn.at("2026-10-08T10:00:00+08:00")
    autumn.one("liuyang", "/工单 P2 svc=bigdata_dev 报表导出超时")
    autumn.one("liuyang", "/工单 P3 svc=ops_monitoring 告警")
    autumn.at("2026-10-08T10:10:00+08:00")
    autumn.one("zhaogang", "/响应 T-1")  # in time
    autumn.one("zhaogang", "/解决 T-1 已修复")  # in time
    autumn.one("zhaogang", "/报工 1d T-1 修复")
    autumn.one("lina", "/报工 4h T-2 排查")
    autumn.one("chenjing", '/阻塞 "VPN 未开通"')
    autumn.at("2026-10-09T10:00:00+08:00")
    autumn.one("chenjing", "/解除 B-1 已开通")
    text = autumn.one("sunwei", "/周报 2026-W41").text
    assert "人天：1.5（计划" in text and "高级工程师 1" in text and "中级工程师 0.5" in text
    assert "· P2 高 1/1 / 1/1" in text
    assert "大数据开发服务 1、运维监控服务 1" in text
    assert "阻塞：新增 1，解除 1，损失 8小时50分" in text  # Thu 10:10 to Fri 10:00 in working hours
    assert "· P3 中 0/1 / —" in text  # its 4-hour response passed unanswered
    assert autumn.one("sunwei", "/周报 W41").kind == "error.usage"


def test_sync_settings_per_chat(autumn: ConsoleHarness) -> None:
    autumn.at("2026-10-08T09:00:00+08:00")
    assert autumn.one("zhaogang", "/同步 关闭").kind == "error.permission"
    assert autumn.one("sunwei", "/同步 时间 25:00").kind == "error.usage"
    assert autumn.one("sunwei", "/同步 时间 18:00").kind == "sync.settings"
    autumn.at("2026-10-08T17:45:00+08:00")
    autumn.tick()
    assert posts(autumn, "progress.sync") == []
    autumn.at("2026-10-08T18:00:00+08:00")
    autumn.tick()
    assert len(posts(autumn, "progress.sync")) == 1
    autumn.one("sunwei", "/sync off")
    autumn.at("2026-10-09T18:30:00+08:00")
    autumn.tick()
    assert len(posts(autumn, "progress.sync")) == 1


def test_morning_digest_to_the_customer_manager(autumn: ConsoleHarness) -> None:
    autumn.at("2026-10-08T10:00:00+08:00")
    autumn.one("liuyang", "/工单 P1 生产库宕机")
    autumn.at("2026-10-08T10:20:00+08:00")
    autumn.tick()  # the P1 breaches; that morning's (quiet) digest also goes out now, once
    assert [d.ref for d in posts(autumn, "progress.digest")] == ["2026-10-08"]
    autumn.at("2026-10-09T08:59:00+08:00")
    autumn.tick()
    assert len(posts(autumn, "progress.digest")) == 1
    autumn.at("2026-10-09T09:00:00+08:00")
    autumn.tick()
    autumn.at("2026-10-09T09:10:00+08:00")
    autumn.tick()
    digest = posts(autumn, "progress.digest")[-1]
    assert len(posts(autumn, "progress.digest")) == 2
    assert digest.recipient == "zhou.min" and "[DEMO-2026] 超时 T-1" in digest.text
    assert "[DEMO-2026] 升级 T-1" in digest.text
    autumn.at("2026-10-11T09:30:00+08:00")  # Sunday: no digest
    autumn.tick()
    autumn.at("2026-10-12T09:30:00+08:00")  # Monday: a quiet one
    autumn.tick()
    quiet = posts(autumn, "progress.digest")[-1]
    assert len(posts(autumn, "progress.digest")) == 3 and quiet.text.endswith("——无。")


def test_weekly_report_in_english(en: ConsoleHarness) -> None:
    en.at("2026-11-25T10:00:00+08:00")
    en.one("liuyang", "/ticket P2 slow report")
    text = en.one("sunwei", "/report week 2026-W48").text
    assert text.startswith("📅 EN-2026 weekly report 2026-W48 (2026-11-23 → 2026-11-29)")
    assert "SLA met (response / resolution):" in text
