"""The DuckDB warehouse: connections and the tables the ingestion owns (their DDL comes from the source declarations).

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
from core.sources import MONEY_PRECISION, MONEY_SCALE, source

MONEY_TYPE = f"DECIMAL({MONEY_PRECISION},{MONEY_SCALE})"  # euros with cents, exact

INGEST_DDL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.ingest_manifest (
    file_hash VARCHAR NOT NULL,         -- SHA-256 of the file's bytes: a file is loaded once per source, whatever its name
    file_name VARCHAR NOT NULL,
    source VARCHAR NOT NULL,            -- the declared source (sources/<name>/), its landing sub-folder
    file_format VARCHAR NOT NULL,       -- csv | jsonl | parquet
    encoding VARCHAR NOT NULL,          -- as detected; anything but utf-8 is quarantined
    bytes BIGINT NOT NULL,
    rows_in BIGINT NOT NULL,            -- = rows_raw + rows_quarantined + rows_duplicate
    rows_raw BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,   -- invalid rows (reason_code <> 'duplicate')
    rows_duplicate BIGINT NOT NULL,     -- exact repeats of a row already loaded
    loaded_at TIMESTAMP NOT NULL,
    run_id VARCHAR,
    status VARCHAR DEFAULT 'loaded',    -- loaded | quarantined (whole file, see reason) | refused (a type the ingestion does not read)
    reason VARCHAR,                     -- Dutch, for a file-level outcome ('Bestand: ...'); null for a file read as usual
    key_fingerprint VARCHAR,            -- core.pseudonymise.key_fingerprint of the key its identifiers were hashed with
    deleted_at TIMESTAMP,               -- when retention or erasure removed this version of the file (avg.retention, avg.erasure);
                                        -- the row stays, so the same bytes delivered again are not loaded again
    PRIMARY KEY (source, file_hash)
);
CREATE TABLE IF NOT EXISTS meta.scrub_log (  -- core.scrub: what was taken out of free text, counted, never the values
    source VARCHAR NOT NULL,
    file_hash VARCHAR NOT NULL,         -- the landing file (meta.ingest_manifest)
    row_number BIGINT NOT NULL,         -- its row, loaded into raw.<table>
    field VARCHAR NOT NULL,             -- the free-text field
    items INTEGER NOT NULL,             -- items replaced by a placeholder, the sum of the kinds below
    email INTEGER NOT NULL, iban INTEGER NOT NULL, bsn INTEGER NOT NULL, phone INTEGER NOT NULL,
    kvk INTEGER NOT NULL, address INTEGER NOT NULL, name INTEGER NOT NULL,
    logged_at TIMESTAMP NOT NULL
);
"""

# Warehouses made before a column existed get it here (in the same order as above);
# their files were all loaded (status 'loaded'), under a key nobody recorded (null).
MANIFEST_MIGRATIONS = """
ALTER TABLE meta.ingest_manifest ADD COLUMN IF NOT EXISTS status VARCHAR DEFAULT 'loaded';
ALTER TABLE meta.ingest_manifest ADD COLUMN IF NOT EXISTS reason VARCHAR;
ALTER TABLE meta.ingest_manifest ADD COLUMN IF NOT EXISTS key_fingerprint VARCHAR;
ALTER TABLE meta.ingest_manifest ADD COLUMN IF NOT EXISTS deleted_at TIMESTAMP;
"""

_QUARANTINE_COLUMNS = """
    file_hash VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    row_number BIGINT NOT NULL,         -- 1-based data row (or line) in the file
    {key} VARCHAR,
    reason_code VARCHAR NOT NULL,       -- invalid | encoding | conflict | duplicate | unreadable
    reason VARCHAR NOT NULL,            -- Dutch, names the field and the rule
    payload VARCHAR,                    -- the row as JSON, identifiers pseudonymised, text scrubbed
    quarantined_at TIMESTAMP NOT NULL
"""


def column_types(name: str) -> dict[str, str]:
    """The columns of `raw.<table>` of source `name` and their DuckDB types, from its declaration (identifiers as their pseudonym)."""
    declared = source(name)
    columns: dict[str, str] = {}
    for column, field in declared.fields.items():
        if field.type == "identifier":
            columns[field.pseudonym] = "VARCHAR"
        elif field.type == "timestamp":
            columns[column] = "TIMESTAMP"
        elif field.type == "date":
            columns[column] = "DATE"
        elif field.type == "money":
            columns[column] = MONEY_TYPE
        elif field.type == "flag":
            columns[column] = "BOOLEAN"
        elif field.type == "choice" and field.integer_codes:
            columns[column] = "TINYINT"
        elif field.type == "multi_choice":
            columns[column] = "VARCHAR[]"
        elif field.type == "integer":
            columns[column] = "BIGINT"
        elif field.type == "decimal":
            columns[column] = "DOUBLE"
        else:
            columns[column] = "VARCHAR"
    return {**columns, "file_hash": "VARCHAR", "row_number": "BIGINT", "loaded_at": "TIMESTAMP"}


def raw_ddl(name: str) -> str:
    """CREATE TABLE of `raw.<table>` of source `name`; required fields and the load columns are NOT NULL."""
    declared = source(name)
    required = {field.pseudonym or column for column, field in declared.fields.items() if field.required}
    required |= {"file_hash", "row_number", "loaded_at"}
    columns = ",\n    ".join(f"{column} {kind}{' NOT NULL' if column in required else ''}" for column, kind in column_types(name).items())
    return f"CREATE TABLE IF NOT EXISTS {declared.raw_table} (\n    {columns}\n);"


def quarantine_ddl(name: str) -> str:
    declared = source(name)
    return f"CREATE TABLE IF NOT EXISTS {declared.quarantine_table} ({_QUARANTINE_COLUMNS.format(key=declared.key)});"


def ensure_ingest_tables(connection: duckdb.DuckDBPyConnection, name: str = "cgc") -> None:
    """The manifest and source `name`'s raw and quarantine tables (idempotent)."""
    connection.execute(INGEST_DDL)
    connection.execute(MANIFEST_MIGRATIONS)
    connection.execute(raw_ddl(name))
    connection.execute(quarantine_ddl(name))


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
