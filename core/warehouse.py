"""The DuckDB warehouse: connections and the tables the ingestion owns.

DuckDB allows one read-write process per file; only pipeline runs write it
(see DESIGN.md). SQLMesh owns `staging` and `marts`; `privacy/` owns the
ledger and `releases`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from core.files import private_dir, restrict_new_files
from core.survey import cgc_survey

INGEST_DDL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.ingest_manifest (
    file_hash VARCHAR PRIMARY KEY,      -- SHA-256 of the file's bytes
    file_name VARCHAR NOT NULL,
    source VARCHAR NOT NULL,            -- landing sub-folder, e.g. 'cgc'
    file_format VARCHAR NOT NULL,       -- csv | jsonl
    encoding VARCHAR NOT NULL,          -- as detected; anything but utf-8 is quarantined
    bytes BIGINT NOT NULL,
    rows_in BIGINT NOT NULL,            -- = rows_raw + rows_quarantined + rows_duplicate
    rows_raw BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,   -- invalid rows (reason_code <> 'duplicate')
    rows_duplicate BIGINT NOT NULL,     -- exact repeats of a row already loaded
    loaded_at TIMESTAMP NOT NULL,
    run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS quarantine.cgc_responses (
    file_hash VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    row_number BIGINT NOT NULL,         -- 1-based data row (or line) in the file
    response_id VARCHAR,
    reason_code VARCHAR NOT NULL,       -- invalid | encoding | conflict | duplicate | unreadable
    reason VARCHAR NOT NULL,            -- Dutch, names the field and the rule
    payload VARCHAR,                    -- the row as JSON, KvK number pseudonymised, text scrubbed
    quarantined_at TIMESTAMP NOT NULL
);
"""


def raw_cgc_ddl() -> str:
    survey = cgc_survey()
    answers = ",\n    ".join(f"{name} VARCHAR" for name in survey.questions if name != "sentiment")
    multi = ",\n    ".join(f"{name} VARCHAR[]" for name in survey.multi_select)
    return f"""
CREATE TABLE IF NOT EXISTS raw.cgc_responses (
    response_id VARCHAR NOT NULL,
    firm_id VARCHAR NOT NULL,           -- HMAC-SHA256 of the KvK number
    submitted_at TIMESTAMP NOT NULL,
    wave VARCHAR NOT NULL,
    sector VARCHAR NOT NULL,
    size_class VARCHAR NOT NULL,
    province VARCHAR NOT NULL,
    {answers},
    sentiment TINYINT,
    {multi},
    free_text VARCHAR,                  -- scrubbed of e-mail addresses and KvK/BSN numbers
    file_hash VARCHAR NOT NULL,
    row_number BIGINT NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);
"""


def ensure_ingest_tables(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(INGEST_DDL)
    connection.execute(raw_cgc_ddl())


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse file for longer than we were willing to wait."""


def open_connection(path: Path, read_only: bool = False, wait_seconds: float = 120.0) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting while another process holds DuckDB's file lock (one writer per file)."""
    restrict_new_files()  # DuckDB creates the file and its WAL itself: owner-only, whatever the caller's umask
    if not read_only:
        private_dir(path.parent)
    deadline, pause = time.monotonic() + wait_seconds, 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                if "lock" in str(error).lower():
                    raise WarehouseBusy(f"{path} was in use by another process for {wait_seconds:.0f} s; try again later") from error
                raise
            time.sleep(pause)
            pause = min(pause * 1.5, 1.0)


@contextmanager
def connect(path: Path, read_only: bool = False, wait_seconds: float = 120.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse file (waiting for another process's lock), closed on exit."""
    connection = open_connection(path, read_only, wait_seconds)
    try:
        yield connection
    finally:
        connection.close()
