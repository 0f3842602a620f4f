"""Every command by each of its names: finds the command a message starts with and binds the
rest to its arguments (`bot.arguments`). Raises `UsageError` and nothing else, whatever the
input."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from base.errors import UsageError
from bot.arguments import bind, shown
from bot.commands import Command, MessageContext, Parsed
from bot.i18n import tr
from bot.lexer import Token, normalise, strip_command_prefix, tokenize

_HELP_FLAGS = frozenset({"-h", "--help", "?", "-?"})


class Registry:
    """Every command by each of its names; builds the parser and the help text."""

    def __init__(self, commands: Iterable[Command]) -> None:
        self.commands: list[Command] = []
        self._by_word: dict[str, Command] = {}
        for command in commands:
            self.add(command)

    def add(self, command: Command) -> None:
        for word in command.words():
            key = " ".join(normalise(word).split())
            if key in self._by_word:
                raise ValueError(f"command word {word!r} is declared twice")
            self._by_word[key] = command
        self.commands.append(command)

    def get(self, word: str) -> Command | None:
        return self._by_word.get(" ".join(normalise(word).lstrip("/／").split()))

    def suggest(self, word: str) -> list[str]:
        return difflib.get_close_matches(normalise(word), list(self._by_word), n=3, cutoff=0.5)

    def addressed(self, text: str, where: MessageContext) -> bool:
        """Whether `text` may be for the bot, as `parse` judges it before it looks for a
        command: in a direct chat, after an @-mention of the bot, or starting with `/`.
        What is not cannot be a command, whatever the engagement: the bus reads nothing for it."""
        if where.direct:
            return True
        tokens = tokenize(text)
        if tokens and _is_bot_mention(tokens[0], where):
            return True
        return bool(tokens) and strip_command_prefix(tokens[0].text)[1]

    def parse(self, text: str, where: MessageContext) -> Parsed | None:
        """The command in `text`, None when the message is not for the bot.

        In a group a command starts with `/` (after any @-mentions of the bot); in a direct
        chat, or when the bot is @-mentioned, the `/` may be left out.
        """
        tokens = tokenize(text)
        addressed = False
        while tokens and _is_bot_mention(tokens[0], where):
            tokens.pop(0)
            addressed = True
        if not tokens:
            return Parsed(self.help_command(), addressed=True) if addressed else None
        first = tokens[0]
        rest, slashed = strip_command_prefix(first.text)
        if not slashed and not (where.direct or addressed):
            return None
        if first.quoted and not slashed:
            raise _unknown(self, first.text, where.locale)
        if slashed and not rest:  # "/ help"
            tokens.pop(0)
            if not tokens:
                raise _unknown(self, "/", where.locale)
            rest = tokens[0].text
        command, used = self._match(rest, tokens[1:])
        if command is None:
            raise _unknown(self, rest, where.locale)
        arguments = tokens[1 + used :]
        if arguments and not arguments[0].quoted and arguments[0].norm in _HELP_FLAGS:
            return Parsed(command, addressed=addressed, wants_help=True)
        args, options = bind(command, arguments, text, where)
        return Parsed(command, args, options, addressed=addressed)

    def _match(self, word: str, following: list[Token]) -> tuple[Command | None, int]:
        head = normalise(word)
        if following and not following[0].quoted:
            two = self._by_word.get(f"{head} {following[0].norm}")
            if two is not None:
                return two, 1
        return self._by_word.get(head), 0

    def help_command(self) -> Command:
        command = self.get("help")
        if command is None:
            raise UsageError("no help command")
        return command


def _is_bot_mention(token: Token, where: MessageContext) -> bool:
    if not token.is_mention:
        return False
    name = normalise(token.text[1:])
    if name in where.bot_names:
        return True
    return any(m.is_bot and normalise(m.name or m.external_id) == name for m in where.mentions)


def _unknown(registry: Registry, word: str, locale: str) -> UsageError:
    said = shown(word)
    close = registry.suggest(word)
    if close:
        hint = " ".join(f"/{c}" for c in close)
        return UsageError(
            tr(locale, "没有命令 /{w}。你是不是想用 {hint}？发送 /帮助 查看全部命令。",
               "There is no command /{w}. Did you mean {hint}? Send /help for all commands.",
               w=said, hint=hint)
        )  # fmt: skip
    return UsageError(
        tr(locale, "没有命令 /{w}。发送 /帮助 查看可用的命令。",
           "There is no command /{w}. Send /help to see the commands you can use.", w=said)
    )  # fmt: skip
