"""Email delivery over SMTP (aiosmtplib): one attempt, and which failures are worth a retry."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from app.settings import Settings
from models.records import Email

#: Seconds one attempt may take (connect, and each SMTP reply).
ATTEMPT_TIMEOUT_S = 10.0


def to_message(email: Email, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    # The same on every attempt for an order, so a receiver can drop a repeat.
    message["Message-ID"] = f"<order-{email.order_id}@faust-orders>"
    message.set_content(email.body)
    return message


async def send(email: Email, settings: Settings) -> None:
    """Hand the email to SMTP_HOST:SMTP_PORT; raises aiosmtplib's errors (or OSError)."""
    await aiosmtplib.send(
        to_message(email, settings.smtp_from),
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=ATTEMPT_TIMEOUT_S,
    )


def is_permanent(error: Exception) -> bool:
    """The server refused this email for good (5xx to its recipient or its content).

    Everything else is retried: the server down, 4xx, and 5xx to the login or the sender, which
    fail every email alike until the operator fixes the settings.
    """
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code >= 500 for refused in error.recipients)
    if isinstance(error, (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError)):
        return error.code >= 500
    return False


def retry_delays(first: float = 0.5, cap: float = 30.0):
    """Seconds to wait before each retry: doubling from `first`, at most `cap`, forever."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)
