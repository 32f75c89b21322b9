"""Ingestion of CGC survey files from the landing zone."""


from pathlib import Path

import dagster as dg

from core.expectations import raw_cgc_suite, validate_raw_cgc
from core.ingest import ingest_landing
from pipelines.resources import Folders, PseudonymKey, Warehouse

RAW = dg.AssetKey(["raw", "cgc_responses"])
QUARANTINE = dg.AssetKey(["quarantine", "cgc_responses"])
MANIFEST = dg.AssetKey(["meta", "ingest_manifest"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(RAW, description="One row per accepted CGC submission; KvK number replaced by `firm_id` (HMAC).", group_name="ingest"),
        dg.AssetSpec(QUARANTINE, description="One row per rejected landing row, with a Dutch reason naming field and rule.", group_name="ingest"),
        dg.AssetSpec(MANIFEST, description="One row per loaded landing file, keyed by content hash; rows_in = raw + quarantined + duplicate.", group_name="ingest"),
    ],
    compute_kind="duckdb",
)
def cgc_ingestion(context: dg.AssetExecutionContext, warehouse: Warehouse, folders: Folders, pseudonym_key: PseudonymKey):
    """Load every new CGC landing file (CSV or JSON lines); each file in one transaction."""
    key = pseudonym_key.as_bytes()
    with warehouse.connect() as connection:
        results = ingest_landing(
            connection,
            Path(folders.landing),
            key,
            run_id=context.run.run_id,
            on_file=lambda f, r: context.log.info(f"{f.path.name}: {'already loaded' if r is None else r.as_dict()}"),
        )
        totals = connection.execute(
            "SELECT (SELECT COUNT(*) FROM raw.cgc_responses), (SELECT COUNT(*) FROM quarantine.cgc_responses), "
            "(SELECT COUNT(*) FROM meta.ingest_manifest)"
        ).fetchone()
    rows = {field: sum(getattr(r, field) for r in results) for field in ("rows_in", "rows_raw", "rows_quarantined", "rows_duplicate")}
    files = dg.MetadataValue.md(
        "\n".join(
            ["| file | in | raw | quarantined | duplicate | encoding |", "|---|---|---|---|---|---|"]
            + [f"| {r.file_name} | {r.rows_in} | {r.rows_raw} | {r.rows_quarantined} | {r.rows_duplicate} | {r.encoding} |" for r in results]
        )
    )
    yield dg.MaterializeResult(
        asset_key=RAW,
        metadata={"files_loaded": len(results), **rows, "rows_total": totals[0], "files_this_run": files},
    )
    yield dg.MaterializeResult(asset_key=QUARANTINE, metadata={"rows_quarantined": rows["rows_quarantined"], "rows_duplicate": rows["rows_duplicate"], "rows_total": totals[1]})
    yield dg.MaterializeResult(asset_key=MANIFEST, metadata={"files_loaded": len(results), "files_total": totals[2]})


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(name, asset=RAW, description=exp.expectation_type) for name, exp in raw_cgc_suite().items()],
)
def raw_cgc_expectations(warehouse: Warehouse):
    """The Great Expectations suite on `raw.cgc_responses`, one Dagster check per expectation."""
    with warehouse.connect() as connection:
        frame = connection.execute("SELECT * EXCLUDE (challenges) FROM raw.cgc_responses").df()
    for outcome in validate_raw_cgc(frame):
        yield dg.AssetCheckResult(
            asset_key=RAW,
            check_name=outcome.name,
            passed=outcome.success,
            metadata={"unexpected_count": outcome.unexpected_count, "rows_checked": len(frame)},
        )
