"""Binding a command's words to its declared arguments and options, converting each value
(references, durations, dates, people, choices), with a usage answer for what does not fit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from base.errors import UsageError
from bot.commands import Arg, ArgKind, Command, MessageContext, Option, Ref
from bot.durations import Duration, parse_duration
from bot.i18n import tr
from bot.lexer import Token, normalise, parse_date, parse_ref
from bot.message import Mention


def usage_error(command: Command, locale: str, problem: str) -> UsageError:
    """`problem` plus the usage line and an example, on one line."""
    example = command.example_for(locale)
    text = tr(locale, "{p}。用法：{u}", "{p}. Usage: {u}", p=problem, u=command.usage(locale))
    if example:
        text += tr(locale, "　例如：{e}", "  Example: {e}", e=example)
    return UsageError(" ".join(text.split("\n")))


def bind(
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
                   k=shown(pair[0]), known=known),
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
        given = positional[index] if index < len(positional) else None
        value = None
        if given is not None:
            value = _convert(arg.kind, given.text, given, arg.choices, arg.prefixes, where)
        if value is not None:
            args[arg.name] = value
            index += 1
        elif arg.required:
            if given is None:
                raise usage_error(command, locale, _missing(locale, arg))
            raise usage_error(
                command, locale, _bad_value(locale, _metavar(arg, locale), given.text)
            )
    if index < len(positional):
        extra = shown(positional[index].text)
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
    if len(tokens) == 1 and tokens[0].quoted:
        return tokens[0].text
    pieces: list[str] = []
    run_start = tokens[0].start
    run_end = tokens[0].end
    for token in tokens[1:]:
        if text[run_end : token.start].strip(" \t\r\n\u3000"):
            pieces.append(text[run_start:run_end])
            run_start = token.start
        run_end = token.end
    pieces.append(text[run_start:run_end])
    return " ".join(pieces).strip()


def _metavar(arg: Arg, locale: str) -> str:
    return arg.metavar[1] if locale == "en" else arg.metavar[0]


def _missing(locale: str, arg: Arg) -> str:
    return tr(locale, "缺少{m}", "missing {m}", m=_metavar(arg, locale))


def _bad_value(locale: str, what: str, raw: str) -> str:
    return tr(locale, "“{r}”不是有效的{w}", "'{r}' is not a valid {w}", r=shown(raw), w=what)


def shown(raw: str) -> str:
    """User input quoted back in an answer: one line, at most 30 characters."""
    return " ".join(raw.split())[:30]
