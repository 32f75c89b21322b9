"""Running the SQLMesh project (the repository root) against a given warehouse."""

from __future__ import annotations

from pathlib import Path

from sqlmesh import Context
from sqlmesh.core.config import Config, DuckDBConnectionConfig, GatewayConfig, ModelDefaultsConfig

from core.settings import PROJECT_ROOT

# FULL models that hold data derived from `raw`; they are rebuilt (restated)
# after every ingestion so the marts never lag behind the raw tables.
REBUILT_MODELS = ["marts.cgc_firm_wave"]


def sqlmesh_config(warehouse: Path) -> Config:
    return Config(
        gateways={"local": GatewayConfig(connection=DuckDBConnectionConfig(database=str(warehouse)))},
        default_gateway="local",
        model_defaults=ModelDefaultsConfig(dialect="duckdb", start="2024-01-01", cron="@daily"),
        # Beside the warehouse, not in the repository: generated files live under data/, and in production the
        # pipeline's user may not write the code folder.
        cache_dir=str(warehouse.parent / "sqlmesh-cache"),
    )


def sqlmesh_context(warehouse: Path) -> Context:
    return Context(paths=str(PROJECT_ROOT), config=sqlmesh_config(warehouse))


def plan_and_refresh(warehouse: Path) -> dict[str, object]:
    """Apply model changes to prod (a real plan), then rebuild the data-bearing models."""
    context = sqlmesh_context(warehouse)
    try:
        plan = context.plan(auto_apply=True, no_prompts=True)
        changed = sorted(s.name for s in plan.new_snapshots)
        context.plan(restate_models=REBUILT_MODELS, auto_apply=True, no_prompts=True)
        return {"models_changed": changed, "models_rebuilt": REBUILT_MODELS}
    finally:
        context.close()


def run_unit_tests(warehouse: Path):
    """SQLMesh's YAML unit tests (tests/models/); returns the unittest result."""
    context = sqlmesh_context(warehouse)
    try:
        return context.test()
    finally:
        context.close()
