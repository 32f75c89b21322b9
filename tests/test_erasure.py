"""The right to erasure (issue 15.4) on small real installations: a firm or a person out of raw, quarantine, the landing files
and the store; every other row as it was, with its number; idempotent; never loaded back; the pseudonyms can still be re-keyed."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import audit
from accounts.crypto import firm_ref
from avg.erasure import erase_from_warehouse, plan
from avg.landing_rewrite import RewriteRefused, blank_rows, rows_in, subject_rows
from avg.store import REMOVED_AUTHOR, erase_from_store
from avg.subjects import SubjectError, subject
from core.ingest import FileRejected, parse
from core.landing import content_hash, write_atomically
from core.pseudonymise import pseudonym
from core.rekey import rekey
from core.sources import source, sources
from core.warehouse import connect
from tests.avg_support import KEY, bsns, cgc_record, ingest_all, kvk_numbers, make_landing, write_form


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> tuple[Path, str]:
    """Generated deliveries of every kind plus web forms of one generated firm (one of them quarantined), ingested."""
    root = tmp_path_factory.mktemp("erasure")
    landing = make_landing(root)
    firm = kvk_numbers(landing)[0]
    write_form(landing, cgc_record("mine-1", kvk=firm))
    write_form(landing, cgc_record("mine-bad", kvk=firm, province="PV99"))
    ingest_all(root / "warehouse.duckdb", landing)
    return root, firm


@pytest.fixture()
def installation(loaded, tmp_path) -> tuple[Path, str]:
    root, firm = loaded
    shutil.copytree(root / "landing", tmp_path / "landing")
    shutil.copy(root / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    return tmp_path, firm


def rows_by_file(connection, table: str, exclude: tuple[str, ...] = ()) -> list[tuple]:
    """Every row of a table with its file named by the file's name (a rewritten file has a new hash), sorted."""
    columns = [c for (c,) in connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || table_name = ? ORDER BY ordinal_position",
        [table]).fetchall() if c not in ("file_hash", *exclude)]
    return sorted(connection.execute(
        f"SELECT m.file_name, {', '.join('t.' + c for c in columns)} FROM {table} t JOIN meta.ingest_manifest m "
        "ON m.file_hash = t.file_hash AND m.deleted_at IS NULL ORDER BY ALL").fetchall(), key=repr)


def landing_bytes(landing: Path) -> dict[str, bytes]:
    return {str(p.relative_to(landing)): p.read_bytes() for p in sorted(landing.rglob("*")) if p.is_file()}


def identifiers_in_landing(landing: Path, name: str) -> list[str]:
    """Every identifier of a source's landing files as the ingestion reads them (CSV, JSON lines and Parquet alike)."""
    declared = source(name)
    found = []
    for path in sorted((landing / name).iterdir()):
        try:
            parsed = parse(path.read_bytes(), path.name, declared)
        except FileRejected:  # a file the ingestion refuses whole: the erasure searches its bytes itself
            parsed = None
        if parsed is not None and declared.unit_field in parsed.rows.columns:
            found += [v.strip() for v in parsed.rows[declared.unit_field].drop_nulls().to_list()]
    return found


def test_a_firm_is_erased_from_raw_quarantine_and_every_landing_file_and_nothing_else_changes(installation):
    root, firm = installation
    hashed = pseudonym(firm, KEY)
    with connect(root / "warehouse.duckdb") as connection:
        assert connection.execute("SELECT COUNT(*) FROM raw.cgc_responses WHERE firm_id = ?", [hashed]).fetchone()[0] >= 2
        assert connection.execute("SELECT COUNT(*) FROM quarantine.cgc_responses WHERE payload LIKE ?", [f"%{hashed}%"]).fetchone()[0] >= 1
        others_raw = [r for r in rows_by_file(connection, "raw.cgc_responses") if hashed not in r]
        others_quarantine = [r for r in rows_by_file(connection, "quarantine.cgc_responses") if not any(hashed in str(v) for v in r)]
        debts_before = rows_by_file(connection, "raw.debt_signals")
        result = erase_from_warehouse(connection, root / "landing", subject("kvk", firm), KEY, request_id=7)

        assert connection.execute("SELECT COUNT(*) FROM raw.cgc_responses WHERE firm_id = ?", [hashed]).fetchone()[0] == 0
        assert connection.execute("SELECT COUNT(*) FROM quarantine.cgc_responses WHERE payload LIKE ?", [f"%{hashed}%"]).fetchone()[0] == 0
        assert rows_by_file(connection, "raw.cgc_responses") == others_raw  # the same rows, under the same file names and row numbers
        assert rows_by_file(connection, "quarantine.cgc_responses") == others_quarantine
        assert rows_by_file(connection, "raw.debt_signals") == debts_before  # a source about persons is not touched
        assert firm not in identifiers_in_landing(root / "landing", "cgc")
        assert not (root / "landing" / "cgc" / "form_mine-1.jsonl").exists()  # a file of the firm alone is deleted
        for path in (root / "landing" / "cgc").glob("*.csv"):
            assert re.search(rf"(?<![0-9]){firm}(?![0-9])", path.read_text(errors="replace")) is None

        live = connection.execute("SELECT file_hash, file_name, rows_in, rows_raw + rows_quarantined + rows_duplicate FROM meta.ingest_manifest "
                                  "WHERE source = 'cgc' AND deleted_at IS NULL").fetchall()
        for file_hash, file_name, rows, parts in live:  # the manifest names the bytes on disk, and its counts add up
            assert rows == parts
            path = root / "landing" / "cgc" / file_name
            assert path.exists() and content_hash(path.read_bytes()) == file_hash
        rewritten = [p for p in result.files if p.data is not None]
        assert rewritten and all(connection.execute("SELECT deleted_at IS NOT NULL FROM meta.ingest_manifest WHERE file_hash = ?",
                                                    [p.old_hash]).fetchone()[0] for p in result.files)
        log = " ".join(str(value) for row in connection.execute("SELECT * FROM meta.deletion_log").fetchall() for value in row)
        assert "verwijderverzoek 7" in log and firm not in log and hashed not in log and "form_" not in log and ".csv" not in log


def test_an_erasure_run_again_changes_nothing_and_ingestion_does_not_bring_the_firm_back(installation):
    root, firm = installation
    hashed = pseudonym(firm, KEY)
    with connect(root / "warehouse.duckdb") as connection:
        erase_from_warehouse(connection, root / "landing", subject("kvk", firm), KEY)
        state = {t: rows_by_file(connection, t) for t in ("raw.cgc_responses", "quarantine.cgc_responses")}
        manifest = connection.execute("SELECT * EXCLUDE (deleted_at) FROM meta.ingest_manifest ORDER BY ALL").fetchall()
        files = landing_bytes(root / "landing")
        again = erase_from_warehouse(connection, root / "landing", subject("kvk", firm), KEY)
        assert not any(d.items for d in again.deletions) and not again.files
        assert {t: rows_by_file(connection, t) for t in state} == state and landing_bytes(root / "landing") == files
    ingest_all(root / "warehouse.duckdb", root / "landing")  # the rewritten files are known by their new bytes: not read again
    with connect(root / "warehouse.duckdb") as connection:
        assert connection.execute("SELECT * EXCLUDE (deleted_at) FROM meta.ingest_manifest ORDER BY ALL").fetchall() == manifest
        assert connection.execute("SELECT COUNT(*) FROM raw.cgc_responses WHERE firm_id = ?", [hashed]).fetchone()[0] == 0
        assert {t: rows_by_file(connection, t) for t in state} == state


def test_the_original_file_delivered_again_is_not_loaded_and_rekey_still_reads_every_file(loaded, installation):
    root, firm = installation
    original = (loaded[0] / "landing" / "cgc" / "form_mine-1.jsonl").read_bytes()
    export = min((loaded[0] / "landing" / "cgc").glob("cgc_export_*.csv"))
    with connect(root / "warehouse.duckdb") as connection:
        erase_from_warehouse(connection, root / "landing", subject("kvk", firm), KEY)
    write_atomically(root / "landing" / "cgc", "again_form.jsonl", original)  # someone drops the old bytes in again
    write_atomically(root / "landing" / "cgc", "again_export.csv", export.read_bytes())
    ingest_all(root / "warehouse.duckdb", root / "landing")
    with connect(root / "warehouse.duckdb") as connection:
        assert connection.execute("SELECT COUNT(*) FROM raw.cgc_responses WHERE firm_id = ?", [pseudonym(firm, KEY)]).fetchone()[0] == 0
        assert rekey(connection, root / "landing", KEY, b"a-new-key-" + b"n" * 40).files > 0  # rewritten files keep their row numbers


def test_a_waiting_landing_file_is_cleaned_before_it_is_read(installation):
    root, firm = installation
    other = kvk_numbers(root / "landing")[1]
    lines = [cgc_record("wait-1", kvk=firm), cgc_record("wait-2", kvk=other), cgc_record("wait-3", kvk=firm)]
    write_atomically(root / "landing" / "cgc", "batch.jsonl", "".join(json.dumps(r) + "\n" for r in lines).encode())
    with connect(root / "warehouse.duckdb") as connection:
        erase_from_warehouse(connection, root / "landing", subject("kvk", firm), KEY)
    ingest_all(root / "warehouse.duckdb", root / "landing")
    with connect(root / "warehouse.duckdb") as connection:
        loaded_keys = {k for (k,) in connection.execute("SELECT response_id FROM raw.cgc_responses WHERE response_id LIKE 'wait-%'").fetchall()}
    assert loaded_keys == {"wait-2"}


def test_a_file_that_could_not_be_read_and_names_the_firm_is_deleted_whole(installation):
    root, firm = installation
    write_atomically(root / "landing" / "cgc", "broken.csv", f"kvk;iets\n{firm};x\n".encode())  # no required columns: quarantined whole
    ingest_all(root / "warehouse.duckdb", root / "landing")
    with connect(root / "warehouse.duckdb") as connection:
        result = erase_from_warehouse(connection, root / "landing", subject("kvk", firm), KEY)
        assert not (root / "landing" / "cgc" / "broken.csv").exists()
        assert connection.execute("SELECT deleted_at IS NOT NULL FROM meta.ingest_manifest WHERE file_name = 'broken.csv'").fetchone()[0]
    assert any(d.what == "landing_file" and d.items >= 2 for d in result.deletions)


def test_a_person_is_erased_from_the_debt_deliveries_csv_and_parquet_alike(installation):
    root, _ = installation
    with connect(root / "warehouse.duckdb") as connection:
        persons = dict(connection.execute("SELECT person_id, COUNT(DISTINCT file_hash) FROM raw.debt_signals GROUP BY 1").fetchall())
    bsn = max(bsns(root / "landing"), key=lambda b: persons.get(pseudonym(b, KEY), 0))
    hashed = pseudonym(bsn, KEY)
    with connect(root / "warehouse.duckdb") as connection:
        others = [r for r in rows_by_file(connection, "raw.debt_signals") if hashed not in r]
        cgc = rows_by_file(connection, "raw.cgc_responses")
        erase_from_warehouse(connection, root / "landing", subject("bsn", bsn), KEY)
        assert connection.execute("SELECT COUNT(*) FROM raw.debt_signals WHERE person_id = ?", [hashed]).fetchone()[0] == 0
        assert rows_by_file(connection, "raw.debt_signals") == others and rows_by_file(connection, "raw.cgc_responses") == cgc
    assert bsn not in identifiers_in_landing(root / "landing", "debt_signal")
    parquet = [p for p in (root / "landing" / "debt_signal").glob("*.parquet")]
    assert parquet and all(bsn not in pl.read_parquet(p)["bsn"].drop_nulls().to_list() for p in parquet)


def test_subjects_are_checked_in_dutch_without_repeating_the_value():
    assert subject("bsn", "1234.56.782").identifier == "123456782"
    for kind, value, rule in (("kvk", "1234567", "precies 8 cijfers"), ("bsn", "12345678a", "precies 9 cijfers"),
                              ("email", "geen-adres", "naam@voorbeeld.nl")):
        with pytest.raises(SubjectError, match=rule) as refused:
            subject(kind, value)
        assert value not in str(refused.value)


# --------------------------------------------------------------------------- the rewrite itself, for any file


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(list(',;"\n\r\t')), max_size=30)


@st.composite
def landing_files(draw):
    """A CGC landing file of random rows (several firms, free text with separators, quotes and line breaks) as CSV or JSON lines."""
    firms = ["11111111", "22222222", "33333333"]
    rows = [cgc_record(f"r{i}", kvk=draw(st.sampled_from(firms)), free_text=draw(texts) or None) for i in range(draw(st.integers(1, 8)))]
    if draw(st.booleans()):
        separator = draw(st.sampled_from([",", ";", "\t"]))
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), delimiter=separator, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
        return "export.csv", buffer.getvalue().encode("utf-8"), firms
    return "forms.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode(), firms


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(landing_files(), st.integers(0, 2))
def test_blanking_a_firm_keeps_every_other_row_as_the_ingestion_reads_it(drawn, which):
    name, data, firms = drawn
    declared = source("cgc")
    found = subject_rows(data, name, declared, firms[which])
    before = parse(data, name, declared)
    wanted = set(before.rows.filter(pl.col("kvk_number") == firms[which])["row_number"].to_list())
    assert found.readable and found.rows == wanted
    if not found.rows:
        return
    try:
        after = blank_rows(data, name, declared, found.rows, rows_in(data, name, declared))
    except RewriteRefused:
        # Known limit (issue 15 note): a bare CR inside an unquoted CSV field splits the csv module's records where the
        # ingestion does not; the check then refuses (the erasure asks for the rows to be removed by hand). Nothing else may.
        assert name.endswith(".csv") and re.search(rb"\r(?!\n)", data), "refused without the known cause"
        return
    if after is None:  # every row was the firm's
        assert len(wanted) == before.rows.height + before.unreadable.height
        return
    again = parse(after, name, declared)
    assert again.rows.filter(~pl.col("row_number").is_in(list(wanted))).equals(before.rows.filter(~pl.col("row_number").is_in(list(wanted))))
    assert firms[which] not in again.rows["kvk_number"].drop_nulls().to_list()


# --------------------------------------------------------------------------- the account store


def test_a_firm_and_an_account_are_erased_from_the_store_and_the_audit_trail_stays_intact(tmp_path, store):
    from accounts.mail import OutboxMailer
    from accounts.service import create_account

    firm, other_firm = "87654321", "11223344"
    uploads, outbox = tmp_path / "uploads", tmp_path / "outbox"
    uploads.mkdir()
    mine = create_account(store, {"name": "Piet Jansen", "email": "piet@bedrijf.nl", "role": "respondent", "kvk_number": firm},
                          "een lang wachtwoord 42 xyz")
    create_account(store, {"name": "Anna de Vries", "email": "anna@ander.nl", "role": "respondent", "kvk_number": other_firm},
                   "een lang wachtwoord 42 xyz")
    staff = create_account(store, {"name": "Sam Staf", "email": "sam@overheid.nl", "role": "analyst"}, "een lang wachtwoord 42 xyz",
                           totp_secret="JBSWY3DPEHPK3PXP")
    for reference, sha in ((firm_ref(firm), "a" * 64), (firm_ref(firm), "b" * 64), (firm_ref(other_firm), "b" * 64)):
        (uploads / sha).write_bytes(b"%PDF-1.4")
        store.execute("INSERT INTO proposals VALUES ('p', '{}', '2026-01-01', '2026-02-01', '2026-01-01', 'sam@overheid.nl') ON CONFLICT DO NOTHING")
        store.execute("INSERT INTO uploads (proposal_id, article, display_name, size, media_type, sha256, uploaded_at, firm_ref) "
                      "VALUES ('p', '', 'x.pdf', 8, 'application/pdf', ?, '2026-01-10T10:00:00', ?)", [sha, reference])
    for reference in (firm_ref(firm), firm_ref(other_firm)):
        store.execute("INSERT INTO firm_profiles VALUES (?, 'C', '2-9', 'PV31', '2026-01-01')", [reference])
        store.execute("INSERT INTO firm_submissions VALUES (?, 'cgc', ?, '2026-10', NULL, '2026-10-03T09:00:00')", [reference, reference[:8]])
    store.execute("INSERT INTO unsubscribe_tokens VALUES ('t', ?, '2026-01-01')", [mine.id])
    mailer = OutboxMailer(outbox)
    mailer.send("piet@bedrijf.nl", "Welkom", "Hallo Piet")
    mailer.send("anna@ander.nl", "Welkom", "Hallo Anna")

    deletions = erase_from_store(store, subject("kvk", firm), uploads, outbox, request_id=3)
    assert [row[0] for row in store.execute("SELECT email FROM accounts ORDER BY email")] == ["anna@ander.nl", "sam@overheid.nl"]
    for table in ("firm_profiles", "firm_submissions", "uploads"):
        assert store.execute(f"SELECT COUNT(*) FROM {table} WHERE firm_ref = ?", [firm_ref(firm)]).fetchone()[0] == 0
        assert store.execute(f"SELECT COUNT(*) FROM {table} WHERE firm_ref = ?", [firm_ref(other_firm)]).fetchone()[0] >= 1
    assert not (uploads / ("a" * 64)).exists() and (uploads / ("b" * 64)).exists()  # the other firm sent the same bytes
    assert [p.read_bytes().count(b"anna@ander.nl") for p in outbox.glob("*.eml")] == [1]
    assert store.execute("SELECT COUNT(*) FROM unsubscribe_tokens").fetchone()[0] == 0
    assert {d.what for d in deletions if d.items} >= {"account", "upload", "firm_rows", "outbox_message"}
    assert not any(d.items for d in erase_from_store(store, subject("kvk", firm), uploads, outbox))  # again: nothing left

    erase_from_store(store, subject("email", staff.email), uploads, outbox)
    assert store.execute("SELECT updated_by FROM proposals").fetchone()[0] == REMOVED_AUTHOR
    assert store.execute("SELECT COUNT(*) FROM accounts WHERE email = ?", [staff.email]).fetchone()[0] == 0
    assert store.execute("SELECT COUNT(*) FROM recovery_codes WHERE account_id = ?", [staff.id]).fetchone()[0] == 0
    assert audit.verify_chain(store).intact  # the audit trail is not touched


def test_planning_reads_only(installation):
    root, firm = installation
    files = landing_bytes(root / "landing")
    with connect(root / "warehouse.duckdb") as connection:
        before = rows_by_file(connection, "raw.cgc_responses")
        plans = plan(connection, root / "landing", subject("kvk", firm))
        assert rows_by_file(connection, "raw.cgc_responses") == before
    assert plans["cgc"] and set(plans) == {name for name, d in sources().items() if d.unit == "firm"}
    assert landing_bytes(root / "landing") == files
