"""A mail as the commands it stands for: pure, no I/O.

A new mail opens a ticket (`/工单 P? subject`; a `[P1]`…`[P4]` or `【紧急】【高】【中】【低】`
tag sets the severity) and its body becomes a `/备注` on it. A reply finds its ticket by
In-Reply-To/References (our Message-IDs carry the reference: `<rentian.T-12.34@vendor.example>`),
else by a `[T-12]` token in the subject; its lines starting with `/` run as commands with the
sender's permissions and the rest becomes a note. The bus refuses notes from people outside the
engagement as usual.

A From address proves nothing. A mail whose domain vouched for it — DMARC, or an aligned DKIM
or SPF pass, as our own MTA recorded it in Authentication-Results under `authserv_id` — carries
`Assurance.DOMAIN`; any other only `Assurance.ADDRESS`: it may open a ticket and add to one.

Mail has no chat to answer in, so an `Inbound.message_id` here is a reply handle:
`"<message-id> sender@address"` — the answer goes to that sender, threaded under that id,
even days later (the scheduler keeps it on the ticket). Auto-replies, bulk mail, delivery
reports and our own mail are logged and never answered.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from adapters.email.authres import vouched_by
from adapters.email.mail import Mail, loop_reason, read, severity_and_title, ticket_ref
from bot.assurance import Assurance
from bot.message import ChatType, Inbound

CHANNEL = "email"
_COMMAND_STARTS = ("/", "／")

log = logging.getLogger("rentian.email")


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
