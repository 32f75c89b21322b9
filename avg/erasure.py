"""The right to erasure (recht op verwijdering) for one firm (KvK number) or one person (BSN), in the warehouse and the landing zone.

What goes, for every declared source whose privacy unit the identifier names
(`unit: firm` for a KvK number, `unit: person` for a BSN):

* landing files: the subject's rows are blanked in place (`avg.landing_rewrite`:
  every other row keeps its number), a file with no other row left is
  deleted, and a file the ingestion could not read at all that names the
  identifier is deleted whole;
* `raw.<table>`: the rows with the subject's pseudonym, and every row loaded
  from a blanked row; `quarantine.<table>`: the rows whose payload holds the
  pseudonym and the blanked rows (lines that could not be read included);
  `meta.scrub_log`: the lines of those rows;
* every other table in the warehouse that holds the pseudonym in its unit
  column (`firm_id`, `person_id`): the marts SQLMesh made (every version it
  keeps), the theme, programme and debt marts, `operational.debt_advice`;
  and the consented quotes drawn from the firm's comments;
* the operational files made from those tables (a creditor's
  `advice.parquet`, a consultant's `caseload.parquet`) are written again.

What stays: releases (`releases.*`, `data/exports/`) and the privacy ledger
are differentially private: no figure in them depends much on one firm, so
they are kept as made (the privacy page says so). The pipeline then rebuilds
the marts (the Dagster job `avg`: SQLMesh restatement and every asset made
from it), so the aggregates no longer include the subject at all.

The manifest keeps every file it saw, so bytes delivered again are not
loaded again: a deleted file's row gets `deleted_at`; a rewritten file's row
gets `deleted_at` too, and the rewritten file gets a row of its own (same
load time, the rows that are left), to which its raw and quarantine rows
move. The warehouse changes in one transaction, before any landing file is
touched: a crash in between leaves the old bytes on disk under a manifest
row marked deleted (never loaded again), and a rerun finishes the job.
A rerun of a finished erasure finds nothing and deletes nothing.

What was deleted is counted in `meta.deletion_log` (`avg.deletions`),
without the identifier, its pseudonym or a file name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from avg.deletions import Deletion, record_deletions
from avg.landing_rewrite import RewriteRefused, blank_rows, rows_in, subject_rows
from avg.subjects import Subject
from core.archive import archive_of, delivered_name, read_sealed, seal, sealed_files
from core.landing import LandingFile, content_hash, list_landing_files, write_atomically
from core.pseudonymise import pseudonym
from core.sources import Source, sources
from core.warehouse import ensure_ingest_tables, reclaim_deleted

KEPT_SCHEMAS = ("raw", "quarantine", "meta", "privacy", "releases", "sqlmesh", "information_schema", "pg_catalog")
"""Schemas the search for derived rows leaves alone: the first three are handled one by one above, the privacy ledger and
the releases are differentially private and kept, `sqlmesh` is SQLMesh's own state (models, not data)."""


class ErasureRefused(RuntimeError):
    """The erasure cannot be done completely; nothing was changed. The message says which file and why (English, for the data engineer)."""


@dataclass(frozen=True)
class FilePlan:
    """What happens to one landing file: rewritten (`data` holds the new bytes) or deleted (`data` is None)."""

    landing_file: LandingFile  # for a sealed file (core.archive): its path in the archive, under the name it was delivered as
    old_hash: str
    rows: frozenset[int]
    data: bytes | None
    sealed: Path | None = None  # the sealed copy in the archive this plan replaces (None: a file still in the landing zone)

    @property
    def new_hash(self) -> str | None:
        return content_hash(self.data) if self.data is not None else None


@dataclass
class ErasureResult:
    deletions: list[Deletion] = field(default_factory=list)
    files: list[FilePlan] = field(default_factory=list)


def erased_sources(target: Subject) -> list[Source]:
    """The sources whose rows carry this subject's pseudonym (none for an account)."""
    return [declared for declared in sources().values() if target.unit is not None and declared.unit == target.unit]


# --------------------------------------------------------------------------- planning (reads only)


def _loaded_rows(connection: duckdb.DuckDBPyConnection, name: str, file_hash: str) -> int | None:
    """rows_raw of a file in the manifest (None: not loaded, or only under a row marked deleted)."""
    row = connection.execute("SELECT rows_raw FROM meta.ingest_manifest WHERE source = ? AND file_hash = ? AND deleted_at IS NULL",
                             [name, file_hash]).fetchone()
    return None if row is None else row[0]


def plan_file(connection: duckdb.DuckDBPyConnection, declared: Source, landing_file: LandingFile, target: Subject,
              sealed: Path | None = None) -> FilePlan | None:
    """The rewrite or deletion one landing file needs (None: it does not hold the subject); `sealed`: its bytes are in the archive."""
    if not landing_file.readable:
        return None  # a type the ingestion does not read (say .xlsx): nothing of it reached the warehouse
    data = read_sealed(sealed) if sealed is not None else landing_file.path.read_bytes()
    found = subject_rows(data, landing_file.path.name, declared, target.identifier)
    old_hash = content_hash(data)
    if not found.readable:
        return FilePlan(landing_file, old_hash, frozenset(), None, sealed) if found.mentions else None
    if not found.rows:
        return None
    try:
        new = blank_rows(data, landing_file.path.name, declared, found.rows, rows_in(data, landing_file.path.name, declared))
    except RewriteRefused as refused:
        if _loaded_rows(connection, declared.name, old_hash):
            raise ErasureRefused(f"{declared.name}/{landing_file.path.name}: cannot be rewritten without the subject's rows ({refused}); "
                                 "nothing was changed. Remove the rows by hand, then run the erasure again.") from None
        new = None  # no row of it is in raw (a file quarantined for its encoding): deleting it loses nothing that counts
    return FilePlan(landing_file, old_hash, found.rows, new, sealed)


def _sealed_as_landing_files(landing: Path, name: str) -> list[tuple[LandingFile, Path]]:
    """The sealed files of a source, each as the landing file it was (its delivered name in the landing folder) and its sealed path."""
    found = []
    for sealed in sealed_files(archive_of(landing), name).values():
        status = sealed.stat()
        found.append((LandingFile(landing / name / delivered_name(sealed), name, status.st_size, status.st_mtime_ns), sealed))
    return found


def plan(connection: duckdb.DuckDBPyConnection, landing: Path, target: Subject) -> dict[str, list[FilePlan]]:
    """Per source, the landing files (waiting, or sealed in the archive) that hold the subject and what happens to each (nothing is written)."""
    plans = {}
    for declared in erased_sources(target):
        candidates = [(f, None) for f in list_landing_files(landing, declared.name)] + _sealed_as_landing_files(landing, declared.name)
        plans[declared.name] = [p for f, sealed in candidates if (p := plan_file(connection, declared, f, target, sealed))]
    return plans


# --------------------------------------------------------------------------- the warehouse, in one transaction


def _planned_rows(plans: list[FilePlan]) -> pl.DataFrame:
    rows = [(p.old_hash, number) for p in plans for number in sorted(p.rows)]
    return pl.DataFrame(rows, schema={"file_hash": pl.Utf8, "row_number": pl.Int64}, orient="row")


def _delete_counted(connection: duckdb.DuckDBPyConnection, table: str, where: str, parameters: list) -> int:
    return connection.execute(f"DELETE FROM {table} t WHERE {where}", parameters).fetchone()[0]


PLANNED = "EXISTS (SELECT 1 FROM erasure_planned p WHERE p.file_hash = t.file_hash AND p.row_number = t.row_number)"


def _erase_source_rows(connection, declared: Source, hashed: str, per_file: dict[str, dict[str, int]]) -> dict[str, int]:
    """Delete the subject's raw, quarantine and scrub-log rows of one source; count per file (for the manifest) and in all."""
    raw_where = f"t.{declared.unit_column} = ? OR {PLANNED}"
    quarantine_where = f"json_extract_string(t.payload, '$.{declared.unit_field}') = ? OR {PLANNED}"
    for file_hash, raw_rows in connection.execute(
            f"SELECT file_hash, COUNT(*) FROM {declared.raw_table} t WHERE {raw_where} GROUP BY 1", [hashed]).fetchall():
        per_file.setdefault(file_hash, {"raw": 0, "quarantined": 0, "duplicate": 0})["raw"] += raw_rows
    for file_hash, duplicate, count in connection.execute(
            f"SELECT file_hash, reason_code = 'duplicate', COUNT(*) FROM {declared.quarantine_table} t WHERE {quarantine_where} GROUP BY 1, 2",
            [hashed]).fetchall():
        per_file.setdefault(file_hash, {"raw": 0, "quarantined": 0, "duplicate": 0})["duplicate" if duplicate else "quarantined"] += count
    scrub = _delete_counted(
        connection, "meta.scrub_log",
        f"t.source = ? AND (EXISTS (SELECT 1 FROM {declared.raw_table} r WHERE r.file_hash = t.file_hash AND r.row_number = t.row_number "
        f"AND r.{declared.unit_column} = ?) OR {PLANNED})", [declared.name, hashed])
    raw = _delete_counted(connection, declared.raw_table, raw_where, [hashed])
    quarantine = _delete_counted(connection, declared.quarantine_table, quarantine_where, [hashed])
    return {"raw_rows": raw, "quarantine_rows": quarantine, "scrub_log_rows": scrub}


NO_LOSS = {"raw": 0, "quarantined": 0, "duplicate": 0}


def _update_manifest(connection, name: str, plans: list[FilePlan], per_file: dict[str, dict[str, int]], now: datetime) -> None:
    """Deleted and rewritten files marked; a rewritten file recorded under its new hash.

    A manifest row says what was loaded from a file's bytes; it is not changed afterwards (retention does not change
    it either). The row of bytes that are gone keeps that history and gets `deleted_at`; the rewritten file's row has
    the same load time and the rows that are left of it, so rows_in = raw + quarantined + duplicate holds for it too.
    """
    planned = {p.old_hash: p for p in plans}  # one file's bytes may lie under two names
    columns = [row[0] for row in connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'meta' AND table_name = 'ingest_manifest' "
        "ORDER BY ordinal_position").fetchall()]
    declared = sources()[name]
    for file_plan in planned.values():
        if file_plan.new_hash is not None:
            lost = per_file.get(file_plan.old_hash, NO_LOSS)
            values = {"file_hash": ("?", file_plan.new_hash), "bytes": ("?", len(file_plan.data)), "deleted_at": ("NULL", None),
                      "rows_raw": ("rows_raw - ?", lost["raw"]), "rows_quarantined": ("rows_quarantined - ?", lost["quarantined"]),
                      "rows_duplicate": ("rows_duplicate - ?", lost["duplicate"]), "rows_in": ("rows_in - ?", sum(lost.values()))}
            select = ", ".join(values.get(column, (column, None))[0] for column in columns)
            parameters = [values[column][1] for column in columns if column in values and values[column][0] != "NULL"]
            connection.execute(
                f"INSERT INTO meta.ingest_manifest ({', '.join(columns)}) SELECT {select} FROM meta.ingest_manifest "
                "WHERE source = ? AND file_hash = ? AND deleted_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM meta.ingest_manifest WHERE source = ? AND file_hash = ?)",
                [*parameters, name, file_plan.old_hash, name, file_plan.new_hash])
            for table in (declared.raw_table, declared.quarantine_table):
                connection.execute(f"UPDATE {table} SET file_hash = ? WHERE file_hash = ?", [file_plan.new_hash, file_plan.old_hash])
            connection.execute("UPDATE meta.scrub_log SET file_hash = ? WHERE source = ? AND file_hash = ?",
                               [file_plan.new_hash, name, file_plan.old_hash])
        connection.execute("UPDATE meta.ingest_manifest SET deleted_at = ? WHERE source = ? AND file_hash = ? AND deleted_at IS NULL",
                           [now, name, file_plan.old_hash])


def derived_tables(connection: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    """Every base table outside `KEPT_SCHEMAS` with a column of this name (a unit pseudonym): marts, operational, themes."""
    rows = connection.execute(
        "SELECT t.table_schema, t.table_name FROM information_schema.tables t JOIN information_schema.columns c "
        "USING (table_catalog, table_schema, table_name) WHERE t.table_type = 'BASE TABLE' AND c.column_name = ? "
        "AND NOT list_contains(?, t.table_schema) ORDER BY 1, 2", [column, list(KEPT_SCHEMAS)]).fetchall()
    return [f'"{schema}"."{table}"' for schema, table in rows]


def _erase_quotes(connection: duckdb.DuckDBPyConnection, declared: Source, hashed: str) -> int:
    """Consented quotes drawn from the firm's own comments (themes.consultation_quotes, by the comment's key)."""
    from core.theme_pipeline import CONSULTATION

    if declared.name != "consultation" or CONSULTATION.quotes_table is None:
        return 0
    schema, table = CONSULTATION.quotes_table.split(".")
    if not connection.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, table]).fetchone()[0]:
        return 0
    return _delete_counted(connection, CONSULTATION.quotes_table,
                           f"t.response_id IN (SELECT {declared.key} FROM {declared.raw_table} WHERE {declared.unit_column} = ?)", [hashed])


def erase_from_warehouse(connection: duckdb.DuckDBPyConnection, landing: Path, target: Subject, key: bytes, request_id: int | None = None,
                         now: datetime | None = None) -> ErasureResult:
    """Erase a firm or a person from the warehouse and the landing zone (see the module); idempotent."""
    now = now or datetime.now().replace(microsecond=0)
    result = ErasureResult()
    if target.unit is None:
        return result
    for declared in sources().values():
        ensure_ingest_tables(connection, declared.name)
    plans = plan(connection, landing, target)
    hashed = pseudonym(target.identifier, key)
    rule = f"verwijderverzoek {request_id} ({target.label})" if request_id is not None else f"verwijdering ({target.label})"

    def log(what: str, location: str, items: int) -> None:
        result.deletions.append(Deletion("erasure", what, location, items, rule, request_id))

    connection.execute("BEGIN TRANSACTION")
    try:
        for declared in erased_sources(target):
            source_plans = plans[declared.name]
            connection.register("erasure_planned", _planned_rows(source_plans))
            try:
                log("quote_rows", "themes.consultation_quotes", _erase_quotes(connection, declared, hashed))
                per_file: dict[str, dict[str, int]] = {}
                for what, items in _erase_source_rows(connection, declared, hashed, per_file).items():
                    log(what, declared.name, items)
                _update_manifest(connection, declared.name, source_plans, per_file, now)
            finally:
                connection.unregister("erasure_planned")
            log("landing_rows", declared.name, sum(len(p.rows) for p in source_plans))
            log("landing_rewritten", declared.name, sum(p.data is not None for p in source_plans))
            log("landing_file", declared.name, sum(p.data is None for p in source_plans))
        column = erased_sources(target)[0].unit_column if erased_sources(target) else None
        for table in derived_tables(connection, column) if column else []:
            log("derived_rows", table.replace('"', ""), _delete_counted(connection, table, f"t.{column} = ?", [hashed]))
        record_deletions(connection, result.deletions, now)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    reclaim_deleted(connection)  # the deleted rows leave the disk now, not at some later write
    for source_plans in plans.values():
        for file_plan in source_plans:
            path = file_plan.landing_file.path
            if file_plan.data is not None:
                write_atomically(path.parent, path.name, file_plan.data)
                if file_plan.sealed is not None:  # it was sealed: the rewritten file goes back into the archive at once
                    seal(path, archive_of(landing), file_plan.landing_file.source, file_plan.new_hash)
            elif file_plan.sealed is None:
                path.unlink(missing_ok=True)
            if file_plan.sealed is not None:
                file_plan.sealed.unlink(missing_ok=True)
            result.files.append(file_plan)
    return result


def _exists(connection: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    return connection.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, name]).fetchone()[0] > 0 \
        or connection.execute("SELECT COUNT(*) FROM duckdb_views() WHERE schema_name = ? AND view_name = ?", [schema, name]).fetchone()[0] > 0


def rewrite_operational_files(connection: duckdb.DuckDBPyConnection, operational: Path, target: Subject,
                              request_id: int | None = None) -> list[Deletion]:
    """Write again the operational files made from tables the erasure changed: creditors' advice (a person), consultants'
    caseloads (a firm). They hold no pseudonym, so they are rebuilt from the cleaned tables, not searched."""
    written = 0
    if target.unit == "person":
        from debts.creditor_files import write_creditor_files
        from debts.pipeline import ADVICE_TABLE

        if _exists(connection, ADVICE_TABLE):
            written = len(write_creditor_files(connection, operational))
    elif target.unit == "firm":
        from programme.caseload import MARTS, write_caseload_files

        if all(_exists(connection, f"marts.{mart}") for mart in MARTS):
            written = len(write_caseload_files(connection, operational))
    rule = f"verwijderverzoek {request_id} ({target.label})" if request_id is not None else f"verwijdering ({target.label})"
    return [Deletion("erasure", "operational_file", "data/operational", written, rule, request_id)]
