"""Sending messages (invitations): to an outbox folder here, to a real SMTP server in production.

There is no mail server on this platform's machines, so the default sender
writes each message as an .eml file (RFC 5322, opens in any mail program)
into `data/outbox/`, where an administrator can see it. Setting
`MKB_SMTP_HOST` (and `MKB_SMTP_PORT`, `MKB_SMTP_USER`, `MKB_SMTP_PASSWORD`,
`MKB_SMTP_FROM`, `MKB_SMTP_STARTTLS`) makes `mailer()` return an SMTP sender
instead; both keep the same small interface.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Protocol

from accounts.settings import outbox_path
from core.landing import write_atomically

SENDER = "MKB Vitaliteitsmonitor <noreply@mkb-vitaliteitsmonitor.local>"


# Marks a message to a segment of firms (an update, a working-group invitation): the outbox page leaves those out, since
# their addresses, names and number would tell the administrator who received a message whose sender may not know.
GROUP_MESSAGE_HEADER = "X-MKBVM-Group-Message"


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str, group_message: bool = False) -> None: ...


def _message(to: str, subject: str, body: str, sender: str, group_message: bool = False) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    if group_message:
        message[GROUP_MESSAGE_HEADER] = "yes"
    message["Date"] = datetime.now().astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")
    message["Message-ID"] = f"<{uuid.uuid4().hex}@mkb-vitaliteitsmonitor.local>"
    message.set_content(body)
    return message


@dataclass(frozen=True)
class OutboxMailer:
    """Writes each message as an .eml file into a folder (atomically: a file is whole or absent)."""

    folder: Path

    def send(self, to: str, subject: str, body: str, group_message: bool = False) -> None:
        message = _message(to, subject, body, SENDER, group_message)
        name = f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        write_atomically(self.folder, name, message.as_bytes(policy=policy.SMTP))


@dataclass(frozen=True)
class SmtpMailer:
    """Sends through an SMTP server (STARTTLS and login when configured)."""

    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    sender: str = SENDER
    starttls: bool = True

    def send(self, to: str, subject: str, body: str, group_message: bool = False) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=30) as server:
            if self.starttls:
                server.starttls(context=ssl.create_default_context())
            if self.user:
                server.login(self.user, self.password or "")
            server.send_message(_message(to, subject, body, self.sender, group_message))


def mailer() -> Mailer:
    """SMTP when MKB_SMTP_HOST is set, else the outbox folder."""
    host = os.environ.get("MKB_SMTP_HOST")
    if not host:
        return OutboxMailer(outbox_path())
    return SmtpMailer(
        host=host,
        port=int(os.environ.get("MKB_SMTP_PORT", "587")),
        user=os.environ.get("MKB_SMTP_USER"),
        password=os.environ.get("MKB_SMTP_PASSWORD"),
        sender=os.environ.get("MKB_SMTP_FROM", SENDER),
        starttls=os.environ.get("MKB_SMTP_STARTTLS", "true").lower() != "false",
    )


@dataclass(frozen=True)
class OutboxMessage:
    file_name: str
    to: str
    subject: str
    date: str
    body: str  # with one-time codes masked: only the recipient's own mail carries a working link


# The one-time code of an activation link: whoever reads the outbox page must not be able to use someone's invitation.
_ONE_TIME_CODE = re.compile(r"([?&]code=)[A-Za-z0-9_-]+")
MASKED_CODE = "[verborgen: alleen in de e-mail aan de ontvanger]"


def masked(body: str) -> str:
    """A message body with every one-time link code hidden.

    >>> masked("Maak uw account af: http://127.0.0.1:8501/activeren?code=abcDEF-123_x")
    'Maak uw account af: http://127.0.0.1:8501/activeren?code=[verborgen: alleen in de e-mail aan de ontvanger]'
    """
    return _ONE_TIME_CODE.sub(lambda match: match.group(1) + MASKED_CODE, body)


def outbox(folder: Path | None = None) -> list[OutboxMessage]:
    """Messages in the outbox, newest first, with one-time codes masked (for the administrator's page); messages to a
    segment of firms are left out (`GROUP_MESSAGE_HEADER`)."""
    folder = folder or outbox_path()
    messages = []
    for path in sorted(folder.glob("*.eml"), reverse=True) if folder.is_dir() else []:
        parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if parsed[GROUP_MESSAGE_HEADER]:
            continue
        body = parsed.get_body(preferencelist=("plain",))
        text = masked(body.get_content()) if body else ""
        messages.append(OutboxMessage(path.name, str(parsed["To"]), str(parsed["Subject"]), str(parsed["Date"]), text))
    return messages
