"""Debt signals (issue 12): the rules' advice per claim and the private mart of the anti-escalation KPIs.

    marts/debt_claim_month (SQLMesh, sources/debt_signal) -> operational/debt_advice + marts/debt_small_claims
                                                          -> releases/debt_kpis (config/releases/debt_kpis.yaml)
    operational/debt_advice -> operational/creditor_advice_files (data/operational/<creditor>/advice.parquet)

The advice is operational data (a creditor's own claims), never a release;
the KPI mart is private and reaches analysts only through the DP release.
How the rules decide: debts/rules.py; how outcomes are counted: debts/pipeline.py.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets.resources import Folders, Warehouse
from debts import pipeline
from debts.creditor_files import write_creditor_files


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["operational", "debt_advice"], deps=[dg.AssetKey(["marts", "debt_claim_month"])], group_name="debts",
                     description="Per claim per month: the anti-escalation rules' recommended action, reasons, letter group and "
                                 "projected costs (operational: a creditor's own claims only; never released)."),
        dg.AssetSpec(["marts", "debt_small_claims"], deps=[dg.AssetKey(["marts", "debt_claim_month"])], group_name="debts",
                     description="Per small claim (< 100 euros) per month: creditor type, KPI outcome, avoided case (private; "
                                 "released by releases/debt_kpis with differential privacy)."),
    ],
    compute_kind="polars",
)
def debt_advice(warehouse: Warehouse):
    """Evaluate the rules on every month of the source mart; both tables rebuilt in one transaction."""
    with warehouse.connect() as connection:
        advice_rows, small = pipeline.build(connection)
        actions = dict(connection.execute(f"SELECT action, COUNT(*) FROM {pipeline.ADVICE_TABLE} GROUP BY 1 ORDER BY 1").fetchall())
    yield dg.MaterializeResult(asset_key=["operational", "debt_advice"],
                               metadata={"rows": advice_rows, "actions": dg.MetadataValue.json(actions)})
    yield dg.MaterializeResult(asset_key=["marts", "debt_small_claims"], metadata={"rows": small})


@dg.asset(key=["operational", "creditor_advice_files"], deps=[dg.AssetKey(["operational", "debt_advice"])], group_name="debts",
          compute_kind="parquet")
def creditor_advice_files(warehouse: Warehouse, folders: Folders) -> dg.MaterializeResult:
    """One file per creditor organisation, `data/operational/<creditor>/advice.parquet`: one row per own claim per month
    with the rules' advice, what its staff see on 'Mijn vorderingen' (debts/creditor_files.py says what it holds and
    leaves out: no person_id, no other organisation's amounts or names)."""
    with warehouse.connect() as connection:
        rows = write_creditor_files(connection, Path(folders.operational))
    return dg.MaterializeResult(metadata={"organisations": len(rows), "rows": sum(rows.values())})


DEBT_ASSETS = [debt_advice, creditor_advice_files]
