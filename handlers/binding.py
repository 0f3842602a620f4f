"""/bind (/绑定): the vendor PM binds a group chat to an engagement; messages there belong to it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import col

from base.errors import InvalidState, NotFound, PermissionDenied
from bot.commands import Parsed
from bot.context import Actor, Context
from bot.message import ChatType
from handlers import binding_text as text
from handlers.declared.binding import BINDERS
from storage.models import ChatBinding, Engagement, Identity, Person


def bind_chat(ctx: Context, cmd: Parsed) -> None:
    inbound = ctx.inbound
    assert inbound is not None
    code: str = cmd.arg("code")
    engagement = ctx.session.execute(
        select(Engagement).where(func.upper(col(Engagement.code)) == code.upper())
    ).scalar_one_or_none()
    if engagement is None:
        raise NotFound(text.no_engagement(code, ctx.locale))
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
        raise PermissionDenied(text.may_not_bind(engagement.code, ctx.locale))
    ctx.actor = Actor.of(person)
    if inbound.chat_type == ChatType.DIRECT:
        raise InvalidState(text.not_a_group(ctx.locale))
    existing = ctx.session.execute(
        select(ChatBinding).where(
            col(ChatBinding.channel) == inbound.channel, col(ChatBinding.chat_id) == inbound.chat_id
        )
    ).scalar_one_or_none()
    if existing is not None:
        bound_to = ctx.session.get(Engagement, existing.engagement_id)
        raise InvalidState(text.already_bound(bound_to.code if bound_to else "?", ctx.locale))
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
    ctx.reply(text.bound(engagement.code, engagement.name, ctx.locale), "chat.bound")
