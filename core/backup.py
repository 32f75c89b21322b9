"""Backups of an installation, encrypted, and their restore into an empty folder, checked file by file.

A backup is one folder (`mkbvm backup <folder>`), holding:

* `warehouse.duckdb`: a consistent copy of the warehouse, made by DuckDB
  (`COPY FROM DATABASE` into a new file encrypted under the warehouse key),
  so a pipeline writing at the same time cannot tear it (the copy waits for
  the writer's lock like any connection);
* `ledger.sqlite.age`, `accounts.sqlite.age`: the privacy ledger and the
  account store (accounts, audit trail, proposals, upload metadata), each
  copied with SQLite's online backup (consistent while the services run),
  serialised in memory and sealed with age under the archive key;
* `uploads/`, `archive/`: copied as they are (already encrypted: Fernet and
  age); `landing/`: files still waiting for ingestion, sealed with age;
* `manifest.json`: every file's SHA-256 and size, and per warehouse table its
  rows and an order-free hash, per SQLite table its rows; no values, no keys.

Keys are never in a backup: keep them in the secret store (the warehouse,
archive and accounts keys open a backup; without them it is noise). A
restore refuses a folder that already holds an installation, checks every
file against the manifest before it writes anything, writes the files, and
checks the restored warehouse and stores against the manifest's counts.
Exports, operational files, Dagster's run history and caches are not backed
up: the next pipeline run makes them again (releases are re-served from the
ledger, never drawn anew).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import pyrage

from core.archive import identity, read_sealed
from core.files import private_dir
from core.landing import file_hash, write_atomically
from core.settings import Paths
from core.warehouse import (
    CATALOG,
    LAKE_CATALOG_ENV,
    LAKE_DATA_PATH_ENV,
    attach_sql,
    connect,
    encrypted_session,
    lake_catalog,
    table_fingerprints,
    warehouse_key,
)

MANIFEST = "manifest.json"
FORMAT = 1
STORES = {"ledger": Path("ledger") / "ledger.sqlite", "accounts": Path("accounts") / "accounts.sqlite"}
COPIED = ("uploads", "archive")  # folders whose files are encrypted already


class BackupError(RuntimeError):
    """A backup that cannot be made or restored; the message says why (nothing was written)."""


def _sqlite_bytes(path: Path) -> bytes:
    """A consistent copy of an SQLite file (online backup, safe while others write), as bytes."""
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    copy = sqlite3.connect(":memory:")
    try:
        source.backup(copy)
        data = bytearray(copy.serialize())
        # The copy keeps the source's header, which says WAL (bytes 18-19 = 2, SQLite's file format); a WAL database
        # cannot be opened from memory, so mark it a rollback-journal database (1), as `PRAGMA journal_mode=DELETE` would.
        data[18:20] = b"\x01\x01"
        return bytes(data)
    finally:
        source.close()
        copy.close()


def _sqlite_counts(data: bytes) -> dict[str, int]:
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(data)
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")]
        return {table: connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables}
    finally:
        connection.close()


def _write_private(path: Path, data: bytes) -> None:
    """An owner-only file, complete or absent (core.landing.write_atomically)."""
    write_atomically(path.parent, path.name, data)


def _seal_bytes(data: bytes) -> bytes:
    return pyrage.encrypt(data, [identity().to_public()])


def backup(installation: Paths, target: Path) -> dict:
    """Write a backup of `installation` into the new folder `target`; returns its manifest."""
    if lake_catalog() is not None:
        raise BackupError(f"The warehouse is a shared DuckLake ({LAKE_CATALOG_ENV}): back up its PostgreSQL database (catalog and "
                          f"ledger) with pg_dump and its data path ({LAKE_DATA_PATH_ENV}) with your file backup; see the README.")
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: choose a new folder for the backup.")
    if not installation.warehouse.exists():
        raise BackupError(f"There is no warehouse at {installation.warehouse}: nothing to back up.")
    private_dir(target)
    manifest: dict = {"format": FORMAT, "made_at": datetime.now().isoformat(timespec="seconds"), "files": {}, "stores": {}}
    with connect(installation.warehouse, read_only=True) as connection:  # waits for a running writer, then holds the file still
        connection.execute(attach_sql(target / "warehouse.duckdb", warehouse_key(), alias="backup"))
        connection.execute(f"COPY FROM DATABASE {CATALOG} TO backup")
        connection.execute("CHECKPOINT backup")
        manifest["warehouse"] = {name: list(value) for name, value in table_fingerprints(connection, CATALOG).items()}
        if {name: list(value) for name, value in table_fingerprints(connection, "backup").items()} != manifest["warehouse"]:
            raise BackupError("The copy of the warehouse differs from the warehouse; the backup is not usable.")
        connection.execute("DETACH backup")
    for name, relative in STORES.items():
        path = installation.data_dir / relative
        if path.exists():
            data = _sqlite_bytes(path)
            manifest["stores"][name] = {"path": str(relative), "tables": _sqlite_counts(data)}
            _write_private(target / f"{name}.sqlite.age", _seal_bytes(data))
    for folder in COPIED:
        for path in sorted((installation.data_dir / folder).rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                destination = target / folder / path.relative_to(installation.data_dir / folder)
                private_dir(destination.parent)
                shutil.copyfile(path, destination)
    for path in sorted(installation.landing.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            _write_private(target / "landing" / (str(path.relative_to(installation.landing)) + ".age"), _seal_bytes(path.read_bytes()))
    for path in sorted(target.rglob("*")):
        if path.is_file():
            manifest["files"][str(path.relative_to(target))] = {"sha256": file_hash(path), "bytes": path.stat().st_size}
    _write_private(target / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    return manifest


def _checked_manifest(source: Path) -> dict:
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"{source} has no readable {MANIFEST}: it is not a backup of this platform ({error}).") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: backup format {manifest.get('format')} is not {FORMAT}.")
    present = {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file() and p.name != MANIFEST}
    if present != set(manifest["files"]):
        missing, extra = sorted(set(manifest["files"]) - present), sorted(present - set(manifest["files"]))
        raise BackupError(f"{source}: files missing {missing[:3]} or not in the manifest {extra[:3]}; nothing was restored.")
    for name, expected in manifest["files"].items():
        if file_hash(source / name) != expected["sha256"]:
            raise BackupError(f"{source}/{name} was changed after the backup (its SHA-256 differs); nothing was restored.")
    return manifest


def restore(source: Path, installation: Paths) -> dict:
    """Restore the backup in `source` into `installation`, whose folder must hold no installation yet; returns the manifest."""
    manifest = _checked_manifest(source)
    occupied = [p for p in (installation.warehouse, *(installation.data_dir / r for r in STORES.values()),
                            *(installation.data_dir / f for f in (*COPIED, "landing"))) if p.exists() and (p.is_file() or any(p.iterdir()))]
    if occupied:
        raise BackupError(f"{installation.data_dir} already holds an installation ({occupied[0].name}); restore into an empty folder.")
    stores = {}
    for name, store in manifest["stores"].items():
        data = read_sealed(source / f"{name}.sqlite.age")
        if _sqlite_counts(data) != store["tables"]:
            raise BackupError(f"{name}: the restored store does not hold the rows the manifest names; nothing was restored.")
        stores[name] = (installation.data_dir / store["path"], data)
    private_dir(installation.data_dir)
    private_dir(installation.warehouse.parent)
    shutil.copyfile(source / "warehouse.duckdb", installation.warehouse)
    for path, data in stores.values():
        restored = sqlite3.connect(":memory:")
        restored.deserialize(data)
        private_dir(path.parent)
        target = sqlite3.connect(path)
        restored.backup(target)
        target.close()
        restored.close()
    for folder in COPIED:
        for path in sorted((source / folder).rglob("*")):
            if path.is_file():
                destination = installation.data_dir / folder / path.relative_to(source / folder)
                private_dir(destination.parent)
                shutil.copyfile(path, destination)
    for path in sorted((source / "landing").rglob("*.age")):
        relative = path.relative_to(source / "landing")
        _write_private(installation.landing / str(relative).removesuffix(".age"), read_sealed(path))
    session = encrypted_session()
    try:
        session.execute(attach_sql(installation.warehouse, warehouse_key(), read_only=True))
        restored = {name: list(value) for name, value in table_fingerprints(session, CATALOG).items()}
    finally:
        session.close()
    if restored != manifest["warehouse"]:
        raise BackupError("The restored warehouse differs from the backup's manifest.")
    return manifest


def digest_of_tree(folder: Path) -> dict[str, str]:
    """SHA-256 per file under `folder` (for comparing an installation with its restore)."""
    return {str(p.relative_to(folder)): file_hash(p) for p in sorted(folder.rglob("*")) if p.is_file()}

