"""The email channel as the framework sees it (`bot.channels.ChannelAdapter`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from adapters.email.client import EmailSender
from adapters.email.imap import MailboxWatcher
from adapters.email.parse import CHANNEL

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.channels import Inlet
    from config.settings import EmailSettings

log = logging.getLogger("rentian.email")


class EmailAdapter:
    """The mailbox watcher (when `imap_host` is set) and the SMTP sender; no HTTP routes."""

    name = CHANNEL

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self.watcher = MailboxWatcher(settings)

    def sender(self) -> EmailSender:
        return EmailSender(self.settings)

    def install(self, app: FastAPI, inlet: Inlet) -> None:
        """No HTTP routes: mail comes over IMAP."""

    async def start(self, inlet: Inlet) -> None:
        """Watch the mailbox. Mail runs through the bus at once, not the inbox: a mail's steps
        depend on one another's outcome (the body becomes a note on the ticket its subject
        opened), and the mail is flagged \\Seen only after them, so the server keeps it
        until then (IMAP needs no quick answer)."""
        if self.settings.imap_host:
            await self.watcher.start(inlet.handle)
        else:
            log.warning("email: no imap_host; the mailbox is not watched (sending only)")

    async def stop(self) -> None:
        await self.watcher.stop()
