"""Released tables as Parquet for dashboards and researchers."""


from pathlib import Path

import dagster as dg

from assets.releases.cgc import LEDGER, RELEASE
from pipelines.resources import Folders, Warehouse
from privacy.export import export_releases


@dg.asset(key=["exports", "cgc_balance"], deps=[RELEASE, LEDGER], group_name="exports", compute_kind="parquet")
def cgc_balance_export(warehouse: Warehouse, folders: Folders) -> dg.MaterializeResult:
    """One Parquet file per release (with privacy metadata), the public ledger and a codebook, in `data/exports/`."""
    with warehouse.connect() as connection:
        written = export_releases(connection, Path(folders.exports))
    return dg.MaterializeResult(metadata={"files": len(written), "folder": dg.MetadataValue.path(folders.exports)})
