"""Changing the pseudonym key (issue 9, point 4a): refused implicitly, done explicitly and completely.

The reported bug: after `mkbvm keygen --force` a firm that resubmitted in the
same wave got a second firm_id. Now the ingestion refuses another key, and
`core.rekey.rekey` recomputes every stored pseudonym from the landing files
in one transaction, after which a resubmission keeps the firm's one firm_id.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from core.ingest import KeyMismatch, ingest_landing
from core.landing import write_atomically
from core.pseudonymise import key_fingerprint, pseudonym
from core.rekey import RekeyRefused, rekey
from core.sources import source
from core.synthetic import generate
from core.warehouse import open_connection as open_warehouse
from tests.conftest import TEST_KEY

OLD, NEW = TEST_KEY.encode(), b"a-new-key-after-keygen-force-" + b"n" * 30
COLUMNS = source("cgc").landing_columns()
KVK = "12345678"


def submission(response_id: str, **answers) -> bytes:
    record = dict.fromkeys(COLUMNS) | {
        "response_id": response_id, "submitted_at": "2026-10-03T09:00:00", "wave": "2026-10", "kvk_number": KVK,
        "sector": "C", "size_class": "2-9", "province": "PV31", "order_book": "grown", **answers,
    }
    return (json.dumps(record) + "\n").encode()


@pytest.fixture()
def loaded(tmp_path):
    """A warehouse with generated exports (valid, defective, duplicate, cp1252 rows) and one form submission, under the old key."""
    landing = tmp_path / "landing"
    generate(landing, tmp_path / "truth", firms=150, waves=2, last_wave="2026-10", seed=5)
    write_atomically(landing / "cgc", "form_first.jsonl", submission("form-1"))
    write_atomically(landing / "cgc", "form_bad.jsonl", submission("form-bad", sector="Z"))  # quarantined, payload pseudonymised
    connection = open_warehouse(tmp_path / "w.duckdb")
    ingest_landing(connection, landing, OLD)
    yield landing, connection
    connection.close()


def snapshot(connection) -> tuple:
    return (
        connection.execute("SELECT * FROM raw.cgc_responses ORDER BY file_hash, row_number").fetchall(),
        connection.execute("SELECT * FROM quarantine.cgc_responses ORDER BY file_hash, row_number").fetchall(),
        connection.execute("SELECT * FROM meta.ingest_manifest ORDER BY file_hash").fetchall(),
    )


def test_a_resubmission_after_a_new_key_is_refused_until_the_warehouse_is_rekeyed(loaded):
    landing, connection = loaded
    write_atomically(landing / "cgc", "form_again.jsonl", submission("form-2", order_book="shrunk"))
    before = snapshot(connection)
    with pytest.raises(KeyMismatch, match="mkbvm rekey"):
        ingest_landing(connection, landing, NEW)
    assert snapshot(connection) == before  # nothing loaded under the new key

    result = rekey(connection, landing, OLD, NEW)
    assert result.files >= 4 and result.raw_rows > 40 and result.quarantine_rows > 0
    (again,) = ingest_landing(connection, landing, NEW)
    assert again.rows_raw == 1
    firm_ids = connection.execute(
        "SELECT DISTINCT firm_id FROM raw.cgc_responses WHERE response_id IN ('form-1', 'form-2')"
    ).fetchall()
    assert firm_ids == [(pseudonym(KVK, NEW),)]  # one firm, one firm_id
    fingerprints = connection.execute("SELECT DISTINCT key_fingerprint FROM meta.ingest_manifest").fetchall()
    assert fingerprints == [(key_fingerprint(NEW),)]


def test_every_stored_pseudonym_is_the_new_keys(loaded):
    landing, connection = loaded
    truth = {pseudonym(kvk, OLD): kvk for (kvk,) in duckdb.sql(f"SELECT kvk_number FROM '{landing.parent / 'truth' / 'firms.parquet'}'").fetchall()}
    truth[pseudonym(KVK, OLD)] = KVK
    before = dict(connection.execute("SELECT response_id || '@' || file_hash, firm_id FROM raw.cgc_responses").fetchall())
    payloads_before = connection.execute("SELECT payload FROM quarantine.cgc_responses WHERE payload LIKE '%kvk_number\":\"%'").fetchall()
    rekey(connection, landing, OLD, NEW)
    after = dict(connection.execute("SELECT response_id || '@' || file_hash, firm_id FROM raw.cgc_responses").fetchall())
    assert after.keys() == before.keys()
    assert all(after[row] == pseudonym(truth[before[row]], NEW) for row in before)
    payloads = " ".join(p for (p,) in connection.execute("SELECT payload FROM quarantine.cgc_responses").fetchall() if p)
    assert payloads_before and not any(old in payloads for old in truth)  # no old pseudonym is left anywhere
    assert pseudonym(KVK, NEW) in payloads  # the quarantined form submission holds the new one


def test_a_missing_landing_file_refuses_the_rekey_and_changes_nothing(loaded):
    landing, connection = loaded
    before = snapshot(connection)
    (landing / "cgc" / "form_first.jsonl").unlink()
    with pytest.raises(RekeyRefused, match="form_first.jsonl: the landing file .* is missing"):
        rekey(connection, landing, OLD, NEW)
    assert snapshot(connection) == before


def test_a_renamed_landing_file_is_found_by_its_content(loaded):
    landing, connection = loaded
    (landing / "cgc" / "form_first.jsonl").rename(landing / "cgc" / "renamed.jsonl")
    rekey(connection, landing, OLD, NEW)
    assert connection.execute("SELECT firm_id FROM raw.cgc_responses WHERE response_id = 'form-1'").fetchone()[0] == pseudonym(KVK, NEW)


def test_a_wrong_old_key_is_refused(loaded):
    landing, connection = loaded
    before = snapshot(connection)
    with pytest.raises(RekeyRefused, match="not under the old key given"):
        rekey(connection, landing, b"not-the-old-key-" + b"z" * 30, NEW)
    assert snapshot(connection) == before


def test_a_changed_landing_file_is_refused(loaded):
    landing, connection = loaded
    before = snapshot(connection)
    (landing / "cgc" / "form_first.jsonl").write_bytes(submission("form-1", kvk_number="87654321"))
    with pytest.raises(RekeyRefused, match="form_first.jsonl"):
        rekey(connection, landing, OLD, NEW)
    assert snapshot(connection) == before


def test_a_crash_during_the_rekey_leaves_the_warehouse_as_it_was(loaded, monkeypatch):
    landing, connection = loaded
    before = snapshot(connection)
    real_execute = duckdb.DuckDBPyConnection.execute

    def crash_on_manifest(self, query, *args, **kwargs):
        if query.startswith("UPDATE meta.ingest_manifest"):
            raise duckdb.IOException("disk full")
        return real_execute(self, query, *args, **kwargs)

    monkeypatch.setattr(duckdb.DuckDBPyConnection, "execute", crash_on_manifest)
    with pytest.raises(duckdb.IOException):
        rekey(connection, landing, OLD, NEW)
    monkeypatch.setattr(duckdb.DuckDBPyConnection, "execute", real_execute)
    assert snapshot(connection) == before
    rekey(connection, landing, OLD, NEW)  # and it can be run again
    with pytest.raises(RekeyRefused):  # but not twice: the warehouse is under the new key now
        rekey(connection, landing, OLD, NEW)


def test_files_loaded_before_fingerprints_were_recorded_are_judged_by_their_pseudonyms(loaded):
    landing, connection = loaded
    connection.execute("UPDATE meta.ingest_manifest SET key_fingerprint = NULL")  # as a migrated warehouse has them
    write_atomically(landing / "cgc", "form_again.jsonl", submission("form-2", order_book="shrunk"))
    with pytest.raises(KeyMismatch, match="does not reproduce the pseudonyms"):
        ingest_landing(connection, landing, NEW)
    (again,) = ingest_landing(connection, landing, OLD)
    assert again.rows_raw == 1
    assert connection.execute("SELECT DISTINCT key_fingerprint FROM meta.ingest_manifest").fetchall() == [(key_fingerprint(OLD),)]
