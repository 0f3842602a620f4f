"""How /help reads in a chat: the list of commands, and one command's usage. Text only."""

from __future__ import annotations

from bot.commands import Command
from bot.i18n import tr


def list_head(locale: str) -> str:
    return tr(locale, "你可以在这里使用的命令：", "Commands you can use here:")


def usage_hint(locale: str) -> str:
    return tr(locale, "发送 /帮助 命令名 查看用法，例如 /帮助 完成。",
              "Send /help COMMAND for its usage, e.g. /help done.")  # fmt: skip


def unbound(locale: str) -> str:
    return tr(locale, "这个会话还没有对应的项目：厂商项目经理在群里发送 /绑定 项目编号。",
              "No engagement here yet: the vendor PM sends /bind CODE in the group.")  # fmt: skip


def command_line(command: Command, locale: str) -> str:
    """`/工单 /ticket — 开工单…`: both names and what it does; `/help COMMAND` gives the usage."""
    summary = command.summary[1] if locale == "en" else command.summary[0]
    first, second = (
        (command.name, command.aliases[0]) if locale == "en" else (command.aliases[0], command.name)
    )
    return f"/{first} /{second} — {summary}"


def no_command(topic: str, close: list[str], locale: str) -> str:
    """`/help TOPIC` for no command; `close` are the commands it might have meant."""
    hint = " ".join(f"/{c}" for c in close)
    return tr(locale, "没有命令 {t}。{h}", "There is no command {t}. {h}", t=topic,
              h=tr(locale, "你是不是想查 {x}？", "Did you mean {x}?", x=hint) if hint else "").strip()  # fmt: skip


def describe(command: Command, roles: str | None, locale: str) -> str:
    """One command: its names, what it does, usage, example and who may use it (`roles`, the
    roles' names; None when anyone may)."""
    summary = command.summary[1] if locale == "en" else command.summary[0]
    names = " ".join(f"/{word}" for word in command.words())
    lines = [f"{names} — {summary}", tr(locale, "用法：{u}", "Usage: {u}", u=command.usage(locale))]
    example = command.example_for(locale)
    if example:
        lines.append(tr(locale, "例如：{e}", "Example: {e}", e=example))
    who = roles if roles is not None else tr(locale, "所有人", "anyone")
    lines.append(tr(locale, "谁可以用：{w}", "Who may use it: {w}", w=who))
    return "\n".join(lines)
