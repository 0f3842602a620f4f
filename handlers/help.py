"""/help (/帮助): the commands this person may use here, generated from the declarations."""

from __future__ import annotations

from base.errors import NotFound
from bot.commands import Command, Parsed
from bot.context import Context, roles_text
from handlers import help_text as text


def help_command(ctx: Context, cmd: Parsed) -> None:
    """List the commands the sender may use, or explain one."""
    topic = cmd.arg("command")
    if topic:
        ctx.reply(_explain(ctx, topic), "help")
        return
    lines = [text.list_head(ctx.locale)]
    for command in _visible(ctx):
        lines.append(text.command_line(command, ctx.locale))
    lines.append(text.usage_hint(ctx.locale))
    if ctx.engagement is None:
        lines.append(text.unbound(ctx.locale))
    ctx.reply("\n".join(lines), "help")


def _visible(ctx: Context) -> list[Command]:
    actor = ctx.actor
    if actor is None:  # an unbound chat, or a stranger: what helps them get started
        return [c for c in ctx.registry.commands if not c.needs_engagement]
    open_to_all = [c for c in ctx.registry.commands if c.roles is None and not c.needs_engagement]
    return [c for c in ctx.registry.commands if c in open_to_all or actor.may(c)]


def _explain(ctx: Context, topic: str) -> str:
    command = ctx.registry.get(topic)
    if command is None:
        close = ctx.registry.suggest(topic.lstrip("/／"))
        raise NotFound(text.no_command(topic, close, ctx.locale))
    roles = roles_text(command, ctx.locale, ctx.vocabulary) if command.roles else None
    return text.describe(command, roles, ctx.locale)
