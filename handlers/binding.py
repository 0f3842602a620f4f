"""/bind (/绑定): the vendor PM binds a group chat to an engagement; messages there belong to it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import col

from bot.assurance import SIGNING
from bot.commands import Arg, Command, Parsed
from bot.context import Actor, Context
from bot.errors import InvalidState, NotFound, PermissionDenied
from bot.message import ChatType
from storage.models import ChatBinding, Engagement, Identity, Person

BINDERS = frozenset({"vendor_pm", "admin"})


def bind_chat(ctx: Context, cmd: Parsed) -> None:
    inbound = ctx.inbound
    assert inbound is not None
    code: str = cmd.arg("code")
    engagement = ctx.session.execute(
        select(Engagement).where(func.upper(col(Engagement.code)) == code.upper())
    ).scalar_one_or_none()
    if engagement is None:
        raise NotFound(ctx.tr("没有编号为 {c} 的项目。", "There is no engagement {c}.", c=code))
    ctx.engagement, ctx.locale = engagement, engagement.locale
    person = ctx.session.execute(
        select(Person)
        .join(Identity, col(Identity.person_id) == col(Person.id))
        .where(
            col(Identity.engagement_id) == engagement.id,
            col(Identity.channel) == inbound.channel,
            col(Identity.external_id) == inbound.sender_id,
            col(Person.active),
        )
    ).scalar_one_or_none()
    if person is None or not BINDERS.intersection(person.roles):
        raise PermissionDenied(
            ctx.tr("只有项目 {c} 的厂商项目经理或管理员可以绑定群。",
                   "Only the vendor PM or an admin of {c} may bind a chat.", c=engagement.code)
        )  # fmt: skip
    ctx.actor = Actor.of(person)
    if inbound.chat_type == ChatType.DIRECT:
        raise InvalidState(ctx.tr("只能绑定群聊；请在项目群里发送 /绑定。",
                                  "Only group chats can be bound; send /bind in the group."))  # fmt: skip
    existing = ctx.session.execute(
        select(ChatBinding).where(
            col(ChatBinding.channel) == inbound.channel, col(ChatBinding.chat_id) == inbound.chat_id
        )
    ).scalar_one_or_none()
    if existing is not None:
        bound_to = ctx.session.get(Engagement, existing.engagement_id)
        raise InvalidState(
            ctx.tr("这个群已经绑定到项目 {c}。", "This chat is already bound to {c}.",
                   c=bound_to.code if bound_to else "?")
        )  # fmt: skip
    ctx.session.add(
        ChatBinding(
            engagement_id=engagement.id or 0,
            channel=inbound.channel,
            chat_id=inbound.chat_id,
            bound_by=person.key,
            bound_at=ctx.now,
        )
    )
    ctx.session.flush()
    ctx.audit("chat.bound", channel=inbound.channel, chat=inbound.chat_id)
    ctx.reply(
        ctx.tr("已把本群绑定到项目 {c}「{n}」。发送 /帮助 查看可用命令。",
               "This chat is now bound to {c} ({n}). Send /help for the commands.",
               c=engagement.code, n=engagement.name),
        "chat.bound",
    )  # fmt: skip


COMMANDS = [
    Command(
        name="bind",
        aliases=("绑定",),
        summary=("把本群绑定到项目", "bind this chat to an engagement"),
        handler=bind_chat,
        args=(Arg("code", "word", ("项目编号", "CODE")),),
        roles=BINDERS,
        example="/绑定 DEMO-2026",
        example_en="/bind DEMO-2026",
        needs_engagement=False,
        needs=SIGNING,
    ),
]
