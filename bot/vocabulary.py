"""What the framework must know of the app's domain, handed to it by the app.

The framework (`bot`) names no role, channel or engagement rule of its own: the app builds one
`Vocabulary` (`app.runtime`) and the bus passes it to every context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def _no_policy(engagement: Any) -> Any:
    return None


def _never(engagement: Any) -> bool:
    return False


@dataclass(frozen=True)
class Vocabulary:
    """`role_names`: role key -> (Chinese, English) for refusals and help. `unregistered_role`:
    the role given to a sender the engagement does not know, where it lets them report.
    `channels`: every channel, in the order a direct message prefers them. `policy`: the
    engagement's parsed policy (`ctx.policy`). `settings`: what the app's handlers read of
    the process's settings (the app's own object; the framework only carries it)."""

    role_names: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    unregistered_role: str = "unregistered_reporter"
    channels: tuple[str, ...] = ("console",)
    policy: Callable[[Any], Any] = _no_policy
    email_signing: Callable[[Any], bool] = _never
    settings: Any = None

    def role_name(self, role: str, locale: str) -> str:
        zh, en = self.role_names.get(role, (role, role))
        return en if locale == "en" else zh
