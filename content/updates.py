"""Updates from policymakers and administrators to a segment of respondents ("Update over wetsvoorstel X").

An update is fixed when it is sent: its recipients are the respondent
accounts in the segment at that moment (`content.segments`), kept in the
store, so it shows on exactly their home page. Those who asked for it on
"Mijn account" also get it by e-mail, through the platform's mailer (outbox
or SMTP), with a link that turns e-mail off again without logging in. The
sender sees only the rounded number of firms it reached; sending is in the
audit trail with that rounded number, never with a recipient.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accounts import audit
from accounts.mail import Mailer
from accounts.preferences import unsubscribe_link
from accounts.service import Account, require_role
from accounts.settings import AccountSettings, account_settings
from accounts.store import transaction
from content.segments import (
    SENDERS,
    RoundedCount,
    SegmentError,
    check_segment,
    field_rule,
    firms_in,
    matching_accounts,
    proposal_titles,
    rounded_count,
    segment_from_json,
    segment_json,
)
from core.contracts import FORBIDDEN_TEXT_CHARACTERS
from core.messages import dutch_problems

LOG = logging.getLogger(__name__)
FIELD_NAMES = {"title": "titel", "body": "tekst"}
_FORBIDDEN = frozenset(FORBIDDEN_TEXT_CHARACTERS)


def plain_text(value: str, one_line: bool) -> str:
    """Staff's text as stored: no control or reading-direction characters, and a title also no line breaks or tabs.

    >>> plain_text("Regel een\\r\\nRegel twee", one_line=False)
    'Regel een\\nRegel twee'
    """
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    refused = _FORBIDDEN | ({"\n", "\t"} if one_line else set())
    if any(c in refused for c in value):
        raise ValueError("mag geen regeleinde, tab of onzichtbaar teken bevatten; typ de tekst op één regel opnieuw" if one_line
                         else "bevat een onzichtbaar teken dat hier niet mag; typ de tekst opnieuw")
    return value


class UpdateText(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=5, max_length=120)
    body: str = Field(min_length=10, max_length=5000)

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return plain_text(value, one_line=True)

    @field_validator("body")
    @classmethod
    def _plain(cls, value: str) -> str:
        return plain_text(value, one_line=False)


def check_text(data: dict) -> UpdateText:
    try:
        return UpdateText.model_validate({"title": data.get("title") or "", "body": data.get("body") or ""})
    except ValidationError as error:
        raise SegmentError(dutch_problems(error, lambda f: FIELD_NAMES.get(f, f), field_rule, model_label="bericht")) from None


@dataclass(frozen=True)
class SentUpdate:
    """An update as its sender sees it: what was sent to whom (a description of the segment) and a rounded reach."""

    id: int
    title: str
    body: str
    segment: str  # in Dutch
    reached: RoundedCount
    sent_at: datetime
    sent_by: str


@dataclass(frozen=True)
class Update:
    """An update as a recipient sees it."""

    id: int
    title: str
    body: str
    sent_at: datetime


def _mail_text(name: str, title: str, body: str, public_url: str, link: str) -> str:
    return (
        f"Beste {name},\n\n"
        "Er is een nieuw bericht voor uw bedrijf op de MKB Vitaliteitsmonitor.\n\n"
        f"{title}\n\n{body}\n\n"
        f"U leest dit bericht ook als u inlogt op {public_url}.\n\n"
        "Wilt u deze berichten niet meer per e-mail krijgen? Klik dan op deze link (u hoeft niet in te loggen):\n"
        f"{link}\n"
    )


def mail_opted_in(connection: sqlite3.Connection, account_ids: list[int], subject: str, text_for, mailer: Mailer,
                  settings: AccountSettings, now: datetime) -> None:
    """E-mail the accounts among `account_ids` that asked for it, each with its own unsubscribe link.

    `text_for(name, link)` gives the body. A mail that fails is logged and skipped: the message is on the
    home page anyway, and one unreachable mail server must not stop the rest.
    """
    if not account_ids:
        return
    marks = ", ".join("?" * len(account_ids))
    rows = connection.execute(f"SELECT id, email, name FROM accounts WHERE email_updates = 1 AND active = 1 AND id IN ({marks})",
                              account_ids).fetchall()
    for row in rows:
        link = unsubscribe_link(connection, row["id"], settings, now)
        try:
            mailer.send(row["email"], subject, text_for(row["name"], link), group_message=True)
        except Exception:  # any mailer error: log it and go on with the next recipient
            LOG.exception("e-mail about %s to account %s failed", subject, row["id"])


def send_update(connection: sqlite3.Connection, actor: Account, data: dict, mailer: Mailer, settings: AccountSettings | None = None,
                now: datetime | None = None) -> SentUpdate:
    """Send an update (title, body, segment) to the respondents in the segment; analysts and administrators only.

    Raises `SegmentError` (Dutch lines naming the field) for a bad title, text or segment.
    """
    require_role(actor, *SENDERS)
    settings, now = settings or account_settings(), (now or datetime.now()).replace(microsecond=0)
    problems = []
    try:
        text = check_text(data)
    except SegmentError as error:
        problems += error.problems
    try:
        segment = check_segment(connection, data.get("segment") or {})
    except SegmentError as error:
        problems += error.problems
    if problems:
        raise SegmentError(problems)
    with transaction(connection):
        recipients = matching_accounts(connection, segment)
        update_id = connection.execute("INSERT INTO updates (title, body, segment, sent_at, sent_by) VALUES (?, ?, ?, ?, ?)",
                                       [text.title, text.body, segment_json(segment), now.isoformat(), actor.email]).lastrowid
        connection.executemany("INSERT INTO update_recipients VALUES (?, ?)", [(update_id, r.account_id) for r in recipients])
        reached = rounded_count(firms_in(recipients))
        audit.record(connection, actor.email, "update_sent", f"bericht-{update_id}",
                     {"title": text.title, "segment": segment.model_dump(exclude_none=True), "reached": reached.label}, now)
    mail_opted_in(connection, [r.account_id for r in recipients], f"Bericht: {text.title}",
                  lambda name, link: _mail_text(name, text.title, text.body, settings.public_url(), link), mailer, settings, now)
    return SentUpdate(update_id, text.title, text.body, segment.describe(proposal_titles(connection)), reached, now, actor.email)


def sent_updates(connection: sqlite3.Connection, actor: Account) -> list[SentUpdate]:
    """Every update sent, newest first, with its rounded reach (staff only)."""
    require_role(actor, *SENDERS)
    titles = proposal_titles(connection)
    rows = connection.execute(
        "SELECT u.*, (SELECT COUNT(DISTINCT a.firm_ref) FROM update_recipients r JOIN accounts a ON a.id = r.account_id "
        "WHERE r.update_id = u.id) AS firms FROM updates u ORDER BY u.sent_at DESC, u.id DESC"
    ).fetchall()
    return [SentUpdate(row["id"], row["title"], row["body"], segment_from_json(row["segment"]).describe(titles), rounded_count(row["firms"]),
                       datetime.fromisoformat(row["sent_at"]), row["sent_by"]) for row in rows]


def updates_for(connection: sqlite3.Connection, actor: Account, limit: int = 20) -> list[Update]:
    """The updates sent to this respondent's own account, newest first."""
    require_role(actor, "respondent")
    rows = connection.execute(
        "SELECT u.id, u.title, u.body, u.sent_at FROM updates u JOIN update_recipients r ON r.update_id = u.id "
        "WHERE r.account_id = ? ORDER BY u.sent_at DESC, u.id DESC LIMIT ?", [actor.id, limit],
    )
    return [Update(row["id"], row["title"], row["body"], datetime.fromisoformat(row["sent_at"])) for row in rows]
