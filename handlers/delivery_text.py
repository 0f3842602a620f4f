"""How deliverables read in a chat: name, status, the list line. Text only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.i18n import tr
from storage.models import Deliverable

STATUS = {"submitted": ("待验收", "awaiting acceptance"), "accepted": ("已验收", "accepted"),
          "rejected": ("已驳回", "rejected")}  # fmt: skip


def named(deliverable: Deliverable, locale: str) -> str:
    """`D-1「同步设计文档」`, `D-1 'sync design'`."""
    return tr(locale, "{r}「{n}」", "{r} '{n}'", r=deliverable.ref, n=deliverable.name)


def list_line(
    deliverable: Deliverable,
    target: str,
    who: str,
    locale: str,
    when: Callable[[datetime], str],
) -> str:
    """`D-1「同步设计文档」 → K-1 · 已验收 · 王丽 2026-11-26 15:00`: the decision, or the
    submission while none was made."""
    at = deliverable.decided_at or deliverable.submitted_at
    reason = f" · {deliverable.reason}" if deliverable.reason else ""
    return (f"{named(deliverable, locale)} → {target} · {tr(locale, *STATUS[deliverable.status])} · "
            f"{who} {when(at)}" + reason)  # fmt: skip
