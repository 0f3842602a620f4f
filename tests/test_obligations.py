"""Recurring obligations through the real bus (console harness) and the jobs as the scheduler
runs them (`tick`), on SQLite and PostgreSQL: occurrences for a bounded horizon, the reminder,
the overdue post and the escalation each once and in business hours, /义务 done with evidence,
the client approver's acknowledgement (signed and audited), compliance and summary lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from app.commands import all_commands, all_jobs
from app.runtime import Runtime, vocabulary
from base.errors import ConfigError
from bot.bus import Bus
from bot.registry import Registry
from config.settings import Settings
from handlers import obligations
from handlers.declared.obligations import COMMANDS, JOBS
from handlers.sow import load_engagement_file
from storage.db import transaction
from storage.models import AuditEntry, Engagement, Signature
from storage.models_obligations import ObligationOccurrence as Occ
from tests.harness import ConsoleHarness, demo_text

SECTION = """
[[obligations]]
key = "health_check"
service = "health_check"
title = "月度系统健康检查"
owner = "vendor_pm"
every = "monthly"
day = "first_working_day"
evidence = "report"
remind_days = 3
grace_days = 2

[[obligations]]
key = "training"
service = "training"
title = "运维交接培训"
owner = "ma.lin"
every = "dates"
dates = [2026-12-10]
evidence = "acknowledgement"
"""


@pytest.fixture
def ob(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[ConsoleHarness]:
    yield _harness(engine, db_url, tmp_path, SECTION)


WINDOW = """
[[obligations]]
key = "upgrade"
service = "software_upgrade"
title = "季度升级窗口"
owner = "vendor_pm"
every = "dates"
dates = [2026-12-05]
window = { start = "22:00", hours = 4 }
"""


@pytest.fixture
def win(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[ConsoleHarness]:
    yield _harness(engine, db_url, tmp_path, WINDOW)


def _harness(engine: Engine, db_url: str, tmp_path: Path, section: str) -> ConsoleHarness:
    settings = Settings(db=db_url)
    present = {command.name for command in all_commands()}
    registry = Registry([*all_commands(), *(c for c in COMMANDS if c.name not in present)])
    jobs = [*all_jobs(), *(j for j in JOBS if j.name not in {x.name for x in all_jobs()})]
    bus = Bus(engine, registry, settings.bot.names, vocabulary=vocabulary(settings))
    harness = ConsoleHarness(Runtime(settings, engine, registry, jobs, bus))
    path = tmp_path / "obligations.toml"
    path.write_text(demo_text(obligations=False) + section, encoding="utf-8")
    harness.apply(path)
    return harness


def _rows(harness: ConsoleHarness) -> list[Occ]:
    with transaction(harness.runtime.engine) as session:
        rows = list(session.execute(select(Occ).order_by(col(Occ.number))).scalars())
        for row in rows:
            session.expunge(row)
        return rows


_NOTICES = {
    "obligation.remind",
    "obligation.sign",
    "obligation.start",
    "obligation.blocked",
    "obligation.end",
    "obligation.approved",
    "obligation.overdue",
    "obligation.escalate",
    "obligation.submitted",
    "obligation.ask_ack",
}


def _notices(harness: ConsoleHarness, ref: str) -> list[tuple[str, str, str]]:
    return [(r.kind, r.recipient_type, r.recipient) for r in harness.outbox(ref=ref)
            if r.kind in _NOTICES]  # fmt: skip


def test_the_file_section_is_validated(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(demo_text(obligations=False) + """
[[obligations]]
key = "x"
service = "nope"
title = "t"
owner = "nobody"
every = "weekly"
day = "funday"
colour = "red"
""", encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError) as raised:
        load_engagement_file(bad)
    message = str(raised.value)
    for path in ("obligations[0].service", "obligations[0].owner", "obligations[0].day",
                 "obligations[0].colour"):  # fmt: skip
        assert path in message, message


def test_occurrences_for_the_horizon_only_and_idempotent(ob: ConsoleHarness) -> None:
    assert ob.tick()  # plan + sweep as the scheduler runs them
    rows = _rows(ob)
    assert [(r.ref, r.key, r.due_on) for r in rows] == [
        ("O-1", "health_check", date(2026, 12, 1)),
        ("O-2", "training", date(2026, 12, 10)),
        ("O-3", "health_check", date(2027, 1, 1)),
        ("O-4", "health_check", date(2027, 2, 1)),
    ]  # 90 days from 2026-11-25: nothing after 2027-02-23
    with transaction(ob.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalars().one()
        assert obligations.top_up(session, engagement, engagement.updated_at) == 0
    listing = ob.one("sunwei", "/义务")
    assert listing.kind == "obligation.list"
    assert (
        "O-1「月度系统健康检查」（截止 2026-12-01）" in listing.text and "O-4" not in listing.text
    )


def test_remind_overdue_escalate_once_each_in_business_hours(ob: ConsoleHarness) -> None:
    ob.tick()
    assert _notices(ob, "O-1") == []
    ob.at("2026-11-26T09:20:00+08:00")  # 3 working days before Tue 1 Dec
    ob.tick()
    assert _notices(ob, "O-1") == [("obligation.remind", "person", "sun.wei")]
    ob.at("2026-11-26T09:40:00+08:00")
    ob.tick()
    assert len(_notices(ob, "O-1")) == 1
    ob.at("2026-12-02T03:00:00+08:00")  # overdue, but at night: nothing yet
    ob.tick()
    assert len(_notices(ob, "O-1")) == 1
    ob.at("2026-12-02T09:10:00+08:00")
    ob.tick()
    assert _notices(ob, "O-1")[1:] == [("obligation.overdue", "chat", "demo-group")]
    ob.at("2026-12-04T09:20:00+08:00")  # two working days of grace have passed
    ob.tick()
    ob.at("2026-12-07T10:00:00+08:00")
    ob.tick()
    escalated = _notices(ob, "O-1")[2:]
    assert sorted(escalated) == [("obligation.escalate", "person", "sun.wei"),
                                 ("obligation.escalate", "person", "zhou.min")]  # fmt: skip
    row = _rows(ob)[0]
    assert row.reminded_at and row.overdue_at and row.escalated_at and row.next_check_at is None
    # The training's owner is a person (ma.lin), reminded on 7 Dec for 10 Dec.
    assert ("obligation.remind", "person", "ma.lin") in _notices(ob, "O-2")


def test_done_needs_a_link_for_a_report_and_the_vendor(ob: ConsoleHarness) -> None:
    ob.tick()
    assert ob.one("liuyang", "/义务 完成 O-1 https://x.example/r").kind != "obligation.done"
    missing = ob.one("sunwei", "/义务 完成 O-1 做完了")
    assert missing.kind != "obligation.done" and "http" in missing.text
    too_long = ob.one("sunwei", "/义务 完成 O-1 https://x.example/" + "a" * 600)
    assert too_long.kind != "obligation.done"
    done = ob.one("sunwei", "/义务 完成 O-1 https://docs.example/hc-2026-12 一切正常")
    assert done.kind == "obligation.done", done.text
    assert ob.one("sunwei", "/义务 完成 O-1 https://docs.example/again").kind != "obligation.done"
    row = _rows(ob)[0]
    assert (row.state, row.evidence_link, row.evidence_note) == (
        "done",
        "https://docs.example/hc-2026-12",
        "一切正常",
    )
    assert row.next_check_at is None
    ob.at("2026-12-04T09:20:00+08:00")
    ob.tick()
    assert _notices(ob, "O-1") == []  # done before anything was due: nothing is ever sent
    with transaction(ob.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalars().one()
        met = obligations.compliance(session, engagement, date(2026, 12, 1), date(2026, 12, 31))
        assert met.on_time == ["O-1"] and met.late == [] and met.missed == []
    english = ob.one("sunwei", "/obligations")
    assert "O-1" in english.text


def test_acknowledgement_is_the_client_approvers_signature(ob: ConsoleHarness) -> None:
    ob.tick()
    early = ob.one("wangli", "/义务 确认 O-2")
    assert early.kind != "obligation.acknowledged"
    submitted = ob.one("malin", "/义务 完成 O-2 培训已完成，签到表见群文件")
    assert submitted.kind == "obligation.submitted", submitted.text
    assert ("obligation.ask_ack", "person", "wang.li") in _notices(ob, "O-2")
    assert ob.one("chenjing", "/义务 确认 O-2").kind != "obligation.acknowledged"
    assert ob.one("sunwei", "/义务 确认 O-2").kind != "obligation.acknowledged"
    acked = ob.one("wangli", "/义务 确认 O-2")
    assert acked.kind == "obligation.acknowledged", acked.text
    row = _rows(ob)[1]
    assert row.state == "done" and row.content_hash and row.content_hash[:16] in acked.text
    with transaction(ob.runtime.engine) as session:
        signed = (
            session.execute(select(Signature).where(col(Signature.subject) == "O-2"))
            .scalars()
            .all()
        )
        assert [(s.party, s.content_hash) for s in signed] == [("client", row.content_hash)]
        entry = (
            session.execute(
                select(AuditEntry).where(col(AuditEntry.action) == "obligation.acknowledged")
            )
            .scalars()
            .one()
        )
        assert json.loads(entry.data)["hash"] == row.content_hash and entry.ref == "O-2"
    assert ob.one("wangli", "/义务 确认 O-2").kind != "obligation.acknowledged"


def test_compliance_late_and_missed_and_summary(ob: ConsoleHarness) -> None:
    ob.tick()
    ob.at("2026-12-03T10:00:00+08:00")
    assert ob.one("sunwei", "/义务 完成 O-1 https://docs.example/hc").kind == "obligation.done"
    ob.at("2026-12-15T10:00:00+08:00")  # the training was never recorded: missed
    with transaction(ob.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalars().one()
        met = obligations.compliance(session, engagement, date(2026, 12, 1), date(2026, 12, 31))
        assert (met.on_time, met.late, met.missed) == ([], ["O-1"], ["O-2"])
        lines = obligations.summary_lines(session, engagement, date(2026, 12, 15), "zh-CN")
        assert lines == ["定期义务：逾期 1 项（O-2），7 天内到期 0 项",
                         "义务履约（2026-12-01 起）：按时 0，迟交 1，未完成 1"]  # fmt: skip
        english = obligations.summary_lines(session, engagement, date(2026, 12, 15), "en")
        assert english[1] == "Obligations met since 2026-12-01: 0 on time, 1 late, 1 missed"


def test_a_link_ends_at_chinese_punctuation() -> None:
    from handlers.obligations import _LINK

    found = _LINK.match("https://wiki.example/report/2026-11，已交付 并确认")
    assert found is not None and found.group(0) == "https://wiki.example/report/2026-11"


# -- upgrade windows --------------------------------------------------------------------------


def test_a_window_section_is_validated(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(demo_text(obligations=False) + WINDOW.replace(
        'window = { start = "22:00", hours = 4 }',
        'evidence = "report"\nwindow = { start = "25:00", hours = 13, colour = 1 }'), encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError) as raised:
        load_engagement_file(bad)
    message = str(raised.value)
    for path in ("obligations[0].window.start", "obligations[0].window.hours",
                 "obligations[0].window.colour", "obligations[0].evidence"):  # fmt: skip
        assert path in message, message
    spec = load_engagement_file(_written(tmp_path, WINDOW))
    (item,) = spec.sections["obligations"]["items"]
    assert item["window"] == {"start": "22:00", "hours": 4} and item["evidence"] == "both"


def _written(tmp_path: Path, section: str) -> Path:
    path = tmp_path / "good.toml"
    path.write_text(demo_text(obligations=False) + section, encoding="utf-8")
    return path


def test_an_upgrade_window_is_signed_by_both_runs_and_is_confirmed(win: ConsoleHarness) -> None:
    win.tick()
    (row,) = _rows(win)
    assert row.ref == "O-1" and row.window_start_at is not None
    assert row.window_start_at.isoformat() == "2026-12-05T14:00:00+00:00"  # 22:00 in Beijing
    listing = win.one("sunwei", "/义务").text
    assert "季度升级窗口 12-05 22:00–02:00" in listing and "待提交方案" in listing
    # Nothing to sign before there is a plan; only the vendor records it, with a link.
    assert win.one("wangli", "/义务 签署 O-1").kind.startswith("error.")
    assert win.one("liuyang", "/义务 方案 O-1 https://plan.example/u1").kind.startswith("error.")
    assert win.one("sunwei", "/义务 方案 O-1 明晚升级").kind.startswith("error.")
    assert win.one("sunwei", "/义务 完成 O-1 https://r.example/x").kind.startswith("error.")
    planned = win.one("sunwei", "/义务 方案 O-1 https://plan.example/u1 回退：快照还原")
    assert planned.kind == "obligation.plan", planned.text
    assert _notices(win, "O-1") == [("obligation.sign", "person", "wang.li")]  # not the sender
    # The reminder (3 working days before Saturday 5 Dec: Wednesday the 2nd) asks for signatures.
    win.at("2026-12-02T09:30:00+08:00")
    win.tick()
    assert ("obligation.remind", "person", "sun.wei") in _notices(win, "O-1")
    assert _notices(win, "O-1").count(("obligation.sign", "person", "wang.li")) == 2
    assert win.one("chenjing", "/义务 签署 O-1").kind.startswith("error.")  # not a signer
    waiting = win.one("sunwei", "/义务 签署 O-1")
    assert waiting.kind == "obligation.signed" and "甲方审批人" in waiting.text
    approved = win.one("wangli", "/obligations sign O-1")  # the English name
    assert approved.kind == "obligation.approved", approved.text
    row = _rows(win)[0]
    assert row.approved_at is not None and row.window_hash and row.window_hash[:16] in approved.text
    with transaction(win.runtime.engine) as session:
        signed = (
            session.execute(select(Signature).where(col(Signature.subject) == "O-1/window"))
            .scalars()
            .all()
        )
        assert sorted(s.party for s in signed) == ["client", "vendor"]
        assert {s.content_hash for s in signed} == {obligations.window_hash("DEMO-2026", row)}
    # Saturday 21:59: nothing; 22:00 (no business hours): it begins, told in the chat.
    win.at("2026-12-05T21:59:00+08:00")
    win.tick()
    assert ("obligation.start", "chat", "demo-group") not in _notices(win, "O-1")
    win.at("2026-12-05T22:00:30+08:00")
    win.tick()
    assert ("obligation.start", "chat", "demo-group") in _notices(win, "O-1")
    assert win.one("wangli", "/义务 签署 O-1").kind.startswith("error.")  # too late to sign
    win.at("2026-12-06T02:01:00+08:00")
    win.tick()
    win.tick()
    ends = [n for n in _notices(win, "O-1") if n[0] == "obligation.end"]
    assert ends == [
        ("obligation.end", "chat", "demo-group"),
        ("obligation.end", "person", "sun.wei"),
    ]
    win.at("2026-12-06T09:00:00+08:00")
    submitted = win.one("sunwei", "/义务 完成 O-1 https://r.example/u1 升级完成，回归通过")
    assert submitted.kind == "obligation.submitted", submitted.text
    assert win.one("wangli", "/义务 确认 O-1").kind == "obligation.acknowledged"
    with transaction(win.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalars().one()
        met = obligations.compliance(session, engagement, date(2026, 12, 1), date(2026, 12, 31))
        assert met.on_time == ["O-1"], met  # evidence on the day the window ended
        actions = [
            e.action
            for e in session.execute(
                select(AuditEntry).where(col(AuditEntry.ref) == "O-1")
            ).scalars()
        ]
        signed = [
            e.action
            for e in session.execute(
                select(AuditEntry).where(col(AuditEntry.ref) == "O-1/window")
            ).scalars()
        ]
    for action in ("obligation.plan", "obligation.window_approved", "obligation.start",
                   "obligation.end", "obligation.acknowledged"):  # fmt: skip
        assert action in actions, actions
    assert signed == ["obligation.window_signed", "obligation.window_signed"]  # its subject


def test_a_new_plan_voids_the_signatures_and_an_unsigned_window_is_blocked(
    win: ConsoleHarness,
) -> None:
    win.tick()
    win.one("sunwei", "/义务 方案 O-1 https://plan.example/u1")
    win.one("sunwei", "/义务 签署 O-1")
    assert win.one("wangli", "/义务 签署 O-1").kind == "obligation.approved"
    replanned = win.one("sunwei", "/义务 方案 O-1 https://plan.example/u2 范围变更")
    assert replanned.kind == "obligation.plan" and "2" in replanned.text
    row = _rows(win)[0]
    assert row.approved_at is None and row.plan_link == "https://plan.example/u2"
    with transaction(win.runtime.engine) as session:
        rows = (
            session.execute(select(Signature).where(col(Signature.subject) == "O-1/window"))
            .scalars()
            .all()
        )
        assert len(rows) == 2 and all(s.voided_at is not None for s in rows)
    win.one("sunwei", "/义务 签署 O-1")  # the client never signs the new plan
    win.at("2026-12-05T22:00:30+08:00")
    win.tick()
    blocked = [n for n in _notices(win, "O-1") if n[0] == "obligation.blocked"]
    assert sorted(blocked) == [("obligation.blocked", "chat", "demo-group"),
                               ("obligation.blocked", "person", "sun.wei"),
                               ("obligation.blocked", "person", "zhou.min")]  # fmt: skip
    text = win.outbox(kind="obligation.blocked", recipient_type="chat")[0].text
    assert "甲方审批人" in text and "厂商项目经理" not in text
    assert "不得进行" in win.one("sunwei", "/义务").text
    assert win.one("sunwei", "/义务 完成 O-1 https://r.example/x").kind.startswith("error.")
    assert win.one("wangli", "/义务 签署 O-1").kind.startswith("error.")
    win.at("2026-12-06T03:00:00+08:00")
    win.tick()
    assert not [n for n in _notices(win, "O-1") if n[0] in ("obligation.start", "obligation.end")]


def test_late_evidence_gives_the_client_their_grace_before_any_escalation(
    ob: ConsoleHarness,
) -> None:
    ob.tick()
    ob.at("2026-12-16T10:00:00+08:00")  # the training (due 10 Dec, grace 2 days) is late
    assert ob.one("malin", "/义务 完成 O-2 培训已补做").kind == "obligation.submitted"
    ob.at("2026-12-16T10:02:00+08:00")
    ob.tick()
    escalations = [n for n in _notices(ob, "O-2") if n[0] == "obligation.escalate"]
    assert escalations == []  # not at once: the client approver has just been asked
    ob.at("2026-12-18T09:05:00+08:00")  # two working days after the evidence
    ob.tick()
    escalations = [n for n in _notices(ob, "O-2") if n[0] == "obligation.escalate"]
    assert sorted(escalations) == [("obligation.escalate", "person", "sun.wei"),
                                   ("obligation.escalate", "person", "zhou.min")]  # fmt: skip
