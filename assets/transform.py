"""SQLMesh models as Dagster assets: a real plan against the warehouse, then a rebuild of the marts."""


from pathlib import Path

import dagster as dg

from assets.ingest.factory import raw_key
from assets.resources import Warehouse
from core.sources import Source, sources
from core.sqlmesh_project import plan_and_refresh


def answers_key(declared: Source) -> dg.AssetKey:
    return dg.AssetKey(["staging", f"{declared.name}_answers"])


def profiles_key(declared: Source) -> dg.AssetKey:
    return dg.AssetKey(["staging", f"{declared.name}_profiles"])


def mart_key(declared: Source) -> dg.AssetKey:
    return dg.AssetKey(["marts", declared.mart])


def latest_key(declared: Source) -> dg.AssetKey:
    return dg.AssetKey(["staging", f"{declared.name}_latest"])


def staging_keys(declared: Source) -> list[dg.AssetKey]:
    """The staging views of a source: answers and profiles, or the latest rows of a `latest: row` source."""
    return [latest_key(declared)] if declared.latest == "row" else [answers_key(declared), profiles_key(declared)]


def _specs(declared: Source) -> list[dg.AssetSpec]:
    unit, period = declared.unit, declared.period.field
    if declared.latest == "row":
        return [
            dg.AssetSpec(latest_key(declared), deps=[raw_key(declared)], group_name="transform",
                         description=f"The latest row per {declared.key} per {period} of {declared.title}, whole (view)."),
            dg.AssetSpec(mart_key(declared), deps=[latest_key(declared)], group_name="transform",
                         description=f"Private mart: one row per {declared.key} per {period} (privacy unit: {unit})."),
        ]
    return [
        dg.AssetSpec(answers_key(declared), deps=[raw_key(declared)], group_name="transform",
                     description=f"Latest answer per {unit} per {period} per question of {declared.title} (view)."),
        dg.AssetSpec(profiles_key(declared), deps=[raw_key(declared)], group_name="transform",
                     description=f"The {unit}'s profile per {period} from its latest submission (view)."),
        dg.AssetSpec(mart_key(declared), deps=[answers_key(declared), profiles_key(declared)], group_name="transform",
                     description=f"Private mart: one row per {unit} per {period}."),
    ]


@dg.multi_asset(specs=[spec for declared in sources().values() for spec in _specs(declared)], compute_kind="sqlmesh")
def sqlmesh_models(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Run `sqlmesh plan` (prod, auto-apply) and restate what changed, so the marts hold every raw row: the months
    whose raw rows changed (incremental marts, calendar months) or the whole mart (other sources)."""
    outcome = plan_and_refresh(Path(warehouse.path))
    context.log.info(f"SQLMesh: {outcome}")
    for declared in sources().values():
        with warehouse.connect() as connection:
            rows, periods = connection.execute(
                f"SELECT COUNT(*), COUNT(DISTINCT {declared.period.field}) FROM marts.{declared.mart}"
            ).fetchone()
        first, *others = staging_keys(declared)
        yield dg.MaterializeResult(asset_key=first, metadata={"models_changed": ", ".join(outcome["models_changed"]) or "none"})
        for key in others:
            yield dg.MaterializeResult(asset_key=key)
        name = f"marts.{declared.mart}"
        made = ("whole (plan)" if name in outcome["models_built_by_the_plan"] else
                f"restated: {outcome['restated'][name]}" if name in outcome["restated"] else "unchanged (raw rows the same)")
        yield dg.MaterializeResult(asset_key=mart_key(declared), metadata={"rows": rows, "periods": periods, "made": made})
