"""MKB consultants (issue 14): the role bound to one consultant code, the caseload file per consultant, the form on
'Mijn trajecten' and the page.

A consultant sees exactly the cases of its own caseload (the consultant of
each case's latest session or decision), without the firm's pseudonym or
KvK number, and nothing of another consultant's cases. The browser journey
is in test_browser_consultant.py.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

import duckdb
import polars as pl
import pytest
from programme_support import case, source_marts

from accounts.mail import OutboxMailer
from accounts.service import (
    AccountError,
    PermissionDenied,
    create_account,
    get_account,
    import_members,
    invite,
    new_totp_secret,
    own_consultant,
    own_organisation,
)
from accounts.store import connect_store
from core.reference import domain_codes
from programme.caseload import CASELOAD_COLUMNS, CASELOAD_FILE, UnknownConsultant, consultant_folder, write_caseload_files

NOW = datetime(2026, 11, 23, 10, 0, 0)


# --------------------------------------------------------------------------- the role


def test_a_consultant_account_is_bound_to_one_known_consultant_code_and_needs_the_app_code(store, admin, tmp_path):
    mail = OutboxMailer(tmp_path / "outbox")
    member = {"name": "Mieke Consultant", "email": "mieke@mkblimburg.nl", "role": "consultant"}
    with pytest.raises(AccountError, match="consultantcode: verplicht voor een MKB-consultant"):
        invite(store, admin, member, mail, now=NOW)
    with pytest.raises(AccountError, match="consultantcode: is geen bekende MKB-consultant"):
        invite(store, admin, {**member, "consultant": "../mc01"}, mail, now=NOW)
    with pytest.raises(AccountError, match="consultantcode: verplicht voor een MKB-consultant, leeg laten voor andere rollen"):
        invite(store, admin, {**member, "role": "analyst", "consultant": "mc01"}, mail, now=NOW)
    with pytest.raises(AccountError, match="organisatie: verplicht voor een medewerker schuldeiser"):  # not the creditors' column
        invite(store, admin, {**member, "organisation": "cjib"}, mail, now=NOW)
    invited = invite(store, admin, {**member, "role": "MKB-consultant", "consultant": "mc02"}, mail, now=NOW)
    assert (invited.role, invited.organisation, invited.role_name) == ("consultant", "mc02", "MKB-consultant")
    assert own_consultant(invited) == "mc02"
    with pytest.raises(PermissionDenied):
        own_organisation(invited)  # a consultant is no creditor's staff member
    with pytest.raises(PermissionDenied):
        own_consultant(admin)
    with pytest.raises(AccountError, match="tweede stap: verplicht"):
        create_account(store, {**member, "email": "b@mkblimburg.nl", "consultant": "mc03"}, "een lang wachtwoord 42", now=NOW)
    with pytest.raises(sqlite3.IntegrityError):  # the store itself refuses a consultant without a code
        store.execute("UPDATE accounts SET organisation = NULL WHERE id = ?", [invited.id])
    details = store.execute("SELECT details FROM audit_log WHERE action = 'account_invited' AND subject = ?", [invited.email]).fetchone()[0]
    assert '"consultant": "mc02"' in details


def test_a_member_list_invites_consultants_with_their_code(store, admin, tmp_path):
    csv_text = ("name,email,kvk_number,role,organisation,consultant\n"
                "Piet Peters,piet@mkblimburg.nl,,consultant,,mc04\n"
                "Zonder Code,zonder@mkblimburg.nl,,consultant,,\n")
    report = import_members(store, admin, csv_text, OutboxMailer(tmp_path / "outbox"), now=NOW)
    assert report.invited == ["piet@mkblimburg.nl"]
    assert report.skipped == ["Rij 3: consultantcode: verplicht voor een MKB-consultant, leeg laten voor andere rollen"]


def test_a_store_made_before_the_consultant_role_is_rebuilt_and_keeps_its_accounts(tmp_path):
    """A store of the creditor era (its CHECKs name four roles) gets the consultant role; accounts and references stay."""
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('respondent', 'analyst', 'administrator', 'creditor')), firm_ref TEXT, kvk_encrypted BLOB,
            organisation TEXT, password_hash TEXT, totp_encrypted BLOB, totp_last_step INTEGER,
            credential_version INTEGER NOT NULL DEFAULT 0, active INTEGER NOT NULL DEFAULT 1,
            email_updates INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,
            CHECK ((role = 'respondent') = (firm_ref IS NOT NULL AND kvk_encrypted IS NOT NULL)),
            CHECK ((role = 'creditor') = (organisation IS NOT NULL)));
        CREATE TABLE recovery_codes (account_id INTEGER NOT NULL REFERENCES accounts (id), code_hash TEXT NOT NULL, used_at TEXT);
        INSERT INTO accounts (id, email, name, role, organisation, created_at, credential_version, email_updates)
            VALUES (5, 's@gemeente.nl', 'Sanne', 'creditor', 'cjib', '2026-01-01', 2, 0);
        INSERT INTO recovery_codes VALUES (5, 'hash', NULL);
    """)
    old.close()
    connection = connect_store(path)
    try:
        creditor = get_account(connection, 5)
        assert (creditor.email, creditor.role, creditor.organisation, creditor.credential_version) == ("s@gemeente.nl", "creditor", "cjib", 2)
        assert connection.execute("SELECT COUNT(*) FROM recovery_codes WHERE account_id = 5").fetchone()[0] == 1
        made = create_account(connection, {"name": "Mieke", "email": "m@mkblimburg.nl", "role": "consultant", "consultant": "mc01"},
                              "een lang wachtwoord 42", new_totp_secret(), now=NOW)
        assert made.organisation == "mc01"
        assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        (definition,) = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'accounts'").fetchone()
        assert "'consultant'" in definition
    finally:
        connection.close()
    again = connect_store(path)  # a second start finds nothing to do
    try:
        assert get_account(again, made.id).organisation == "mc01"
    finally:
        again.close()


# --------------------------------------------------------------------------- the caseload files


def _session(number: str, firm: str, consultant: str, on: date, status: str = "gehouden") -> dict:
    return {"session_id": f"S-{number}", "firm_id": firm, "registration_id": f"R-{firm}", "consultant": consultant, "session_on": on,
            "duration_minutes": 60, "status": status}


def _decision(number: str, firm: str, consultant: str, on: date, phase: str, decision: str, reason: str | None = None) -> dict:
    return {"decision_id": f"D-{number}", "firm_id": firm, "registration_id": f"R-{firm}", "consultant": consultant, "decided_on": on,
            "phase": phase, "decision": decision, "stop_reason": reason}


def caseload_warehouse() -> duckdb.DuckDBPyConnection:
    """Four cases: f1 and f2 of mc01, f3 moved from mc01 to mc02 (its latest step is mc02's), f4 without any step; and a
    session of mc01 delivered with another firm's KvK number (f9) for f3's case, which counts for no case."""
    connection = duckdb.connect()
    source_marts(connection, {
        "programme_registrations": [case("f1", date(2026, 3, 2)), case("f2", date(2026, 4, 1), region="noord", sector="C"),
                                    case("f3", date(2026, 4, 9)), case("f4", date(2026, 5, 1))],
        "programme_intakes": [{"registration_id": f"R-{f}", "firm_id": f, "intake_on": date(2026, 4, 20), "outcome": "toegelaten"}
                              for f in ("f1", "f2", "f3")],
        "programme_sessions": [
            _session("1", "f1", "mc01", date(2026, 5, 4)), _session("2", "f1", "mc01", date(2026, 6, 1), "niet_verschenen"),
            _session("3", "f1", "mc01", date(2026, 7, 6)),
            _session("4", "f2", "mc01", date(2026, 5, 11)),
            _session("5", "f3", "mc01", date(2026, 5, 12)), _session("6", "f3", "mc02", date(2026, 8, 3)),
            {**_session("7", "f9", "mc01", date(2026, 9, 1)), "registration_id": "R-f3"},  # wrong firm for R-f3
        ],
        "programme_decisions": [
            _decision("1", "f1", "mc01", date(2026, 6, 15), "verkenning", "doorgaan"),
            _decision("2", "f2", "mc01", date(2026, 6, 20), "verkenning", "stoppen", "geen_tijd"),
        ],
        "programme_plans": [{"registration_id": "R-f1", "firm_id": "f1", "delivered_on": date(2026, 9, 30), "financeable": True}],
    })
    return connection


def test_each_consultant_file_holds_only_its_own_cases_and_no_identifiers(tmp_path):
    written = write_caseload_files(caseload_warehouse(), tmp_path / "operational")
    assert written == {code: {"mc01": 2, "mc02": 1}.get(code, 0) for code in domain_codes("programme_consultant")}
    mc01 = pl.read_parquet(tmp_path / "operational" / "consultants" / "mc01" / CASELOAD_FILE)
    mc02 = pl.read_parquet(tmp_path / "operational" / "consultants" / "mc02" / CASELOAD_FILE)
    assert mc01.schema == pl.Schema(CASELOAD_COLUMNS)  # no firm_id, no kvk_number, no consultant
    assert mc01["registration_id"].to_list() == ["R-f1", "R-f2"] and mc02["registration_id"].to_list() == ["R-f3"]
    f1, f2 = mc01.rows(named=True)
    assert (f1["sessions_held"], f1["no_shows"], f1["last_session_on"]) == (2, 1, date(2026, 7, 6))
    assert (f1["phase"], f1["last_decision_phase"], f1["last_decision"]) == ("plan_opgeleverd", "verkenning", "doorgaan")
    assert (f1["plan_delivered_on"], f1["financeable"], f1["intake_outcome"]) == (date(2026, 9, 30), True, "toegelaten")
    assert (f2["phase"], f2["stop_reason"], f2["region"], f2["sector"]) == ("gestopt", "geen_tijd", "noord", "C")
    f3 = mc02.row(0, named=True)
    assert (f3["sessions_held"], f3["last_session_on"], f3["phase"]) == (2, date(2026, 8, 3), "verkenning")  # not the wrong firm's
    text = {value for frame in (mc01, mc02) for name, dtype in frame.schema.items() if dtype == pl.Utf8
            for value in frame[name].drop_nulls().to_list()}
    assert not text & {"f1", "f2", "f3", "f4", "f9", "mc01", "mc02"}


def test_a_consultant_without_cases_gets_an_empty_file_with_the_columns_and_files_are_private(tmp_path):
    write_caseload_files(caseload_warehouse(), tmp_path / "operational")
    folder = tmp_path / "operational" / "consultants" / "mc03"
    empty = pl.read_parquet(folder / CASELOAD_FILE)
    assert empty.is_empty() and empty.schema == pl.Schema(CASELOAD_COLUMNS)
    assert folder.stat().st_mode & 0o777 == 0o700 and (folder / CASELOAD_FILE).stat().st_mode & 0o777 == 0o600
    assert not list(folder.glob(".incoming-*"))
    connection = duckdb.connect()  # no programme records at all: every consultant still gets a file
    source_marts(connection, {})
    assert set(write_caseload_files(connection, tmp_path / "empty").values()) == {0}


def test_a_consultant_folder_is_only_ever_a_code_of_the_domain(tmp_path):
    for code in ("../secrets", "mc01/../mc02", "", "mc99", "GM0363", "/etc"):
        with pytest.raises(UnknownConsultant):
            consultant_folder(tmp_path, code)
    assert consultant_folder(tmp_path, "mc01") == tmp_path / "consultants" / "mc01"
