"""AVG rights in the pipeline (issue 15.4): `meta/deletion_log`, the first step of the job `avg`.

    meta/deletion_log -> raw/* (every ingestion asset) -> staging, marts (SQLMesh) -> themes, debts, programme, operational files

The step carries out the erasure requests waiting in the account store,
deletes what is past its period (`config/retention.yaml`) and answers the
waiting inzage requests (`avg/runner.py`); the rest of the job then rebuilds
everything made from `raw`, so no mart holds what was deleted. Releases and
the privacy ledger are not in the job: they are differentially private and
stay as they were made.
"""


from pathlib import Path

import dagster as dg

from accounts.store import store
from assets.resources import Folders, PseudonymKey, Warehouse
from avg.deletions import totals
from avg.runner import Places, run_avg

DELETION_LOG = dg.AssetKey(["meta", "deletion_log"])


class AvgConfig(dg.Config):
    apply_retention: bool = True  # False: only the waiting requests (the retention periods are applied on the next scheduled run)


def places(folders: Folders) -> Places:
    """The folders of the installation: landing and operational from the resource, uploads and outbox beside the store's folder."""
    data_dir = Path(folders.accounts).parent.parent
    return Places(Path(folders.landing), Path(folders.operational), data_dir / "uploads", data_dir / "outbox")


@dg.asset(key=DELETION_LOG, group_name="avg", compute_kind="duckdb")
def deletion_log(context: dg.AssetExecutionContext, config: AvgConfig, warehouse: Warehouse, folders: Folders,
                 pseudonym_key: PseudonymKey) -> dg.MaterializeResult:
    """One row per deletion by retention or erasure: what (landing files, raw rows, uploads, accounts ...), where (source or
    table), how many, when and why (the period and its cut-off, or the request's number); never an identifier. This step
    carries out waiting erasure requests, applies `config/retention.yaml` and answers waiting inzage requests."""
    key = pseudonym_key.as_bytes()
    with warehouse.connect() as connection, store(Path(folders.accounts)) as accounts:
        outcome = run_avg(connection, accounts, key, places(folders), retention=config.apply_retention)
        rows = connection.execute("SELECT COUNT(*) FROM meta.deletion_log").fetchone()[0]
    deleted = totals(outcome.deletions)
    context.log.info(f"AVG: {outcome.erasures} erasures, {outcome.inzage} inzage exports, {outcome.failed} failed; deleted {deleted}")
    return dg.MaterializeResult(metadata={
        "erasures": outcome.erasures, "inzage_exports": outcome.inzage, "requests_failed": outcome.failed,
        "deleted": dg.MetadataValue.json(deleted), "log_rows_total": rows})


AVG_ASSETS = [deletion_log]
