"""Outbox rows as emails: pure, no I/O but the clock.

An answer goes to the sender of the mail it answers, threaded under that mail (its reply
handle); a notice to a person, to their address. Our Message-IDs carry the row's reference,
so a reply to one finds its ticket.
"""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import format_datetime

from adapters.email.parse import split_handle
from bot import clock
from bot.message import Outgoing


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
