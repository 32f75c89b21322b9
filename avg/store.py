"""Erasure and retention in the web app's store: accounts, a firm's own records, uploads, outbox messages, inzage exports.

Erasing a firm (by its KvK number) removes every account bound to it (with
its recovery codes, invitations, unsubscribe codes, message deliveries,
working-group memberships and AVG requests), the firm's profile, proposals
and list of own answers (`firm_profiles`, `firm_proposals`,
`firm_submissions`, found by the accounts' keyed `firm_ref`), its uploads
(rows, and each file once no other upload points at the same bytes) and the
messages in the outbox addressed to its accounts. Erasing one account (by
its e-mail address) removes that account and what hangs on it; where the
address is named as the author of content (a proposal's last editor, an
update's sender, a working group's author) it is replaced by
`verwijderd account`. A firm's data stays when one of its accounts is erased:
the firm is erased by its KvK number.

The audit trail stays as it is: it is append-only and chained
(`accounts.audit`), and it is the proof of who did what, which the AVG lets
a controller keep (art. 17(3)(b) and (e)); it never holds a KvK number, a BSN
or an answer, but it does hold the e-mail addresses of the accounts that
acted. Everything here runs in one SQLite transaction; the files go after it
commits.

Retention in the store (`config/retention.yaml`): uploads some months after
their proposal's simulation closed, inzage exports some days after they were
made, and a firm's list of own answers once the landing file it points to is
past its source's landing period.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import date, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

from accounts.crypto import firm_ref, keyed_hash
from accounts.store import transaction
from avg.deletions import Deletion
from avg.settings import RetentionSettings, cutoff
from avg.subjects import Subject
from core.reference import domain_labels
from core.sources import sources

log = logging.getLogger(__name__)
REMOVED_AUTHOR = "verwijderd account"
ACCOUNT_TABLES = ("recovery_codes", "invitations", "unsubscribe_tokens", "update_recipients", "working_group_members")
FIRM_TABLES = ("firm_profiles", "firm_proposals", "firm_submissions")
AUTHOR_COLUMNS = (("proposals", "updated_by"), ("updates", "sent_by"), ("working_groups", "created_by"))


def _count(connection: sqlite3.Connection, sql: str, parameters: list) -> int:
    return connection.execute(sql, parameters).rowcount


def _marks(values: list) -> str:
    return ", ".join("?" * len(values))


def _orphaned_upload_files(connection: sqlite3.Connection, hashes: set[str], uploads: Path) -> list[Path]:
    """The files of these uploads that no upload row points at any more."""
    still = {row[0] for row in connection.execute(f"SELECT sha256 FROM uploads WHERE sha256 IN ({_marks(list(hashes))})", list(hashes))}
    return [uploads / sha256 for sha256 in sorted(hashes - still)]


def _outbox_messages_to(outbox: Path, addresses: set[str]) -> list[Path]:
    """Messages in the outbox addressed to one of these addresses. In production the outbox is the web app's own folder
    and stays empty (mail goes out by SMTP, README "Production"); a folder this process may not read holds nothing of ours."""
    try:
        paths = sorted(outbox.glob("*.eml")) if outbox.is_dir() else []
    except PermissionError:
        log.warning("the outbox %s cannot be read by the pipeline; messages in it are not erased", outbox)
        return []
    found = []
    for path in paths:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes(), headersonly=True)
        if str(message["To"] or "").strip().lower() in addresses:
            found.append(path)
    return found


def _erase_accounts(connection: sqlite3.Connection, account_ids: list[int], addresses: list[str], log) -> None:
    if not account_ids:
        return
    for table in ACCOUNT_TABLES:
        log("account_rows", table, _count(connection, f"DELETE FROM {table} WHERE account_id IN ({_marks(account_ids)})", account_ids))
    log("account_rows", "avg_requests", _count(connection, f"DELETE FROM avg_requests WHERE account_id IN ({_marks(account_ids)})", account_ids))
    hashes = [keyed_hash(address) for address in addresses]
    log("account_rows", "login_attempts", _count(connection, f"DELETE FROM login_attempts WHERE email_hash IN ({_marks(hashes)})", hashes))
    for table, column in AUTHOR_COLUMNS:
        log("account_rows", f"{table}.{column}", _count(
            connection, f"UPDATE {table} SET {column} = ? WHERE {column} IN ({_marks(addresses)})", [REMOVED_AUTHOR, *addresses]))
    log("account", "accounts", _count(connection, f"DELETE FROM accounts WHERE id IN ({_marks(account_ids)})", account_ids))


def erase_from_store(connection: sqlite3.Connection, target: Subject, uploads: Path, outbox: Path, request_id: int | None = None) -> list[Deletion]:
    """Erase a firm (kvk) or one account (email) from the store (see the module); a person (bsn) has nothing here. Idempotent."""
    rule = f"verwijderverzoek {request_id} ({target.label})" if request_id is not None else f"verwijdering ({target.label})"
    deletions: list[Deletion] = []

    def log(what: str, location: str, items: int) -> None:
        deletions.append(Deletion("erasure", what, location, items, rule, request_id))

    if target.kind == "bsn":
        return deletions
    files: list[Path] = []
    with transaction(connection):
        if target.kind == "kvk":
            reference = firm_ref(target.identifier)
            rows = connection.execute("SELECT id, email FROM accounts WHERE firm_ref = ?", [reference]).fetchall()
            hashes = {row[0] for row in connection.execute("SELECT sha256 FROM uploads WHERE firm_ref = ?", [reference])}
            log("upload", "uploads", _count(connection, "DELETE FROM uploads WHERE firm_ref = ?", [reference]))
            files += _orphaned_upload_files(connection, hashes, uploads)
            for table in FIRM_TABLES:
                log("firm_rows", table, _count(connection, f"DELETE FROM {table} WHERE firm_ref = ?", [reference]))
        else:
            rows = connection.execute("SELECT id, email FROM accounts WHERE email = ?", [target.identifier]).fetchall()
        addresses = [row[1] for row in rows] + ([target.identifier] if target.kind == "email" else [])
        _erase_accounts(connection, [row[0] for row in rows], sorted(set(addresses)), log)
        messages = _outbox_messages_to(outbox, set(addresses))
        log("outbox_message", "outbox", len(messages))
        files += messages
    for path in files:
        path.unlink(missing_ok=True)
    return deletions


# --------------------------------------------------------------------------- retention in the store


def expire_uploads(connection: sqlite3.Connection, uploads: Path, settings: RetentionSettings, today: date) -> Deletion:
    """Uploads of proposals whose simulation closed more than `months_after_close` months before `today`."""
    months = settings.uploads.months_after_close
    before = cutoff(datetime.combine(today, datetime.min.time()), months).date()
    with transaction(connection):
        expired = connection.execute(
            "SELECT u.id, u.sha256 FROM uploads u JOIN proposals p ON p.id = u.proposal_id WHERE p.simulation_closes < ?",
            [before.isoformat()]).fetchall()
        ids = [row[0] for row in expired]
        deleted = _count(connection, f"DELETE FROM uploads WHERE id IN ({_marks(ids)})", ids) if ids else 0
        files = _orphaned_upload_files(connection, {row[1] for row in expired}, uploads) if ids else []
    for path in files:
        path.unlink(missing_ok=True)
    return Deletion("retention", "upload", "uploads", deleted,
                    f"bewaartermijn months_after_close = {months} (voorstel gesloten voor {before:%Y-%m-%d})")


def expire_inzage_exports(connection: sqlite3.Connection, settings: RetentionSettings, now: datetime) -> Deletion:
    """Inzage exports made more than `days` days before `now`: the export goes, the request's line (no data) stays."""
    before = now - timedelta(days=settings.inzage.days)
    with transaction(connection):
        deleted = _count(connection, "UPDATE avg_requests SET result_encrypted = NULL WHERE kind = 'inzage' AND result_encrypted IS NOT NULL "
                                     "AND done_at < ?", [before.isoformat(timespec="seconds")])
    return Deletion("retention", "inzage_export", "avg_requests", deleted,
                    f"bewaartermijn inzage days = {settings.inzage.days} (gemaakt voor {before:%Y-%m-%d %H:%M:%S})")


def expire_own_answers(connection: sqlite3.Connection, settings: RetentionSettings, now: datetime) -> list[Deletion]:
    """A firm's list of its own answers (`firm_submissions`) past its source's landing period: the file it points to is gone."""
    deletions = []
    with transaction(connection):
        for name in sorted({row[0] for row in connection.execute("SELECT DISTINCT source FROM firm_submissions")} & set(sources())):
            months = settings.for_source(name).landing_months
            before = cutoff(now, months)
            deleted = _count(connection, "DELETE FROM firm_submissions WHERE source = ? AND submitted_at < ?",
                             [name, before.isoformat(timespec="seconds")])
            deletions.append(Deletion("retention", "own_answer_rows", name, deleted,
                                      f"bewaartermijn landing_months = {months} (ouder dan {before:%Y-%m-%d %H:%M:%S})"))
    return deletions


def apply_store_retention(connection: sqlite3.Connection, uploads: Path, settings: RetentionSettings, now: datetime) -> list[Deletion]:
    """Every retention rule of the store (see the module)."""
    return [expire_uploads(connection, uploads, settings, now.date()), expire_inzage_exports(connection, settings, now),
            *expire_own_answers(connection, settings, now)]


# --------------------------------------------------------------------------- a firm's records, for its inzage export


def _label(domain: str, code: str | None) -> str | None:
    return None if code is None else domain_labels(domain).get(code, code)


def firm_records(connection: sqlite3.Connection, kvk_number: str) -> dict:
    """What the store holds about the firm itself: its accounts, its profile as last entered, its documents (names, not bytes)."""
    reference = firm_ref(kvk_number)
    accounts = [{"Naam": row["name"], "E-mailadres": row["email"], "Aangemaakt op": row["created_at"],
                 "Berichten per e-mail": "ja" if row["email_updates"] else "nee"}
                for row in connection.execute("SELECT name, email, created_at, email_updates FROM accounts WHERE firm_ref = ? ORDER BY id",
                                              [reference])]
    profile = connection.execute("SELECT sector, size_class, province, updated_at FROM firm_profiles WHERE firm_ref = ?", [reference]).fetchone()
    documents = [{"Bestand": row["display_name"], "Voorstel": row["proposal_id"], "Artikel": row["article"] or "het hele voorstel",
                  "Grootte (bytes)": row["size"], "Ontvangen op": row["uploaded_at"]}
                 for row in connection.execute("SELECT * FROM uploads WHERE firm_ref = ? ORDER BY uploaded_at, id", [reference])]
    return {
        "accounts": accounts,
        "profiel": ({"Sector": _label("sector", profile["sector"]), "Bedrijfsgrootte": _label("size_class", profile["size_class"]),
                     "Provincie": _label("province", profile["province"]), "Laatst ingevuld op": profile["updated_at"]} if profile else {}),
        "documenten": documents,
    }
