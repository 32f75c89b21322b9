"""Creditors' staff (issue 12.4): the role bound to one organisation, the files per organisation, the page 'Mijn vorderingen'.

An account of organisation A sees A's claims only; what it learns of other
organisations is two yes/no facts; analysts and respondents never open the
page, and a creditor never opens theirs. The browser journey is in
test_browser_creditor.py.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import datetime

import duckdb
import polars as pl
import pytest

from accounts.demo import DEMO_CREDITOR
from accounts.mail import OutboxMailer
from accounts.service import (
    AccountError,
    PermissionDenied,
    create_account,
    get_account,
    invite,
    new_totp_secret,
    own_organisation,
)
from accounts.store import connect_store
from accounts.store import store as account_store
from core.private_parquet import read_private_file
from core.reference import domain_codes
from core.warehouse import connect as warehouse_connect
from dashboards.creditor import own_advice
from debts.creditor_files import ADVICE_FILE, CREDITOR_COLUMNS, UnknownOrganisation, organisation_folder, write_creditor_files
from tests.conftest import data_dir, logged_in

OTHER_CREDITOR = "GM0599"  # Gemeente Rotterdam: claims in the fixture too
NOW = datetime(2026, 11, 23, 10, 0, 0)


@pytest.fixture(scope="module")
def advice(pipeline) -> pl.DataFrame:
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        return connection.execute("SELECT * FROM operational.debt_advice").pl()


def _file(pipeline, organisation: str) -> pl.DataFrame:
    return read_private_file(pipeline.data_dir / "operational" / organisation / ADVICE_FILE)


# --------------------------------------------------------------------------- the files the pipeline writes


def test_each_organisation_file_holds_its_own_claims_and_nothing_that_names_a_person_or_another_organisation(pipeline, advice):
    creditors = set(domain_codes("creditor"))  # operational/ also holds consultants/ (programme/caseload.py)
    folders = sorted(p.name for p in (pipeline.data_dir / "operational").iterdir() if p.name in creditors)
    assert folders == sorted(advice["creditor"].unique().to_list())
    assert {DEMO_CREDITOR, OTHER_CREDITOR} <= set(folders)
    person_ids = set(advice["person_id"].to_list())
    for organisation in folders:
        own = _file(pipeline, organisation)
        expected = advice.filter(pl.col("creditor") == organisation)
        assert own.schema == pl.Schema(CREDITOR_COLUMNS)  # no person_id, letter_group, creditor, municipality
        assert sorted(zip(own["claim_id"], own["month"], strict=True)) == sorted(zip(expected["claim_id"], expected["month"], strict=True))
        text = {value for name, dtype in own.schema.items() if dtype == pl.Utf8 for value in own[name].drop_nulls().to_list()}
        text |= {value for name in ("reasons", "reason_texts") for value in own[name].explode().drop_nulls().to_list()}
        assert not text & person_ids
        assert not any(value.isdigit() and len(value) in (8, 9) for value in text)  # no BSN
        assert not text & (set(folders) - {organisation})  # no other organisation's code
        # one letter number per letter: the same claims share it as share the engine's letter group
        pairs = own.join(expected.select("claim_id", "month", "letter_group"), on=["claim_id", "month"])
        assert pairs.filter(pl.col("letter").is_null() != pl.col("letter_group").is_null()).is_empty()
        grouped = pairs.drop_nulls("letter").group_by("month", "letter").agg(pl.col("letter_group").n_unique().alias("groups"))
        assert grouped["groups"].max() in (None, 1)
        assert pairs.drop_nulls("letter").group_by("month", "letter_group").agg(pl.col("letter").n_unique())["letter"].max() in (None, 1)


@pytest.mark.parametrize("batch_rows", [1, 7, 1_000_000])
def test_the_streamed_scan_gives_each_organisation_exactly_its_own_rows_whatever_the_batches(pipeline, advice, tmp_path, monkeypatch, batch_rows):
    """One scan in batches: an organisation's rows split over batches, or many organisations in one batch, make the
    file its own rows would make on their own."""
    from debts import creditor_files

    monkeypatch.setattr(creditor_files, "STREAM_ROWS", batch_rows)
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        written = write_creditor_files(connection, tmp_path / "operational")
    assert written == dict(sorted(advice.group_by("creditor").len().iter_rows()))
    for organisation in written:
        expected = creditor_files.creditor_view(advice.filter(pl.col("creditor") == organisation))
        assert read_private_file(tmp_path / "operational" / organisation / ADVICE_FILE).equals(expected)


def test_a_file_is_written_again_only_when_its_organisations_rows_changed_or_it_is_missing(advice, tmp_path):
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA operational")
    connection.register("frame", advice.to_arrow())
    connection.execute("CREATE TABLE operational.debt_advice AS SELECT * FROM frame")
    operational = tmp_path / "operational"
    counts = dict(sorted(advice.group_by("creditor").len().iter_rows()))
    assert write_creditor_files(connection, operational) == counts

    def written() -> dict[str, int]:
        return {organisation: (operational / organisation / ADVICE_FILE).stat().st_ino for organisation in counts}

    first = written()
    assert write_creditor_files(connection, operational) == counts
    assert written() == first  # nothing changed: no file written again (a rewrite is a new file, renamed in)
    claim = connection.execute("SELECT claim_id FROM operational.debt_advice WHERE creditor = ? AND action <> 'afschrijven' LIMIT 1",
                               [OTHER_CREDITOR]).fetchone()[0]
    connection.execute("UPDATE operational.debt_advice SET action = 'afschrijven' WHERE claim_id = ?", [claim])
    (operational / DEMO_CREDITOR / ADVICE_FILE).unlink()
    assert write_creditor_files(connection, operational) == counts
    again = {organisation for organisation, inode in written().items() if inode != first[organisation]}
    assert again == {OTHER_CREDITOR, DEMO_CREDITOR}
    changed = read_private_file(operational / OTHER_CREDITOR / ADVICE_FILE).filter(pl.col("claim_id") == claim)
    assert set(changed["action"]) == {"afschrijven"}
    (operational / ".fingerprints.json").write_text("{niet leesbaar")  # damaged: every file is written again
    write_creditor_files(connection, operational)
    assert all(inode != first[o] for o, inode in written().items() if o not in again)


def test_the_files_are_private_and_in_a_shared_zone_readable_by_its_group_only(tmp_path):
    connection = duckdb.connect()
    frame = pl.DataFrame({"claim_id": ["c1"], "person_id": ["p"], "creditor": ["cjib"], "action": ["doorgaan"], "reasons": [[]],
                          "letter_group": ["cjib/p/c1"], "projected_cost_cents": [100], "projected_saving_cents": [0],
                          "small_debts_elsewhere": [False], "in_debt_counselling_anywhere": [False], "creditor_type": ["cjib"],
                          "debt_type": ["verkeersboete"], "municipality": ["GM0363"], "stage": ["incasso"], "principal_cents": [6500],
                          "month": ["2026-10"]}, schema_overrides={"reasons": pl.List(pl.Utf8)})
    connection.execute("CREATE SCHEMA operational")
    connection.register("frame", frame.to_arrow())
    connection.execute("CREATE TABLE operational.debt_advice AS SELECT * FROM frame")
    (tmp_path / "local").mkdir(mode=0o700)
    shared = tmp_path / "shared" / "operational"
    shared.mkdir(parents=True)
    shared.chmod(0o2750)  # the production layout: the pipeline owns it, the web app's group may read
    stale = shared / DEMO_CREDITOR
    stale.mkdir()
    assert write_creditor_files(connection, tmp_path / "local" / "operational") == {"cjib": 1}
    assert write_creditor_files(connection, shared) == {"cjib": 1}
    modes = {path: path.stat().st_mode & 0o7777 for path in (tmp_path / "local" / "operational" / "cjib", shared / "cjib")}
    assert list(modes.values()) == [0o700, 0o2750]
    assert (tmp_path / "local" / "operational" / "cjib" / ADVICE_FILE).stat().st_mode & 0o777 == 0o600
    assert (shared / "cjib" / ADVICE_FILE).stat().st_mode & 0o777 == 0o640
    assert not stale.exists()  # an organisation without claims now keeps no old file
    assert not list((shared / "cjib").glob(".incoming-*"))


def test_an_organisation_folder_is_only_ever_a_code_of_the_domain(tmp_path):
    for code in ("../secrets", "GM0363/../cjib", "", "GM9999", "/etc"):
        with pytest.raises(UnknownOrganisation):
            organisation_folder(tmp_path, code)
    assert organisation_folder(tmp_path, "cjib") == tmp_path / "cjib"


# --------------------------------------------------------------------------- the role


def test_a_creditor_account_is_bound_to_one_known_organisation_and_needs_the_app_code(store, admin, tmp_path):
    mail = OutboxMailer(tmp_path / "outbox")
    member = {"name": "Sanne de Wit", "email": "sanne@gemeente.nl", "role": "creditor"}
    with pytest.raises(AccountError, match="organisatie: verplicht voor een medewerker schuldeiser"):
        invite(store, admin, member, mail, now=NOW)
    with pytest.raises(AccountError, match="organisatie: is geen bekende organisatie"):
        invite(store, admin, {**member, "organisation": "../cjib"}, mail, now=NOW)
    with pytest.raises(AccountError, match="leeg laten voor andere rollen"):
        invite(store, admin, {**member, "role": "analyst", "organisation": "cjib"}, mail, now=NOW)
    invited = invite(store, admin, {**member, "role": "medewerker schuldeiser", "organisation": DEMO_CREDITOR}, mail, now=NOW)
    assert (invited.role, invited.organisation, invited.role_name) == ("creditor", DEMO_CREDITOR, "medewerker schuldeiser")
    assert own_organisation(invited) == DEMO_CREDITOR
    with pytest.raises(AccountError, match="tweede stap: verplicht"):
        create_account(store, {**member, "email": "b@gemeente.nl", "organisation": "cjib"}, "een lang wachtwoord 42", now=NOW)
    with pytest.raises(PermissionDenied):
        own_organisation(admin)
    with pytest.raises(sqlite3.IntegrityError):  # the store itself refuses a creditor without an organisation
        store.execute("UPDATE accounts SET organisation = NULL WHERE id = ?", [invited.id])


def test_a_store_made_before_the_creditor_role_is_rebuilt_and_keeps_its_accounts(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('respondent', 'analyst', 'administrator')), firm_ref TEXT, kvk_encrypted BLOB,
            password_hash TEXT, totp_encrypted BLOB, totp_last_step INTEGER, credential_version INTEGER NOT NULL DEFAULT 0,
            active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL,
            CHECK ((role = 'respondent') = (firm_ref IS NOT NULL AND kvk_encrypted IS NOT NULL)));
        CREATE TABLE recovery_codes (account_id INTEGER NOT NULL REFERENCES accounts (id), code_hash TEXT NOT NULL, used_at TEXT);
        INSERT INTO accounts (id, email, name, role, created_at, credential_version) VALUES (7, 'a@b.nl', 'Ana', 'analyst', '2026-01-01', 3);
        INSERT INTO recovery_codes VALUES (7, 'hash', NULL);
    """)
    old.close()
    connection = connect_store(path)
    try:
        analyst = get_account(connection, 7)
        assert (analyst.email, analyst.role, analyst.credential_version, analyst.organisation) == ("a@b.nl", "analyst", 3, None)
        assert connection.execute("SELECT COUNT(*) FROM recovery_codes WHERE account_id = 7").fetchone()[0] == 1
        made = create_account(connection, {"name": "Sanne", "email": "s@gemeente.nl", "role": "creditor", "organisation": "cjib"},
                              "een lang wachtwoord 42", new_totp_secret(), now=NOW)
        assert made.organisation == "cjib"
        assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        connection.close()


# --------------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def creditor_installation(pipeline, accounts, tmp_path_factory):
    """The web app's view of the session pipeline (its exports, creditors' files and account store with the demo accounts),
    with a staff member of Rotterdam as well; made once for this module's page tests, which only read it."""
    data = tmp_path_factory.mktemp("creditor") / "data"
    for part in ("exports", "operational", "accounts", "secrets"):
        shutil.copytree(pipeline.data_dir / part, data / part)
    with data_dir(data), account_store() as connection:
        other = create_account(connection, {"name": "Rob Rotterdam", "email": "rob@rotterdam.nl", "role": "creditor",
                                            "organisation": OTHER_CREDITOR}, "een lang wachtwoord 42", new_totp_secret())
    return data, {**accounts, "other_creditor": {"id": other.id, "email": other.email}}


@pytest.fixture()
def creditor_pages(creditor_installation, monkeypatch):
    monkeypatch.setenv("MKB_DATA_DIR", str(creditor_installation[0]))
    return creditor_installation


def test_a_creditor_sees_only_its_own_claims_of_the_newest_month(creditor_pages, pipeline):
    _, logins = creditor_pages
    own, other = _file(pipeline, DEMO_CREDITOR), _file(pipeline, OTHER_CREDITOR)
    newest = own["month"].max()
    app = logged_in(logins["creditor"])  # the start page sends a creditor to 'Mijn vorderingen'
    assert not app.exception
    assert app.title[0].value == "Mijn vorderingen" and "Gemeente Amsterdam" in app.markdown[0].value
    shown = app.dataframe[0].value
    assert sorted(shown["Vordering"]) == sorted(own.filter(pl.col("month") == newest)["claim_id"])
    assert not set(shown["Vordering"]) & set(other["claim_id"])
    assert set(shown["Ook kleine schulden bij andere organisaties"]) <= {"ja", "nee"}
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Vorderingen"] == str(len(shown))
    letters = own.filter(pl.col("month") == newest)["letter"].drop_nulls().n_unique()
    assert metrics["Brieven na bundelen"] == str(letters)
    assert all(re.fullmatch(r"\d{1,3}(\.\d{3})*,\d{2}", amount) for amount in shown["Bedrag (euro)"])  # 1.234,50: the Dutch way
    with account_store() as connection:  # showing the claims is audited, once per month per session
        viewed = connection.execute("SELECT subject FROM audit_log WHERE action = 'view' AND actor = ?", [logins["creditor"]["email"]]).fetchall()
    assert [row[0] for row in viewed].count(f"vorderingen {DEMO_CREDITOR} {newest}") == 1

    action = own.filter(pl.col("month") == newest)["action"].mode().sort()[0]
    app.selectbox(key="creditor_action").set_value(action).run()
    filtered = app.dataframe[0].value
    assert len(filtered) == own.filter((pl.col("month") == newest) & (pl.col("action") == action)).height
    assert len(app.get("download_button")) == 1

    app = logged_in(logins["other_creditor"])
    assert "Gemeente Rotterdam" in app.markdown[0].value
    assert not set(app.dataframe[0].value["Vordering"]) & set(own["claim_id"])


def test_the_web_app_reads_only_the_file_of_the_accounts_own_organisation(creditor_pages):
    data, logins = creditor_pages
    with account_store() as connection:
        creditor = get_account(connection, logins["creditor"]["id"])
        analyst = get_account(connection, logins["analyst"]["id"])
    assert set(own_advice(creditor)["claim_id"]) == set(read_private_file(data / "operational" / DEMO_CREDITOR / ADVICE_FILE)["claim_id"])
    with pytest.raises(PermissionDenied):
        own_advice(analyst)
    tampered = type(creditor)(**{**creditor.__dict__, "organisation": "../exports"})
    with pytest.raises(PermissionDenied):
        own_advice(tampered)
    assert DEMO_CREDITOR in domain_codes("creditor")


@pytest.mark.parametrize("role", ["analyst", "respondent", "administrator"])
def test_others_cannot_open_the_creditors_page(creditor_pages, role):
    _, logins = creditor_pages
    app = logged_in(logins[role])
    app.switch_page("views/schuldeiser.py").run()
    assert not app.exception
    assert "Deze pagina is alleen voor medewerkers van een schuldeiser" in app.error[0].value
    assert not app.dataframe and not app.metric


@pytest.mark.parametrize("page", ["views/schulden.py", "views/gezondheidscheck.py", "views/privacy.py", "views/beheer_accounts.py"])
def test_a_creditor_cannot_open_analysts_or_administrators_pages(creditor_pages, page):
    _, logins = creditor_pages
    app = logged_in(logins["creditor"])
    app.switch_page(page).run()
    assert not app.exception
    assert "U bent ingelogd als medewerker schuldeiser" in app.error[0].value
    assert not app.dataframe and not app.metric and not app.table
