"""Debt signals (issue 12): the rules' advice per claim and the private mart of the anti-escalation KPIs.

    marts/debt_claim_month (SQLMesh, sources/debt_signal) -> operational/debt_advice + marts/debt_small_claims + marts/debt_person_risk
                                                             + marts/debt_whatif + marts/debt_collection + marts/debt_person_month
                                                          -> releases/debt_kpis, releases/debt_risk, releases/debt_whatif,
                                                             releases/debt_collection_cost
    operational/debt_advice -> operational/creditor_advice_files (data/operational/<creditor>/advice.parquet)

The advice is operational data (a creditor's own claims), never a release;
the KPI mart is private and reaches analysts only through the DP release.
How the rules decide: debts/rules.py; how outcomes are counted: debts/pipeline.py.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets.resources import Folders, Warehouse
from core.warehouse import limit_memory
from debts import pipeline
from debts.creditor_files import write_creditor_files

SOURCE = dg.AssetKey(["marts", "debt_claim_month"])
MADE = {  # what the rules make from the source mart, the months that changed, all swapped in in one transaction
    ("operational", "debt_advice"): "Per claim per month: the anti-escalation rules' recommended action, reasons, letter group and "
                                    "projected costs (operational: a creditor's own claims only; never released).",
    ("marts", "debt_small_claims"): "Per small claim (< 100 euros) per month: creditor type, KPI outcome, avoided case (private; "
                                    "released by releases/debt_kpis with differential privacy).",
    ("marts", "debt_person_risk"): "Per signalled person per month: municipality, province, risk class (rood/oranje/groen), repeat "
                                   "signal (private; released by releases/debt_risk with differential privacy: the early warning).",
    ("marts", "debt_whatif"): "Per small claim per month per what-if point (one bagatelle threshold and cost ratio for everyone): "
                              "the outcome the rules would give (private; released by releases/debt_whatif).",
    ("marts", "debt_collection"): "Per claim per month: creditor type, collection costs so far and principal collected so far "
                                  "(private; released by releases/debt_collection_cost: costs per euro collected).",
    ("marts", "debt_person_month"): "Per signalled person per month: creditors, essential kinds of debt, small claims, municipality "
                                    "(private; what the risk classes of marts/debt_person_risk are made from, kept so a run "
                                    "evaluates only the months that changed).",
}


@dg.multi_asset(
    specs=[dg.AssetSpec(list(key), deps=[SOURCE], group_name="debts", description=text) for key, text in MADE.items()],
    compute_kind="polars",
)
def debt_advice(warehouse: Warehouse):
    """Evaluate the rules on the months of the source mart that changed since the last run (debts/pipeline.py: new
    deliveries, the running month's new day, other rules); all five tables swapped in at once."""
    with warehouse.connect() as connection:
        # The claims are in polars here, beside DuckDB: its buffer gets at most DEBT_DUCKDB_LIMIT of the step's memory
        # (it only reads parts of one mart and writes them back).
        limit_memory(connection, DEBT_DUCKDB_LIMIT)
        built = pipeline.build(connection)
        facts = connection.execute(f"SELECT COUNT(*) FROM {pipeline.FACTS_TABLE}").fetchone()[0]
        actions = dict(connection.execute(f"SELECT action, COUNT(*) FROM {pipeline.ADVICE_TABLE} GROUP BY 1 ORDER BY 1").fetchall())
    made = {"months_made_again": dg.MetadataValue.json(list(built.made_again))}
    yield dg.MaterializeResult(asset_key=["operational", "debt_advice"],
                               metadata={"rows": built.advice, "actions": dg.MetadataValue.json(actions), **made})
    yield dg.MaterializeResult(asset_key=["marts", "debt_small_claims"], metadata={"rows": built.small_claims, **made})
    yield dg.MaterializeResult(asset_key=["marts", "debt_person_risk"], metadata={"rows": built.person_months})
    yield dg.MaterializeResult(asset_key=["marts", "debt_whatif"], metadata={"rows": built.whatif, **made})
    yield dg.MaterializeResult(asset_key=["marts", "debt_collection"], metadata={"rows": built.collection, **made})
    yield dg.MaterializeResult(asset_key=["marts", "debt_person_month"], metadata={"rows": facts, **made})


@dg.asset(key=["operational", "creditor_advice_files"], deps=[dg.AssetKey(["operational", "debt_advice"])], group_name="debts",
          compute_kind="parquet")
def creditor_advice_files(warehouse: Warehouse, folders: Folders) -> dg.MaterializeResult:
    """One file per creditor organisation, `data/operational/<creditor>/advice.parquet`: one row per own claim per month
    with the rules' advice, what its staff see on 'Mijn vorderingen' (debts/creditor_files.py says what it holds and
    leaves out: no person_id, no other organisation's amounts or names)."""
    with warehouse.connect() as connection:
        limit_memory(connection, DEBT_DUCKDB_LIMIT)  # one organisation's rows are in polars beside DuckDB's sort
        rows = write_creditor_files(connection, Path(folders.operational))
    return dg.MaterializeResult(metadata={"organisations": len(rows), "rows": sum(rows.values())})


DEBT_ASSETS = [debt_advice, creditor_advice_files]
# DuckDB's share of the debt steps' memory: they hold frames of their own beside it. Measured alone on the national
# warehouse on 2026-12-03 (2 million persons, 5.8 million advice rows; the risk classes then still in polars, since
# in DuckDB: debt_advice 1.68 GB in the whole national run of 2026-12-04): debt_advice peaks at 3.38 GB with 512 MB (283 s), 3.88 GB
# with 1 GB (273 s), 4.9 GB in the run with the 2 GB default; creditor_advice_files 2.91 GB with 512 MB (35 s),
# 3.47 GB with 1 GB, 4.66 GB with 2 GB. DuckDB spills what it needs beyond it; the time hardly changes.
DEBT_DUCKDB_LIMIT = "512MB"
