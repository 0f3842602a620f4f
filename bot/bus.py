"""The command bus: one inbound message in, one transaction, replies and notifications out.

clean (bot.intake) -> dedupe -> engagement (by chat binding) -> person (by identity) -> parse
-> permission -> handler, all in ONE database transaction together with the outbox rows it
causes; if that transaction fails, a second one records the event as failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from base.errors import PermissionDenied, UsageError, UserError
from bot import clock, intake
from bot.assurance import SIGNING, permits
from bot.commands import Command, MessageContext, Parsed
from bot.context import Actor, Context, roles_text
from bot.directory import Directory, sender_engagements
from bot.dispatcher import to_outgoing
from bot.i18n import DEFAULT_LOCALE, tr
from bot.message import ChatType, Inbound, Outgoing
from bot.outcome import Outcome, Reply
from bot.registry import Registry
from bot.vocabulary import Vocabulary
from storage import outbox
from storage.db import insert_ignore, transaction
from storage.models import Engagement, InboundKey, OutboxMessage

log = logging.getLogger("rentian.bus")


class Bus:
    """Handles inbound messages; `on_commit` is called after each commit (wakes the dispatcher)."""

    def __init__(
        self,
        engine: Engine,
        registry: Registry,
        bot_names: list[str] | tuple[str, ...] = (),
        on_commit: Callable[[], None] | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        self.engine = engine
        self.vocabulary = vocabulary or Vocabulary()
        self.registry = registry
        self.bot_names = frozenset(name.lower() for name in bot_names)
        self.on_commit = on_commit
        self.directory = Directory()  # this process's cache of who and where (bot.directory)

    def handle(self, inbound: Inbound, *, deliver: bool = False) -> Outcome:
        """Run the message's command; a redelivered event changes nothing.

        `deliver`: the caller shows this channel's messages itself (the console: the person
        who typed is at that terminal). The rows the message causes on its own channel are
        then committed as sent together with the state, so no dispatcher — not even a
        running `serve` — takes them, and the caller prints them: replies, then `notices`.

        The message is cleaned first (bot.intake), whatever its channel. A failure never makes
        the platform deliver the event again, as it would fail the same way forever: its key
        is committed with the error (`rentian inbox --status failed`). Only when the database
        cannot be used just now, or cannot take even that record, does the error propagate,
        so that the platform retries.
        """
        inbound = intake.clean(inbound)
        try:
            return self._handle(inbound, deliver)
        except Exception as error:
            if intake.retryable(error):
                raise
            log.exception("inbound %s:%s failed; recorded, not to be handled again",
                          inbound.channel, inbound.event_id)  # fmt: skip
            return self._failed(inbound, error, deliver)

    def handle_batch(
        self,
        inbounds: Sequence[Inbound],
        *,
        before_commit: Callable[[Session], None] | None = None,
    ) -> list[Outcome]:
        """Several events in ONE transaction (group commit), each as `handle` would run it,
        in order; `before_commit` runs last in that transaction (the inbox deletes the rows
        it handed over, so they go exactly when their effects commit).

        A command's own failure is answered and recorded inside the batch, as `handle` does.
        Should the batch's transaction itself fail, each event is handled again in a
        transaction of its own (the failing one is then recorded), and `before_commit` runs
        in one more; a database that cannot be used just now raises, as from `handle`.
        """
        cleaned = [intake.clean(inbound) for inbound in inbounds]
        try:
            with transaction(self.engine) as session:
                outcomes = [self._handle_in(session, inbound, False) for inbound in cleaned]
                if before_commit is not None:
                    before_commit(session)
        except Exception as error:
            if intake.retryable(error):
                raise
            log.warning("a batch of %d events failed (%s); handling them one by one",
                        len(cleaned), intake.describe(error)[0])  # fmt: skip
            outcomes = [self.handle(inbound) for inbound in inbounds]
            if before_commit is not None:
                with transaction(self.engine) as session:
                    before_commit(session)
            return outcomes
        if self.on_commit and any(outcome.replies for outcome in outcomes):
            self.on_commit()
        return outcomes

    def _for_bot(self, inbound: Inbound) -> bool:
        """Whether the message may be a command (`Registry.addressed`). Plain chat in a group
        is not, whatever the engagement: the bus does not look up who and where for it."""
        where = MessageContext(
            direct=inbound.chat_type == ChatType.DIRECT,
            bot_names=self.bot_names,
            mentions=inbound.mentions,
        )
        return self.registry.addressed(inbound.text[: intake.MAX_TEXT_CHARS], where)

    def _handle(self, inbound: Inbound, deliver: bool) -> Outcome:
        with transaction(self.engine) as session:
            outcome = self._handle_in(session, inbound, deliver)
        if outcome.replies and self.on_commit:
            self.on_commit()
        return outcome

    def _handle_in(self, session: Session, inbound: Inbound, deliver: bool) -> Outcome:
        """One cleaned event in the caller's transaction."""
        fresh = insert_ignore(
            session, InboundKey, channel=inbound.channel, key=inbound.event_id,
            received_at=clock.now(),
        )  # fmt: skip
        if not fresh:
            log.info("duplicate event %s:%s ignored", inbound.channel, inbound.event_id)
            return Outcome(duplicate=True)
        if not self._for_bot(inbound):
            return Outcome()  # plain chat: its key (invariant 2), and nothing else to read
        context = self._context(session, inbound)
        error = self._dispatch(context, inbound)
        if error is not None:
            intake.mark_failed(session, inbound, error)
        notices = _deliver_here(session, inbound.channel, context) if deliver else []
        return Outcome(replies=list(context.replies), notices=notices)

    def _failed(self, inbound: Inbound, error: Exception, deliver: bool) -> Outcome:
        """After the event's transaction failed: its key with the error, in a new one, and
        `error.internal` in its chat if that can be written too."""
        replies: list[Reply] = []
        notices: list[Outgoing] = []
        with transaction(self.engine) as session:
            if not intake.record_failure(session, inbound, error):
                return Outcome(duplicate=True)  # another instance has it
            try:
                with session.begin_nested():
                    context = self._context(session, inbound)
                    _answer_internal_error(context, inbound)
                    replies = list(context.replies)
                    notices = _deliver_here(session, inbound.channel, context) if deliver else []
            except Exception:
                log.exception("inbound %s:%s: its failure is recorded, but not answered",
                              inbound.channel, inbound.event_id)  # fmt: skip
        if replies and self.on_commit:
            self.on_commit()
        return Outcome(failed=True, replies=replies, notices=notices)

    def _context(self, session: Session, inbound: Inbound) -> Context:
        engagement = self.directory.engagement_for(session, inbound)
        unregistered = self.vocabulary.unregistered_role
        actor = (
            _actor_for(self.directory, session, engagement, inbound, unregistered)
            if engagement
            else None
        )
        locale = engagement.locale if engagement else DEFAULT_LOCALE
        return Context(
            session=session, now=clock.now(), registry=self.registry, locale=locale,
            inbound=inbound, engagement=engagement, actor=actor, vocabulary=self.vocabulary,
        )  # fmt: skip

    def _dispatch(self, context: Context, inbound: Inbound) -> Exception | None:
        """Run the command, answering a person's mistake; an unexpected error, answered with
        `error.internal`, is returned."""
        where = MessageContext(
            direct=inbound.chat_type == ChatType.DIRECT,
            bot_names=self.bot_names,
            mentions=inbound.mentions,
            locale=context.locale,
            today=_today(context),
        )
        try:
            if intake.too_long(inbound.text):
                if intake.addressed(self.registry, inbound.text, where):
                    raise UsageError(intake.too_long_reply(context.locale))
                return None
            parsed = self.registry.parse(inbound.text, where)
            if parsed is None:
                return None
            if parsed.wants_help:  # `/cmd -h` is `/help cmd`
                parsed = Parsed(self.registry.help_command(), {"command": parsed.command.name})
            self._check(context, parsed, inbound)
            with context.session.begin_nested():
                context.command = parsed.command
                parsed.command.handler(context, parsed)
        except UserError as error:
            context.forget_replies()  # the handler's own rows went with its savepoint
            context.reply(error.text, error.kind)
        except Exception as error:
            log.exception("inbound %s:%s failed", inbound.channel, inbound.event_id)
            context.forget_replies()
            _answer_internal_error(context, inbound)
            return error
        return None

    def _email_signing(self, context: Context) -> bool:
        """The engagement lets mail whose domain vouched for it (DMARC) sign (`email_signing`)."""
        return context.engagement is not None and self.vocabulary.email_signing(context.engagement)

    def _check(self, context: Context, parsed: Parsed, inbound: Inbound) -> None:
        """Refuse, with the reason, what this sender may not do here."""
        command, locale = parsed.command, context.locale
        if command.needs_engagement and context.engagement is None:
            raise _no_engagement(context.session, inbound, locale)
        if not permits(
            inbound.assurance, command.needs, email_signing=self._email_signing(context)
        ):
            raise PermissionDenied(_unproven(command, inbound, locale))
        if not command.needs_engagement:
            return
        if context.actor is None:
            raise PermissionDenied(
                tr(locale, "你还不在本项目的人员名单中；请项目经理把你加入项目文件。",
                   "You are not on this engagement's list of people yet; ask the vendor PM "
                   "to add you to the engagement file.")
            )  # fmt: skip
        if not context.actor.may(command) and context.actor.person is None:
            raise PermissionDenied(
                tr(locale, "你还不在本项目的人员名单中，只能开工单（/工单）；其他操作请项目经理先把你加入项目。",
                   "You are not on this engagement's list of people: you may open tickets "
                   "(/ticket) and nothing else until the vendor PM adds you.")
            )  # fmt: skip
        if not context.actor.may(command):
            raise PermissionDenied(
                tr(locale, "/{c} 只有{r}可以使用。", "Only {r} may use /{c}.",
                   c=command.aliases[0] if locale != "en" and command.aliases else command.name,
                   r=roles_text(command, locale, self.vocabulary))
            )  # fmt: skip


def _answer_internal_error(context: Context, inbound: Inbound) -> None:
    context.reply(
        context.tr("抱歉，处理这条消息时出错了，已记录（编号 {id}）。请稍后再试或联系项目经理。",
                   "Sorry, something went wrong with this message; it is logged "
                   "(id {id}). Try again later or tell the PM.",
                   id=inbound.event_id[:40]),
        "error.internal",
    )  # fmt: skip


def _actor_for(
    directory: Directory,
    session: Session,
    engagement: Engagement,
    inbound: Inbound,
    unregistered: str,
) -> Actor | None:
    person = directory.person(session, engagement.id or 0, inbound)
    if person is not None:
        return Actor.of(person)
    if engagement.allow_unregistered_reporters and inbound.chat_type == ChatType.GROUP:
        return Actor.unregistered(inbound, unregistered)
    return None


def _no_engagement(session: Session, inbound: Inbound, locale: str) -> UserError:
    if inbound.chat_type == ChatType.GROUP:
        return UserError(
            tr(locale, "这个群还没有绑定项目。请厂商项目经理在群里发送 /绑定 项目编号（例如 /绑定 DEMO-2026）。",
               "This chat is not bound to an engagement yet. The vendor PM binds it by sending "
               "/bind CODE here (e.g. /bind DEMO-2026).")
        )  # fmt: skip
    codes = [
        code
        for code in session.execute(
            select(col(Engagement.code)).where(
                col(Engagement.id).in_(sender_engagements(session, inbound))
            )
        ).scalars()
    ]
    if codes:
        return UserError(
            tr(locale, "你参与了多个项目（{c}）；请在对应项目的群里发送命令。",
               "You are in several engagements ({c}); send the command in that engagement's "
               "group chat.", c=", ".join(sorted(codes)))
        )  # fmt: skip
    return UserError(
        tr(locale, "我还不认识你：你不在任何项目的人员名单中。请联系厂商项目经理。",
           "I don't know you yet: you are not on any engagement's list of people. "
           "Ask the vendor PM.")
    )  # fmt: skip


def _unproven(command: Command, inbound: Inbound, locale: str) -> str:
    name = command.aliases[0] if locale != "en" and command.aliases else command.name
    if command.needs == SIGNING:
        return tr(locale,
                  "无法确认这条消息（{ch}）确实由你发出，不能用它执行 /{c}：签署、验收、结算、评估和指派"
                  "需要确认身份。请在项目群里发送，或点击卡片上的按钮。",
                  "This message ({ch}) cannot be proven to come from you, so it cannot run /{c}: "
                  "signing, acceptance, month closes, estimates and assignments need a proven "
                  "sender. Send it in the engagement's group chat, or use the card's button.",
                  ch=inbound.channel, c=name)  # fmt: skip
    return tr(locale,
              "无法确认这条消息（{ch}）的发件人，只能开工单或补充工单；/{c} 请在项目群里发送。",
              "The sender of this message ({ch}) cannot be proven: it may open a ticket or add "
              "to one, nothing more. Send /{c} in the engagement's group chat.",
              ch=inbound.channel, c=name)  # fmt: skip


def _today(context: Context) -> date | None:
    """The date in the engagement's time zone: what relative dates (`+5d`) count from."""
    if context.engagement is None:
        return None
    return clock.local(context.now, context.engagement.timezone).date()


def _deliver_here(session: Session, channel: str, context: Context) -> list[Outgoing]:
    """Mark this message's rows on `channel` sent; the ones that are not replies, in order."""
    ids = outbox.caused(session)
    if not ids:
        return []
    rows = list(session.execute(
        select(OutboxMessage)
        .where(col(OutboxMessage.id).in_(ids), col(OutboxMessage.channel) == channel)
        .order_by(col(OutboxMessage.id))
    ).scalars())  # fmt: skip
    replies = set(context.reply_ids)
    notices = [to_outgoing(row) for row in rows if row.id not in replies]  # as they were sent
    outbox.mark_delivered(session, [row.id or 0 for row in rows], context.now)
    return notices
