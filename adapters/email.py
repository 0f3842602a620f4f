"""The email channel: a support mailbox watched over IMAP IDLE, answered over SMTP.

A mailbox "chat" is the bot's own address: bind it in the engagement file
(`[[chats]] channel = "email", id = "support@vendor.example"`) and a person's `email`
identity is their lowercase address. A new mail opens a ticket (`/工单 P? subject`; a `[P1]`…
`[P4]` or `【紧急】【高】【中】【低】` tag sets the severity) and its body becomes a `/备注` on
it. A reply finds its ticket by In-Reply-To/References (our Message-IDs carry the reference:
`<rentian.T-12.34@vendor.example>`), else by a `[T-12]` token in the subject; its lines
starting with `/` run as commands with the sender's permissions and the rest becomes a note.
The bus refuses notes from people outside the engagement as usual.

A From address proves nothing. A mail whose domain vouched for it — DMARC, or an aligned DKIM
or SPF pass, as our own MTA recorded it in Authentication-Results under `authserv_id` — carries
`Assurance.DOMAIN`; any other only `Assurance.ADDRESS`: it may open a ticket and add to one.

Mail has no chat to answer in, so an `Inbound.message_id` here is a reply handle:
`"<message-id> sender@address"` — the answer goes to that sender, threaded under that id,
even days later (the scheduler keeps it on the ticket). Auto-replies, bulk mail, delivery
reports and our own mail are logged, flagged and never answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import aioimaplib  # type: ignore[import-untyped]
import aiosmtplib

from adapters.email_parse import Mail, loop_reason, read, severity_and_title, ticket_ref, vouched_by
from bot import clock
from bot.assurance import Assurance
from bot.errors import NetworkError, PlatformRefused
from bot.message import ChatType, Inbound, Outgoing

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.bus import Outcome
    from config.settings import EmailSettings, Settings

CHANNEL = "email"
log = logging.getLogger("rentian.email")
Handle = Callable[[Inbound], Awaitable["Outcome"]]
IGNORED_FLAG = "$RentianIgnored"
IDLE_SECONDS = 300.0  # re-issue IDLE well before servers' 30-minute cut-off
MAX_BACKOFF_SECONDS = 60.0
MAILS_PER_HOUR = 30  # per sender: beyond it a robot that ignores RFC 3834 is looping with us
_COMMAND_STARTS = ("/", "／")


# -- inbound: pure ----------------------------------------------------------------------------


def reply_handle(message_id: str, sender: str) -> str:
    return f"{message_id} {sender}"


def split_handle(handle: str) -> tuple[str, str]:
    """(Message-ID, address) of a reply handle; a bare Message-ID has no address."""
    message_id, _, address = handle.strip().rpartition(" ")
    if "@" not in address or not message_id:
        return handle.strip(), ""
    return message_id, address


def parse(raw: bytes, *, address: str, now: datetime, authserv_id: str = "") -> Inbound | None:
    """The mail in `raw` as an `Inbound` in the mailbox chat `address`; None (logged) for mail
    that must not be answered or cannot be read. Its assurance is `DOMAIN` if the sender's
    domain vouched for it by our MTA's (`authserv_id`) word, else `ADDRESS`. `raw` of the result
    holds the subject, the ticket it answers (`ticket`) and the attachments."""
    mail = read(raw)
    if mail is None:
        return None
    reason = loop_reason(mail, address)
    if reason:
        log.info("email %s from %s not answered: %s", mail.message_id, mail.sender, reason)
        return None
    vouched = vouched_by(mail, authserv_id)
    log.debug("email %s from %s: %s", mail.message_id, mail.sender,
              f"vouched for by {vouched}" if vouched else "sender not authenticated")  # fmt: skip
    return Inbound(
        channel=CHANNEL, chat_id=address.lower(), chat_type=ChatType.GROUP,
        sender_id=mail.sender, sender_name=mail.sender_name, text=_with_attachments(mail),
        event_id=mail.message_id, received_at=now,
        message_id=reply_handle(mail.message_id, mail.sender), reply_to=mail.in_reply_to,
        assurance=Assurance.DOMAIN if vouched else Assurance.ADDRESS,
        raw={"subject": mail.subject, "ticket": ticket_ref(mail),
             "attachments": [(a.name, a.size) for a in mail.attachments]},
    )  # fmt: skip


def commands(mail: Inbound) -> list[Inbound]:
    """The commands one mail stands for, in order; each with its own dedupe key."""
    ticket = str(mail.raw.get("ticket", ""))
    if not ticket:
        severity, title = severity_and_title(str(mail.raw.get("subject", "")))
        title = title or next((line for line in mail.text.split("\n") if line.strip()), "")
        return [replace(mail, text=f"/工单 {severity} {title.strip() or '（无主题）'}")]
    lines = mail.text.split("\n")
    wanted = [line.strip() for line in lines if line.strip().startswith(_COMMAND_STARTS)]
    rest = "\n".join(line for line in lines if not line.strip().startswith(_COMMAND_STARTS))
    if rest.strip():
        wanted.append(f"/备注 {ticket} {rest.strip()}")
    return [
        replace(mail, text=text, event_id=mail.event_id if n == 0 else f"{mail.event_id}#{n}")
        for n, text in enumerate(wanted)
    ]


def body_note(mail: Inbound, ref: str) -> Inbound | None:
    """The body of a new mail as a note on the ticket it opened. Its acknowledgement has no
    reply handle, so it is not mailed: the ticket's confirmation already answers the mail."""
    if not mail.text.strip() or mail.raw.get("ticket"):
        return None
    return replace(mail, text=f"/备注 {ref} {mail.text.strip()}",
                   event_id=f"{mail.event_id}#body", message_id="")  # fmt: skip


def _with_attachments(mail: Mail) -> str:
    if not mail.attachments:
        return mail.text
    listed = "，".join(f"{a.name} ({_size(a.size)})" for a in mail.attachments)
    return f"{mail.text}\n附件：{listed}".strip()


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.0f} KB"


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


# -- outbound: pure ---------------------------------------------------------------------------


def render(message: Outgoing, *, address: str) -> EmailMessage | None:
    """The email for an outbox row, or None when it has no recipient (a post to the mailbox
    "chat" that answers no mail: mail has no group to post in)."""
    reply_id, to = split_handle(message.reply_to) if message.reply_to else ("", "")
    if message.recipient_type == "person":
        to = message.address
    if not to:
        return None
    email = EmailMessage()
    email["From"] = address
    email["To"] = to
    email["Subject"] = subject(message)
    email["Date"] = format_datetime(clock.now())
    email["Message-ID"] = message_id(message, address)
    if reply_id:
        email["In-Reply-To"] = reply_id
        email["References"] = reply_id
    # RFC 3834: tells other robots not to answer us (and Exchange not to send receipts).
    email["Auto-Submitted"] = "auto-replied" if reply_id else "auto-generated"
    email["X-Auto-Response-Suppress"] = "All"
    email.set_content(message.text)
    email.add_alternative(
        f'<div style="white-space: pre-wrap">{html.escape(message.text)}</div>', subtype="html"
    )
    email["Content-Language"] = message.locale  # after the body: set_content drops Content-*
    return email


def subject(message: Outgoing) -> str:
    first = next((line.strip() for line in message.text.split("\n") if line.strip()), "Rentian")
    first = first if len(first) <= 80 else first[:79] + "…"
    return f"[{message.ref}] {first}" if message.ref else first


def message_id(message: Outgoing, address: str) -> str:
    """Stable per outbox row (a resend is recognisably the same mail); carries the ref."""
    domain = address.rpartition("@")[2] or "rentian.invalid"
    ref = message.ref if message.ref else "msg"
    return f"<rentian.{ref}.{message.id}@{domain}>"


# -- outbound: I/O ----------------------------------------------------------------------------


class EmailSender:
    """Sends outbox rows over SMTP (implicit TLS, STARTTLS or plain, per settings)."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    async def send(self, message: Outgoing) -> None:
        email = render(message, address=self.settings.address)
        if email is None:
            log.info("outbox %s (%s %s) has no email recipient; not mailed", message.id,
                     message.kind, message.ref)  # fmt: skip
            return
        s = self.settings
        try:
            await aiosmtplib.send(
                email, hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_user or None,
                password=s.smtp_password or None, use_tls=s.smtp_tls,
                start_tls=s.smtp_starttls and not s.smtp_tls, timeout=30,
            )  # fmt: skip
        except aiosmtplib.SMTPResponseException as error:
            raise _refused(error) from error
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [r.code for r in error.recipients]
            raise PlatformRefused(f"recipient refused: {error}", retryable=all(400 <= c < 500 for c in codes),
                                  code=str(codes[0]) if codes else "") from error  # fmt: skip
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise NetworkError(f"SMTP {s.smtp_host}:{s.smtp_port}: {error}") from error


def _refused(error: aiosmtplib.SMTPResponseException) -> PlatformRefused:
    """4xx is temporary; a 5xx refusal is final, except authentication (our own settings,
    which an operator fixes: worth the retries)."""
    auth = isinstance(error, aiosmtplib.SMTPAuthenticationError)
    retryable = 400 <= error.code < 500 or auth
    return PlatformRefused(f"SMTP {error.code}: {error.message}", retryable=retryable,
                           code=str(error.code))  # fmt: skip


# -- the mailbox watcher ----------------------------------------------------------------------


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
            opened = [r.ref for r in outcome.replies if r.kind == "ticket.opened"]
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


# -- the adapter ------------------------------------------------------------------------------


class EmailAdapter:
    name = CHANNEL

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self.watcher = MailboxWatcher(settings)

    def sender(self) -> EmailSender:
        return EmailSender(self.settings)

    def install(self, app: FastAPI, handle: Handle) -> None:
        """No HTTP routes: mail comes over IMAP."""

    async def start(self, handle: Handle) -> None:
        if self.settings.imap_host:
            await self.watcher.start(handle)
        else:
            log.warning("email: no imap_host; the mailbox is not watched (sending only)")

    async def stop(self) -> None:
        await self.watcher.stop()


def create(settings: Settings) -> EmailAdapter:
    return EmailAdapter(settings.email)
