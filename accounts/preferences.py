"""A respondent's choice to get updates and working-group invitations by e-mail, and the unsubscribe link in each mail.

The choice is off by default and changed on "Mijn account" (logged in) or,
turned off only, through the link in every such e-mail, without logging in.
That link carries a random code (32 bytes); the store keeps only
its SHA-256, like an invitation's code, so whoever reads the store cannot
unsubscribe anyone. A code keeps working (unsubscribing twice is harmless) and
can do nothing else. The outbox page masks it like every `?code=` link.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from datetime import datetime

from accounts import audit
from accounts.service import Account, AccountError, require_role
from accounts.settings import AccountSettings, account_settings
from accounts.store import transaction

UNSUBSCRIBE_PAGE = "afmelden"


def wants_email(connection: sqlite3.Connection, account_id: int) -> bool:
    """Whether this account asked for updates by e-mail."""
    row = connection.execute("SELECT email_updates FROM accounts WHERE id = ?", [account_id]).fetchone()
    return bool(row and row["email_updates"])


def set_email_updates(connection: sqlite3.Connection, actor: Account, wanted: bool, now: datetime | None = None) -> None:
    """Turn updates by e-mail on or off for one's own account (respondents: the messages are for them)."""
    require_role(actor, "respondent")
    with transaction(connection):
        changed = connection.execute("UPDATE accounts SET email_updates = ? WHERE id = ? AND email_updates != ?",
                                     [int(wanted), actor.id, int(wanted)]).rowcount
        if changed:
            audit.record(connection, actor.email, "email_updates_on" if wanted else "email_updates_off", actor.email, {"via": "account"}, now)


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def unsubscribe_link(connection: sqlite3.Connection, account_id: int, settings: AccountSettings | None = None,
                     now: datetime | None = None) -> str:
    """A new link that turns e-mail off for this account without logging in (put in the mail; only its hash is kept)."""
    settings, now = settings or account_settings(), now or datetime.now()
    code = secrets.token_urlsafe(32)
    connection.execute("INSERT INTO unsubscribe_tokens VALUES (?, ?, ?)", [_digest(code), account_id, now.isoformat(timespec="seconds")])
    return f"{settings.public_url()}/{UNSUBSCRIBE_PAGE}?code={code}"


INVALID_LINK = "Deze afmeldlink klopt niet. Log in en zet e-mail uit op 'Mijn account'."


def unsubscribe(connection: sqlite3.Connection, code: str, now: datetime | None = None) -> None:
    """Turn e-mail off for the account the code belongs to; `AccountError` (Dutch) for a code that is not known."""
    with transaction(connection):
        row = connection.execute("SELECT t.account_id, a.email FROM unsubscribe_tokens t JOIN accounts a ON a.id = t.account_id "
                                 "WHERE t.token_hash = ?", [_digest(code.strip())]).fetchone()
        if row is None:
            raise AccountError(INVALID_LINK)
        changed = connection.execute("UPDATE accounts SET email_updates = 0 WHERE id = ? AND email_updates = 1", [row["account_id"]]).rowcount
        if changed:
            audit.record(connection, row["email"], "email_updates_off", row["email"], {"via": "afmeldlink"}, now)
