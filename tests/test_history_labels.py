"""Histories speak the reader's language: every event code has a Chinese and an English label,
and no raw code (`cr.filed`, `sla.warning response`) reaches a chat (issue #11, item 10)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sqlalchemy import select

from config.settings import DEMO_ENGAGEMENT
from domain import labels
from domain.sla import LEGS, STAGES
from storage.db import transaction
from storage.models import AuditEntry, TicketEvent
from tests.harness import ConsoleHarness

RAW_CODE = re.compile(r"\b[a-z_]+\.[a-z_]+\b")
ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("adapters", "app", "bot", "config", "domain", "handlers", "storage")


def history(text: str) -> str:
    """The history part of a `/ticket T-n` or `/cr CR-n` reply."""
    for head in ("记录：", "History:"):
        if head in text:
            return text.split(head, 1)[1]
    raise AssertionError(f"no history in {text!r}")


def ticket_with_alerts(h: ConsoleHarness, title: str) -> None:
    """A P2 ticket (30 min first response, 24x7) left alone into its warning and breach."""
    h.one("liuyang", f"/工单 P2 {title}")
    h.at("2026-11-25T10:23:00+08:00")  # 75% of 30 min
    h.tick()
    h.at("2026-11-25T10:31:00+08:00")  # 100%
    h.tick()
    h.one("zhaogang", "/ack T-1" if h.chat == "en-group" else "/响应 T-1")


def test_chinese_ticket_history_labels_sla_alerts(demo: ConsoleHarness) -> None:
    ticket_with_alerts(demo, "报表导出超时")
    demo.one("zhaogang", "/解决 T-1 已修复导出分页")
    shown = history(demo.one("liuyang", "/工单 T-1").text)
    assert not RAW_CODE.findall(shown), shown
    assert "系统 SLA 告警：首次响应即将超时" in shown
    assert "系统 SLA 告警：首次响应已超时" in shown
    assert "刘洋 开单：报表导出超时" in shown and "赵刚 解决：已修复导出分页" in shown


def test_english_ticket_history_labels_sla_alerts(en: ConsoleHarness) -> None:
    ticket_with_alerts(en, "report export times out")
    shown = history(en.one("liuyang", "/ticket T-1").text)
    assert not RAW_CODE.findall(shown), shown
    assert "system SLA alert: first response about to breach" in shown
    assert "system SLA alert: first response breached" in shown
    assert "刘洋 opened: report export times out" in shown


def _change_request(h: ConsoleHarness, zh: bool) -> str:
    h.one("liuyang", '/变更 "新增库存报表" 每日推送' if zh else '/cr "stock report" daily push')
    h.one("sunwei", "/评估 CR-1 senior=1" if zh else "/cr estimate CR-1 senior=1")
    h.one("wangli", "/签署 CR-1" if zh else "/sign CR-1")
    h.one("sunwei", "/评估 CR-1 senior=2" if zh else "/cr estimate CR-1 senior=2")  # voids it
    h.one("wangli", "/签署 CR-1" if zh else "/sign CR-1")
    h.one("sunwei", "/签署 CR-1" if zh else "/sign CR-1")
    h.at("2026-11-25T17:00:00+08:00")
    assert h.one("zhaogang", "/报工 2h CR-1 需求分析").kind == "worklog.logged"
    return history(h.one("liuyang", "/变更 CR-1" if zh else "/cr CR-1").text)


def test_chinese_change_request_history(demo: ConsoleHarness) -> None:
    shown = _change_request(demo, zh=True)
    assert not RAW_CODE.findall(shown), shown
    for line in ("刘洋 提出变更", "孙伟 评估", "王丽 签署", "孙伟 生效", "赵刚 报工"):
        assert line in shown


def test_english_change_request_history(en: ConsoleHarness) -> None:
    shown = _change_request(en, zh=False)
    assert not RAW_CODE.findall(shown), shown
    for line in ("刘洋 filed", "孙伟 estimated", "王丽 signed", "孙伟 came into effect"):
        assert line in shown


def _task_history(h: ConsoleHarness, zh: bool) -> str:
    h.one("sunwei", '/任务 新增 "订单数据同步" est=2d level=senior due=2026-12-10 owner=@zhaogang')
    h.one("zhaogang", "/延期 K-1 2026-12-20 甲方接口文档延迟提供")
    return h.one("zhaogang", "/任务 K-1" if zh else "/task K-1").text


def test_chinese_task_plan_history(demo: ConsoleHarness) -> None:
    shown = _task_history(demo, zh=True)
    assert not RAW_CODE.findall(shown) and "计划 v2：2026-12-10 → 2026-12-20" in shown, shown


def test_english_task_plan_history(en: ConsoleHarness) -> None:
    shown = _task_history(en, zh=False)
    assert not RAW_CODE.findall(shown) and "plan v2: 2026-12-10 → 2026-12-20" in shown, shown


def test_an_unknown_code_gets_a_neutral_label_not_the_code() -> None:
    assert labels.event("nothing.known", "zh-CN") == "记录"
    assert labels.event("nothing.known", "en") == "event"


# -- every code the code base writes has both labels ------------------------------------------


def _codes_in_source() -> set[str]:
    """Literal codes handed to the audit log or a ticket's history anywhere in the code."""
    codes: set[str] = set()
    for path in (p for package in PACKAGES for p in (ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            first = node.args[0] if node.args else None
            words = {kw.arg: kw.value for kw in node.keywords}
            if name == "audit" and isinstance(first, ast.Constant):
                codes.add(first.value)
            elif name == "append" and isinstance(words.get("action"), ast.Constant):
                codes.add(words["action"].value)  # type: ignore[union-attr]
            elif name in ("record", "_save") and len(node.args) > 2:
                kind = node.args[2]
                if isinstance(kind, ast.Constant):
                    codes.add(f"ticket.{kind.value}")
            elif name == "TicketEvent" and isinstance(words.get("kind"), ast.Constant):
                codes.add(f"ticket.{words['kind'].value}")  # type: ignore[union-attr]
    return codes


def _life_cycle(d: ConsoleHarness, tmp_path: Path) -> None:
    """Everything that writes a code: start-up, scope, CRs, tickets and their SLA alerts,
    blockers, work logs, delivery, training, the monthly close, sync settings, binding."""
    d.at("2026-11-02T10:00:00+08:00")
    for item in ("1", "2", "3", "4", "5"):
        d.one("wangli", f"/完成 {item}")
    d.one("sunwei", "/完成 6 简历已发")
    d.one("sunwei", "/完成 7 NDA 已签")
    d.one("sunwei", '/任务 新增 "订单数据同步" est=3d level=senior due=2026-11-20 owner=@zhaogang')
    d.one("sunwei", '/任务 新增 "报表迁移" est=2d level=mid due=2026-11-25 owner=@lina')
    d.one("sunwei", "/任务 修改 K-2 est=1d")
    d.one("sunwei", "/范围 签署")
    d.one("wangli", "/范围 签署")
    d.at("2026-11-03T10:00:00+08:00")
    d.one("liuyang", '/变更 "新增库存报表" 每日推送')
    d.one("sunwei", "/评估 CR-1 senior=1")
    d.one("wangli", "/签署 CR-1")
    d.one("sunwei", "/评估 CR-1 senior=2")
    d.one("wangli", "/签署 CR-1")
    d.one("sunwei", "/签署 CR-1")
    d.one("liuyang", '/变更 "大屏" 另做')
    d.one("wangli", "/驳回 CR-2 本期不做")
    d.one("chenjing", '/阻塞 "VPN 未开通" task=K-1')
    d.one("liuyang", "/工单 P2 报表导出超时")
    for minute in ("23", "31", "46"):
        d.at(f"2026-11-03T10:{minute}:00+08:00")
        d.tick()
    d.one("sunwei", "/指派 T-1 @zhaogang")
    d.one("zhaogang", "/响应 T-1")
    d.one("liuyang", "/备注 T-1 日志已发")
    d.one("zhaogang", "/挂起 T-1 甲方 等待日志")
    d.one("liuyang", "/恢复 T-1")
    d.one("zhaogang", "/解决 T-1 已修复")
    d.one("liuyang", "/重开 T-1 还是慢")
    d.one("zhaogang", "/解决 T-1 加了索引")
    d.one("liuyang", "/关闭 T-1")
    d.one("liuyang", "/工单 P4 咨询导出")
    d.one("zhaogang", "/解决 T-2 已答复")
    d.at("2026-11-04T10:00:00+08:00")
    d.one("chenjing", "/解除 B-1 VPN 已开通")
    d.one("zhaogang", "/延期 K-1 2026-11-24 VPN 晚开通一天")
    d.at("2026-11-04T17:00:00+08:00")
    d.one("zhaogang", "/报工 1d K-1 同步开发")
    d.one("zhaogang", "/报工 2h K-1 多记了")
    d.one("zhaogang", "/报工 撤销")
    d.one("sunwei", "/报工 调整 @zhaogang -2h K-1 重复记录")
    d.at("2026-11-10T10:00:00+08:00")
    d.tick()  # T-2 closes itself
    d.one("sunwei", '/交付 K-1 "同步程序 v1" 见代码库')
    d.one("wangli", "/验收 D-1")
    d.one("sunwei", '/交付 CR-1 "库存报表" 见报表平台')
    d.one("wangli", "/驳回 D-2 缺少导出按钮")
    d.one("sunwei", '/培训 "运维手册培训" 2026-11-10 attendees=陈静,刘洋')
    d.one("sunwei", "/同步 时间 18:00")
    d.one("sunwei", "/绑定 DEMO-2026", chat="ops-war-room")
    d.at("2026-12-01T10:00:00+08:00")
    d.one("sunwei", "/结算 关闭 2026-11")
    d.one("wangli", "/结算 重开 2026-11 少了一天")
    d.one("sunwei", "/结算 关闭 2026-11")
    d.one("wangli", "/结算 确认 2026-11")
    changed = tmp_path / "changed.toml"
    text = DEMO_ENGAGEMENT.read_text(encoding="utf-8").replace("senior = 60", "senior = 70", 1)
    changed.write_text(text, encoding="utf-8")
    d.apply(changed)


def _codes_written(d: ConsoleHarness) -> set[str]:
    with transaction(d.runtime.engine) as session:
        codes = set(session.execute(select(AuditEntry.action)).scalars())
        for kind, text in session.execute(select(TicketEvent.kind, TicketEvent.text)).all():
            codes.add(f"ticket.{kind}")
            if kind == "alert":
                codes.add(text.split()[0])
    return codes


def test_every_code_written_has_a_label_in_both_languages(
    demo: ConsoleHarness, tmp_path: Path
) -> None:
    _life_cycle(demo, tmp_path)
    written = _codes_written(demo)
    # the run reaches every kind of writer, including the codes built at run time
    assert {"engagement.updated", "ticket.acked", "ticket.alert", "sla.breach",
            "sla.escalation", "cr.signatures_voided", "period.locked"} <= written  # fmt: skip
    codes = written | _codes_in_source() | {f"sla.{stage}" for stage in STAGES}
    missing = sorted(code for code in codes if code not in labels.EVENTS)
    assert not missing, f"event codes without a label: {missing}"
    for code in codes:
        zh, en = labels.event(code, "zh-CN"), labels.event(code, "en")
        assert zh and en and zh != en and not RAW_CODE.search(zh + " " + en), code
    for leg in LEGS:
        assert labels.clock(leg, "zh-CN") != labels.clock(leg, "en")
