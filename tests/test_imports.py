"""Heavy platform SDKs load only when their channel is enabled: the console and the CLI stay fast."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = (
    "lark_oapi",
    "dingtalk_stream",
    "wechatpy",
    "aioimaplib",
    "aiosmtplib",
    "openpyxl",
    "xlsxwriter",
)


def test_bot_and_the_domain_import_no_platform_sdk() -> None:
    code = (
        "import sys, app.cli, app.ops, app.http, app.runtime, app.commands;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "[]"


# -- the layers -------------------------------------------------------------------------------
# Which of our packages each package may import (see docs/architecture.md). Every import
# counts: at module level, inside a function, or under TYPE_CHECKING.
PACKAGES = ("app", "web", "bot", "domain", "handlers", "adapters", "storage", "config")
MAY_IMPORT = {
    "app": set(PACKAGES),
    "web": {"web", "handlers", "domain", "bot", "storage", "config"},
    "handlers": {"handlers", "domain", "bot", "storage", "config"},
    "adapters": {"adapters", "bot", "storage", "config"},
    "domain": {"domain", "bot"},
    "bot": {"bot", "storage", "config"},
    "storage": {"storage", "bot"},
    "config": {"config", "bot"},
}
# What the lower layers may take from `bot`: leaf modules that import nothing of ours.
LEAVES = {
    "domain": {"bot.i18n", "bot.durations", "base.errors", "bot.lexer"},
    "storage": {"base.errors"},
    "config": {"base.errors"},
}
# The pure rules stay pure: no database, web or platform library.
DOMAIN_MAY_NOT = ("sqlalchemy", "sqlmodel", "fastapi", "starlette", "httpx", "requests", "pydantic")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every module named by an import statement anywhere in the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {m for m in _imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for module, deps in _graph().items():
        package = module.split(".")[0]
        for dep in deps:
            target = dep.split(".")[0]
            if target not in MAY_IMPORT[package]:
                wrong.append(f"{module} -> {dep}")
            elif package in LEAVES and target == "bot" and dep not in LEAVES[package]:
                wrong.append(f"{module} -> {dep} (only {sorted(LEAVES[package])})")
    assert wrong == []


def test_the_domain_is_pure() -> None:
    wrong = [
        f"{module} -> {name}"
        for module, path in _modules().items()
        if module.split(".")[0] == "domain"
        for name in _imports(path)
        if name.split(".")[0] in DOMAIN_MAY_NOT
    ]
    assert wrong == []


def test_there_is_no_import_circle() -> None:
    graph = _graph()
    circles = [c for c in _strongly_connected(graph) if len(c) > 1]
    assert circles == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the groups of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group))
    return groups


def test_the_circle_finder_finds_circles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert [g for g in _strongly_connected(graph) if len(g) > 1] == [["a", "b", "c"]]


def test_storage_and_the_framework_agree_on_the_default_locale() -> None:
    from bot.i18n import DEFAULT_LOCALE
    from storage.models import DEFAULT_LOCALE as STORED

    assert STORED == DEFAULT_LOCALE
