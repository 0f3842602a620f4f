"""How the onboarding checklist reads in a chat: the list, ticking an item, the refusals.
Text only."""

from __future__ import annotations

from bot.i18n import tr


def head(done: int, total: int, locale: str) -> str:
    return tr(locale, "服务启动清单（{d}/{t} 完成）", "Onboarding checklist ({d}/{t} done)",
              d=done, t=total)  # fmt: skip


def tick_hint(locale: str) -> str:
    return tr(locale, "完成一项：/完成 编号或名称 [备注]，例如 /完成 2",
              "Tick an item: /done NUMBER-or-NAME [note], e.g. /done 2")  # fmt: skip


def item_line(position: int, title: str, party: str, locale: str,
              done: tuple[str, str, str] | None = None) -> str:  # fmt: skip
    """`2. ✅ 系统访问权限（甲方） — 陈静 2026-11-25 14:30：VPN 已开通`; `done` is who ticked
    it, when, and the note (maybe empty), None while it is open."""
    mark = "✅" if done else "⬜"
    line = tr(locale, "{n}. {m} {t}（{p}）", "{n}. {m} {t} ({p})", n=position, m=mark,
              t=title, p=party)  # fmt: skip
    if done is None:
        return line
    who, at, note = done
    line += f" — {who} {at}"
    return line + (tr(locale, "：{n}", ": {n}", n=note) if note else "")


def other_party(title: str, party: str, locale: str) -> str:
    return tr(locale, "“{i}”由{p}完成。", "'{i}' is for the {p} to complete.", i=title, p=party)


def already_done(title: str, who: str, at: str, locale: str) -> str:
    return tr(locale, "“{i}”已由{w}于 {t} 完成。", "'{i}' was already done by {w} at {t}.",
              i=title, w=who, t=at)  # fmt: skip


def ticked(title: str, done: int, total: int, locale: str) -> str:
    return tr(locale, "✅ {i} 已完成（{d}/{t}）。", "✅ {i} done ({d}/{t}).",
              i=title, d=done, t=total)  # fmt: skip


def complete(locale: str) -> str:
    return tr(locale, "服务启动清单全部完成：项目进入日常执行阶段。",
              "The onboarding checklist is complete: the engagement moves to daily "
              "execution.")  # fmt: skip


def not_found(wanted: str, count: int, locale: str) -> str:
    return tr(locale, "清单里没有“{w}”：请用编号 1-{n} 或名称（发送 /清单 查看）。",
              "No checklist item '{w}': use a number 1-{n} or its name (send /checklist).",
              w=wanted[:30], n=count)  # fmt: skip
