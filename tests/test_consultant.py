"""MKB consultants (issue 14): the role bound to one consultant code, the caseload file per consultant, the form on
'Mijn trajecten' and the page.

A consultant sees exactly the cases of its own caseload (the consultant of
each case's latest session or decision), without the firm's pseudonym or
KvK number, and nothing of another consultant's cases. The browser journey
is in test_browser_consultant.py.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import logged_in
from consultant_support import OTHER_CASES, OWN_CASES, caseload_warehouse, consultant_installation
from programme_support import source_marts

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
from accounts.store import store as account_store
from core.contracts import SubmissionError
from core.private_parquet import read_private_file
from core.reference import domain_codes
from dashboards.consultant import decision_answers, enter, session_answers
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


def test_each_consultant_file_holds_only_its_own_cases_and_no_identifiers(tmp_path):
    written = write_caseload_files(caseload_warehouse(), tmp_path / "operational")
    assert written == {code: {"mc01": 2, "mc02": 1}.get(code, 0) for code in domain_codes("programme_consultant")}
    mc01 = read_private_file(tmp_path / "operational" / "consultants" / "mc01" / CASELOAD_FILE)
    mc02 = read_private_file(tmp_path / "operational" / "consultants" / "mc02" / CASELOAD_FILE)
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
    empty = read_private_file(folder / CASELOAD_FILE)
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


# --------------------------------------------------------------------------- the form


def _mc01_caseload(tmp_path) -> pl.DataFrame:
    write_caseload_files(caseload_warehouse(), tmp_path / "operational")
    return read_private_file(tmp_path / "operational" / "consultants" / "mc01" / CASELOAD_FILE)


def test_a_session_is_checked_field_by_field_in_dutch(tmp_path):
    caseload, today = _mc01_caseload(tmp_path), date(2026, 11, 23)
    with pytest.raises(SubmissionError) as refused:
        session_answers(caseload, "R-f3", "1234", date(2026, 12, 1), 0, "gehouden", today=today)
    assert refused.value.problems == [
        "Dossiernummer: 'R-f3' is geen traject van u; kies een van uw eigen trajecten",  # mc02's case
        "KvK-nummer van het bedrijf: '1234' moet uit precies 8 cijfers bestaan",
        "Datum van de sessie: 1 december 2026 ligt in de toekomst; vul de datum in waarop het gebeurde",
        "Duur in minuten: 0 kan niet bij een gehouden sessie; vul in hoe lang de sessie duurde",
    ]
    with pytest.raises(SubmissionError) as refused:
        session_answers(caseload, None, "", None, 900, None, today=today)
    assert refused.value.problems == [
        "Dossiernummer: ontbreekt; kies een van uw eigen trajecten",
        "KvK-nummer van het bedrijf: ontbreekt; neem het over uit het dossier van het bedrijf",
        "Datum van de sessie: ontbreekt (verplicht veld)",
        "Duur in minuten: 900 ligt buiten het bereik van 0 tot en met 480 minuten",
        "Gehouden of niet: kies 'Gehouden' of 'Niet verschenen'",
    ]
    answers, kvk = session_answers(caseload, "R-f1", "1234 5678", date(2026, 10, 30), 0, "niet_verschenen", today=today)
    assert kvk == "12345678"
    assert answers == {"registration_id": "R-f1", "session_on": "2026-10-30", "duration_minutes": 0, "status": "niet_verschenen",
                       "month": "2026-10"}


def test_a_decision_needs_a_reason_to_stop_and_none_to_go_on(tmp_path):
    caseload, today = _mc01_caseload(tmp_path), date(2026, 11, 23)
    with pytest.raises(SubmissionError) as refused:
        decision_answers(caseload, "R-f1", "12345678", date(2026, 11, 2), None, "stoppen", None, today=today)
    assert refused.value.problems == ["Fase die afgerond is: ontbreekt; kies de fase waarover u besluit",
                                      "Reden om te stoppen: ontbreekt; bij het besluit 'Stoppen' is een reden verplicht"]
    with pytest.raises(SubmissionError, match="'Geen tijd of prioriteit' hoort niet bij het besluit 'Doorgaan'"):
        decision_answers(caseload, "R-f1", "12345678", date(2026, 11, 2), "analyse", "doorgaan", "geen_tijd", today=today)
    answers, _ = decision_answers(caseload, "R-f2", "12345678", date(2026, 11, 2), "analyse", "stoppen", "niet_haalbaar", today=today)
    assert answers == {"registration_id": "R-f2", "decided_on": "2026-11-02", "phase": "analyse", "decision": "stoppen",
                       "stop_reason": "niet_haalbaar", "month": "2026-11"}


def test_an_entry_becomes_a_landing_file_of_the_source_with_the_accounts_own_consultant_code(store, admin, tmp_path):
    consultant = create_account(store, {"name": "Mieke", "email": "m@mkblimburg.nl", "role": "consultant", "consultant": "mc01"},
                                "een lang wachtwoord 42", new_totp_secret(), now=NOW)
    caseload = _mc01_caseload(tmp_path)
    answers, kvk = session_answers(caseload, "R-f1", "12345678", date(2026, 11, 20), 45, "gehouden", today=date(2026, 11, 23))
    stored = enter(consultant, "programme_sessions", answers, kvk, landing=tmp_path / "landing", now=NOW)
    (written,) = (tmp_path / "landing" / "programme_sessions").glob("form_*.jsonl")
    record = json.loads(written.read_text())
    assert record == stored and written.name == f"form_{stored['session_id']}.jsonl"
    assert (record["consultant"], record["kvk_number"], record["month"], record["delivered_at"]) == ("mc01", "12345678", "2026-11", "2026-11-23T10:00:00")
    assert written.stat().st_mode & 0o777 == 0o600
    with pytest.raises(SubmissionError, match="Datum van het besluit"):  # the source's contract checks again: not in the future
        enter(consultant, "programme_decisions", {"registration_id": "R-f1", "decided_on": "2026-12-24", "phase": "plan",
                                                  "decision": "doorgaan", "month": "2026-12"}, "12345678", landing=tmp_path / "landing", now=NOW)
    with pytest.raises(PermissionDenied):
        enter(admin, "programme_sessions", answers, kvk, landing=tmp_path / "landing", now=NOW)


# --------------------------------------------------------------------------- the page


def plain(text: str) -> str:
    """Rendered text without md()'s escapes (backslashes and word joiners)."""
    return text.replace("\\", "").replace("\u2060", "")


@pytest.fixture(scope="module")
def consultant_data(tmp_path_factory):
    return consultant_installation(tmp_path_factory.mktemp("consultant"))


@pytest.fixture()
def consultant_pages(consultant_data, monkeypatch):
    monkeypatch.setenv("MKB_DATA_DIR", str(consultant_data[0]))
    return consultant_data


def test_a_consultant_lands_on_its_own_cases_and_never_sees_another_consultants(consultant_pages):
    _, logins = consultant_pages
    app = logged_in(logins["consultant"])  # the start page sends a consultant to 'Mijn trajecten'
    assert not app.exception
    assert app.title[0].value == "Mijn trajecten" and "MKB-consultant 1" in plain(app.markdown[0].value)
    shown = app.dataframe[0].value
    assert sorted(shown["Dossiernummer"]) == OWN_CASES
    assert not set(shown["Dossiernummer"]) & set(OTHER_CASES)
    assert not {"firm_id", "kvk_number", "consultant"} & set(shown.columns)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics == {"Trajecten": "2", "Gestopt": "1", "Bedrijfsplan opgeleverd": "1"}
    row = shown.set_index("Dossiernummer").loc["R-f1"]
    assert (row["Sessies gehouden"], row["Niet verschenen"], row["Laatste sessie"]) == (2, 1, "6 juli 2026")
    assert row["Bedrijfsplan"] == "ja, 30 september 2026 (financierbaar)"
    assert app.selectbox(key="session_case").options == OWN_CASES
    with account_store() as connection:
        viewed = connection.execute("SELECT subject FROM audit_log WHERE action = 'view' AND actor = ?", [logins["consultant"]["email"]]).fetchall()
    assert [row[0] for row in viewed] == ["trajecten mc01"]

    other = logged_in(logins["other_consultant"])
    assert sorted(other.dataframe[0].value["Dossiernummer"]) == OTHER_CASES


def test_the_session_form_shows_dutch_problems_and_writes_nothing_until_they_are_solved(consultant_pages):
    data, logins = consultant_pages
    app = logged_in(logins["consultant"])
    app.selectbox(key="session_case").set_value("R-f1")
    app.text_input(key="session_kvk").input("12ab")
    app.button(key="FormSubmitter:session_form-Sessie opslaan").click().run()
    assert not app.exception
    problems = plain(app.error[0].value)
    assert "De sessie is nog niet opgeslagen" in problems and "KvK-nummer van het bedrijf: '12ab' moet uit precies 8 cijfers bestaan" in problems
    assert "Datum van de sessie: ontbreekt" in problems
    assert not (data / "landing" / "programme_sessions").exists()
    app.selectbox(key="session_case").set_value("R-f1")
    app.text_input(key="session_kvk").input("12345678")
    app.date_input(key="session_on").set_value(date.today())
    app.button(key="FormSubmitter:session_form-Sessie opslaan").click().run()
    assert not app.exception and not app.error
    assert "De sessie voor dossier R-f1 is veilig opgeslagen" in plain(app.success[0].value)
    (written,) = (data / "landing" / "programme_sessions").glob("form_*.jsonl")
    assert json.loads(written.read_text())["consultant"] == "mc01"


@pytest.mark.parametrize("role", ["analyst", "respondent", "administrator", "creditor"])
def test_others_cannot_open_the_consultants_page(consultant_pages, role):
    _, logins = consultant_pages
    app = logged_in(logins[role])
    app.switch_page("views/mijn_trajecten.py").run()
    assert not app.exception
    assert "Deze pagina is alleen voor MKB-consultants" in app.error[0].value
    assert not app.dataframe and not app.metric


@pytest.mark.parametrize("page", ["views/schuldeiser.py", "views/overzicht.py", "views/beheer_accounts.py", "views/privacy.py"])
def test_a_consultant_cannot_open_other_roles_pages(consultant_pages, page):
    _, logins = consultant_pages
    app = logged_in(logins["consultant"])
    app.switch_page(page).run()
    assert not app.exception
    assert "U bent ingelogd als MKB-consultant" in app.error[0].value
    assert not app.dataframe and not app.metric and not app.table


def test_no_module_of_dashboards_shadows_a_package_of_the_project():
    """`streamlit run dashboards/app.py` puts dashboards/ first on sys.path: a dashboards/programme.py made
    `import programme.caseload` fail in the server (not in AppTest), so the page broke only in a real browser."""
    root = Path(__file__).resolve().parent.parent
    packages = {path.parent.name for path in root.glob("*/__init__.py")}
    assert not {path.stem for path in (root / "dashboards").glob("*.py")} & packages
