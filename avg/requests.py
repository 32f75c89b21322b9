"""AVG requests as a queue the pipeline answers: erasure (administrators) and inzage of a firm's own data (respondents).

Why a queue, and not a query from the page. Finding a firm's rows needs its
KvK number hashed under the pseudonym key and the raw tables read. The web
app has neither: it never opens the warehouse (`tests/test_dashboard_isolation.py`),
and in production it runs as its own system user that cannot read the
warehouse or the pseudonym key (README, "Production"). Giving it a read-only
warehouse connection would give every page that could be tricked into a
query the whole warehouse. So a page writes a request into the account
store (which the web app writes anyway) and the pipeline answers it: the
Dagster sensor `avg_requests_sensor` starts the job `avg` within half a
minute (`mkbvm erase` runs it at once), which carries out an erasure, or
makes the inzage export and writes it back into the request, encrypted with
the accounts key. The page shows the status and, once it is there, the
download, after checking that the request is the logged-in account's own.

The identifier of a request (KvK number, BSN, e-mail address) is stored
encrypted and emptied as soon as the request is carried out; the audit trail
records who asked for what kind of request, never the identifier.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from accounts import audit
from accounts.crypto import decrypt, encrypt
from accounts.service import SYSTEM, Account, PermissionDenied, firm_kvk_number, get_account, require_role
from accounts.store import transaction
from avg.subjects import KINDS, Subject, SubjectError, subject

ERASURE, INZAGE = "erasure", "inzage"
STATUS_NAMES = {"pending": "wacht op de pijplijn", "done": "uitgevoerd", "failed": "mislukt"}


class RequestError(ValueError):
    """A request breaks a rule; the message is Dutch and names the field and the rule (never the value typed)."""


@dataclass(frozen=True)
class AvgRequest:
    id: int
    kind: str  # erasure | inzage
    subject_kind: str  # kvk | bsn | email
    requested_by: str
    requested_at: datetime
    status: str  # pending | done | failed
    done_at: datetime | None
    summary: dict
    has_result: bool

    @property
    def status_name(self) -> str:
        return STATUS_NAMES[self.status]


def _request(row: sqlite3.Row) -> AvgRequest:
    return AvgRequest(row["id"], row["kind"], row["subject_kind"], row["requested_by"], datetime.fromisoformat(row["requested_at"]),
                      row["status"], datetime.fromisoformat(row["done_at"]) if row["done_at"] else None,
                      json.loads(row["summary"]) if row["summary"] else {}, row["result_encrypted"] is not None)


def _subject_line(request_id: int) -> str:
    return f"avg-verzoek {request_id}"


def request_erasure(connection: sqlite3.Connection, actor: Account, kind: str, value: str, confirmation: str,
                    now: datetime | None = None) -> int:
    """Ask the pipeline to erase a firm (kvk), a person (bsn) or an account (email) everywhere (administrators only).

    `confirmation` is the identifier typed a second time; it must be the same. Returns the request's number.
    """
    require_role(actor, "administrator")
    try:
        target = subject(kind, value)
    except SubjectError as error:
        raise RequestError(str(error)) from None
    try:
        same = subject(kind, confirmation).identifier == target.identifier
    except SubjectError:
        same = False
    if not same:
        raise RequestError("Controle: de tweede invoer is niet gelijk aan de eerste; typ het precies nog een keer")
    if target.kind == "email" and target.identifier == actor.email:
        raise RequestError("E-mailadres van een account: u kunt uw eigen account niet laten verwijderen; vraag een andere beheerder")
    now = now or datetime.now()
    with transaction(connection):
        cursor = connection.execute(
            "INSERT INTO avg_requests (kind, subject_kind, subject_encrypted, requested_by, requested_at, status) VALUES (?, ?, ?, ?, ?, 'pending')",
            [ERASURE, target.kind, encrypt(target.identifier), actor.email, now.isoformat(timespec="seconds")])
        audit.record(connection, actor.email, "avg_erasure_requested", _subject_line(cursor.lastrowid), {"soort": target.kind}, now)
    return cursor.lastrowid


def request_inzage(connection: sqlite3.Connection, actor: Account, now: datetime | None = None) -> int:
    """Ask the pipeline for everything it holds of the respondent's own firm (respondents only); one open request at a time."""
    require_role(actor, "respondent")
    open_request = connection.execute("SELECT id FROM avg_requests WHERE kind = 'inzage' AND account_id = ? AND status = 'pending'",
                                      [actor.id]).fetchone()
    if open_request is not None:
        return open_request[0]
    now = now or datetime.now()
    with transaction(connection):
        cursor = connection.execute(
            "INSERT INTO avg_requests (kind, subject_kind, subject_encrypted, account_id, firm_ref, requested_by, requested_at, status) "
            "VALUES (?, 'kvk', ?, ?, ?, ?, ?, 'pending')",
            [INZAGE, encrypt(firm_kvk_number(connection, actor)), actor.id, actor.firm_ref, actor.email, now.isoformat(timespec="seconds")])
        audit.record(connection, actor.email, "avg_inzage_requested", _subject_line(cursor.lastrowid), {}, now)
    return cursor.lastrowid


def list_requests(connection: sqlite3.Connection, actor: Account, limit: int = 200) -> list[AvgRequest]:
    """Every request, the newest first, without identifiers (administrators only)."""
    require_role(actor, "administrator")
    return [_request(row) for row in connection.execute("SELECT * FROM avg_requests ORDER BY id DESC LIMIT ?", [limit])]


def latest_inzage(connection: sqlite3.Connection, actor: Account) -> AvgRequest | None:
    """The respondent account's own newest inzage request, if any."""
    require_role(actor, "respondent")
    row = connection.execute("SELECT * FROM avg_requests WHERE kind = 'inzage' AND account_id = ? AND firm_ref = ? ORDER BY id DESC LIMIT 1",
                             [actor.id, actor.firm_ref]).fetchone()
    return _request(row) if row else None


# --------------------------------------------------------------------------- the pipeline's side


def pending_ids(connection: sqlite3.Connection) -> list[int]:
    """The requests waiting for the pipeline (the sensor reads only this)."""
    return [row[0] for row in connection.execute("SELECT id FROM avg_requests WHERE status = 'pending' ORDER BY id")]


def pending(connection: sqlite3.Connection) -> list[tuple[AvgRequest, Subject]]:
    """The waiting requests with their subject (decrypted: the pipeline needs it), erasures first."""
    rows = connection.execute("SELECT * FROM avg_requests WHERE status = 'pending' ORDER BY kind = 'inzage', id").fetchall()
    return [(_request(row), Subject(row["subject_kind"], decrypt(row["subject_encrypted"]))) for row in rows]


def finish(connection: sqlite3.Connection, request: AvgRequest, summary: dict, result: bytes | None = None, failed: str | None = None,
           now: datetime | None = None) -> None:
    """Record the outcome; the identifier is emptied; the audit trail gets the counts (by the system)."""
    now = now or datetime.now()
    status = "failed" if failed else "done"
    details = {"soort": request.subject_kind, **({"fout": failed} if failed else {}), **summary}
    action = {ERASURE: "avg_erasure_done", INZAGE: "avg_inzage_ready"}[request.kind] if not failed else "avg_request_failed"
    with transaction(connection):
        connection.execute(
            "UPDATE avg_requests SET status = ?, done_at = ?, summary = ?, result_encrypted = ?, subject_encrypted = NULL WHERE id = ?",
            [status, now.isoformat(timespec="seconds"), json.dumps(summary, sort_keys=True),
             encrypt(result.decode("utf-8")) if result is not None else None, request.id])
        audit.record(connection, SYSTEM, action, _subject_line(request.id), details, now)


# --------------------------------------------------------------------------- handing out an inzage export


def inzage_document(account_id: int, credential_version: int, request_id: int, file_format: str, store_file: Path | None = None) -> dict:
    """The export of the account's own inzage request, at the click of the download (audited before it is handed out).

    The account is looked up again (blocked, or a changed password: nothing), the request must be its own and for its
    own firm, and the export must still be there.
    """
    from accounts.store import store

    with store(store_file) as connection:
        actor = get_account(connection, account_id)
        if actor is None or not actor.active or actor.credential_version != credential_version:
            raise PermissionDenied("Uw sessie is beëindigd; log opnieuw in.")
        require_role(actor, "respondent")
        row = connection.execute("SELECT result_encrypted FROM avg_requests WHERE id = ? AND kind = 'inzage' AND account_id = ? AND firm_ref = ?",
                                 [request_id, actor.id, actor.firm_ref]).fetchone()
        if row is None or row[0] is None:
            raise RequestError("Inzage: dit overzicht is er niet (meer); vraag een nieuw overzicht aan")
        with transaction(connection):
            audit.record(connection, actor.email, "avg_inzage_downloaded", _subject_line(request_id), {"format": file_format})
        return json.loads(decrypt(row[0]))


COLUMNS = ["Onderdeel", "Inzending", "Gegeven", "Waarde"]


def document_rows(document: dict) -> pl.DataFrame:
    """An inzage export in one table (long format: one row per value), for a CSV download."""
    rows = []
    for part in document.get("bronnen", []):
        for section, kind in (("inzendingen", part["naam"]), ("niet_gebruikt", f"{part['naam']} (niet gebruikt)")):
            for item in part[section]:
                rows += [(kind, item["inzending"], label, value) for label, value in item["velden"].items()]
    return pl.DataFrame(rows, schema=COLUMNS, orient="row")


def kind_name(request: AvgRequest) -> str:
    return "inzage" if request.kind == INZAGE else f"verwijderen: {KINDS[request.subject_kind]}"
