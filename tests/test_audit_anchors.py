"""Anchors: the audit chain's head, posted where the client sees it, checked by
`rentian audit verify --anchors` against whatever the vendor's database now holds."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import Engine, delete, select
from sqlmodel import Session

from adapters import console
from app.cli import main
from app.runtime import Runtime
from bot import clock
from bot.context import Context
from storage import audit
from storage.db import transaction
from storage.models import AuditEntry, Engagement, OutboxMessage
from tests.harness import ConsoleHarness

NOW = "2026-11-25T10:00:00+08:00"

# One engagement's life with every kind of signature, in each locale. `True`: a signing
# command (bot.assurance.SIGNING), whose reply ends with the chain's anchor.
LIFE = {
    "zh-CN": [
        (False, "sunwei", '/任务 新增 "订单数据同步" est=3d level=senior due=+10d owner=@zhaogang'),
        (True, "sunwei", "/范围 签署"),
        (True, "wangli", "/范围 签署"),
        (False, "liuyang", '/变更 "新增库存报表" 每日推送'),
        (True, "sunwei", "/评估 CR-1 senior=1 due=+5d"),
        (True, "wangli", "/签署 CR-1"),
        (True, "sunwei", "/签署 CR-1"),
        (False, "liuyang", "/工单 P2 报表导出超时"),
        (True, "sunwei", "/指派 T-1 @zhaogang"),
        (False, "zhaogang", "/报工 4h T-1 排查"),
        (True, "sunwei", "/报工 调整 @zhaogang -2h T-1 重复记录"),
        (False, "sunwei", '/交付 K-1 "同步程序 v1" https://git.example/sync'),
        (True, "wangli", "/验收 D-1"),
    ],
    "en": [
        (False, "sunwei", '/task add "Order sync" est=3d level=senior due=+10d owner=@zhaogang'),
        (True, "sunwei", "/scope sign"),
        (True, "wangli", "/scope sign"),
        (False, "liuyang", '/cr "Stock report" pushed daily'),
        (True, "sunwei", "/cr estimate CR-1 senior=1 due=+5d"),
        (True, "wangli", "/sign CR-1"),
        (True, "sunwei", "/sign CR-1"),
        (False, "liuyang", "/ticket P2 export times out"),
        (True, "sunwei", "/assign T-1 @zhaogang"),
        (False, "zhaogang", "/log 4h T-1 digging"),
        (True, "sunwei", "/log adjust @zhaogang -2h T-1 logged twice"),
        (False, "sunwei", '/deliver K-1 "Sync v1" https://git.example/sync'),
        (True, "wangli", "/accept D-1"),
    ],
}
MONTH_END = {
    "zh-CN": [("sunwei", "/结算 关闭 2026-11"), ("wangli", "/结算 确认 2026-11")],
    "en": [("sunwei", "/period close 2026-11"), ("wangli", "/period confirm 2026-11")],
}
LABEL = {"zh-CN": "🔗 审计链 ", "en": "🔗 Audit chain "}


@pytest.fixture(params=["demo", "en"])
def h(request: pytest.FixtureRequest, runtime: Runtime) -> ConsoleHarness:
    """The demo engagement in Chinese, or its English twin (on the database `runtime` uses)."""
    harness: ConsoleHarness = request.getfixturevalue(request.param)
    return harness


def locale_of(harness: ConsoleHarness) -> str:
    return "en" if harness.chat == "en-group" else "zh-CN"


def chain_head(engine: Engine) -> AuditEntry:
    with Session(engine) as session:
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))  # type: ignore[union-attr]
        return entry.scalar_one()


def live(harness: ConsoleHarness) -> str:
    """Run the life cycle and the month end; return the chat as the client would export it."""
    locale = locale_of(harness)
    chat: list[str] = []
    for signing, user, text in LIFE[locale]:
        reply = harness.one(user, text)
        assert not reply.kind.startswith("error"), (text, reply.text)
        assert bool(audit.find_anchors(reply.text)) == signing, reply.text
        chat += [f"{user} 2026-11-25: {text}", f"人天 bot: {reply.text}"]
    harness.at("2026-12-01T10:00:00+08:00")
    for user, text in MONTH_END[locale]:
        reply = harness.one(user, text)
        assert not reply.kind.startswith("error"), (text, reply.text)
        chat += [f"{user} 2026-12-01: {text}", f"人天 bot: {reply.text}"]
    harness.at(NOW)
    return "\n".join(chat)


def verify(db_url: str, capsys: pytest.CaptureFixture[str], *anchors: str) -> tuple[int, str]:
    capsys.readouterr()
    args = ["--db", db_url, "--now", NOW, "audit", "verify"]
    status = main([*args, "--anchors", anchors[0]] if anchors else args)
    return status, capsys.readouterr().out


# -- what the client is shown -------------------------------------------------------------------


def test_a_signing_reply_ends_with_the_head_after_its_own_entry(h: ConsoleHarness) -> None:
    locale, engine = locale_of(h), h.runtime.engine
    h.one("sunwei", LIFE[locale][0][2])
    reply = h.one("sunwei", LIFE[locale][1][2])  # the vendor PM signs the scope
    head = chain_head(engine)
    assert head.action == "scope.signed"
    last = reply.text.splitlines()[-1]
    assert last.startswith(LABEL[locale])
    assert audit.find_anchors(last) == [audit.Anchor(head.id or 0, head.hash[:16])]
    # the chain is one for the whole database: the line says so
    assert last.endswith("（全系统共用）" if locale == "zh-CN" else "(server-wide)")


def test_two_entries_in_one_command_anchor_the_last(h: ConsoleHarness) -> None:
    locale = locale_of(h)
    for _, user, text in LIFE[locale][:6]:
        h.one(user, text)
    effective = h.one(*LIFE[locale][6][1:])  # the second signature: cr.signed, cr.effective
    head = chain_head(h.runtime.engine)
    assert effective.kind == "cr.effective" and head.action == "cr.effective"
    assert audit.find_anchors(effective.text) == [audit.Anchor.of(head)]


def test_a_refused_signature_carries_no_anchor(h: ConsoleHarness) -> None:
    locale = locale_of(h)
    for _, user, text in LIFE[locale][:3]:
        h.one(user, text)
    again = h.one(*LIFE[locale][2][1:])  # the client approver signs the signed scope again
    assert again.kind.startswith("error") and audit.find_anchors(again.text) == []


def test_an_entry_rolled_back_with_the_handler_anchors_nothing(demo: ConsoleHarness) -> None:
    """A handler refused after its audit entry: the bus answers outside the rolled-back
    savepoint, and that answer must not point at an entry that was never written."""
    runtime = demo.runtime
    inbound = console.parse("demo-group", "wangli", "/签署 CR-1", now=clock.now())
    with transaction(runtime.engine) as session:
        eng = session.execute(select(Engagement).where(Engagement.code == "DEMO-2026")).scalar_one()
        ctx = Context(session=session, now=clock.now(), registry=runtime.registry,
                      locale=eng.locale, inbound=inbound, engagement=eng,
                      command=runtime.registry.get("sign"))  # fmt: skip
        with session.begin_nested() as savepoint:
            ctx.audit("cr.signed", "CR-1")
            savepoint.rollback()
        ctx.reply("refused", "error.state")
        ctx.audit("cr.signed", "CR-1")
        ctx.reply("signed", "cr.signed")
        rows = [session.get(OutboxMessage, i) for i in ctx.reply_ids]
        head = audit.head(session)
        assert head is not None
        assert [r.text.splitlines()[0] for r in rows if r] == ["refused", "signed"]
        assert [audit.find_anchors(r.text) for r in rows if r] == [[], [audit.Anchor.of(head)]]


def test_the_daily_sync_ends_with_the_engagements_head(h: ConsoleHarness) -> None:
    locale = locale_of(h)
    h.one("liuyang", LIFE[locale][7][2])  # a ticket: an audit entry of this engagement
    h.at("2026-11-25T17:30:00+08:00")
    h.tick()
    (sync,) = h.outbox(kind="progress.sync")
    with Session(h.runtime.engine) as session:
        head = session.execute(
            select(AuditEntry).where(AuditEntry.action == "ticket.opened")
        ).scalar_one()
    last = sync.text.splitlines()[-1]
    assert last.startswith(LABEL[locale])
    assert audit.find_anchors(sync.text) == [audit.Anchor.of(head)]


def test_a_quiet_sync_carries_the_anchor_too(h: ConsoleHarness) -> None:
    h.at("2026-11-25T17:30:00+08:00")
    h.tick()
    (sync,) = h.outbox(kind="progress.sync")
    (anchor,) = audit.find_anchors(sync.text)
    with Session(h.runtime.engine) as session:
        entry = session.get(AuditEntry, anchor.position)
        assert entry is not None and entry.action == "engagement.created"
        assert entry.hash.startswith(anchor.prefix)


def test_anchors_are_found_in_any_pasted_text() -> None:
    text = (
        "王丽 10:02 /签署 CR-1\n人天: ✍️ 王丽 已签署 CR-1；等待厂商项目经理签署。\n"
        "🔗 审计链 #12·3f9a12bc4d5e0718（全系统共用）\n"
        "> quoted in a mail: audit chain #7 · ABCDEF012345 and again #12·3f9a12bc4d5e0718\n"
        '{"text": "\\ud83d\\udd17 audit chain #40\\u00b7aaaabbbbccccdddd"}\n'
        "<p>审计链 #41&middot;0123456789abcdef</p>\n"
        "not anchors: issue #12, #13·xyz, #14·0123456789abcdefg, a#15·0123456789ab, 内容摘要 0123456789abcdef"
    )
    assert [str(a) for a in audit.find_anchors(text)] == [
        "#12·3f9a12bc4d5e0718",
        "#7·abcdef012345",
        "#40·aaaabbbbccccdddd",
        "#41·0123456789abcdef",
    ]


# -- what `rentian audit verify --anchors` catches ----------------------------------------------


def test_untouched_chain_passes_both_checks(
    h: ConsoleHarness, db_url: str, tmp_path, capsys
) -> None:
    export = tmp_path / "chat.txt"
    export.write_text(live(h), encoding="utf-8")
    found = audit.find_anchors(export.read_text(encoding="utf-8"))
    assert len(found) == 10  # eight signing replies in the month, then its close and confirmation
    assert verify(db_url, capsys)[0] == 0
    status, out = verify(db_url, capsys, str(export))
    assert status == 0, out
    assert "chain intact" in out and f"{len(found)} anchors" in out and "all hold" in out


def test_a_deleted_tail_passes_the_chain_but_not_the_anchors(
    h: ConsoleHarness, db_url: str, tmp_path, capsys
) -> None:
    export = tmp_path / "chat.txt"
    export.write_text(live(h), encoding="utf-8")
    last = audit.find_anchors(export.read_text(encoding="utf-8"))[-1]  # the month's confirmation
    month_end = AuditEntry.action.in_(("period.closed", "period.locked"))  # type: ignore[attr-defined]
    with transaction(h.runtime.engine) as session:  # the operator deletes the month end
        session.execute(delete(AuditEntry).where(month_end))
    status, out = verify(db_url, capsys)
    assert status == 0 and "chain intact" in out  # nothing inside the chain shows it
    status, out = verify(db_url, capsys, str(export))
    assert status == 1
    failing = [line for line in out.splitlines() if "FAILS" in line]
    assert len(failing) == 2 and f"#{last.position}·{last.prefix}" in failing[-1]
    assert f"no entry #{last.position}" in failing[-1]


def rewrite(engine: Engine, action: str, change: dict[str, object]) -> int:
    """What an operator holding the database can do: change one entry's data, then recompute
    its hash and every later entry's link and hash, so the chain holds again."""
    with transaction(engine) as session:
        rows = list(session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())  # type: ignore[arg-type]
        start = next(i for i, row in enumerate(rows) if row.action == action)
        rows[start].data = audit.canonical({**json.loads(rows[start].data), **change})
        prev_hash = rows[start].prev_hash
        for row in rows[start:]:
            row.prev_hash = prev_hash
            row.hash = audit.entry_hash(
                prev_hash, row.at, row.engagement_id, row.actor, row.action, row.ref, row.data
            )
            prev_hash = row.hash
        return rows[start].id or 0


def test_a_recomputed_chain_passes_the_chain_but_not_the_anchors(
    h: ConsoleHarness, db_url: str, tmp_path, capsys
) -> None:
    export = tmp_path / "chat.txt"
    export.write_text(live(h), encoding="utf-8")
    anchors = audit.find_anchors(export.read_text(encoding="utf-8"))
    # the estimate is raised after the fact: senior 1 → 5 person-days (minutes)
    rewritten = rewrite(h.runtime.engine, "cr.estimated", {"estimate": {"senior": 2400}})
    status, out = verify(db_url, capsys)
    assert status == 0 and "chain intact" in out
    status, out = verify(db_url, capsys, str(export))
    assert status == 1
    failing = {a for a in anchors if a.position >= rewritten}
    assert failing and len(failing) < len(anchors)  # the scope signatures came before it
    reported = [line for line in out.splitlines() if "FAILS" in line]
    assert len(reported) == len(failing)
    assert all(any(str(a) in line for line in reported) for a in failing)


def test_a_file_without_anchors_is_an_operator_error(
    demo: ConsoleHarness, db_url: str, tmp_path, capsys
) -> None:
    empty = tmp_path / "notes.txt"
    empty.write_text("nothing here but #12 and a hash 3f9a12bc4d5e0718", encoding="utf-8")
    capsys.readouterr()
    status = main(["--db", db_url, "--now", NOW, "audit", "verify", "--anchors", str(empty)])
    assert status == 2 and "no audit chain anchors" in capsys.readouterr().err


def test_an_anchor_beyond_any_entry_is_missing_not_an_error(demo: ConsoleHarness) -> None:
    far = audit.Anchor(10**17, "0123456789abcdef")  # a mistyped position: never an id
    (failure,) = audit.check_anchors(demo.runtime.engine, [far])
    assert failure.anchor == far and failure.problem.startswith(f"no entry #{10**17}")


def test_one_chain_for_every_engagement(
    runtime: Runtime, demo: ConsoleHarness, en: ConsoleHarness
) -> None:
    """Both engagements append to the database's one chain: their positions interleave."""
    demo.one("sunwei", LIFE["zh-CN"][0][2])
    (zh,) = audit.find_anchors(demo.one("sunwei", LIFE["zh-CN"][1][2]).text)
    en.one("sunwei", LIFE["en"][0][2])
    (en_anchor,) = audit.find_anchors(en.one("sunwei", LIFE["en"][1][2]).text)
    with Session(runtime.engine) as session:
        between = session.execute(
            select(AuditEntry.engagement_id).where(
                AuditEntry.id > zh.position,
                AuditEntry.id <= en_anchor.position,  # type: ignore[operator]
            )
        ).scalars()
        zh_entry = session.get(AuditEntry, zh.position)
        assert zh_entry is not None and zh_entry.engagement_id not in set(between)
    assert en_anchor.position > zh.position and re.fullmatch(r"[0-9a-f]{16}", en_anchor.prefix)
    assert not audit.check_anchors(runtime.engine, [zh, en_anchor])


# -- `rentian say`: options end at `--` ---------------------------------------------------------


def test_say_sends_dash_h_after_double_dash(demo: ConsoleHarness, db_url: str, capsys) -> None:
    capsys.readouterr()
    args = ["--db", db_url, "--now", NOW, "say", "--chat", "dm", "--user", "wangli", "--direct"]
    assert main([*args, "--json", "--", "-h"]) == 0
    (reply,) = json.loads(capsys.readouterr().out)
    assert reply["kind"] == "error.usage" and "/-h" in reply["text"]  # the text was "-h"


def test_say_keeps_words_that_look_like_options(demo: ConsoleHarness, db_url: str, capsys) -> None:
    demo.one("liuyang", "/工单 P2 报表导出超时")
    demo.one("zhaogang", "/报工 4h T-1 排查")
    capsys.readouterr()
    args = ["--db", db_url, "--now", NOW, "say", "--chat", "demo-group", "--user", "sunwei"]
    assert main([*args, "--json", "/报工", "调整", "@zhaogang", "-2h", "T-1", "重复记录"]) == 0
    reply = json.loads(capsys.readouterr().out)[0]  # then the engineer's notice
    assert reply["kind"] == "worklog.adjusted" and "-0.25 人天" in reply["text"]
    assert len(audit.find_anchors(reply["text"])) == 1
