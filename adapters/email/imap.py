"""The mailbox watcher: IMAP IDLE on the support folder, each new mail through the bus.

A mail is flagged \\Seen once its commands committed; one that is not answered (loop
protection, unreadable, over the sender's hourly limit) is flagged `$RentianIgnored` as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aioimaplib

from adapters.email.parse import body_note, commands, parse
from bot import clock

if TYPE_CHECKING:
    from bot.channels import Handle
    from config.settings import EmailSettings

IGNORED_FLAG = "$RentianIgnored"
IDLE_SECONDS = 300.0  # re-issue IDLE well before servers' 30-minute cut-off
MAX_BACKOFF_SECONDS = 60.0
MAILS_PER_HOUR = 30  # per sender: beyond it a robot that ignores RFC 3834 is looping with us
OPENED = ("ticket.opened", "ticket.suggested")  # the reply to a new ticket (with articles)

log = logging.getLogger("rentian.email")


class Throttle:
    """At most `limit` mails per sender in any hour (by `bot.clock`); kept in memory, so a
    restart forgives — it breaks loops, it is not an abuse ledger."""

    def __init__(self, limit: int = MAILS_PER_HOUR) -> None:
        self.limit = limit
        self.seen: dict[str, deque[datetime]] = {}

    def allow(self, sender: str, now: datetime) -> bool:
        times = self.seen.setdefault(sender, deque())
        while times and now - times[0] >= timedelta(hours=1):
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True


class MailboxWatcher:
    """IMAP IDLE on the folder; every (re)connect first processes what is UNSEEN, so mail that
    came while stopped is handled after a restart, once (the bus dedupes by Message-ID).
    A mail is flagged \\Seen only after `handle` returned, i.e. after the commit."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()
        self.throttle = Throttle()
        self.connected = asyncio.Event()

    async def start(self, handle: Handle) -> None:
        self._task = asyncio.create_task(self._run(handle), name="rentian-email-imap")

    async def stop(self) -> None:
        if self._task is None:
            return
        async with self._busy:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self, handle: Handle) -> None:
        delay = 1.0
        while True:
            try:
                await self._session(handle)
                log.warning("IMAP %s: connection lost; reconnecting", self.settings.imap_host)
                delay = 1.0  # it worked until the server dropped us: back off afresh
            except (OSError, TimeoutError, aioimaplib.Abort, aioimaplib.CommandTimeout,
                    MailboxError) as error:  # fmt: skip
                log.warning("IMAP %s: %s; reconnecting in %.0f s", self.settings.imap_host,
                            error, delay)  # fmt: skip
            except Exception:
                log.exception("email watcher failed; reconnecting in %.0f s", delay)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    async def _session(self, handle: Handle) -> None:
        s = self.settings
        lost = asyncio.Event()
        kind = aioimaplib.IMAP4_SSL if s.imap_tls else aioimaplib.IMAP4
        client = kind(host=s.imap_host, port=s.imap_port, timeout=30)
        client.protocol.conn_lost_cb = lambda _error: lost.set()
        try:
            await client.wait_hello_from_server()
            _ok(await client.login(s.imap_user, s.imap_password), "LOGIN")
            _ok(await client.select(s.imap_folder), f"SELECT {s.imap_folder}")
            self.connected.set()
            while not lost.is_set():
                await self.catch_up(client, handle)
                await self._idle(client, lost)
        finally:
            await _close(client)

    async def catch_up(self, client: aioimaplib.IMAP4, handle: Handle) -> None:
        """Process every UNSEEN mail, oldest first, until a search finds nothing new (mail
        that arrives meanwhile is announced inside those commands, not in the next IDLE)."""
        done: set[str] = set()
        while True:
            found = _ok(await client.uid_search("UNSEEN", charset=None), "SEARCH")
            uids = [uid for uid in _uids(found.lines) if uid not in done]
            if not uids:
                return
            for uid in uids:
                async with self._busy:  # a stop waits for the mail in hand
                    await self._one(client, uid, handle)
                done.add(uid)

    async def _one(self, client: aioimaplib.IMAP4, uid: str, handle: Handle) -> None:
        raw = await _fetch(client, uid)
        answered = await self.process(raw, handle) if raw is not None else False
        _ok(await client.uid("store", uid, "+FLAGS", "(\\Seen)"), "STORE")
        if not answered:  # best effort: not every server takes keywords
            await client.uid("store", uid, "+FLAGS", f"({IGNORED_FLAG})")

    async def process(self, raw: bytes, handle: Handle) -> bool:
        """Run one mail's commands; False if it was ignored (loop protection, unreadable)."""
        mail = parse(raw, address=self.settings.address, now=clock.now(),
                     authserv_id=self.settings.authserv_id)  # fmt: skip
        if mail is None:
            return False
        if not self.throttle.allow(mail.sender_id, clock.now()):
            log.warning("email %s from %s not answered: over %d mails an hour", mail.event_id,
                        mail.sender_id, self.throttle.limit)  # fmt: skip
            return False
        steps = commands(mail)
        for step in steps:
            outcome = await handle(step)
            opened = [r.ref for r in outcome.replies if r.kind in OPENED]
            note = body_note(mail, opened[0]) if opened else None
            if note is not None:
                await handle(note)
        return True

    async def _idle(self, client: aioimaplib.IMAP4, lost: asyncio.Event) -> None:
        """Wait for new mail (EXISTS) or the IDLE period to end."""
        idle = await client.idle_start(timeout=IDLE_SECONDS)
        try:
            while client.has_pending_idle() and not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    push = await client.wait_server_push(timeout=5.0)
                    if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                        break
                    if any(isinstance(line, bytes) and line.endswith(b"EXISTS") for line in push):
                        break
        finally:
            if not lost.is_set():
                client.idle_done()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(idle, 10)


class MailboxError(Exception):
    """The IMAP server answered NO/BAD."""


def _ok(response: Any, what: str) -> Any:
    if response.result != "OK":
        raise MailboxError(f"{what} failed: {response.result} {response.lines[-1:]}")
    return response


def _uids(lines: list[Any]) -> list[str]:
    """UIDs in a SEARCH answer (`* SEARCH 3 4` arrives as b"3 4")."""
    first = lines[0] if lines and isinstance(lines[0], bytes | bytearray) else b""
    return [uid for uid in bytes(first).decode().split() if uid.isdigit()]


async def _fetch(client: aioimaplib.IMAP4, uid: str) -> bytes | None:
    response = _ok(await client.uid("fetch", uid, "(BODY.PEEK[])"), "FETCH")
    for line in response.lines:
        if isinstance(line, bytearray):
            return bytes(line)
    log.warning("IMAP UID %s: no body in the FETCH answer", uid)
    return None


async def _close(client: aioimaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):
        if client.has_pending_idle():
            client.idle_done()
        await asyncio.wait_for(client.logout(), 2)
    transport = getattr(client.protocol, "transport", None)
    if transport is not None:
        transport.close()
