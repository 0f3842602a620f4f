"""The README is the front door: its command table must match the commands that exist."""

from __future__ import annotations

from pathlib import Path

from handlers import all_commands

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme_table() -> None:
    for command in all_commands():
        assert f"| `/{command.aliases[0]}` | `/{command.name}` |" in README, command.name


def test_the_two_set_up_commands_come_first() -> None:
    head = "\n".join(README.splitlines()[:20])
    assert "make run" in head and "make test" in head
