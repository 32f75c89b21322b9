"""Differentially private CGC releases: one per closed wave, charged to the privacy ledger."""


from datetime import date

import dagster as dg

from assets.transform import FIRM_WAVE
from privacy.balance_release import release_wave, releasable_waves
from privacy.ledger import BudgetExceeded
from privacy.config import privacy_config
from pipelines.resources import Warehouse

RELEASE = dg.AssetKey(["releases", "cgc_balance"])
LEDGER = dg.AssetKey(["privacy", "ledger"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(RELEASE, deps=[FIRM_WAVE], description="Balance indicators per wave x group, with 95 % intervals (DP).", group_name="releases"),
        dg.AssetSpec(LEDGER, deps=[FIRM_WAVE], description="Every release with its epsilon, delta, unit, mechanism and time.", group_name="releases"),
    ],
    compute_kind="opendp",
)
def cgc_balance_release(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Release every closed wave not yet released; stored releases are served again, never re-noised."""
    made, reused, refused, spent_now = [], [], [], 0.0
    with warehouse.connect() as connection:
        for wave in releasable_waves(connection, date.today()):
            try:
                outcome = release_wave(connection, wave)
            except BudgetExceeded as error:
                refused.append(str(error))
                context.log.warning(str(error))
                continue
            (made if outcome.status == "released" else reused).append(wave)
            spent_now += outcome.epsilon if outcome.status == "released" else 0.0
        ledger_rows = connection.execute(
            "SELECT period, SUM(epsilon) AS epsilon, COUNT(*) AS releases FROM privacy.ledger GROUP BY period ORDER BY period"
        ).pl()
    budget = privacy_config().datasets["cgc"].budget_per_period.epsilon
    table = "\n".join(
        ["| wave | epsilon spent | budget | releases |", "|---|---|---|---|"]
        + [f"| {r['period']} | {r['epsilon']:.2f} | {budget:.2f} | {r['releases']} |" for r in ledger_rows.iter_rows(named=True)]
    )
    yield dg.MaterializeResult(
        asset_key=RELEASE,
        metadata={"waves_released": len(made), "waves_reused": len(reused), "refused": dg.MetadataValue.json(refused)},
    )
    yield dg.MaterializeResult(
        asset_key=LEDGER,
        metadata={"epsilon_spent_this_run": spent_now, "epsilon_spent_total": float(ledger_rows["epsilon"].sum() or 0.0), "budget_per_wave": dg.MetadataValue.md(table)},
    )
