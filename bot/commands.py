"""Commands declared as data: the parser, permission checks and `/help` all come from here.

The app declares its commands apart from the code that carries them out: a declaration names
its handler with `lazy`, so that `/help`, the parser and the permission check need none of the
handler modules, and a handler module is imported the first time one of its commands runs.
`bot.registry` indexes the names and aliases and parses a message into `Parsed`, binding its
words to the arguments declared here (`bot.arguments`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from bot.assurance import EVERYDAY, Assurance
from bot.message import Mention

ArgKind = Literal["word", "text", "ref", "duration", "date", "person", "choice", "int"]
# A handler takes the command's context (`bot.context.Context`, or the app's subclass of it)
# and the parsed message. Typed loosely here so that commands need not know the context.
Handler = Callable[[Any, "Parsed"], None]


class Lazy:
    """A function named by its module and name, imported the first time it is called (a
    command's handler, a job's run). Any callable may stand where a `Lazy` does."""

    __slots__ = ("_target", "module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self._target: Callable[..., Any] | None = None

    def __call__(self, *args: Any) -> Any:
        target = self._target
        if target is None:
            target = self._target = self.resolve()
        return target(*args)

    def resolve(self) -> Callable[..., Any]:
        """The function itself; importing its module if nothing has yet."""
        target = getattr(importlib.import_module(self.module), self.name)
        if not callable(target):
            raise TypeError(f"{self.module}.{self.name} is not callable")
        return target  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"lazy({self.module!r}, {self.name!r})"


def lazy(module: str, name: str) -> Any:
    """`module.name`, imported when first called: a declaration's handler or job function.
    Typed `Any` so that it stands for any signature a declaration expects."""
    return Lazy(module, name)


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
