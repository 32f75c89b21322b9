"""Running figures while a proposal is open (DIS): the tree mechanism's nodes, noised once each day, and their export.

`releases/dis_running` noises the tree nodes whose days are all over (one
series per open proposal, charged once when it starts; see
`privacy/continual.py`); `exports/dis_running` writes the running figures per
day as Parquet. Nothing is noised or charged when no proposal is open, and a
second run on the same day adds nothing.
"""

from datetime import date
from pathlib import Path

import dagster as dg

from accounts.service import SYSTEM, record_event
from accounts.store import store
from assets.releases.factory import _grain_checked_in_this_run
from assets.resources import Folders, Warehouse
from core.periods import proposal_windows
from privacy.continual import export_running, running_series, update

SERIES = running_series()["dis_running"]
RUNNING_KEY = dg.AssetKey(["releases", SERIES.name])


@dg.asset(
    key=RUNNING_KEY,
    deps=[dg.AssetKey(SERIES.spec.source.split("."))],
    group_name="releases",
    compute_kind="opendp",
    description=f"{SERIES.declaration.title}: {SERIES.declaration.description.strip()} Noisy tree nodes (binary mechanism), "
    "stored once and reused; one series per proposal, charged once.",
    metadata={"epsilon_per_proposal": SERIES.epsilon, "dataset": SERIES.dataset, "declaration": f"config/continual/{SERIES.name}.yaml"},
)
def running_release(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    windows = proposal_windows()
    with warehouse.connect() as connection:
        outcomes = update(connection, SERIES, windows, date.today(), grain_checked=_grain_checked_in_this_run(context, SERIES.spec))
    for outcome in outcomes:
        if outcome.status == "refused":
            context.log.warning(outcome.message)
        elif outcome.message:
            context.log.info(outcome.message)
    return dg.MaterializeResult(metadata={
        "series": dg.MetadataValue.json({o.proposal: {"status": o.status, "nodes_added": o.nodes_added, "days_released": o.days_released}
                                         for o in outcomes}),
        "nodes_added": sum(o.nodes_added for o in outcomes),
        "series_started": sum(o.status == "started" for o in outcomes),
        "epsilon_charged": sum(o.epsilon_charged for o in outcomes),
        "refused": dg.MetadataValue.json([o.message for o in outcomes if o.status == "refused"]),
    })


@dg.asset(key=["exports", SERIES.name], deps=[RUNNING_KEY], group_name="exports", compute_kind="parquet")
def running_export(warehouse: Warehouse, folders: Folders) -> dg.MaterializeResult:
    """Running figures per day and proposal, `data/exports/dis_running/dis_running_<proposal>.parquet` (rewritten; old days unchanged)."""
    with warehouse.connect() as connection:
        written = export_running(connection, SERIES, Path(folders.exports))
    with store(Path(folders.accounts)) as accounts:  # researcher exports are part of the audit trail, like downloads
        record_event(accounts, None, "export", f"exports/{SERIES.name}", {"files": len(written), "by": SYSTEM})
    return dg.MaterializeResult(metadata={"files": len(written), "folder": dg.MetadataValue.path(str(Path(folders.exports) / SERIES.name))})


RUNNING_ASSETS = [running_release, running_export]
