"""How binding a group chat to an engagement reads in a chat. Text only."""

from __future__ import annotations

from bot.i18n import tr


def no_engagement(code: str, locale: str) -> str:
    return tr(locale, "没有编号为 {c} 的项目。", "There is no engagement {c}.", c=code)


def may_not_bind(code: str, locale: str) -> str:
    return tr(locale, "只有项目 {c} 的厂商项目经理或管理员可以绑定群。",
              "Only the vendor PM or an admin of {c} may bind a chat.", c=code)  # fmt: skip


def not_a_group(locale: str) -> str:
    return tr(locale, "只能绑定群聊；请在项目群里发送 /绑定。",
              "Only group chats can be bound; send /bind in the group.")  # fmt: skip


def already_bound(code: str, locale: str) -> str:
    """`code` is the engagement the chat is bound to (`?` if it is gone)."""
    return tr(locale, "这个群已经绑定到项目 {c}。", "This chat is already bound to {c}.", c=code)


def bound(code: str, name: str, locale: str) -> str:
    return tr(locale, "已把本群绑定到项目 {c}「{n}」。发送 /帮助 查看可用命令。",
              "This chat is now bound to {c} ({n}). Send /help for the commands.",
              c=code, n=name)  # fmt: skip
