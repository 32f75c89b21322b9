"""Retention (bewaartermijnen) in the warehouse and the landing zone: what is older than its period is deleted and logged.

Per declared source, with the periods of `config/retention.yaml`
(`avg.settings`), counted in calendar months back from `now`:

* `raw.<table>` rows loaded before the raw cut-off, and their lines in
  `meta.scrub_log`;
* `quarantine.<table>` rows quarantined before the quarantine cut-off;
* landing files loaded before the landing cut-off (the manifest's
  `loaded_at` of the file's bytes): the file is deleted and its manifest row
  gets `deleted_at` (it stays, so the same bytes delivered again are not
  loaded again). A file that was never loaded is never deleted here.

"Before" is strict: a row loaded exactly at the cut-off stays. A landing
file lives at least as long as its rows (the settings require it), so a
file is only deleted once its rows are gone, and `core.rekey` never meets
a row whose file was deleted. Every deletion is counted in
`meta.deletion_log` (`avg.deletions`) with its period and cut-off, in the
same transaction; a file is removed from the disk before that transaction
commits, so a crash leaves at worst a manifest row whose file is already
gone, which the next run marks. The marts are rebuilt afterwards (the
Dagster job `avg`). Uploads, inzage exports and the firms' lists of their
own answers live in the account store: `avg.store`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from avg.deletions import Deletion, record_deletions
from avg.settings import RetentionSettings, cutoff, retention_settings
from core.archive import archive_of, sealed_files
from core.landing import file_hash
from core.sources import Source, sources
from core.warehouse import ensure_ingest_tables, reclaim_deleted


def _rule(field: str, months: int, before: datetime) -> str:
    return f"bewaartermijn {field} = {months} (ouder dan {before:%Y-%m-%d %H:%M:%S})"


def _delete(connection: duckdb.DuckDBPyConnection, table: str, where: str, parameters: list) -> int:
    return connection.execute(f"DELETE FROM {table} WHERE {where}", parameters).fetchone()[0]


def _expired_rows(connection: duckdb.DuckDBPyConnection, declared: Source, settings: RetentionSettings, now: datetime) -> list[Deletion]:
    periods = settings.for_source(declared.name)
    raw_before, quarantine_before = cutoff(now, periods.raw_months), cutoff(now, periods.quarantine_months)
    raw_rule = _rule("raw_months", periods.raw_months, raw_before)
    scrubbed = _delete(connection, "meta.scrub_log s",
                       f"s.source = ? AND EXISTS (SELECT 1 FROM {declared.raw_table} r WHERE r.file_hash = s.file_hash "
                       "AND r.row_number = s.row_number AND r.loaded_at < ?)", [declared.name, raw_before])
    return [
        Deletion("retention", "scrub_log_rows", declared.name, scrubbed, raw_rule),
        Deletion("retention", "raw_rows", declared.name, _delete(connection, declared.raw_table, "loaded_at < ?", [raw_before]), raw_rule),
        Deletion("retention", "quarantine_rows", declared.name,
                 _delete(connection, declared.quarantine_table, "quarantined_at < ?", [quarantine_before]),
                 _rule("quarantine_months", periods.quarantine_months, quarantine_before)),
    ]


def _landing_path(folder: Path, file_name: str, digest: str, by_hash: dict[str, Path] | None) -> tuple[Path | None, dict[str, Path] | None]:
    """The landing file with these bytes: under its recorded name, or under any name in the folder (a rename)."""
    path = folder / file_name
    if path.is_file() and file_hash(path) == digest:
        return path, by_hash
    if by_hash is None:
        by_hash = {file_hash(p): p for p in folder.iterdir() if p.is_file()} if folder.is_dir() else {}
    return by_hash.get(digest), by_hash


def _expired_files(connection: duckdb.DuckDBPyConnection, landing: Path, declared: Source, settings: RetentionSettings,
                   now: datetime) -> Deletion:
    months = settings.for_source(declared.name).landing_months
    before = cutoff(now, months)
    expired = connection.execute(
        "SELECT file_hash, file_name FROM meta.ingest_manifest WHERE source = ? AND deleted_at IS NULL AND loaded_at < ? ORDER BY loaded_at",
        [declared.name, before]).fetchall()
    deleted, by_hash = 0, None
    sealed = sealed_files(archive_of(landing), declared.name)
    for digest, file_name in expired:
        path, by_hash = _landing_path(landing / declared.name, file_name, digest, by_hash)
        if path is not None:
            path.unlink()
            deleted += 1
        if digest in sealed:  # the encrypted copy in the archive (core.archive) goes too
            sealed[digest].unlink()
            deleted += path is None
        connection.execute("UPDATE meta.ingest_manifest SET deleted_at = ? WHERE source = ? AND file_hash = ?", [now, declared.name, digest])
    return Deletion("retention", "landing_file", declared.name, deleted, _rule("landing_months", months, before))


def apply_retention(connection: duckdb.DuckDBPyConnection, landing: Path, settings: RetentionSettings | None = None,
                    now: datetime | None = None) -> list[Deletion]:
    """Delete what is older than its period in every source (see the module); returns and logs what was deleted."""
    settings, now = settings or retention_settings(), (now or datetime.now()).replace(microsecond=0)
    for name in sources():
        ensure_ingest_tables(connection, name)
    deletions: list[Deletion] = []
    connection.execute("BEGIN TRANSACTION")
    try:
        for declared in sources().values():
            deletions += _expired_rows(connection, declared, settings, now)
            deletions.append(_expired_files(connection, landing, declared, settings, now))
        record_deletions(connection, deletions, now)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    if any(d.items for d in deletions):
        reclaim_deleted(connection)
    return deletions
