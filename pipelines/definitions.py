"""The one Dagster `Definitions`: start here to find every asset, check, sensor and schedule.

    ingest      raw/cgc_responses, quarantine/cgc_responses, meta/ingest_manifest  (+ GX checks)
    transform   staging/cgc_answers, staging/cgc_profiles, marts/cgc_firm_wave     (SQLMesh, + blocking grain check)
    releases    releases/<spec> per config/releases/*.yaml, privacy/ledger        (OpenDP)
    exports     exports/<spec>, exports/privacy_ledger                            (Parquet)
"""

from __future__ import annotations

import dagster as dg

from assets.exports import EXPORT_ASSETS
from assets.ingest.cgc import cgc_ingestion, raw_cgc_expectations
from assets.releases.factory import GRAIN_CHECKS, LEDGER_ASSET, RELEASE_ASSETS
from assets.transform import sqlmesh_models
from core.files import restrict_new_files
from pipelines.resources import default_resources
from pipelines.sensors import build_automation

restrict_new_files()  # the code location's process (sensor runs, materialisations) creates owner-only files

ALL_ASSETS = [cgc_ingestion, sqlmesh_models, *RELEASE_ASSETS, LEDGER_ASSET, *EXPORT_ASSETS]
ALL_CHECKS = [raw_cgc_expectations, *GRAIN_CHECKS]

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
