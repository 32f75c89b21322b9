"""Running the SQLMesh project (the repository root) against a given warehouse."""

from __future__ import annotations

import os
from pathlib import Path

from core.settings import PROJECT_ROOT, paths

# SQLMesh writes its user file to $SQLMESH_HOME (default ~/.sqlmesh) at import; a service account has no home,
# and generated files belong under data/. Set before the first import of sqlmesh in this process.
os.environ.setdefault("SQLMESH_HOME", str(paths().data_dir / "sqlmesh-home"))

from sqlmesh import Context  # noqa: E402
from sqlmesh.core.config import Config, DuckDBConnectionConfig, GatewayConfig, ModelDefaultsConfig  # noqa: E402

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
        disable_anonymized_analytics=True,  # no usage events leave the machine
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
