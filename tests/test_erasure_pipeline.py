"""Erasure end to end on a copy of the session's installation (issue 15.4): `mkbvm erase` with its confirmation, and a person's
request queued by an administrator, carried out by the Dagster job `avg`; the marts and operational files rebuilt without them;
other firms' and persons' rows as they were; releases, exports and the privacy ledger byte for byte the same."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from accounts import audit
from accounts.crypto import firm_ref
from accounts.mail import OutboxMailer
from accounts.service import create_account
from accounts.store import store
from avg.requests import request_erasure
from core.archive import delivered_files
from core.private_parquet import read_private_file
from core.pseudonymise import pseudonym
from core.warehouse import connect
from pipelines.cli import app
from tests.conftest import TEST_KEY, make_installation

KEY = TEST_KEY.encode()
PASSWORD = "een lang wachtwoord 42 xyz"

pytestmark = pytest.mark.slow


@pytest.fixture()
def installation(pipeline, tmp_path, monkeypatch):
    target = make_installation(tmp_path / "installation")
    shutil.copytree(pipeline.data_dir, target.data_dir)
    monkeypatch.setenv("MKB_DATA_DIR", str(target.data_dir))
    return target


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _choose_firm(installation) -> str:
    """A firm that sent a document, is in as many firm sources as possible, and has no published quote."""
    with sqlite3.connect(installation.data_dir / "accounts" / "accounts.sqlite") as accounts:
        senders = {row[0] for row in accounts.execute("SELECT firm_ref FROM uploads")}
    firms = pl.read_parquet(installation.synthetic / "firms.parquet")["kvk_number"].to_list()
    with connect(installation.warehouse, read_only=True) as connection:
        quoted = {r[0] for r in connection.execute("SELECT r.firm_id FROM themes.consultation_quotes q "
                                                   "JOIN raw.consultation_responses r USING (response_id)").fetchall()}
        tables = [t for (t,) in connection.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' "
                                                    "AND table_name <> 'debt_signals'").fetchall()]

        def presence(kvk: str) -> int:
            hashed = pseudonym(kvk, KEY)
            return sum(connection.execute(f"SELECT COUNT(*) > 0 FROM raw.{t} WHERE firm_id = ?", [hashed]).fetchone()[0] for t in tables)

        candidates = [kvk for kvk in firms if firm_ref(kvk) in senders and pseudonym(kvk, KEY) not in quoted]
        return max(candidates, key=lambda kvk: (presence(kvk), kvk))


def _person(installation) -> tuple[str, str]:
    """A person with claims at two creditors at least: (BSN, the one of them with the most other persons' claims)."""
    persons = pl.read_parquet(installation.synthetic / "debt_persons.parquet")
    with connect(installation.warehouse, read_only=True) as connection:
        for bsn in persons["bsn"].to_list():
            creditors = connection.execute(
                "SELECT creditor, (SELECT COUNT(DISTINCT o.person_id) FROM raw.debt_signals o WHERE o.creditor = d.creditor) AS persons "
                "FROM raw.debt_signals d WHERE person_id = ? GROUP BY 1 ORDER BY 2 DESC, 1", [pseudonym(bsn, KEY)]).fetchall()
            if len(creditors) >= 2 and creditors[0][1] > 1:
                return bsn, creditors[0][0]
    raise LookupError("no person with claims at two creditors")


def _rows_without(connection, column: str, hashed: str) -> dict[str, list]:
    """Per mart (view or table) with the unit column: its rows of every other unit, sorted."""
    marts = connection.execute(
        "SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'marts' AND column_name = ? ORDER BY 1",
        [column]).fetchall()
    return {name: sorted(connection.execute(f"SELECT * FROM marts.{name} WHERE {column} <> ?", [hashed]).fetchall(), key=repr)
            for (name,) in marts}


def _holding(connection, column: str, hashed: str) -> list[str]:
    """Every base table of any schema that still holds the pseudonym in its unit column."""
    tables = connection.execute("SELECT table_schema, table_name FROM information_schema.columns c JOIN information_schema.tables t "
                                "USING (table_catalog, table_schema, table_name) WHERE t.table_type = 'BASE TABLE' AND column_name = ?",
                                [column]).fetchall()
    return [f"{s}.{t}" for s, t in tables if connection.execute(f'SELECT COUNT(*) FROM "{s}"."{t}" WHERE {column} = ?', [hashed]).fetchone()[0]]


def test_mkbvm_erase_removes_a_firm_and_a_queued_person_everywhere_and_leaves_releases_and_the_ledger_as_they_were(installation):
    data = installation.data_dir
    firm = _choose_firm(installation)
    bsn, creditor = _person(installation)
    firm_id, person_id = pseudonym(firm, KEY), pseudonym(bsn, KEY)
    with store() as accounts:
        create_account(accounts, {"name": "Piet Jansen", "email": "piet@bedrijf.nl", "role": "respondent", "kvk_number": firm}, PASSWORD)
        admin = create_account(accounts, {"name": "Beheer", "email": "beheer@example.nl", "role": "administrator"}, PASSWORD,
                               totp_secret="JBSWY3DPEHPK3PXP")
        request_erasure(accounts, admin, "bsn", bsn, bsn)  # waits for the pipeline; the job carries it out with the firm's
        uploads = [row[0] for row in accounts.execute("SELECT sha256 FROM uploads WHERE firm_ref = ?", [firm_ref(firm)])]
    OutboxMailer(data / "outbox").send("piet@bedrijf.nl", "Welkom", "Hallo Piet")
    with connect(installation.warehouse, read_only=True) as connection:
        firms_before, persons_before = _rows_without(connection, "firm_id", firm_id), _rows_without(connection, "person_id", person_id)
        registrations = {r for (r,) in connection.execute("SELECT registration_id FROM raw.programme_registrations WHERE firm_id = ?",
                                                          [firm_id]).fetchall()}
        claims = {r for (r,) in connection.execute("SELECT DISTINCT claim_id FROM raw.debt_signals WHERE person_id = ? AND creditor = ?",
                                                   [person_id, creditor]).fetchall()}
        assert _holding(connection, "firm_id", firm_id) and _holding(connection, "person_id", person_id)
    advice_before = read_private_file(data / "operational" / creditor / "advice.parquet")
    assert set(advice_before["claim_id"]) & claims and registrations
    released = {folder: digests(data / folder) for folder in ("exports", "ledger")}

    result = CliRunner().invoke(app, ["erase", "--kvk", firm], input=f"{firm}\n")  # the confirmation: typed again
    assert result.exit_code == 0, result.output
    assert "Verzoek 2 uitgevoerd" in result.output and "De marts zijn opnieuw opgebouwd" in result.output

    with connect(installation.warehouse, read_only=True) as connection:
        assert _holding(connection, "firm_id", firm_id) == [] and _holding(connection, "person_id", person_id) == []
        for table in ("quarantine.cgc_responses", "quarantine.debt_signals", "meta.deletion_log"):
            text = " ".join(str(v) for row in connection.execute(f"SELECT * FROM {table}").fetchall() for v in row)
            assert firm_id not in text and person_id not in text and firm not in text and bsn not in text
        assert _rows_without(connection, "firm_id", firm_id) == firms_before  # every other firm's mart rows as they were
        assert _rows_without(connection, "person_id", person_id) == persons_before
        assert connection.execute("SELECT COUNT(DISTINCT request_id) FROM meta.deletion_log WHERE cause = 'erasure'").fetchone()[0] == 2
    for folder, before in released.items():  # differentially private: kept as made
        assert digests(data / folder) == before, folder
    caseloads = pl.concat([read_private_file(p) for p in (data / "operational" / "consultants").rglob("caseload.parquet")], how="diagonal")
    assert not registrations & set(caseloads["registration_id"])
    advice = read_private_file(data / "operational" / creditor / "advice.parquet")
    assert not claims & set(advice["claim_id"]) and advice.height == advice_before.filter(~pl.col("claim_id").is_in(list(claims))).height
    folders = {p.name for zone in ("landing", "archive") if (data / zone).is_dir() for p in (data / zone).iterdir() if p.is_dir()}
    delivered = {f"{name}/{file}": content.decode(errors="replace")  # waiting in the landing zone, or sealed in the archive
                 for name in folders for file, content in delivered_files(data / "landing", name, "*.csv").items()}
    assert len(delivered) > 10
    for name, text in delivered.items():
        assert firm not in text and bsn not in text, name
    with store() as accounts:
        assert accounts.execute("SELECT COUNT(*) FROM accounts WHERE firm_ref = ?", [firm_ref(firm)]).fetchone()[0] == 0
        assert accounts.execute("SELECT COUNT(*) FROM uploads WHERE firm_ref = ?", [firm_ref(firm)]).fetchone()[0] == 0
        statuses = accounts.execute("SELECT status, subject_encrypted FROM avg_requests ORDER BY id").fetchall()
        assert [tuple(row) for row in statuses] == [("done", None), ("done", None)]
        assert audit.verify_chain(accounts).intact
        trail = json.dumps([dict(e) for e in audit.entries(accounts)])
    assert firm not in trail and bsn not in trail and "avg_erasure_done" in trail
    assert not any((data / "uploads" / sha).exists() for sha in uploads)
    assert not list((data / "outbox").glob("*.eml"))
