"""Sending outbox rows over SMTP (implicit TLS, STARTTLS or plain, per settings)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import aiosmtplib

from adapters.email.render import render
from adapters.plumbing import refused
from base.errors import NetworkError, PlatformRefused
from bot.message import Outgoing

if TYPE_CHECKING:
    from config.settings import EmailSettings

log = logging.getLogger("rentian.email")


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
    return refused("SMTP", error.code, error.message, retryable=retryable)
