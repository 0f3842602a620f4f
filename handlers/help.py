"""/help (/帮助): the commands this person may use here, generated from the declarations."""

from __future__ import annotations

from bot.assurance import INTAKE
from bot.commands import Arg, Command, Parsed
from bot.context import Context, roles_text
from bot.errors import NotFound
from bot.i18n import tr


def help_command(ctx: Context, cmd: Parsed) -> None:
    """List the commands the sender may use, or explain one."""
    topic = cmd.arg("command")
    if topic:
        ctx.reply(_explain(ctx, topic), "help")
        return
    lines = [ctx.tr("你可以在这里使用的命令：", "Commands you can use here:")]
    for command in _visible(ctx):
        lines.append(_line(command, ctx.locale))
    lines.append(ctx.tr("发送 /帮助 命令名 查看用法，例如 /帮助 完成。",
                        "Send /help COMMAND for its usage, e.g. /help done."))  # fmt: skip
    if ctx.engagement is None:
        lines.append(ctx.tr("这个会话还没有对应的项目：厂商项目经理在群里发送 /绑定 项目编号。",
                            "No engagement here yet: the vendor PM sends /bind CODE in the group."))  # fmt: skip
    ctx.reply("\n".join(lines), "help")


def _visible(ctx: Context) -> list[Command]:
    actor = ctx.actor
    if actor is None:  # an unbound chat, or a stranger: what helps them get started
        return [c for c in ctx.registry.commands if not c.needs_engagement]
    open_to_all = [c for c in ctx.registry.commands if c.roles is None and not c.needs_engagement]
    return [c for c in ctx.registry.commands if c in open_to_all or actor.may(c)]


def _line(command: Command, locale: str) -> str:
    """`/工单 /ticket — 开工单…`: both names and what it does; `/help COMMAND` gives the usage."""
    summary = command.summary[1] if locale == "en" else command.summary[0]
    first, second = (
        (command.name, command.aliases[0]) if locale == "en" else (command.aliases[0], command.name)
    )
    return f"/{first} /{second} — {summary}"


def _explain(ctx: Context, topic: str) -> str:
    command = ctx.registry.get(topic)
    if command is None:
        close = ctx.registry.suggest(topic.lstrip("/／"))
        hint = " ".join(f"/{c}" for c in close)
        raise NotFound(
            ctx.tr("没有命令 {t}。{h}", "There is no command {t}. {h}", t=topic,
                   h=ctx.tr("你是不是想查 {x}？", "Did you mean {x}?", x=hint) if hint else "")
            .strip()
        )  # fmt: skip
    return _describe(ctx, command)


def _describe(ctx: Context, command: Command) -> str:
    locale = ctx.locale
    summary = command.summary[1] if locale == "en" else command.summary[0]
    names = " ".join(f"/{word}" for word in command.words())
    lines = [f"{names} — {summary}", tr(locale, "用法：{u}", "Usage: {u}", u=command.usage(locale))]
    example = command.example_for(locale)
    if example:
        lines.append(tr(locale, "例如：{e}", "Example: {e}", e=example))
    who = (
        roles_text(command, locale, ctx.vocabulary)
        if command.roles
        else tr(locale, "所有人", "anyone")
    )
    lines.append(tr(locale, "谁可以用：{w}", "Who may use it: {w}", w=who))
    return "\n".join(lines)


COMMANDS = [
    Command(
        name="help",
        aliases=("帮助",),
        summary=("查看你可以使用的命令", "the commands you may use here"),
        handler=help_command,
        args=(Arg("command", "word", ("命令", "COMMAND"), required=False),),
        example="/帮助 完成",
        example_en="/help done",
        needs_engagement=False,
        needs=INTAKE,
    ),
]
