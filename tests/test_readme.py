"""The README is the front door: its command table must match the commands that exist."""

from __future__ import annotations

import re
from pathlib import Path

from app.commands import all_commands

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme_table() -> None:
    for command in all_commands():
        assert f"| `/{command.aliases[0]}` | `/{command.name}` |" in README, command.name


def test_the_two_set_up_commands_come_first() -> None:
    head = "\n".join(README.splitlines()[:20])
    assert "make run" in head and "make test" in head


def test_every_document_the_readme_names_is_in_the_repository() -> None:
    named = set(re.findall(r"\]\(([^)#]+)\)", README))  # Markdown links
    named |= set(re.findall(r"`((?:docs|config)/[\w./-]+)`", README))  # paths in code spans
    named.discard("config/rentian.toml")  # the operator's own settings, copied from the example
    assert {"docs/architecture.md", "docs/operations.md"} <= named
    for path in named:
        if "://" not in path and "*" not in path:
            assert (ROOT / path).exists(), path
    for text in (README, *(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))):
        assert "../shared" not in text and "ARCHITECTURE.md" not in text
