"""SQLMesh models as Dagster assets: a real plan against the warehouse, then a rebuild of the marts."""


from pathlib import Path

import dagster as dg

from assets.ingest.cgc import RAW
from core.sqlmesh_project import plan_and_refresh
from pipelines.resources import Warehouse

ANSWERS = dg.AssetKey(["staging", "cgc_answers"])
PROFILES = dg.AssetKey(["staging", "cgc_profiles"])
FIRM_WAVE = dg.AssetKey(["marts", "cgc_firm_wave"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(ANSWERS, deps=[RAW], description="Latest answer per firm per wave per question (view).", group_name="transform"),
        dg.AssetSpec(PROFILES, deps=[RAW], description="Firm profile per wave from its latest submission (view).", group_name="transform"),
        dg.AssetSpec(FIRM_WAVE, deps=[ANSWERS, PROFILES], description="Private mart: one row per firm per wave.", group_name="transform"),
    ],
    compute_kind="sqlmesh",
)
def sqlmesh_models(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Run `sqlmesh plan` (prod, auto-apply) and restate the mart so it holds every raw row."""
    outcome = plan_and_refresh(Path(warehouse.path))
    context.log.info(f"SQLMesh: {outcome}")
    with warehouse.connect() as connection:
        firm_waves, waves = connection.execute("SELECT COUNT(*), COUNT(DISTINCT wave) FROM marts.cgc_firm_wave").fetchone()
    yield dg.MaterializeResult(asset_key=ANSWERS, metadata={"models_changed": ", ".join(outcome["models_changed"]) or "none"})
    yield dg.MaterializeResult(asset_key=PROFILES)
    yield dg.MaterializeResult(asset_key=FIRM_WAVE, metadata={"firm_waves": firm_waves, "waves": waves})
