"""The engagement file's `[knowledge]` section (see handlers.sow.SECTIONS): the folders of
Markdown articles, a glossary of synonyms, and how sure an answer must be.

    [knowledge]
    paths = ["kb/"]                              # relative to where the file is applied
    synonyms = { "卡顿" = ["慢", "超时"], "账号" = ["帐号", "用户名"] }
    min_coverage = 45                            # percent of the question an article matches

Folders are resolved to absolute paths here, when the file is applied: the articles are read
from them on the knowledge base's first use after that (handlers.knowledge)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handlers.filereader import Node, show

_KEYS = frozenset({"paths", "synonyms", "min_coverage"})
DEFAULT_MIN_COVERAGE = 45


def parse_knowledge(root: Node) -> dict[str, Any] | None:
    """The section as JSON-ready data, or None when the file has none."""
    if root.get("knowledge") is None:
        return None
    table = root.table("knowledge", _KEYS)
    paths = []
    folders = table.sequence("paths")
    for i, value in folders.data.items():
        if not isinstance(value, str) or not value.strip():
            folders.add(i, f"must be a folder name, not {show(value)}")
            continue
        folder = Path(value.strip()).expanduser().resolve()
        if not folder.is_dir():
            folders.add(i, f"no such folder: {folder}")
            continue
        paths.append(str(folder))
    synonyms: dict[str, list[str]] = {}
    groups = table.table("synonyms")
    for word, others in groups.data.items():
        if (
            not isinstance(others, list)
            or not others
            or not all(isinstance(other, str) and other.strip() for other in others)
        ):
            groups.add(word, f"must be a list of words, not {show(others)}")
            continue
        synonyms[str(word)] = [other.strip() for other in others]
    coverage = table.whole("min_coverage", 1, 100, DEFAULT_MIN_COVERAGE)
    return {"paths": paths, "synonyms": synonyms, "min_coverage": coverage}
