"""How sure we are of who sent a message, and what each degree of certainty allows.

A signature is worth exactly as much as our certainty about who gave it. Each channel states
how sure it is on `Inbound.assurance`; each command states what it needs on `Command.needs`.
The rule that joins them is `permits`, pure, in this one place:

- `PLATFORM`  the platform proved sender and message (a signed callback that covers the body,
              a connection the platform authenticated, a card click it signed), or the local
              console, whose users are whoever runs the process: everything.
- `DOMAIN`    the sender's mail domain vouched for the message (DMARC pass, as our own MTA
              recorded it): everything but signing, unless the engagement allows email signing.
- `REPLAYABLE` a signature that does not cover the message (DingTalk's HTTP callback): a
              captured one carries any body for its window; everything but signing.
- `ADDRESS`   no more than a claimed address (mail without authentication): opening a ticket
              and adding to one.
"""

from __future__ import annotations

from enum import IntEnum


class Assurance(IntEnum):
    """How sure we are of the sender, weakest first."""

    ADDRESS = 0
    REPLAYABLE = 1
    DOMAIN = 2
    PLATFORM = 3


# What a command needs: intake (open a ticket, add to one, ask for help), everyday work, or
# a signature or commitment (signing, acceptance, a month's close, an estimate, assignment).
INTAKE, EVERYDAY, SIGNING = Assurance.ADDRESS, Assurance.REPLAYABLE, Assurance.PLATFORM


def permits(assurance: Assurance, needs: Assurance, *, email_signing: bool = False) -> bool:
    """True if a message sent with `assurance` may run a command that `needs` this much."""
    if assurance >= needs:
        return True
    return needs == SIGNING and assurance == Assurance.DOMAIN and email_signing
