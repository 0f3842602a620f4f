"""Who and where, cached: a chat's engagement, the engagement itself, and the person behind a
channel identity — read on every message, changed by `rentian engagement apply` and `/bind`
(`/绑定`), often in another process than the one that reads them.

Each engagement has a *generation* (its `~dir` counter, `storage.counters`), bumped in the
same transaction as any change to its row, its people, identities or chats: by the flush that
writes it (a session hook, so no writer can forget), or by `changed` for a Core statement.
A transaction reads an engagement's generation once (one primary-key lookup) and uses what
this process cached at that generation; anything else is read from the database and cached
under the generation read BEFORE it, so a change committed in between only costs a reload.
Several processes (`serve` instances, the CLI) share one database and so one generation.

Cached values are plain, immutable column snapshots, never a session's instances: each
transaction gets its own instances of them, attached to its session without a query.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.base import NO_VALUE
from sqlmodel import Session, SQLModel, col

from bot.message import ChatType, Inbound
from storage import counters
from storage.models import ChatBinding, Engagement, Identity, Person

GENERATION = "~dir"  # the counter prefix of an engagement's directory generation
_READ = "rentian.directory.generations"  # session.info: {engagement id: generation read}
# session.info: this transaction changed the directory. What it reads is not cached: should
# it roll back, another's change could commit under the same generation.
_CHANGED = "rentian.directory.changed"
_LIMIT = 10_000  # cached senders per process: unknown ones could otherwise grow it forever
_Model = TypeVar("_Model", bound=SQLModel)
_Columns = Mapping[str, Any]


def changed(session: Session, engagement_id: int) -> None:
    """Say, in the caller's transaction, that the engagement, its people, their identities
    or its chats changed: every process reloads them once this commits."""
    generation = counters.next_number(session, engagement_id, GENERATION)
    session.info.setdefault(_READ, {})[engagement_id] = generation
    session.info[_CHANGED] = True


_MEMBERS = (Person, Identity, ChatBinding)  # rows of an engagement (`engagement_id`)


@event.listens_for(OrmSession, "before_flush")
def _changed_by_flush(session: OrmSession, _context: object, _instances: object) -> None:
    """Any change to the directory's rows written through a session bumps their engagement's
    generation in the same flush — `/bind`, `rentian engagement apply`, a script or a test
    editing a row — so no writer can forget it. (Core UPDATE/DELETE statements on these
    tables bypass this: their callers call `changed` themselves.)"""
    touched: set[int | None] = set()
    for instance in (*session.dirty, *session.deleted, *session.new):
        if isinstance(instance, Engagement):
            touched.add(instance.id)
        elif isinstance(instance, _MEMBERS):
            touched.add(instance.engagement_id)
            touched.update(inspect(instance).attrs.engagement_id.history.deleted or ())
    # Without an id yet, an engagement is new: no process has anything of it cached.
    for engagement_id in sorted(i for i in touched if i):
        changed(session, engagement_id)  # type: ignore[arg-type]


def generation(session: Session, engagement_id: int) -> int:
    """The engagement's generation, read once per transaction."""
    read: dict[int, int] = session.info.setdefault(_READ, {})
    if engagement_id not in read:
        read[engagement_id] = counters.current(session, engagement_id, GENERATION)
    return read[engagement_id]


class Directory:
    """This process's cache for one database (a `Bus` keeps one per engine)."""

    def __init__(self) -> None:
        # (channel, chat id) -> engagement id, as of the bound engagement's generation
        self._chats: dict[tuple[str, str], tuple[int, int]] = {}
        self._engagements: dict[int, tuple[int, _Columns]] = {}
        # (engagement id, channel, sender ids) -> the person's columns, or None: unknown
        self._people: dict[tuple[int, str, tuple[str, ...]], tuple[int, _Columns | None]] = {}

    def engagement_for(self, session: Session, inbound: Inbound) -> Engagement | None:
        """The chat's engagement; in a direct chat, the sender's only engagement."""
        engagement_id = self._bound(session, inbound.channel, inbound.chat_id)
        if engagement_id is None:
            if inbound.chat_type != ChatType.DIRECT:
                return None
            ids = sender_engagements(session, inbound)
            if len(ids) != 1:
                return None
            engagement_id = ids[0]
        return self.engagement(session, engagement_id)

    def engagement(self, session: Session, engagement_id: int) -> Engagement | None:
        current = generation(session, engagement_id)
        cached = self._engagements.get(engagement_id)
        if cached is not None and cached[0] == current:
            return _attach(session, Engagement, cached[1])
        engagement = session.get(Engagement, engagement_id)
        values = _columns(engagement) if engagement is not None else None
        if values is not None:
            self._engagements[engagement_id] = (current, values)
        return engagement

    def person(self, session: Session, engagement_id: int, inbound: Inbound) -> Person | None:
        """The engagement's active person with the sender's identity on this channel."""
        senders = (inbound.sender_id, *inbound.sender_alt_ids)
        key = (engagement_id, inbound.channel, senders)
        current = generation(session, engagement_id)
        cached = self._people.get(key)
        if cached is not None and cached[0] == current:
            return None if cached[1] is None else _attach(session, Person, cached[1])
        query = (
            select(Person)
            .join(Identity, col(Identity.person_id) == col(Person.id))
            .where(
                col(Identity.engagement_id) == engagement_id,
                col(Identity.channel) == inbound.channel,
                col(Identity.external_id).in_(senders),
                col(Person.active),
            )
            .limit(1)
        )
        person = session.execute(query).scalar_one_or_none()
        values = _columns(person) if person is not None else None
        if person is None or values is not None:
            if len(self._people) >= _LIMIT:
                self._people.clear()
            self._people[key] = (current, values)
        return person

    def _bound(self, session: Session, channel: str, chat_id: str) -> int | None:
        cached = self._chats.get((channel, chat_id))
        if cached is not None and generation(session, cached[0]) == cached[1]:
            return cached[0]
        # Not cached, or its engagement changed: unbound chats are not cached (a command in
        # one is rare, and `/bind` must be seen at once).
        binding_of = select(col(ChatBinding.engagement_id)).where(
            col(ChatBinding.channel) == channel, col(ChatBinding.chat_id) == chat_id
        )
        engagement_id = session.execute(binding_of).scalar_one_or_none()
        if engagement_id is None:
            self._chats.pop((channel, chat_id), None)
            return None
        # Cached under a generation read BEFORE the binding: read after it, a change committed
        # in between (PostgreSQL reads each statement afresh) would be labelled as seen.
        current = generation(session, engagement_id)
        again = session.execute(binding_of).scalar_one_or_none()
        if again == engagement_id and not session.info.get(_CHANGED):
            self._chats[(channel, chat_id)] = (engagement_id, current)
        return int(engagement_id)


def sender_engagements(session: Session, inbound: Inbound) -> list[int]:
    """The engagements whose active people have the sender's identity (not cached: direct
    chats are rare next to group chats, and a new person must be found at once)."""
    query = (
        select(col(Identity.engagement_id))
        .join(Person, col(Person.id) == col(Identity.person_id))
        .where(
            col(Identity.channel) == inbound.channel,
            col(Identity.external_id).in_((inbound.sender_id, *inbound.sender_alt_ids)),
            col(Person.active),
        )
        .distinct()
    )
    return sorted(session.execute(query).scalars())


def _columns(instance: SQLModel) -> _Columns | None:
    """The instance's column values, deep-copied: the cache shares nothing with a session.
    None for what is not to be cached: values not loaded (expired), or not committed."""
    state = inspect(instance)
    if state.modified or state.session is None or state.session.info.get(_CHANGED):
        return None
    values = {}
    for attr in state.mapper.column_attrs:
        value = state.attrs[attr.key].loaded_value
        if value is NO_VALUE:
            return None
        values[attr.key] = _copy(value)
    return MappingProxyType(values)


def _copy(value: Any) -> Any:
    """A JSON value's own copy (what `copy.deepcopy` does, for JSON, several times faster)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _attach(session: Session, model: type[_Model], values: _Columns) -> _Model:
    """A persistent instance of `model` in `session` with `values`, as if just loaded."""
    mapper = inspect(model)
    key = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    present = session.identity_map.get(key)
    if present is not None:  # loaded already in this transaction (a batch, a handler)
        return present  # type: ignore[no-any-return]
    instance: _Model = mapper.class_manager.new_instance()
    # As a query's loading does: the values straight into the instance's dict (JSON columns
    # are mutable, so each transaction gets its own copy), then committed as loaded.
    inspect(instance).dict.update({name: _copy(value) for name, value in values.items()})
    make_transient_to_detached(instance)
    session.add(instance)
    return instance
