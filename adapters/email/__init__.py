"""The email channel: a support mailbox watched over IMAP IDLE, answered over SMTP.

A mailbox "chat" is the bot's own address: bind it in the engagement file
(`[[chats]] channel = "email", id = "support@vendor.example"`) and a person's `email`
identity is their lowercase address. A new mail opens a ticket and its body becomes a note on
it; a reply adds to its ticket (see `parse`).

- `mail`, `body`, `authres`: raw RFC 5322 bytes to a `Mail`, what it says, whether its domain
  vouched for it, and whether a program sent it (pure);
- `parse`: a `Mail` as the `Inbound` commands it stands for (pure);
- `render`: an outbox row as an email (pure);
- `client`: the sender, over SMTP;
- `imap`: the mailbox watcher;
- `adapter`: the channel as the framework sees it.

Only `create` lives here: importing the package loads no mail library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.email.adapter import EmailAdapter
    from config.settings import Settings


def create(settings: Settings) -> EmailAdapter:
    from adapters.email.adapter import EmailAdapter

    return EmailAdapter(settings.email)
