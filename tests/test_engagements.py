"""`rentian engagement apply`: create, no-op on the same file, update with an audit entry,
clear errors that name the field, people deactivated rather than deleted."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.cli import main
from config.settings import DEMO_ENGAGEMENT
from storage.db import transaction
from storage.models import AuditEntry, ChatBinding, ChecklistItem, Engagement, Identity, Person
from tests.harness import ConsoleHarness


def _variant(tmp_path: Path, name: str, *replacements: tuple[str, str]) -> Path:
    text = DEMO_ENGAGEMENT.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_apply_creates_everything_the_file_says(demo: ConsoleHarness) -> None:
    with transaction(demo.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalar_one()
        assert engagement.code == "DEMO-2026" and engagement.timezone == "Asia/Shanghai"
        assert engagement.budget == {
            "junior": 19200,
            "mid": 38400,
            "senior": 28800,
            "expert": 9600,
            "principal": 2400,
        }
        assert engagement.sla["targets"]["P3"] == {
            "response": 240,
            "resolve": 1620,
            "calendar": "business",
        }
        people = {p.key: p for p in session.execute(select(Person)).scalars()}
        assert people["zhao.gang"].level == "senior" and people["wang.li"].party == "client"
        assert len(people) == 10
        identity = session.execute(
            select(Identity).where(Identity.channel == "console", Identity.external_id == "sunwei")
        ).scalar_one()
        assert identity.person_id == people["sun.wei"].id
        assert session.execute(select(ChatBinding)).scalar_one().chat_id == "demo-group"
        assert len(list(session.execute(select(ChecklistItem)).scalars())) == 7


def test_same_file_twice_changes_nothing(demo: ConsoleHarness) -> None:
    assert demo.apply(DEMO_ENGAGEMENT).action == "unchanged"
    with transaction(demo.runtime.engine) as session:
        actions = [a.action for a in session.execute(select(AuditEntry)).scalars()]
    assert actions == ["engagement.created"]


def test_changed_file_updates_and_is_audited(demo: ConsoleHarness, tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        "changed.toml",
        ("senior = 60", "senior = 70"),
        ('id = "he.jun"', 'id = "he.jun2"'),
    )
    result = demo.apply(path)
    assert result.action == "updated"
    assert "budget: " in " ".join(result.changes)
    assert "people: - he.jun" in result.changes and "people: + he.jun2" in result.changes
    with transaction(demo.runtime.engine) as session:
        old = session.execute(select(Person).where(Person.key == "he.jun")).scalar_one()
        assert old.active is False  # kept for the records that point at him
        entry = session.execute(select(AuditEntry).order_by(AuditEntry.id.desc())).scalars().first()
        assert entry is not None and entry.action == "engagement.updated"
        assert "senior" in entry.data
        new = session.execute(select(Person).where(Person.key == "he.jun2")).scalar_one()
        moved = session.execute(
            select(Identity).where(Identity.external_id == "hejun")
        ).scalar_one()
        assert moved.person_id == new.id  # the console identity moved with the file


def test_a_chat_bound_to_another_engagement_is_refused(
    demo: ConsoleHarness, tmp_path: Path, db_url: str, capsys
) -> None:
    path = _variant(tmp_path, "other.toml", ('"DEMO-2026"', '"OTHER-1"'))
    assert main(["--db", db_url, "engagement", "apply", str(path)]) == 2
    err = capsys.readouterr().err
    assert "chats[0]: console:demo-group is already bound to DEMO-2026" in err
    with transaction(demo.runtime.engine) as session:
        assert len(list(session.execute(select(Engagement)).scalars())) == 1  # nothing written


def test_cli_names_the_field_and_problem(tmp_path: Path, db_url: str, capsys) -> None:
    path = _variant(tmp_path, "bad.toml", ('level = "senior"', 'level = "seniour"'))
    assert main(["--db", db_url, "engagement", "apply", str(path)]) == 2
    err = capsys.readouterr().err
    assert "level: unknown level 'seniour'" in err and "junior, mid, senior" in err


def test_cli_apply_prints_what_changed(tmp_path: Path, db_url: str, capsys) -> None:
    assert main(["--db", db_url, "engagement", "apply", str(DEMO_ENGAGEMENT)]) == 0
    out = capsys.readouterr().out
    assert "engagement DEMO-2026: created" in out and "chats: + console:demo-group" in out
    assert main(["--db", db_url, "engagement", "apply", str(DEMO_ENGAGEMENT)]) == 0
    assert "engagement DEMO-2026: unchanged" in capsys.readouterr().out
