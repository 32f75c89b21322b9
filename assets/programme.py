"""The support programme's operational files (issue 14): each MKB consultant's own caseload.

    marts/programme_{registration,intake,session,decision,plan}_month (SQLMesh, sources/programme_*)
      -> operational/consultant_caseload_files (data/operational/consultants/<code>/caseload.parquet)

A caseload is operational data (a consultant's own cases, exactly), never a
release; what a file holds and leaves out: programme/caseload.py. The
funders' funnel marts are in assets/programme_funnel.py.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets.resources import Folders, Warehouse
from programme.caseload import MARTS, write_caseload_files


@dg.asset(key=["operational", "consultant_caseload_files"], deps=[dg.AssetKey(["marts", mart]) for mart in MARTS], group_name="programme",
          compute_kind="parquet")
def consultant_caseload_files(warehouse: Warehouse, folders: Folders) -> dg.MaterializeResult:
    """One file per MKB consultant, `data/operational/consultants/<code>/caseload.parquet`: one row per case of its own
    caseload (the consultant of the case's latest session or decision), what it sees on 'Mijn trajecten'. No firm_id,
    no KvK number, nothing of other consultants' cases (programme/caseload.py)."""
    with warehouse.connect() as connection:
        rows = write_caseload_files(connection, Path(folders.operational))
    return dg.MaterializeResult(metadata={"consultants": len(rows), "cases": sum(rows.values()),
                                          "cases_per_consultant": dg.MetadataValue.json(rows)})


PROGRAMME_ASSETS = [consultant_caseload_files]
