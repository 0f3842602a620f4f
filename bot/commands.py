"""Commands declared as data: the parser, permission checks and `/help` all come from here.

A handler module declares `COMMANDS = [Command(...)]`; the registry indexes names and
aliases (Chinese and English, one or two words), parses a message into `Parsed` or raises
`UsageError`, and never raises anything else whatever the input.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from bot.assurance import EVERYDAY, Assurance
from bot.durations import Duration, parse_duration
from bot.errors import UsageError
from bot.i18n import tr
from bot.lexer import Token, normalise, parse_date, parse_ref, strip_command_prefix, tokenize
from bot.message import Mention

ArgKind = Literal["word", "text", "ref", "duration", "date", "person", "choice", "int"]
# A handler takes the command's context (`bot.context.Context`, or the app's subclass of it)
# and the parsed message. Typed loosely here so that commands need not know the context.
Handler = Callable[[Any, "Parsed"], None]
_HELP_FLAGS = frozenset({"-h", "--help", "?", "-?"})


@dataclass(frozen=True)
class Ref:
    """A reference such as `T-12`: prefix and number."""

    prefix: str
    number: int

    def __str__(self) -> str:
        return f"{self.prefix}-{self.number}"


@dataclass(frozen=True)
class Arg:
    """A positional argument. `metavar` is (Chinese, English) for usage lines."""

    name: str
    kind: ArgKind
    metavar: tuple[str, str]
    required: bool = True
    prefixes: tuple[str, ...] = ()  # for refs: which kinds of record
    choices: Mapping[str, str] = field(default_factory=dict)  # normalised spelling -> value


@dataclass(frozen=True)
class Option:
    """A `key=value` option; `aliases` are other keys (e.g. Chinese) for the same option."""

    key: str
    kind: ArgKind
    metavar: tuple[str, str]
    aliases: tuple[str, ...] = ()
    choices: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Command:
    """One chat command. `roles` None means anyone the engagement knows."""

    name: str
    aliases: tuple[str, ...]
    summary: tuple[str, str]
    handler: Handler
    args: tuple[Arg, ...] = ()
    options: tuple[Option, ...] = ()
    roles: frozenset[str] | None = None
    example: str = ""
    example_en: str = ""
    needs_engagement: bool = True
    # How sure we must be of the sender (bot.assurance): INTAKE, EVERYDAY or SIGNING.
    needs: Assurance = EVERYDAY

    def words(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def usage(self, locale: str) -> str:
        """`/工单 [P1-P4] 标题` in Chinese, `/ticket [P1-P4] TITLE` in English."""
        word = self.name if locale == "en" or not self.aliases else self.aliases[0]
        options = [
            f"[{o.key}={o.metavar[1] if locale == 'en' else o.metavar[0]}]" for o in self.options
        ]
        parts = [f"/{word}"]
        for arg in self.args:
            if arg.kind == "text":
                parts += options
                options = []
            metavar = arg.metavar[1] if locale == "en" else arg.metavar[0]
            parts.append(metavar if arg.required else f"[{metavar}]")
        return " ".join(parts + options)

    def example_for(self, locale: str) -> str:
        return self.example_en if locale == "en" and self.example_en else self.example


@dataclass(frozen=True)
class Parsed:
    """A message understood as a command, its arguments converted to values."""

    command: Command
    args: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    addressed: bool = False
    wants_help: bool = False

    def arg(self, name: str, default: Any = None) -> Any:
        return self.args.get(name, default)


@dataclass(frozen=True)
class MessageContext:
    """What the parser needs to know about where a message was said."""

    direct: bool = False
    bot_names: frozenset[str] = frozenset()
    mentions: tuple[Mention, ...] = ()
    locale: str = "zh-CN"
    today: date | None = None  # in the engagement's time zone: relative dates (`+5d`, `明天`)


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
        args, options = _bind(command, arguments, text, where)
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
    shown = _shown(word)
    close = registry.suggest(word)
    if close:
        hint = " ".join(f"/{c}" for c in close)
        return UsageError(
            tr(locale, "没有命令 /{w}。你是不是想用 {hint}？发送 /帮助 查看全部命令。",
               "There is no command /{w}. Did you mean {hint}? Send /help for all commands.",
               w=shown, hint=hint)
        )  # fmt: skip
    return UsageError(
        tr(locale, "没有命令 /{w}。发送 /帮助 查看可用的命令。",
           "There is no command /{w}. Send /help to see the commands you can use.", w=shown)
    )  # fmt: skip


def usage_error(command: Command, locale: str, problem: str) -> UsageError:
    """`problem` plus the usage line and an example, on one line."""
    example = command.example_for(locale)
    text = tr(locale, "{p}。用法：{u}", "{p}. Usage: {u}", p=problem, u=command.usage(locale))
    if example:
        text += tr(locale, "　例如：{e}", "  Example: {e}", e=example)
    return UsageError(" ".join(text.split("\n")))


def _bind(
    command: Command, tokens: list[Token], text: str, where: MessageContext
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Match tokens to the command's options and arguments, converting each value."""
    locale = where.locale
    options: dict[str, Any] = {}
    positional: list[Token] = []
    takes_text = any(arg.kind == "text" for arg in command.args)
    for token in tokens:
        pair = token.key_value()
        option = _find_option(command, pair[0]) if pair else None
        if pair and option is not None:
            value = _convert(option.kind, pair[1], token, option.choices, (), where)
            if value is None:
                raise usage_error(command, locale, _bad_value(locale, option.key, pair[1]))
            options[option.key] = value
        elif pair and not takes_text:
            known = ", ".join(o.key for o in command.options) or "—"
            raise usage_error(
                command, locale,
                tr(locale, "不认识的选项 {k}（可用：{known}）", "unknown option {k} (valid: {known})",
                   k=_shown(pair[0]), known=known),
            )  # fmt: skip
        else:
            positional.append(token)
    args: dict[str, Any] = {}
    index = 0
    for arg in command.args:
        if arg.kind == "text":
            free = positional[index:]
            index = len(positional)
            if free:
                args[arg.name] = _span_text(text, free)
            elif arg.required:
                raise usage_error(command, locale, _missing(locale, arg))
            continue
        token = positional[index] if index < len(positional) else None
        value = None
        if token is not None:
            value = _convert(arg.kind, token.text, token, arg.choices, arg.prefixes, where)
        if value is not None:
            args[arg.name] = value
            index += 1
        elif arg.required:
            if token is None:
                raise usage_error(command, locale, _missing(locale, arg))
            raise usage_error(
                command, locale, _bad_value(locale, _metavar(arg, locale), token.text)
            )
    if index < len(positional):
        extra = _shown(positional[index].text)
        raise usage_error(
            command, locale, tr(locale, "多余的参数“{x}”", "unexpected '{x}'", x=extra)
        )
    return args, options


def _find_option(command: Command, key: str) -> Option | None:
    for option in command.options:
        if key == option.key or key in option.aliases:
            return option
    return None


def _convert(
    kind: ArgKind,
    raw: str,
    token: Token,
    choices: Mapping[str, str],
    prefixes: tuple[str, ...],
    where: MessageContext,
) -> Any:
    """The value of one token for `kind`, or None if it is not one."""
    if kind == "word":  # a word is not an @-mention: those are people
        return None if token.is_mention or not raw else raw
    if kind == "choice":
        return choices.get(normalise(raw))
    if kind == "int":
        value = normalise(raw)
        return int(value) if value.isdigit() and len(value) < 10 else None
    if token.quoted:
        return None
    return _typed(kind, raw, prefixes, where)


def _typed(kind: ArgKind, raw: str, prefixes: tuple[str, ...], where: MessageContext) -> Any:
    if kind == "ref":
        parsed = parse_ref(raw, prefixes)
        return None if parsed is None else Ref(*parsed)
    if kind == "duration":
        duration: Duration | None = parse_duration(raw)
        return duration
    if kind == "date":
        day: date | None = parse_date(raw, where.today)
        return day
    if kind == "person":
        return _mention(raw, where)
    return None


def _mention(raw: str, where: MessageContext) -> Mention | None:
    if raw[:1] not in ("@", "＠") or len(raw) < 2:
        return None
    name = raw[1:]
    for mention in where.mentions:
        if name in (mention.name, mention.external_id) and not mention.is_bot:
            return mention
    return Mention(external_id=name, name=name)


def _span_text(text: str, tokens: list[Token]) -> str:
    """Free text exactly as written: the original characters of these tokens' spans,
    joined where an option was taken out of the middle."""
    pieces: list[str] = []
    run_start = tokens[0].start
    run_end = tokens[0].end
    for token in tokens[1:]:
        if text[run_end : token.start].strip(" \t\r\n\u3000"):
            pieces.append(text[run_start:run_end])
            run_start = token.start
        run_end = token.end
    pieces.append(text[run_start:run_end])
    joined = " ".join(pieces).strip()
    if len(tokens) == 1 and tokens[0].quoted:
        return tokens[0].text
    return joined


def _metavar(arg: Arg, locale: str) -> str:
    return arg.metavar[1] if locale == "en" else arg.metavar[0]


def _missing(locale: str, arg: Arg) -> str:
    return tr(locale, "缺少{m}", "missing {m}", m=_metavar(arg, locale))


def _bad_value(locale: str, what: str, raw: str) -> str:
    return tr(locale, "“{r}”不是有效的{w}", "'{r}' is not a valid {w}", r=_shown(raw), w=what)


def _shown(raw: str) -> str:
    """User input quoted back in an answer: one line, at most 30 characters."""
    return " ".join(raw.split())[:30]
