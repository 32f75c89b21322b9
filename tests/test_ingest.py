"""Ingestion: nothing lost, every defect quarantined with a reason, idempotent, atomic."""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from core import ingest
from core.archive import delivered_files
from core.ingest import ingest_landing
from core.sources import source, sources
from core.synthetic import generate
from core.warehouse import connect as warehouse_connect
from tests.conftest import TEST_KEY


@pytest.mark.parametrize("name", list(sources()))
def test_rows_reconcile_for_every_landing_file(pipeline, name):
    declared = source(name)
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        manifest = connection.execute("SELECT * FROM meta.ingest_manifest WHERE source = ?", [name]).pl()
        raw = connection.execute(f"SELECT file_hash, COUNT(*) AS n FROM {declared.raw_table} GROUP BY 1").pl()
        quarantine = connection.execute(
            "SELECT file_hash, COUNT(*) FILTER (reason_code <> 'duplicate') AS bad, COUNT(*) FILTER (reason_code = 'duplicate') AS dup "
            f"FROM {declared.quarantine_table} GROUP BY 1"
        ).pl()
        reasons_missing = connection.execute(f"SELECT COUNT(*) FROM {declared.quarantine_table} WHERE reason IS NULL OR reason = ''").fetchone()[0]
    files = sorted(delivered_files(pipeline.landing, name))
    assert files and sorted(manifest["file_name"]) == files
    assert not any((pipeline.landing / name).iterdir())  # every recorded file was sealed into the archive
    joined = manifest.join(raw, on="file_hash", how="left").join(quarantine, on="file_hash", how="left").fill_null(0)
    for row in joined.iter_rows(named=True):
        assert row["rows_in"] == row["rows_raw"] + row["rows_quarantined"] + row["rows_duplicate"], row["file_name"]
        assert (row["rows_raw"], row["rows_quarantined"], row["rows_duplicate"]) == (row["n"], row["bad"], row["dup"]), row["file_name"]
    assert reasons_missing == 0


def test_every_generated_defect_is_quarantined_with_a_reason(pipeline):
    defects = pl.read_parquet(pipeline.synthetic / "defects.parquet")
    assert set(defects["kind"]) >= {"missing_field", "out_of_range", "unknown_sector", "duplicate", "encoding"}
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
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
    with warehouse_connect(pipeline.warehouse) as connection:
        before = connection.execute("SELECT (SELECT COUNT(*) FROM raw.cgc_responses), (SELECT COUNT(*) FROM quarantine.cgc_responses)").fetchone()
        assert ingest_landing(connection, pipeline.landing, TEST_KEY.encode()) == []
        after = connection.execute("SELECT (SELECT COUNT(*) FROM raw.cgc_responses), (SELECT COUNT(*) FROM quarantine.cgc_responses)").fetchone()
    assert before == after


def test_a_renamed_copy_is_not_loaded_twice(tmp_path):
    generate(tmp_path / "landing", tmp_path / "truth", firms=200, waves=1, last_wave="2026-10", seed=3)
    original = next((tmp_path / "landing" / "cgc").glob("cgc_export_*"))
    with warehouse_connect(tmp_path / "w.duckdb") as connection:
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

    with warehouse_connect(tmp_path / "w.duckdb") as connection:
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
        b"response_id,submitted_at,wave,kvk_number,sector,size_class,province,order_book,investment,staff_shortage,sentiment,challenges,free_text\n"
        b"a1,2025-03-01T10:00:00,2025-03,12345678,C,2-9,PV31,grown,up,none,4,energie,\n"
        b"a2,2025-03-01T10:00:00,2025-03,87654321,C\n"
    )
    with warehouse_connect(tmp_path / "w.duckdb") as connection:
        result = ingest.ingest_bytes(connection, data, "short.csv", TEST_KEY.encode())
        reason = connection.execute("SELECT reason FROM quarantine.cgc_responses").fetchone()[0]
    assert (result.rows_in, result.rows_raw, result.rows_quarantined) == (2, 1, 1)
    assert "Bedrijfsgrootte: ontbreekt" in reason and "Provincie: ontbreekt" in reason


def _json_line(**changes) -> str:
    record = {
        "response_id": "j1", "submitted_at": "2025-03-01T10:00:00", "wave": "2025-03", "kvk_number": "12345678",
        "sector": "C", "size_class": "2-9", "province": "PV31", "order_book": "grown", "free_text": None, **changes,
    }
    return json.dumps(record, ensure_ascii=False)  # as the old writer did: U+2028, U+2029, U+0085 stay raw


def test_line_separators_in_free_text_do_not_split_a_json_record(tmp_path):
    # The reported bug: str.splitlines() cut these records into unreadable pieces.
    data = (
        _json_line(response_id="j1", free_text="regel een\u2028regel twee\u2029en drie") + "\n"
        + _json_line(response_id="j2", free_text="regel een\u2028regel twee\u2029en\u0085drie") + "\n"
    ).encode()
    with warehouse_connect(tmp_path / "w.duckdb") as connection:
        result = ingest.ingest_bytes(connection, data, "old_writer.jsonl", TEST_KEY.encode())
        stored = connection.execute("SELECT response_id, free_text, row_number FROM raw.cgc_responses").fetchall()
        quarantined = connection.execute("SELECT response_id, row_number, reason_code, reason FROM quarantine.cgc_responses").fetchall()
    assert (result.rows_in, result.rows_raw, result.rows_quarantined) == (2, 1, 1)
    assert stored == [("j1", "regel een\u2028regel twee\u2029en drie", 1)]
    assert quarantined == [
        ("j2", 2, "invalid",
         "Toelichting: bevat een teken dat niet is toegestaan (U+0085, een onzichtbaar stuurteken), haal het weg en verstuur opnieuw"),
    ]


def test_json_row_numbers_are_line_numbers_in_a_crlf_file_with_blank_lines(tmp_path):
    data = (
        _json_line(response_id="j1") + "\r\n\r\n"
        + "niet eens JSON\r\n"
        + _json_line(response_id="j4", sector="Z") + "\r\n"
        + "   \r\n"
        + _json_line(response_id="j6", free_text="mis\u202eleid") + "\r\n"
    ).encode()
    with warehouse_connect(tmp_path / "w.duckdb") as connection:
        result = ingest.ingest_bytes(connection, data, "crlf.jsonl", TEST_KEY.encode())
        stored = connection.execute("SELECT response_id, row_number FROM raw.cgc_responses").fetchall()
        quarantined = connection.execute("SELECT row_number, reason FROM quarantine.cgc_responses ORDER BY row_number").fetchall()
    assert (result.rows_in, result.rows_raw, result.rows_quarantined) == (4, 1, 3)
    assert stored == [("j1", 1)]
    assert [number for number, _ in quarantined] == [3, 4, 6]
    assert quarantined[0][1] == "Regel: is geen geldig JSON-object"
    assert quarantined[1][1].startswith("Sector: 'Z' is geen geldige keuze")
    assert quarantined[2][1].startswith("Toelichting: bevat een teken dat niet is toegestaan (U+202E, ")
