"""What a handler gets: the transaction, the time, who is asking, where, and ways to answer.
A scheduled job gets the same, its actor being the system (`Context.system`, `bot.scheduler`).

Everything a handler says goes into the outbox in the handler's own transaction. A signing
command's replies after its audit entry end with the chain's anchor (`storage.audit.Anchor`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot import clock, notify
from bot.assurance import SIGNING
from bot.commands import Command
from bot.i18n import DEFAULT_LOCALE, tr
from bot.message import Inbound, Target
from bot.outcome import Reply
from bot.registry import Registry
from bot.vocabulary import Vocabulary
from storage import audit, outbox
from storage.models import Engagement, Person

SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who sent the message: a person of the engagement, or an unregistered reporter; in a
    scheduled job, the system."""

    key: str
    name: str
    party: str | None
    roles: frozenset[str]
    person: Person | None = None

    @classmethod
    def of(cls, person: Person) -> Actor:
        return cls(person.key, person.name, person.party, frozenset(person.roles), person)

    @classmethod
    def unregistered(cls, inbound: Inbound, role: str) -> Actor:
        """A sender the engagement does not know, allowed to report with `role`."""
        key = f"unregistered:{inbound.channel}:{inbound.sender_id}"
        name = inbound.sender_name or inbound.sender_id
        return cls(key, name, "client", frozenset({role}))

    @classmethod
    def system(cls) -> Actor:
        """The scheduler: what a job does, the history and the audit log show as `system`;
        its one role, `system`, is what a life cycle names it by."""
        return cls(SYSTEM, SYSTEM, None, frozenset({SYSTEM}))

    @property
    def is_system(self) -> bool:
        return self.key == SYSTEM and self.person is None

    @property
    def who(self) -> frozenset[str]:
        """Its roles and, if registered, its party: what a life cycle's `Transition.who`
        names (see `domain.transitions`), as `may` reads a command's roles."""
        if self.person is not None and self.party is not None:
            return self.roles | {self.party}
        return self.roles

    def may(self, command: Command) -> bool:
        """Roles allow by name; `client` / `vendor` in a command's roles mean the whole party
        (registered people only); no roles means anyone the engagement knows."""
        registered = self.person is not None
        if command.roles is None:
            return registered
        if self.roles & command.roles:
            return True
        return registered and self.party is not None and self.party in command.roles


def roles_text(command: Command, locale: str, vocabulary: Vocabulary) -> str:
    """Who may run `command`, for a refusal."""
    names = []
    for role in sorted(command.roles or ()):
        if role in ("client", "vendor"):
            names.append(tr(locale, "甲方人员" if role == "client" else "厂商人员",
                            "client staff" if role == "client" else "vendor staff"))  # fmt: skip
        elif role in vocabulary.role_names:
            names.append(vocabulary.role_name(role, locale))
    return (", " if locale == "en" else "、").join(names)


def anchor_line(anchor: audit.Anchor, locale: str) -> str:
    """The anchor as the client reads (and keeps) it. Short, as it ends replies (cards have a
    length limit); it says the chain is the server's one, shared by every engagement."""
    return tr(
        locale, "🔗 审计链 {a}（全系统共用）", "🔗 Audit chain {a} (server-wide)", a=str(anchor)
    )


@dataclass
class Context:
    """The handler's view of one command: read and write through `session`, answer via `reply`."""

    session: Session
    now: datetime
    registry: Registry
    locale: str
    inbound: Inbound | None = None
    engagement: Engagement | None = None
    actor: Actor | None = None
    replies: list[Reply] = field(default_factory=list)  # what it answered, in order
    command: Command | None = None  # the command being run (the bus sets it)
    vocabulary: Vocabulary = field(default_factory=Vocabulary)  # the app's (bot.vocabulary)
    # This command's last audit entry (see `_anchored`).
    _audited: audit.Entry | None = field(default=None, init=False, repr=False)
    # The policy, read once per context: (the engagement it was read for, the policy).
    _policy: tuple[Engagement, Any] | None = field(default=None, init=False, repr=False)

    @property
    def reply_ids(self) -> list[int]:
        """The outbox ids of the replies."""
        return [reply.id for reply in self.replies]

    def forget_replies(self) -> None:
        """The handler's savepoint was rolled back, and its replies with it."""
        self.replies.clear()

    def tr(self, zh: str, en: str, **values: Any) -> str:
        return tr(self.locale, zh, en, **values)

    @classmethod
    def system(
        cls, session: Session, now: datetime, vocabulary: Vocabulary,
        engagement: Engagement | None = None,
    ) -> Context:  # fmt: skip
        """A scheduled job's context: the system acting on `engagement` (or on none), with
        nothing to reply to and no commands."""
        return cls(
            session=session, now=now, registry=Registry(()), actor=Actor.system(),
            locale=engagement.locale if engagement else DEFAULT_LOCALE, engagement=engagement,
            vocabulary=vocabulary,
        )  # fmt: skip

    @property
    def eng(self) -> Engagement:
        """The engagement; handlers that declare `needs_engagement` always have one."""
        assert self.engagement is not None and self.engagement.id is not None
        return self.engagement

    @property
    def policy(self) -> Any:
        """The engagement's policy, parsed once by the app (`Vocabulary.policy`) and read once
        per command or job item: handlers ask for it often, and reading it serialises the
        engagement's rules to find the parsed policy."""
        engagement = self.eng
        if self._policy is None or self._policy[0] is not engagement:
            self._policy = (engagement, self.vocabulary.policy(engagement))
        return self._policy[1]

    @property
    def eng_id(self) -> int:
        """The engagement's id: a stored engagement always has one."""
        engagement_id = self.eng.id
        assert engagement_id is not None
        return engagement_id

    @property
    def person(self) -> Person:
        assert self.actor is not None and self.actor.person is not None
        return self.actor.person

    @property
    def person_id(self) -> int:
        """The sender's id as a person of the engagement."""
        person_id = self.person.id
        assert person_id is not None
        return person_id

    def reply(
        self, text: str, kind: str, ref: str = "", payload: dict[str, Any] | None = None
    ) -> None:
        """Answer in the chat the message came from."""
        assert self.inbound is not None
        text = self._anchored(text)
        row_id = outbox.enqueue(
            self.session, now=self.now, channel=self.inbound.channel, recipient_type="chat",
            recipient=self.inbound.chat_id, address=self.inbound.chat_id, kind=kind, ref=ref,
            text=text, engagement_id=self.engagement.id if self.engagement else None,
            reply_to=self.inbound.message_id, payload=payload,
        )  # fmt: skip
        assert row_id is not None
        self.replies.append(Reply(row_id, kind, ref, text))

    def notify(self, person: Person, text: str, kind: str, ref: str = "",
               dedupe_key: str | None = None) -> None:  # fmt: skip
        """A direct message to `person` on their channel."""
        notify.to_person(self.session, self.eng, person, now=self.now, kind=kind, text=text,
                         ref=ref, dedupe_key=dedupe_key,
                         channels=self.vocabulary.channels)  # fmt: skip

    def notify_roles(self, roles: set[str], text: str, kind: str, ref: str = "",
                     dedupe_key: str | None = None) -> None:  # fmt: skip
        for person in notify.people_with_roles(self.session, self.eng_id, roles):
            self.notify(person, text, kind, ref, dedupe_key)

    def announce(self, text: str, kind: str, ref: str = "", dedupe_key: str | None = None) -> None:
        """Post to every chat bound to the engagement except the one being answered."""
        for chat in notify.bound_chats(self.session, self.eng_id):
            here = self.inbound and (chat.channel, chat.chat_id) == (
                self.inbound.channel, self.inbound.chat_id)  # fmt: skip
            if not here:
                self.post(Target(chat.channel, chat.chat_id), text, kind, ref, dedupe_key)

    def post(self, target: Target, text: str, kind: str, ref: str = "",
             dedupe_key: str | None = None, payload: dict[str, Any] | None = None) -> int | None:  # fmt: skip
        """Post to `target`: a chat a record keeps (`Target.of`), or a person directly."""
        return notify.to_target(self.session, target, now=self.now, kind=kind, text=text, ref=ref,
                                engagement_id=self.engagement.id if self.engagement else None,
                                dedupe_key=dedupe_key, payload=payload)  # fmt: skip

    def audit(self, action: str, ref: str = "", **data: Any) -> None:
        actor = self.actor.key if self.actor else SYSTEM
        if self.actor is not None and not self.actor.is_system:
            data.setdefault("party", self.actor.party)
        if self.inbound is not None:
            data.setdefault("via", f"{self.inbound.channel}:{self.inbound.chat_id}")
            data.setdefault("message", self.inbound.message_id or self.inbound.event_id)
        self._audited = audit.append(self.session, at=self.now, actor=actor, action=action, ref=ref,
                                     engagement_id=self.engagement.id if self.engagement else None,
                                     data=data)  # fmt: skip

    def _anchored(self, text: str) -> str:
        """A signing command's reply after its audit entry ends with the chain head's anchor, so
        the client holds where the chain stood (`rentian audit verify --anchors`): the entry is
        linked into the chain now, not at commit. An entry rolled back with the handler's
        savepoint (a refusal after it) has no anchor."""
        entry = self._audited
        if entry is None or not self._signing():
            return text
        anchor = audit.anchor(self.session, entry)
        return text if anchor is None else f"{text}\n{anchor_line(anchor, self.locale)}"

    def _signing(self) -> bool:
        """Whether the command being run needs a proven sender (`SIGNING`): signatures,
        acceptance, month closes, estimates, assignment, adjustments, binding."""
        return self.command is not None and self.command.needs == SIGNING

    def when(self, moment: datetime) -> str:
        """A time for people, in the engagement's time zone: `2026-11-25 14:30`."""
        zone = self.engagement.timezone if self.engagement else "Asia/Shanghai"
        return clock.local(moment, zone).strftime("%Y-%m-%d %H:%M")
