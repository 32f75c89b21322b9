"""Released tables as Parquet for dashboards and researchers: one export asset per release spec."""

from pathlib import Path

import dagster as dg

from accounts.service import SYSTEM, record_event
from accounts.store import store
from assets.releases.factory import LEDGER, SPECS, release_key
from assets.resources import Folders, Warehouse
from privacy.export import export_ledger, export_release
from privacy.spec import ReleaseSpec


def build_export_asset(spec: ReleaseSpec) -> dg.AssetsDefinition:
    @dg.asset(key=["exports", spec.name], deps=[release_key(spec)], group_name="exports", compute_kind="parquet")
    def export(warehouse: Warehouse, folders: Folders) -> dg.MaterializeResult:
        """One Parquet file per release (privacy metadata inside) and a codebook, in `data/exports/<spec>/`."""
        with warehouse.connect() as connection:
            written = export_release(connection, spec, Path(folders.exports))
        with store(Path(folders.accounts)) as accounts:  # researcher exports are part of the audit trail, like downloads
            record_event(accounts, None, "export", f"exports/{spec.name}", {"files": len(written), "by": SYSTEM})
        return dg.MaterializeResult(metadata={"files": len(written), "folder": dg.MetadataValue.path(str(Path(folders.exports) / spec.name))})

    return export


@dg.asset(key=["exports", "privacy_ledger"], deps=[LEDGER], group_name="exports", compute_kind="parquet")
def ledger_export(warehouse: Warehouse, folders: Folders) -> dg.MaterializeResult:
    """The public privacy ledger and the budget per dataset per period, as Parquet."""
    with warehouse.connect() as connection:
        written = export_ledger(connection, Path(folders.exports))
    return dg.MaterializeResult(metadata={"files": dg.MetadataValue.json([p.name for p in written])})


EXPORT_ASSETS = [build_export_asset(spec) for spec in SPECS] + [ledger_export]
