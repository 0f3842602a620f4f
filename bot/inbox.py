"""The intake's inbox: a platform's event is acknowledged as soon as ONE durable insert holds
it (`accept`), and handled afterwards by workers — in the order received within each chat,
several events per transaction (docs/architecture.md, "Intake").

Where the rows are (`inbox_engine`): on PostgreSQL, in the main database, and a row is deleted
in the transaction that handles it. On a SQLite file, in a database file of its own beside it
(`data/rentian.inbox.db`, WAL): SQLite has one writer per file, and an acknowledgement's insert
must not wait behind a command's transaction. There a row is deleted after its command
committed, in the inbox file: a crash between the two leaves it waiting, and the bus, which
finds its `inbound_key`, changes nothing when it is handled again.

Dedupe happens twice. The inbox is unique on (channel, key): a redelivery that finds its event
still waiting is dropped at once (`accept` returns False). A redelivery of an event that was
already handled, and so deleted from the inbox, is inserted again; the bus then finds its
`inbound_key` and changes nothing. The inbox holds only the backlog, never history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, inspect, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.types import Integer
from sqlmodel import Session, col

from bot import clock, intake
from bot.assurance import Assurance
from bot.bus import Bus
from bot.channels import Inlet
from bot.message import ChatType, Inbound, Mention
from bot.outcome import Outcome
from bot.redact import redact
from config.settings import IntakeSettings
from storage.db import companion_engine, insert_ignore, is_postgres, reading, transaction
from storage.models import InboxEvent

log = logging.getLogger("rentian.inbox")

PENDING = "pending"  # `rentian inbox --status pending`: the rows waiting here
_FORMAT = 1  # of the payload; a row of another format is not guessed at
_BACKOFF_SECONDS = 1.0  # after a failed step (the database is busy or away): try again then
# The first key of the two-key advisory locks the inbox takes on PostgreSQL ('RTIB'); the two-key
# space does not overlap the one-key space (the scheduler's leader lock).
_LOCK_SPACE = 0x52544942
_TRY_LOCKS = text(
    "SELECT k, pg_try_advisory_xact_lock(:space, k) FROM unnest(:keys) AS t(k)"
).bindparams(bindparam("keys", type_=ARRAY(Integer)))


_ensured: weakref.WeakSet[Engine] = weakref.WeakSet()  # inbox files whose table is there
_ensuring = threading.Lock()


def inbox_engine(engine: Engine) -> Engine:
    """Where the inbox of the database `engine` is: `engine` itself on PostgreSQL and in
    memory; on a SQLite file, its own file beside it (`storage.db.companion_engine`), whose
    table this creates if it is not there (a queue, not history: no migrations), taking over
    first the rows an earlier version left in the main file's `inbox_event`."""
    store = companion_engine(engine, "inbox")
    if store is None:
        return engine
    with _ensuring:
        if store not in _ensured:
            _create(store)
            _adopt(engine, store)
            _ensured.add(store)
    return store


def _create(store: Engine) -> None:
    """The inbox table in its own file, if not there yet (IF NOT EXISTS: the serving process and
    its worker may both be first)."""
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    with store.begin() as connection:
        connection.execute(CreateTable(table, if_not_exists=True))
        for index in table.indexes:
            connection.execute(CreateIndex(index, if_not_exists=True))


def _adopt(engine: Engine, store: Engine) -> None:
    """Move what waits in the main file's `inbox_event` (written there before the inbox had a
    file of its own) into the inbox file, oldest first, before anything new is accepted.
    The insert commits first: a crash before the main file's delete only moves them again,
    and the (channel, key) constraint keeps them once."""
    table = InboxEvent.__table__  # type: ignore[attr-defined]
    with transaction(engine) as session:
        if not inspect(session.connection()).has_table(table.name):
            return  # a database not migrated yet: nothing can wait there
        rows = session.execute(select(table).order_by(table.c.id)).mappings().all()
        if not rows:
            return
        with transaction(store) as inbox:
            for row in rows:
                insert_ignore(inbox, InboxEvent, **{k: v for k, v in row.items() if k != "id"})
        session.execute(delete(table).where(table.c.id.in_([row["id"] for row in rows])))
    log.info("inbox: %d waiting events moved into %s", len(rows), store.url.database)


def accept(engine: Engine, inbound: Inbound) -> bool:
    """Write the cleaned event into the inbox of the database `engine` (`inbox_engine`) and
    commit: then the caller may answer the platform. False if it is there already (a
    redelivery while it waits)."""
    return _insert(inbox_engine(engine), inbound)


def _insert(store: Engine, inbound: Inbound) -> bool:
    inbound = intake.clean(inbound)
    with transaction(store) as session:
        return insert_ignore(
            session, InboxEvent, channel=inbound.channel, key=inbound.event_id,
            chat_key=chat_key(inbound), payload=to_json(inbound), received_at=clock.now(),
        )  # fmt: skip


def chat_key(inbound: Inbound) -> str:
    """One conversation: its events are handled one after another, in the order received."""
    return f"{inbound.channel}:{inbound.chat_id}"


def pending(session: Session) -> int:
    """How many events wait in the inbox of the session's database (`/healthz`:
    `inbox_pending`); in its own file, read in a transaction of its own."""
    query = select(func.count()).select_from(InboxEvent)
    with _inbox_session(session) as inbox:
        return int(inbox.execute(query).scalar_one())


def waiting(session: Session, limit: int) -> list[InboxEvent]:
    """The backlog, oldest first (`rentian inbox --status pending`), as `pending` reads it."""
    query = select(InboxEvent).order_by(col(InboxEvent.id)).limit(limit)
    with _inbox_session(session) as inbox:
        return list(inbox.execute(query).scalars())


@contextmanager
def _inbox_session(session: Session) -> Iterator[Session]:
    """`session` if the inbox is in its database, else a read in the inbox's file."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    store = inbox_engine(engine)
    if store is engine:
        yield session
        return
    with transaction(reading(store)) as inbox:
        yield inbox


class Inbox:
    """The workers of one process: `settings.workers` threads, each taking the oldest waiting
    events of chats nobody else is handling and running them through `Bus.handle_batch`.

    A worker wakes when this process accepted an event (`accept`), or was told of one
    (`wake`: the serving process accepted it, and this is its worker process), else every
    `poll_seconds` (events another instance accepted). `stop()` lets each finish its batch;
    what is left waits in the table for the next start. Where the workers run in another
    process, `on_accept` tells that process of each event accepted here.

    `engine` is the main database; the rows are in `store` (`inbox_engine`): the same engine,
    or on a SQLite file the inbox's own file.
    """

    def __init__(self, engine: Engine, bus: Bus, settings: IntakeSettings) -> None:
        self.engine = engine
        self.store = inbox_engine(engine)
        self.bus = bus
        self.settings = settings
        self._busy: set[str] = set()  # chats a worker of this process holds
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.on_accept: Callable[[], None] | None = None
        # Where the inbox has a file of its own: called with a batch's row ids once its
        # commands committed, before the rows are deleted (a fault point: the crash test).
        self.before_delete: Callable[[list[int]], None] | None = None

    def accept(self, inbound: Inbound) -> bool:
        """`accept`, then wake a worker (and `on_accept`)."""
        fresh = _insert(self.store, inbound)
        if fresh:
            self.wake()
            if self.on_accept is not None:
                self.on_accept()
        return fresh

    def wake(self) -> None:
        """An event waits: a worker idle in its poll looks now (safe from any thread)."""
        self._wake.set()

    def inlet(self) -> Inlet:
        """What the channels hand messages to: this inbox, or the bus at once (bot.channels)."""

        async def accept(inbound: Inbound) -> bool:  # the platform is answered once it returns
            return await asyncio.to_thread(self.accept, inbound)

        async def handle(inbound: Inbound) -> Outcome:
            return await asyncio.to_thread(self.bus.handle, inbound)

        return Inlet(accept=accept, handle=handle)

    def start(self) -> None:
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._run, name=f"rentian-inbox-{n}", daemon=True)
            for n in range(self.settings.workers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float) -> None:
        """Each worker finishes its batch; waits at most `timeout` seconds for each."""
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("inbox worker %s did not stop in time", thread.name)
        self._threads = []

    def step(self) -> int:
        """Take one batch and handle it in one transaction; how many events it held (0: none
        free). A database that cannot be used just now raises, and the events stay (or, if
        the inbox file could not take the delete, are handled again: the bus changes nothing)."""
        with _claims(self.engine) as claim:
            rows = self._take(claim)
            try:
                if rows:
                    self._handle(rows)
            finally:
                with self._lock:
                    self._busy.difference_update(row.chat_key for row in rows)
        return len(rows)

    def drain(self) -> int:
        """Step until nothing is left (tests, and a one-shot run): how many were handled."""
        handled = 0
        while batch := self.step():
            handled += batch
        return handled

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before the step: an accept during it wakes the next wait
            try:
                handled = self.step()
            except Exception as error:
                if intake.retryable(error):
                    log.warning("inbox: database unavailable (%s); retrying",
                                intake.describe(error)[0])  # fmt: skip
                else:
                    log.exception("inbox: a step failed; retrying")
                self._stopping.wait(_BACKOFF_SECONDS)
                continue
            if not handled:
                self._wake.wait(self.settings.poll_seconds)

    def _take(self, claim: Connection | None) -> list[InboxEvent]:
        """The oldest waiting events of chats free to take: first each chat's head (its
        oldest event: a later one must not run before it), then, while holding those chats,
        their next events, up to `batch` in all."""
        with self._lock:
            busy = set(self._busy)
        chats: list[str] = []
        rows: list[InboxEvent] = []
        own_file = self.store is not self.engine
        try:
            with _reading(self.store, claim, own_file=own_file) as session:
                heads = list(session.execute(
                    select(col(InboxEvent.chat_key))
                    .where(col(InboxEvent.chat_key).not_in(busy))
                    .group_by(col(InboxEvent.chat_key))
                    .order_by(func.min(col(InboxEvent.id)))
                    .limit(self.settings.batch)
                ).scalars())  # fmt: skip
            with self._lock:
                chats = [chat for chat in heads if chat not in self._busy]
                self._busy.update(chats)
            held = _lock_chats(claim, chats)
            # Read after the chats are held, in a new read: what another worker of this
            # process or (PostgreSQL) another instance handled meanwhile is gone.
            if held:
                with _reading(self.store, claim, own_file=own_file) as session:
                    rows = list(session.execute(
                        select(InboxEvent).where(col(InboxEvent.chat_key).in_(held))
                        .order_by(col(InboxEvent.id)).limit(self.settings.batch)
                    ).scalars())  # fmt: skip
        finally:  # the chats this step will not handle are free again, whatever happened
            with self._lock:
                self._busy.difference_update(set(chats) - {row.chat_key for row in rows})
        return rows

    def _handle(self, rows: Sequence[InboxEvent]) -> None:
        inbounds: list[Inbound] = []
        for row in rows:
            try:
                inbounds.append(from_json(row.payload))
            except (ValueError, KeyError, TypeError):
                log.exception("inbox event %s:%s cannot be read; dropped", row.channel, row.key)
        ids = [row.id or 0 for row in rows]

        def done(session: Session) -> None:
            session.execute(delete(InboxEvent).where(col(InboxEvent.id).in_(ids)))

        if self.store is self.engine:  # the rows go exactly when their effects commit
            self.bus.handle_batch(inbounds, before_commit=done)
            return
        # Two files, two commits: the commands (their `inbound_key` rows too), then the rows.
        # The chats stay held (`_busy`) until the delete: no other worker takes them meanwhile.
        self.bus.handle_batch(inbounds)
        if self.before_delete is not None:
            self.before_delete(ids)
        with transaction(self.store) as session:
            done(session)


@contextmanager
def _claims(engine: Engine) -> Iterator[Connection | None]:
    """On PostgreSQL, a connection whose transaction holds the chats a step takes (advisory
    locks, so that two instances never handle one chat at once); they go with its end, or
    with the connection should the process die. SQLite has one writing process: None."""
    if not is_postgres(engine):
        yield None
        return
    with engine.connect() as connection, connection.begin():
        yield connection


@contextmanager
def _reading(engine: Engine, claim: Connection | None, *, own_file: bool) -> Iterator[Session]:
    """A session to find the rows with: on the claim's connection, inside its transaction (the
    locks stay held), or a short transaction of its own — in the inbox's own file, a read that
    takes no lock (`storage.db.reading`): an acknowledgement's insert never waits for it."""
    if claim is not None:
        with Session(claim, join_transaction_mode="rollback_only") as session:
            yield session
        return
    with transaction(reading(engine) if own_file else engine) as session:
        yield session


def _lock_chats(claim: Connection | None, chats: list[str]) -> list[str]:
    """The chats whose advisory lock this step obtained (all of them without PostgreSQL)."""
    if claim is None or not chats:
        return chats
    keys = {chat: _lock_key(chat) for chat in chats}
    granted = {int(k) for k, ok in claim.execute(_TRY_LOCKS, {
        "space": _LOCK_SPACE, "keys": list(keys.values()),
    }) if ok}  # fmt: skip
    return [chat for chat in chats if keys[chat] in granted]


def _lock_key(chat: str) -> int:
    """A chat's lock key: a signed 32-bit hash (two chats sharing one are merely serialised)."""
    value = zlib.crc32(chat.encode("utf-8", "surrogatepass"))
    return value - (1 << 32) if value >= 1 << 31 else value


def to_json(inbound: Inbound) -> str:
    """`inbound` as the inbox stores it: every field (ASCII-escaped, so that no character can
    trouble a driver); what `raw` holds that JSON cannot is kept as its text, and a
    credential in it is masked."""
    return json.dumps({
        "v": _FORMAT, "channel": inbound.channel, "chat_id": inbound.chat_id,
        "chat_type": inbound.chat_type.value, "sender_id": inbound.sender_id,
        "text": inbound.text, "event_id": inbound.event_id,
        "received_at": inbound.received_at.isoformat(), "sender_name": inbound.sender_name,
        "sender_alt_ids": list(inbound.sender_alt_ids),
        "mentions": [[m.external_id, m.name, m.is_bot] for m in inbound.mentions],
        "message_id": inbound.message_id, "reply_to": inbound.reply_to,
        "assurance": inbound.assurance.name, "raw": _without_secrets(inbound.raw),
    }, default=str)  # fmt: skip


def _without_secrets(raw: dict[str, Any]) -> Any:
    """The platform's payload with its credentials masked (`bot.redact`): a Feishu event's
    header carries the app's verification token, which must not reach a row."""
    return json.loads(redact(json.dumps(raw, ensure_ascii=False, default=str)))


def from_json(payload: str) -> Inbound:
    """The `Inbound` that `to_json` wrote."""
    data: dict[str, Any] = json.loads(payload)
    if data.get("v") != _FORMAT:
        raise ValueError(f"inbox payload of format {data.get('v')!r}")
    return Inbound(
        channel=data["channel"], chat_id=data["chat_id"], chat_type=ChatType(data["chat_type"]),
        sender_id=data["sender_id"], text=data["text"], event_id=data["event_id"],
        received_at=datetime.fromisoformat(data["received_at"]),
        sender_name=data["sender_name"], sender_alt_ids=tuple(data["sender_alt_ids"]),
        mentions=tuple(Mention(i, name, bool(bot)) for i, name, bot in data["mentions"]),
        message_id=data["message_id"], reply_to=data["reply_to"],
        assurance=Assurance[data["assurance"]], raw=data["raw"],
    )  # fmt: skip
