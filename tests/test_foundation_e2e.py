"""End to end through the console channel: every foundation command in Chinese and English,
refusals, dedupe and the bus's guarantees. Real bus, handlers and database throughout."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.commands import all_commands
from app.runtime import Runtime
from bot.bus import Bus
from bot.commands import Command
from bot.registry import Registry
from config.settings import DEMO_ENGAGEMENT
from storage.db import transaction
from storage.models import AuditEntry, ChatBinding
from tests.harness import ConsoleHarness


def audit_actions(harness: ConsoleHarness) -> list[tuple[str, str]]:
    with transaction(harness.runtime.engine) as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(row.action, row.actor) for row in rows]


# /help


def test_help_lists_what_this_person_may_use_with_both_names(demo: ConsoleHarness) -> None:
    reply = demo.one("wangli", "/帮助")
    assert reply.kind == "help"
    assert "/清单 /checklist — 服务启动清单及完成情况" in reply.text and "/完成 /done" in reply.text
    assert "/绑定" not in reply.text  # the client approver may not bind chats
    assert "/绑定" in demo.one("sunwei", "/help").text  # the vendor PM may


def test_help_in_english_and_for_one_command(en: ConsoleHarness) -> None:
    listing = en.one("wangli", "/help")
    assert listing.text.startswith("Commands you can use here:")
    assert "/checklist /清单 — the onboarding checklist and what is done" in listing.text
    detail = en.one("wangli", "/help done")
    assert "Usage: /done ITEM [NOTE]" in detail.text and "Example: /done 2" in detail.text
    assert en.one("wangli", "/帮助 完成").text == detail.text  # Chinese names work in English too
    dash_h = en.one("wangli", "/done -h")
    assert dash_h.kind == "help" and "Usage: /done" in dash_h.text


def test_help_for_an_unknown_command_suggests(demo: ConsoleHarness) -> None:
    reply = demo.one("wangli", "/帮助 chekclist")
    assert reply.kind == "error.not_found" and "/checklist" in reply.text


# /status


def test_status_in_chinese(demo: ConsoleHarness) -> None:
    reply = demo.one("liuyang", "/进度")
    assert reply.kind == "status" and reply.ref == "DEMO-2026"
    assert "周期 2026-11-01 → 2027-04-30（第 25/181 天）" in reply.text
    assert "阶段：1 服务启动（启动清单 0/7）" in reply.text
    assert "合同人天：205（初级工程师 40、中级工程师 80" in reply.text
    assert "人员：甲方 3 人，厂商 7 人" in reply.text
    assert demo.one("liuyang", "/status").text == reply.text


def test_status_in_english(en: ConsoleHarness) -> None:
    text = en.one("zhaogang", "/status").text
    assert "Term 2026-11-01 → 2027-04-30 (day 25 of 181)" in text
    assert "Phase: 1 start-up (onboarding checklist 0/7)" in text
    assert "Contracted person-days: 205 (junior engineer 40, mid-level engineer 80" in text
    assert en.one("zhaogang", "/进度").text == text


# /checklist and /done


def test_checklist_items_are_done_by_their_party_and_audited(demo: ConsoleHarness) -> None:
    listing = demo.one("wangli", "/清单")
    assert listing.kind == "checklist" and "1. ⬜ 联系人清单及职责（甲方）" in listing.text
    done = demo.one("wangli", "/完成 1 联系人表已发群文件")
    assert done.kind == "checklist.done" and "（1/7）" in done.text
    assert demo.one("chenjing", "/done system_access").kind == "checklist.done"
    assert demo.one("zhaogang", "/完成 保密协议签署").kind == "checklist.done"
    refused = demo.one("zhaogang", "/完成 3")
    assert refused.kind == "error.permission" and "由甲方完成" in refused.text
    again = demo.one("liuyang", "/完成 1")
    assert again.kind == "error.state" and "王丽" in again.text
    missing = demo.one("liuyang", "/完成 9")
    assert missing.kind == "error.not_found" and "1-7" in missing.text
    shown = demo.one("liuyang", "/checklist").text
    assert "1. ✅ 联系人清单及职责（甲方） — 王丽 2026-11-25 10:00：联系人表已发群文件" in shown
    assert ("checklist.done", "wang.li") in audit_actions(demo)
    assert ("checklist.done", "zhao.gang") in audit_actions(demo)


def test_completing_the_checklist_moves_the_phase_and_tells_pm_and_manager(
    demo: ConsoleHarness,
) -> None:
    for item in ("1", "2", "3", "4", "5"):
        demo.one("wangli", f"/完成 {item}")
    demo.one("sunwei", "/完成 6")
    replies = demo.say("sunwei", "/完成 7")
    assert [r.kind for r in replies] == ["checklist.done", "checklist.complete"]
    notes = demo.outbox(kind="checklist.complete", recipient_type="person")
    assert sorted(n.recipient for n in notes) == ["sun.wei", "zhou.min"]
    assert "阶段：2 日常执行（启动清单 7/7）" in demo.one("wangli", "/进度").text
    assert ("phase.changed", "sun.wei") in audit_actions(demo)


def test_checklist_in_english(en: ConsoleHarness) -> None:
    assert "1. ⬜ contact list and responsibilities (client)" in en.one("wangli", "/checklist").text
    assert en.one("wangli", "/done 1").text == "✅ contact list and responsibilities done (1/7)."
    refused = en.one("malin", "/done 2")
    assert refused.kind == "error.permission" and "for the client to complete" in refused.text


def test_done_without_an_item_gives_usage_and_example(demo: ConsoleHarness) -> None:
    reply = demo.one("wangli", "/完成")
    assert reply.kind == "error.usage"
    assert "缺少编号或名称" in reply.text and "用法：/完成 编号或名称 [备注]" in reply.text
    assert "例如：/完成 2" in reply.text


# /bind


def test_unbound_chat_says_how_to_bind(demo: ConsoleHarness) -> None:
    reply = demo.one("wangli", "/进度", chat="new-group")
    assert reply.kind == "error.usage" and "/绑定 项目编号" in reply.text


def test_pm_binds_a_chat_and_it_is_audited(demo: ConsoleHarness) -> None:
    refused = demo.one("wangli", "/绑定 DEMO-2026", chat="new-group")
    assert refused.kind == "error.permission"
    bound = demo.one("sunwei", "/bind demo-2026", chat="new-group")
    assert bound.kind == "chat.bound" and "DEMO-2026" in bound.text
    assert demo.one("wangli", "/进度", chat="new-group").kind == "status"
    assert demo.one("sunwei", "/绑定 DEMO-2026", chat="new-group").kind == "error.state"
    assert ("chat.bound", "sun.wei") in audit_actions(demo)
    with transaction(demo.runtime.engine) as session:
        binding = session.execute(
            select(ChatBinding).where(ChatBinding.chat_id == "new-group")
        ).scalar_one()
        assert binding.bound_by == "sun.wei"


def test_bind_refusals(demo: ConsoleHarness, en: ConsoleHarness) -> None:
    assert demo.one("sunwei", "/绑定 NOPE-1", chat="g2").kind == "error.not_found"
    assert demo.one("sunwei", "/绑定 DEMO-2026", chat="dm", direct=True).kind == "error.state"
    other = demo.one("sunwei", "/绑定 EN-2026", chat="demo-group")
    assert other.kind == "error.state" and "DEMO-2026" in other.text


# who is speaking, and where


def test_stranger_may_not_use_member_commands(demo: ConsoleHarness) -> None:
    reply = demo.one("stranger", "/进度")
    assert reply.kind == "error.permission" and "/工单" in reply.text
    assert demo.one("stranger", "/帮助").kind == "help"


def test_unregistered_reporters_can_be_turned_off(demo: ConsoleHarness, tmp_path: Path) -> None:
    text = DEMO_ENGAGEMENT.read_text(encoding="utf-8")
    text = text.replace(
        "allow_unregistered_reporters = true", "allow_unregistered_reporters = false"
    )
    assert "allow_unregistered_reporters = false" in text
    path = tmp_path / "closed.toml"
    path.write_text(text, encoding="utf-8")
    assert demo.apply(path).action == "updated"
    reply = demo.one("stranger", "/进度")
    assert reply.kind == "error.permission" and "名单" in reply.text


def test_direct_chat_needs_no_slash(demo: ConsoleHarness) -> None:
    reply = demo.one("wangli", "进度", chat="dm-wangli", direct=True)
    assert reply.kind == "status" and "DEMO-2026" in reply.text


def test_direct_chat_of_a_stranger(demo: ConsoleHarness) -> None:
    reply = demo.one("nobody", "帮助 完成", chat="dm-x", direct=True)
    assert reply.kind == "help"
    assert demo.one("nobody", "进度", chat="dm-x", direct=True).kind == "error.usage"


def test_group_chatter_gets_no_answer_but_a_mention_does(demo: ConsoleHarness) -> None:
    assert demo.say("wangli", "今天下午三点开会") == []
    assert demo.one("wangli", "@人天 进度").kind == "status"
    assert demo.one("wangli", "@rentian").kind == "help"


def test_unknown_command_suggests_the_closest(demo: ConsoleHarness) -> None:
    reply = demo.one("wangli", "/statu")
    assert reply.kind == "error.usage" and "/status" in reply.text


# the bus's guarantees


def test_same_event_three_times_has_one_effect(demo: ConsoleHarness) -> None:
    outcomes = [demo.send("wangli", "/完成 1", event_id="evt-42") for _ in range(3)]
    assert [o.duplicate for o in outcomes] == [False, True, True]
    assert [r.kind for r in outcomes[0].replies] == ["checklist.done"]
    assert len(demo.outbox(kind="checklist.done")) == 1
    assert [a for a, _ in audit_actions(demo)].count("checklist.done") == 1


def test_refusal_changes_nothing(demo: ConsoleHarness) -> None:
    before = audit_actions(demo)
    demo.one("zhaogang", "/完成 3")
    assert audit_actions(demo) == before


def test_unexpected_error_is_an_apology_with_the_event_id(runtime: Runtime) -> None:
    def explode(ctx: object, cmd: object) -> None:
        raise RuntimeError("boom")

    registry = Registry([*all_commands(), Command("explode", ("爆",), ("", ""), explode)])
    runtime.bus = Bus(
        runtime.engine, registry, runtime.settings.bot.names, vocabulary=runtime.vocabulary
    )
    harness = ConsoleHarness(runtime)
    harness.apply(DEMO_ENGAGEMENT)
    outcome = harness.send("wangli", "/explode", event_id="evt-77")
    (reply,) = outcome.replies
    assert reply.kind == "error.internal" and "evt-77" in reply.text
    assert "Traceback" not in reply.text and "RuntimeError" not in reply.text
