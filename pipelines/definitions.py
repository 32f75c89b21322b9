"""The one Dagster `Definitions`: start here to find every asset, check, sensor and schedule.

    ingest      raw/cgc_responses, quarantine/cgc_responses, meta/ingest_manifest  (+ GX checks)
    transform   staging/cgc_answers, staging/cgc_profiles, marts/cgc_firm_wave     (SQLMesh)
    releases    releases/cgc_balance, privacy/ledger                              (OpenDP)
    exports     exports/cgc_balance                                               (Parquet)
"""

from __future__ import annotations

import dagster as dg

from assets.exports import cgc_balance_export
from assets.ingest.cgc import cgc_ingestion, raw_cgc_expectations
from assets.releases.cgc import cgc_balance_release
from assets.transform import sqlmesh_models
from pipelines.resources import default_resources
from pipelines.sensors import build_automation

ALL_ASSETS = [cgc_ingestion, sqlmesh_models, cgc_balance_release, cgc_balance_export]
ALL_CHECKS = [raw_cgc_expectations]

# One step at a time in one process: DuckDB has one writer per file.
cgc_pipeline = dg.define_asset_job(
    "cgc_pipeline",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Landing files -> raw/quarantine -> SQLMesh -> DP releases -> Parquet exports.",
)
landing_zone_sensor, daily_schedule = build_automation(cgc_pipeline)

defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=[cgc_pipeline],
    sensors=[landing_zone_sensor],
    schedules=[daily_schedule],
    resources=default_resources(),
)
