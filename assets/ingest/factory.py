"""One ingestion asset (and one Great Expectations check set) per declared source, built from its declaration.

For source `name` with table `t`: `raw/t` (accepted rows, identifiers
pseudonymised), `quarantine/t` (rejected rows with a Dutch reason) and the
shared `meta/ingest_manifest` (one row per landing file per source, with its
status: loaded, quarantined whole with a Dutch reason, or refused), loaded
from `data/landing/<name>/`, each file in one transaction. The step fails
(and loads nothing) when the pseudonym key is not the one the warehouse was
loaded with.
"""

from pathlib import Path

import dagster as dg

from assets.resources import Folders, PseudonymKey, Warehouse
from core.archive import archive_of
from core.expectations import expectation_names, validate_table
from core.ingest import LOADED, KeyMismatch, ingest_landing
from core.scrub import KINDS
from core.sources import Source, sources

MANIFEST = dg.AssetKey(["meta", "ingest_manifest"])
DELETION_LOG = dg.AssetKey(["meta", "deletion_log"])  # assets/avg.py: erasure and retention run before a landing file is read


def raw_key(declared: Source) -> dg.AssetKey:
    return dg.AssetKey(["raw", declared.table])


def quarantine_key(declared: Source) -> dg.AssetKey:
    return dg.AssetKey(["quarantine", declared.table])


def _files_table(results) -> dg.MetadataValue:
    return dg.MetadataValue.md(
        "\n".join(
            ["| file | status | in | raw | quarantined | duplicate | scrubbed rows (items) | encoding | reason |",
             "|---|---|---|---|---|---|---|---|---|"]
            + [f"| {r.file_name} | {r.status} | {r.rows_in} | {r.rows_raw} | {r.rows_quarantined} | {r.rows_duplicate} "
               f"| {r.rows_scrubbed} ({r.items_scrubbed}) | {r.encoding} "
               f"| {(r.reason or '').replace('|', '/')} |" for r in results]
        )
    )


def _scrubbed_by_kind(connection, declared: Source, results) -> dict[str, int]:
    """Items scrubbed from free text in this run's files, per kind (`meta.scrub_log`: counts, never the values)."""
    hashes = [r.file_hash for r in results if r.items_scrubbed]
    if not hashes:
        return dict.fromkeys(KINDS, 0)
    sums = connection.execute(
        f"SELECT {', '.join(f'COALESCE(SUM({kind}), 0)' for kind in KINDS)} FROM meta.scrub_log WHERE source = ? AND list_contains(?, file_hash)",
        [declared.name, hashes],
    ).fetchone()
    return {kind: int(total) for kind, total in zip(KINDS, sums, strict=True)}


def _log_file(context: dg.AssetExecutionContext, landing_file, result) -> None:
    if result is None:
        context.log.info(f"{landing_file.path.name}: already in the manifest")
    elif result.status == LOADED:
        context.log.info(f"{landing_file.path.name}: {result.as_dict()}")
    else:  # a whole file quarantined or refused: the data engineer has to act
        context.log.warning(f"{landing_file.path.name}: {result.status}: {result.reason}")


def build_ingest_asset(declared: Source) -> dg.AssetsDefinition:
    unit = declared.fields[declared.unit_field]
    specs = [
        dg.AssetSpec(raw_key(declared), group_name="ingest", deps=[DELETION_LOG],
                     description=f"One row per accepted {declared.title} submission ({declared.key}); {unit.label} replaced by `{declared.unit_column}` (HMAC)."),
        dg.AssetSpec(quarantine_key(declared), group_name="ingest", deps=[DELETION_LOG],
                     description="One row per rejected landing row, with a Dutch reason naming field, value and rule."),
    ]
    if declared.name == next(iter(sources())):  # the shared manifest is materialised by the first source's asset
        specs.append(dg.AssetSpec(MANIFEST, group_name="ingest", deps=[DELETION_LOG],
                                  description="One row per landing file per source, keyed by content hash: status (loaded, quarantined, refused), "
                                              "Dutch reason, key fingerprint; rows_in = raw + quarantined + duplicate."))

    @dg.multi_asset(name=f"{declared.name}_ingestion", specs=specs, compute_kind="duckdb")
    def ingestion(context: dg.AssetExecutionContext, warehouse: Warehouse, folders: Folders, pseudonym_key: PseudonymKey):
        key = pseudonym_key.as_bytes()
        with warehouse.connect() as connection:
            try:
                results = ingest_landing(connection, Path(folders.landing), key, run_id=context.run.run_id, name=declared.name,
                                         on_file=lambda f, r: _log_file(context, f, r), archive=archive_of(Path(folders.landing)))
            except KeyMismatch as error:
                raise dg.Failure(str(error)) from None
            raw_total, quarantine_total, files_total = connection.execute(
                f"SELECT (SELECT COUNT(*) FROM {declared.raw_table}), (SELECT COUNT(*) FROM {declared.quarantine_table}), "
                "(SELECT COUNT(*) FROM meta.ingest_manifest WHERE source = ?)", [declared.name],
            ).fetchone()
            scrubbed_by_kind = _scrubbed_by_kind(connection, declared, results)
        rows = {field: sum(getattr(r, field) for r in results)
                for field in ("rows_in", "rows_raw", "rows_quarantined", "rows_duplicate", "rows_scrubbed", "items_scrubbed")}
        statuses = {status: sum(r.status == status for r in results) for status in ("loaded", "quarantined", "refused")}
        yield dg.MaterializeResult(asset_key=raw_key(declared), metadata={
            "files_loaded": statuses["loaded"], "files_quarantined": statuses["quarantined"], "files_refused": statuses["refused"],
            **rows, "scrubbed_by_kind": dg.MetadataValue.json(scrubbed_by_kind), "rows_total": raw_total,
            "files_this_run": _files_table(results)})
        yield dg.MaterializeResult(asset_key=quarantine_key(declared), metadata={
            "rows_quarantined": rows["rows_quarantined"], "rows_duplicate": rows["rows_duplicate"], "rows_total": quarantine_total})
        if MANIFEST in [spec.key for spec in specs]:
            yield dg.MaterializeResult(asset_key=MANIFEST, metadata={"files_recorded": len(results), "files_total": files_total})

    ingestion.__doc__ = f"Load every new {declared.title} landing file (CSV or JSON lines) from landing/{declared.name}/; each file in one transaction."
    return ingestion


def build_expectation_checks(declared: Source) -> dg.AssetChecksDefinition:
    asset = raw_key(declared)

    @dg.multi_asset_check(
        name=f"{declared.name}_expectations",
        specs=[dg.AssetCheckSpec(name, asset=asset, description=what) for name, what in expectation_names(declared.name).items()],
    )
    def expectations(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        # In the run that loaded the files (the pipeline), only their rows; with none, nothing new to check. On its
        # own (from the Dagster UI), every row.
        loaded = context.instance.get_latest_materialization_event(asset)
        in_the_loading_run = loaded is not None and loaded.run_id == context.run.run_id
        with warehouse.connect() as connection:
            checked = validate_table(connection, declared.name, run_id=context.run.run_id, all_when_none=not in_the_loading_run)
        for outcome in checked.outcomes:
            yield dg.AssetCheckResult(asset_key=asset, check_name=outcome.name, passed=outcome.success,
                                      metadata={"unexpected_count": outcome.unexpected_count, "rows_checked": checked.rows_checked,
                                                "scope": checked.scope, "batches": checked.batches})

    expectations.__doc__ = (f"The Great Expectations suite on `{declared.raw_table}`, one Dagster check per expectation: on the rows this run "
                            "loaded (none when it loaded none; all rows when the check runs on its own), in batches of a bounded size.")
    return expectations


INGEST_ASSETS = [build_ingest_asset(declared) for declared in sources().values()]
EXPECTATION_CHECKS = [build_expectation_checks(declared) for declared in sources().values()]
