"""The DuckDB warehouse: connections and the tables the ingestion owns (their DDL comes from the source declarations).

DuckDB allows one read-write process per file; only pipeline runs write it
(see DESIGN.md). SQLMesh owns `staging` and `marts`; `privacy/` owns the
ledger and `releases`.

The file is encrypted (DuckDB's own AES-GCM database encryption: its pages,
its WAL and, with `temp_file_encryption`, what it spills to disk). The key
comes from `MKB_WAREHOUSE_KEY` or the key file `mkbvm keygen` writes
(`data/secrets/warehouse.key`, git-ignored), never from the repository. Every
connection is an in-memory DuckDB that loads the httpfs extension (its
OpenSSL module is what lets DuckDB *write* encrypted files; it comes from the
package registry as `duckdb-extension-httpfs`) and attaches the file as the
catalog `warehouse`, which it then uses: SQL names `raw.cgc` as before.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import duckdb

from core.files import private_dir, restrict_new_files
from core.settings import WAREHOUSE_KEY_ENV, paths
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
    connection.execute(portable_ddl(INGEST_DDL))
    connection.execute(MANIFEST_MIGRATIONS)
    connection.execute(portable_ddl(raw_ddl(name)))
    connection.execute(portable_ddl(quarantine_ddl(name)))


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse file for longer than we were willing to wait."""


class WarehouseKeyError(RuntimeError):
    """No key for the warehouse, the wrong one, or a file that is not encrypted: what to do is in the message."""


class WrongWarehouseKey(WarehouseKeyError):
    """The file is encrypted with another key."""


CATALOG = "warehouse"  # the attached file's name in every connection (and SQLMesh's default catalog)
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{32,}$")  # what `mkbvm keygen` writes: url-safe, so it fits a SQL literal


def warehouse_key_file() -> Path:
    return paths().secrets / "warehouse.key"


def warehouse_key() -> str:
    """The warehouse's encryption key: `MKB_WAREHOUSE_KEY`, else the key file; refused when absent or malformed."""
    key = os.environ.get(WAREHOUSE_KEY_ENV, "").strip()
    if not key:
        try:
            key = warehouse_key_file().read_text().strip()
        except OSError:
            raise WarehouseKeyError(
                f"There is no warehouse key: set {WAREHOUSE_KEY_ENV} or run `mkbvm keygen` (writes {warehouse_key_file()})."
            ) from None
    if not KEY_PATTERN.match(key):
        raise WarehouseKeyError(f"The warehouse key must be at least 32 characters of A-Z, a-z, 0-9, '-' or '_' ({WAREHOUSE_KEY_ENV}).")
    return key


def httpfs_extension() -> Path:
    """The httpfs extension file of the `duckdb-extension-httpfs` package, built for this DuckDB version."""
    return extension_file("duckdb_extension_httpfs", "httpfs")


def _literal(text: str) -> str:
    return "'{}'".format(str(text).replace("'", "''"))


def attach_sql(path: Path, key: str, alias: str = CATALOG, read_only: bool = False) -> str:
    """ATTACH of an encrypted DuckDB file (the key is checked against KEY_PATTERN, so it cannot break the literal)."""
    if not KEY_PATTERN.match(key):
        raise WarehouseKeyError("The warehouse key has characters that are not allowed.")
    options = f"ENCRYPTION_KEY '{key}'" + (", READ_ONLY" if read_only else "")
    return f"ATTACH {_literal(path)} AS {alias} ({options})"


# ---------------------------------------------------------------------------- past one machine: a DuckLake catalog

LAKE_CATALOG_ENV = "MKB_LAKE_CATALOG"      # libpq connection string of the PostgreSQL database that holds the catalog
LAKE_DATA_PATH_ENV = "MKB_LAKE_DATA_PATH"  # the folder every writer shares for the lake's (encrypted) Parquet files


def lake_catalog() -> str | None:
    """The DuckLake catalog's PostgreSQL connection string, when the warehouse is a shared lake (else the single file)."""
    return os.environ.get(LAKE_CATALOG_ENV, "").strip() or None


def lake_data_path() -> Path:
    return Path(os.environ.get(LAKE_DATA_PATH_ENV, "").strip() or paths().data_dir / "lake").resolve()


@cache
def extension_file(package: str, name: str) -> Path:
    """An extension file of a `duckdb-extension-<name>` package, built for this DuckDB version (loaded by path: no network)."""
    import importlib

    module = importlib.import_module(package)
    path = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        raise WarehouseKeyError(f"{path} is missing: {package.replace('_', '-')} must match duckdb {duckdb.__version__} (requirements.lock).")
    return path


def lake_extensions() -> list[Path]:
    return [extension_file("duckdb_extension_ducklake", "ducklake"), extension_file("duckdb_extension_postgres_scanner", "postgres_scanner")]


def lake_attach_sql(catalog: str, data_path: Path, alias: str = CATALOG, read_only: bool = False) -> str:
    """ATTACH of the DuckLake on PostgreSQL: every Parquet file it writes is encrypted, its key kept in the catalog.

    >>> lake_attach_sql("host=db dbname=lake", Path("/srv/lake"))
    "ATTACH 'ducklake:postgres:host=db dbname=lake' AS warehouse (DATA_PATH '/srv/lake/', ENCRYPTED)"
    """
    options = f"DATA_PATH {_literal(str(data_path).rstrip('/') + '/')}, ENCRYPTED" + (", READ_ONLY" if read_only else "")
    return f"ATTACH {_literal('ducklake:postgres:' + catalog)} AS {alias} ({options})"


def _without(sql: str, keyword: str, table_level: bool) -> str:
    """`sql` with every `<keyword> (...)` clause taken out (balanced parentheses); a table-level one with its comma."""
    out, at = [], 0
    pattern = re.compile((r",\s*" if table_level else r"\s+") + keyword + r"\s*\(", re.IGNORECASE)
    while (found := pattern.search(sql, at)) is not None:
        depth, end = 1, found.end()
        while depth and end < len(sql):
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        out.append(sql[at:found.start()])
        at = end
    return "".join(out) + sql[at:]


def portable_ddl(sql: str) -> str:
    """DDL for the warehouse's catalog: as written for the DuckDB file; for a DuckLake without keys and CHECKs
    (DuckLake keeps NOT NULL only). What the keys guarded, the writers guard themselves: the ingestion loads a
    file once per source under the lake's lock (`writer_lock`), the ledger refuses a release id twice.

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {LAKE_CATALOG_ENV: "dbname=lake"}):
    ...     print(portable_ddl("CREATE TABLE t (a INT PRIMARY KEY, b VARCHAR CHECK (b IN ('x', 'y')), c INT, -- note\\n PRIMARY KEY (a, c))"))
    CREATE TABLE t (a INT, b VARCHAR, c INT)
    """
    if lake_catalog() is None:
        return sql
    sql = re.sub(r"--[^\n]*", "", sql)
    for keyword in ("PRIMARY KEY", "UNIQUE"):
        sql = _without(sql, keyword, table_level=True)
    sql = _without(sql, "CHECK", table_level=False)
    return re.sub(r"\s+(PRIMARY KEY|UNIQUE)\b", "", sql, flags=re.IGNORECASE)


@contextmanager
def writer_lock(name: str) -> Iterator[None]:
    """One writer at a time for `name` ('ingest/cgc', 'sqlmesh', 'releases'), across processes and machines, in a lake.

    A DuckLake lets several writers commit at once, and without keys two of them could load the same file or copy
    the same released cells twice. In a lake this holds a PostgreSQL advisory lock on the catalog database for the
    block (released when the block ends or the process dies); with the single file it does nothing: DuckDB's file
    lock already lets one process write.
    """
    catalog = lake_catalog()
    held = _held_locks.__dict__.setdefault("names", set())
    if catalog is None or name in held:  # re-entrant: this thread holds it already (a step opening a second connection)
        yield
        return
    import psycopg

    with psycopg.connect(catalog, autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(hashtext(%s))", ["mkbvm/" + name])
        held.add(name)
        try:
            yield
        finally:
            held.discard(name)


_held_locks = threading.local()


def reclaim_deleted(connection: duckdb.DuckDBPyConnection) -> None:
    """Deleted rows (erasure, retention) leave the disk now, not at some later write.

    The file: a CHECKPOINT moves them out of the live blocks. A lake keeps every old data file for time travel:
    its files with deletes are rewritten, every older snapshot is expired and the files no snapshot names are removed.
    """
    if lake_catalog() is None:
        connection.execute("CHECKPOINT")
        return
    with writer_lock("reclaim"):
        connection.execute(f"CALL ducklake_rewrite_data_files('{CATALOG}', delete_threshold => 0)")
        connection.execute(f"CALL ducklake_expire_snapshots('{CATALOG}', older_than => now() + INTERVAL 1 SECOND)")
        connection.execute(f"CALL ducklake_cleanup_old_files('{CATALOG}', cleanup_all => true)")


def warehouse_attach_sql(path: Path, key: str, alias: str = CATALOG, read_only: bool = False) -> str:
    """The warehouse's ATTACH: the shared lake when `MKB_LAKE_CATALOG` is set, else the encrypted file at `path`."""
    catalog = lake_catalog()
    if catalog is None:
        return attach_sql(path, key, alias, read_only)
    return lake_attach_sql(catalog, lake_data_path(), alias, read_only)


MEMORY_LIMIT_ENV = "MKB_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "2GB"  # DuckDB's own default is 80 % of the machine's memory; above this it spills to temp_directory
MEMORY_LIMIT_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


def memory_limit() -> str:
    """How much memory one DuckDB connection may use (`MKB_DUCKDB_MEMORY_LIMIT`, e.g. '2GB'); what it needs beyond it,
    it writes (encrypted) to its temp_directory beside the warehouse. The pipeline runs one step at a time.

    >>> memory_limit()
    '2GB'
    """
    limit = os.environ.get(MEMORY_LIMIT_ENV, "").strip() or DEFAULT_MEMORY_LIMIT
    if not MEMORY_LIMIT_PATTERN.match(limit):
        raise WarehouseKeyError(f"{MEMORY_LIMIT_ENV}={limit!r} is not an amount of memory such as '2GB' or '512MB'.")
    return limit


_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def memory_bytes(amount: str) -> int:
    """'2GB' -> 2000000000 (an amount as MEMORY_LIMIT_PATTERN takes it).

    >>> memory_bytes("1.5 GiB"), memory_bytes("512MB")
    (1610612736, 512000000)
    """
    match = MEMORY_LIMIT_PATTERN.match(amount.strip())
    if not match:
        raise ValueError(f"{amount!r} is not an amount of memory such as '2GB' or '512MB'.")
    return int(float(match.string[:match.start(2)]) * _UNITS[match.group(2)])


def limit_memory(connection: duckdb.DuckDBPyConnection, at_most: str) -> None:
    """Lower this connection's memory limit to `at_most` for a step that holds data of its own beside DuckDB's
    buffer; never above `memory_limit()` (a smaller configured limit stays). `connection` may also be SQLMesh's
    engine adapter (anything with `execute`); the limit holds for the whole database instance."""
    limit = min(memory_limit(), at_most, key=memory_bytes)
    connection.execute(f"SET memory_limit = '{limit}'")


def encrypted_session(temp_directory: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB able to write encrypted files, spilling (encrypted) to `temp_directory`, within `memory_limit()`."""
    connection = duckdb.connect(":memory:", config={"memory_limit": memory_limit()})
    connection.execute(f"LOAD '{httpfs_extension()}'")
    if lake_catalog() is not None:
        for extension in lake_extensions():
            connection.execute(f"LOAD '{extension}'")
    connection.execute("SET temp_file_encryption = true")
    if temp_directory is not None:
        connection.execute(f"SET temp_directory = {_literal(temp_directory)}")
    return connection


def _attach(connection: duckdb.DuckDBPyConnection, path: Path, key: str, read_only: bool) -> None:
    if lake_catalog() is not None:
        private_dir(lake_data_path())
        connection.execute(warehouse_attach_sql(path, key, read_only=read_only))
        connection.execute(f"USE {CATALOG}")
        return
    try:
        connection.execute(attach_sql(path, key, read_only=read_only))
    except duckdb.CatalogException as error:
        if "is not encrypted" in str(error):
            raise WarehouseKeyError(f"{path} is not encrypted yet: run `mkbvm keygen` once (it writes an encrypted copy and swaps it in).") from error
        raise
    except duckdb.InvalidInputException as error:
        if "encryption key" in str(error).lower():
            raise WrongWarehouseKey(f"{path} was encrypted with another key than {WAREHOUSE_KEY_ENV} / {warehouse_key_file()}.") from error
        raise
    connection.execute(f"USE {CATALOG}")


def next_key_file() -> Path:
    """Where `mkbvm rotate-key` puts the new key before it re-encrypts (see `_finish_rotation`)."""
    return warehouse_key_file().with_name("warehouse.key.next")


def _finish_rotation(connection: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> str:
    """The file did not open with the key: a rotation that swapped the file but stopped before the key file?

    `mkbvm rotate-key` writes the new key to `warehouse.key.next`, swaps in the re-encrypted file, then renames
    the key file. If it stopped between the two renames, the next key opens the file: finish the rename
    (a key from the environment is the operator's to change; the message says so). Otherwise re-raise.
    """
    candidate = next_key_file()
    try:
        key = candidate.read_text().strip()
        _attach(connection, path, key, read_only)
    except (OSError, WarehouseKeyError):
        raise WrongWarehouseKey(f"{path} was encrypted with another key than {WAREHOUSE_KEY_ENV} / {warehouse_key_file()}.") from None
    if os.environ.get(WAREHOUSE_KEY_ENV):
        raise WarehouseKeyError(f"The warehouse was re-keyed: set {WAREHOUSE_KEY_ENV} to the key in {candidate}, then delete that file.")
    os.replace(candidate, warehouse_key_file())
    return key


def open_connection(path: Path, read_only: bool = False, wait_seconds: float = 120.0) -> duckdb.DuckDBPyConnection:
    """Open the (encrypted) warehouse, waiting while another process holds DuckDB's file lock (one writer per file)."""
    path = Path(path)
    restrict_new_files()  # DuckDB creates the file and its WAL itself: owner-only, whatever the caller's umask
    if not read_only:
        private_dir(path.parent)
    key = warehouse_key() if lake_catalog() is None else ""  # a lake's files have their keys in its catalog
    deadline, pause = time.monotonic() + wait_seconds, 0.05
    while True:
        connection = encrypted_session(path.with_name(path.name + ".tmp"))
        try:
            try:
                _attach(connection, path, key, read_only)
            except WrongWarehouseKey:
                key = _finish_rotation(connection, path, read_only)
            return connection
        except duckdb.IOException as error:
            connection.close()
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                if "lock" in str(error).lower():
                    raise WarehouseBusy(f"{path} was in use by another process for {wait_seconds:.0f} s; try again later") from error
                raise
            time.sleep(pause)
            pause = min(pause * 1.5, 1.0)
        except BaseException:
            connection.close()
            raise


@contextmanager
def connect(path: Path, read_only: bool = False, wait_seconds: float = 120.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse file (waiting for another process's lock), closed on exit."""
    connection = open_connection(path, read_only, wait_seconds)
    try:
        yield connection
    finally:
        connection.close()


# ---------------------------------------------------------------------------- encrypting and re-keying the file


def is_encrypted(path: Path) -> bool:
    """Whether the DuckDB file at `path` is encrypted (read from its header, without a key).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     plain = Path(folder) / "plain.duckdb"
    ...     duckdb.connect(str(plain)).close()
    ...     is_encrypted(plain)
    False
    """
    probe = duckdb.connect(":memory:")
    try:
        probe.execute(f"ATTACH {_literal(path)} AS probe (READ_ONLY)")
    except duckdb.Error as error:
        if "without a key" in str(error):
            return True
        raise
    finally:
        probe.close()
    return False


def table_fingerprints(connection: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, tuple[int, int]]:
    """Rows and an order-free hash of every table in `catalog`: equal before and after a copy."""
    tables = connection.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? AND NOT internal ORDER BY ALL", [catalog]
    ).fetchall()
    return {
        f"{schema}.{table}": tuple(connection.execute(f'SELECT count(*), coalesce(sum(hash(t)), 0) FROM "{catalog}"."{schema}"."{table}" t').fetchone())
        for schema, table in tables
    }


def reencrypt(path: Path, new_key: str, old_key: str | None) -> dict[str, tuple[int, int]]:
    """Rewrite the warehouse encrypted under `new_key` (from `old_key`, or from a plain file when None), then swap it in.

    The copy is written beside the file, compared table by table (rows and hash), and only then moved over the
    original in one rename: a crash leaves the old file and its key as they were. The caller holds the only
    connection (the pipeline must not run): the old file is opened read-only, and a running writer's lock makes
    this wait, then fail, as any connection does. Returns the fingerprints of the tables copied.
    """
    staged = path.with_name(path.name + ".reencrypt")
    for leftover in (staged, staged.with_name(staged.name + ".wal")):
        leftover.unlink(missing_ok=True)
    session = encrypted_session(path.with_name(path.name + ".tmp"))
    try:
        # Attached under its usual name, so views (SQLMesh's, which name the catalog) bind in the copy as before.
        if old_key is None:
            session.execute(f"ATTACH {_literal(path)} AS {CATALOG} (READ_ONLY)")
        else:
            _attach(session, path, old_key, read_only=True)
        session.execute(attach_sql(staged, new_key, alias="reencrypted"))
        session.execute(f"COPY FROM DATABASE {CATALOG} TO reencrypted")
        session.execute("CHECKPOINT reencrypted")
        before, after = table_fingerprints(session, CATALOG), table_fingerprints(session, "reencrypted")
        if before != after:
            differ = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
            raise RuntimeError(f"the encrypted copy differs from the warehouse in {', '.join(differ)}; nothing was changed")
        session.execute("DETACH reencrypted")
    except BaseException:
        session.close()
        staged.unlink(missing_ok=True)
        raise
    session.close()
    os.replace(staged, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
    return before
