"""Ingestion: nothing lost, every defect quarantined with a reason, idempotent, atomic."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from core import ingest
from core.ingest import ingest_landing
from core.synthetic import generate
from tests.conftest import TEST_KEY


def test_rows_reconcile_for_every_landing_file(pipeline):
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as connection:
        manifest = connection.execute("SELECT * FROM meta.ingest_manifest").pl()
        raw = connection.execute("SELECT file_hash, COUNT(*) AS n FROM raw.cgc_responses GROUP BY 1").pl()
        quarantine = connection.execute(
            "SELECT file_hash, COUNT(*) FILTER (reason_code <> 'duplicate') AS bad, COUNT(*) FILTER (reason_code = 'duplicate') AS dup "
            "FROM quarantine.cgc_responses GROUP BY 1"
        ).pl()
        reasons_missing = connection.execute("SELECT COUNT(*) FROM quarantine.cgc_responses WHERE reason IS NULL OR reason = ''").fetchone()[0]
    files = sorted(p.name for p in (pipeline.landing / "cgc").iterdir())
    assert sorted(manifest["file_name"]) == files
    joined = manifest.join(raw, on="file_hash", how="left").join(quarantine, on="file_hash", how="left").fill_null(0)
    for row in joined.iter_rows(named=True):
        assert row["rows_in"] == row["rows_raw"] + row["rows_quarantined"] + row["rows_duplicate"], row["file_name"]
        assert (row["rows_raw"], row["rows_quarantined"], row["rows_duplicate"]) == (row["n"], row["bad"], row["dup"]), row["file_name"]
    assert reasons_missing == 0


def test_every_generated_defect_is_quarantined_with_a_reason(pipeline):
    defects = pl.read_parquet(pipeline.synthetic / "defects.parquet")
    assert set(defects["kind"]) >= {"missing_field", "out_of_range", "unknown_sector", "duplicate", "encoding"}
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as connection:
        quarantined = connection.execute("SELECT file_name, row_number, reason_code, reason FROM quarantine.cgc_responses").pl()
    found = defects.join(quarantined, on=["file_name", "row_number"], how="left")
    assert found.filter(pl.col("reason").is_null()).height == 0, found.filter(pl.col("reason").is_null())
    expected_code = {"duplicate": "duplicate", "encoding": "encoding"}
    for row in found.iter_rows(named=True):
        assert row["reason_code"] == expected_code.get(row["kind"], "invalid"), row
    # Reasons name the field and the rule in Dutch.
    unknown = found.filter(pl.col("kind") == "unknown_sector")["reason"].to_list()
    assert all(reason.startswith("Sector: ") and "geen geldige keuze" in reason for reason in unknown)


def test_loading_the_landing_zone_again_adds_nothing(pipeline, tmp_path):
    with duckdb.connect(str(pipeline.warehouse)) as connection:
        before = connection.execute("SELECT (SELECT COUNT(*) FROM raw.cgc_responses), (SELECT COUNT(*) FROM quarantine.cgc_responses)").fetchone()
        assert ingest_landing(connection, pipeline.landing, TEST_KEY.encode()) == []
        after = connection.execute("SELECT (SELECT COUNT(*) FROM raw.cgc_responses), (SELECT COUNT(*) FROM quarantine.cgc_responses)").fetchone()
    assert before == after


def test_a_renamed_copy_is_not_loaded_twice(tmp_path):
    generate(tmp_path / "landing", tmp_path / "truth", firms=200, waves=1, last_wave="2026-10", seed=3)
    original = next((tmp_path / "landing" / "cgc").glob("cgc_export_*"))
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        first = ingest.ingest_bytes(connection, original.read_bytes(), original.name, TEST_KEY.encode())
        again = ingest.ingest_bytes(connection, original.read_bytes(), "renamed.csv", TEST_KEY.encode())
    assert first is not None and first.rows_raw > 0
    assert again is None


def test_a_crash_mid_load_leaves_no_half_written_table(tmp_path, monkeypatch):
    generate(tmp_path / "landing", tmp_path / "truth", firms=200, waves=1, last_wave="2026-10", seed=3)
    path = next((tmp_path / "landing" / "cgc").glob("cgc_export_*"))
    real_execute = duckdb.DuckDBPyConnection.execute

    class Crash(RuntimeError):
        pass

    def crash_on_manifest(self, query, *args, **kwargs):
        if "INSERT INTO meta.ingest_manifest" in query:
            raise Crash("power cut")
        return real_execute(self, query, *args, **kwargs)

    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        monkeypatch.setattr(duckdb.DuckDBPyConnection, "execute", crash_on_manifest)
        with pytest.raises(Crash):
            ingest.ingest_bytes(connection, path.read_bytes(), path.name, TEST_KEY.encode())
        monkeypatch.setattr(duckdb.DuckDBPyConnection, "execute", real_execute)
        counts = connection.execute(
            "SELECT (SELECT COUNT(*) FROM raw.cgc_responses), (SELECT COUNT(*) FROM quarantine.cgc_responses), (SELECT COUNT(*) FROM meta.ingest_manifest)"
        ).fetchone()
        assert counts == (0, 0, 0)
        result = ingest.ingest_bytes(connection, path.read_bytes(), path.name, TEST_KEY.encode())  # the rerun loads it all
        assert result.rows_raw > 0


def test_short_csv_rows_are_quarantined_not_dropped(tmp_path):
    data = (
        "response_id,submitted_at,wave,kvk_number,sector,size_class,province,order_book,investment,staff_shortage,sentiment,challenges,free_text\n"
        "a1,2025-03-01T10:00:00,2025-03,12345678,C,2-9,PV31,grown,up,none,4,energie,\n"
        "a2,2025-03-01T10:00:00,2025-03,87654321,C\n"
    ).encode()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        result = ingest.ingest_bytes(connection, data, "short.csv", TEST_KEY.encode())
        reason = connection.execute("SELECT reason FROM quarantine.cgc_responses").fetchone()[0]
    assert (result.rows_in, result.rows_raw, result.rows_quarantined) == (2, 1, 1)
    assert "Bedrijfsgrootte: ontbreekt" in reason and "Provincie: ontbreekt" in reason
