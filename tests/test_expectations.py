"""The Great Expectations checks on raw tables (issue 15, point 5: bounded memory, new rows only).

`validate_table` reads a raw table in batches split by a hash of the row identity. On the rows of the session's real
pipeline run, with defects put in on purpose, every batch size must give the counts of one validation of the whole
table: a duplicate is found even when the batches are small, a value out of range or an e-mail address in free text
is counted once.
"""

from __future__ import annotations

import duckdb
import pytest

import core.expectations
from core.expectations import checked_columns, expectation_names, validate_raw, validate_table
from core.sources import source
from core.warehouse import attach_sql, warehouse_key

pytestmark = [pytest.mark.slow]
RAW = source("cgc").raw_table


def _copy(pipeline, name: str) -> duckdb.DuckDBPyConnection:
    """An in-memory copy of the fixture's raw table of source `name` and its manifest (the defects go into the copy)."""
    raw_table = source(name).raw_table
    connection = duckdb.connect(":memory:")
    connection.execute(attach_sql(pipeline.warehouse, warehouse_key(), alias="fixture", read_only=True))
    connection.execute("CREATE SCHEMA raw; CREATE SCHEMA meta")
    connection.execute(f"CREATE TABLE {raw_table} AS SELECT * FROM fixture.{raw_table}")
    connection.execute("CREATE TABLE meta.ingest_manifest AS SELECT * FROM fixture.meta.ingest_manifest")
    connection.execute("DETACH fixture")
    return connection


def _counts(outcomes) -> dict[str, tuple[bool, int]]:
    return {outcome.name: (outcome.success, outcome.unexpected_count) for outcome in outcomes}


@pytest.fixture(scope="module")
def defective_cgc(pipeline):
    connection = _copy(pipeline, "cgc")
    first, second, third = (row for (row,) in connection.execute(f"SELECT response_id FROM {RAW} ORDER BY response_id LIMIT 3").fetchall())
    connection.execute(f"INSERT INTO {RAW} SELECT * FROM {RAW} WHERE response_id = ?", [first])  # the same answer twice
    connection.execute(f"UPDATE {RAW} SET firm_id = 'KVK 12345678' WHERE response_id = ?", [second])  # not pseudonymised
    connection.execute(f"UPDATE {RAW} SET sentiment = 99, free_text = 'mail info@voorbeeld.nl' WHERE response_id = ?", [third])
    yield connection
    connection.close()


def test_the_checks_pass_on_what_the_pipeline_loaded(pipeline):
    connection = _copy(pipeline, "cgc")
    checked = validate_table(connection, "cgc")
    assert checked.rows_checked == connection.execute(f"SELECT count(*) FROM {RAW}").fetchone()[0] > 0
    assert checked.scope == "all rows"
    assert [outcome.name for outcome in checked.outcomes if not outcome.success] == []


@pytest.mark.parametrize(("batch_rows", "stream_rows"), [(50, 7), (997, 50_000), (10**9, 1), (10**9, 50_000)])
def test_batches_count_what_one_whole_validation_counts(defective_cgc, batch_rows, stream_rows, monkeypatch):
    """Whatever the batches, and however the one ordered scan is cut into Arrow chunks (a batch over many chunks,
    many batches in one chunk), the counts are those of one whole validation."""
    monkeypatch.setattr(core.expectations, "STREAM_ROWS", stream_rows)
    whole = _counts(validate_raw(defective_cgc.execute(f"SELECT {checked_columns('cgc')} FROM {RAW}").df(), "cgc"))
    frames: list[int] = []  # the rows of each frame checked: one batch each (memory stays at one batch)
    validate = core.expectations._Validator.validate
    monkeypatch.setattr(core.expectations._Validator, "validate", lambda self, frame: frames.append(len(frame)) or validate(self, frame))
    checked = validate_table(defective_cgc, "cgc", batch_rows=batch_rows)
    rows = defective_cgc.execute(f"SELECT count(*) FROM {RAW}").fetchone()[0]
    assert checked.batches == max(1, -(-rows // batch_rows))
    sizes = [count for (count,) in defective_cgc.execute(
        f"SELECT count(*) FROM {RAW} GROUP BY hash({', '.join(source('cgc').row_identity)}) % ? ORDER BY ALL", [checked.batches]).fetchall()]
    assert sorted(frames) == sizes
    assert _counts(checked.outcomes) == whole
    failed = {name: count for name, (success, count) in whole.items() if not success}
    assert failed == {"response_id_unique": 2, "firm_id_is_pseudonym": 1, "sentiment_in_range": 1, "free_text_has_no_identifiers": 1}


def test_a_run_checks_the_rows_of_the_files_it_loaded(defective_cgc):
    newest_file, run_id = defective_cgc.execute(
        "SELECT file_hash, run_id FROM meta.ingest_manifest WHERE source = 'cgc' AND rows_raw > 0 ORDER BY loaded_at DESC, file_hash LIMIT 1").fetchone()
    defective_cgc.execute("UPDATE meta.ingest_manifest SET run_id = 'this-run' WHERE source = 'cgc' AND file_hash = ?", [newest_file])
    try:
        checked = validate_table(defective_cgc, "cgc", run_id="this-run")
        assert checked.scope == "new rows"
        assert checked.rows_checked == defective_cgc.execute(f"SELECT count(*) FROM {RAW} WHERE file_hash = ?", [newest_file]).fetchone()[0]
        assert 0 < checked.rows_checked < defective_cgc.execute(f"SELECT count(*) FROM {RAW}").fetchone()[0]
        nothing_new = validate_table(defective_cgc, "cgc", run_id="a-run-that-loaded-nothing")
        assert nothing_new.scope == "all rows"  # the check run on its own, from the Dagster UI: every row
    finally:
        defective_cgc.execute("UPDATE meta.ingest_manifest SET run_id = ? WHERE source = 'cgc' AND file_hash = ?", [run_id, newest_file])


def test_a_pipeline_run_that_loaded_nothing_checks_nothing(defective_cgc):
    """The pipeline's next run with no new file: nothing to check (every expectation still reports, on no rows); the
    same check on its own (from the Dagster UI) checks every row."""
    quiet = validate_table(defective_cgc, "cgc", run_id="a-run-without-files", all_when_none=False)
    assert quiet.scope == "no new rows" and quiet.rows_checked == 0
    assert {outcome.name for outcome in quiet.outcomes} == set(expectation_names("cgc")) and all(o.success for o in quiet.outcomes)
    alone = validate_table(defective_cgc, "cgc", run_id="a-run-without-files")
    assert alone.scope == "all rows" and alone.rows_checked == defective_cgc.execute(f"SELECT count(*) FROM {RAW}").fetchone()[0]
