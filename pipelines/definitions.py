"""The one Dagster `Definitions`: start here to find every asset, check, sensor and schedule.

    avg         meta/deletion_log: waiting erasure requests, retention (config/retention.yaml), inzage exports (assets/avg.py);
                upstream of every ingestion asset; its own job `avg` (sensor avg_requests_sensor, schedule daily_retention)
                rebuilds everything made from raw, but makes no release

    ingest      per declared source (sources/<name>/source.yaml): raw/<table>, quarantine/<table>;
                meta/ingest_manifest                                              (+ GX checks per source)
    transform   per source: staging/<name>_answers, staging/<name>_profiles, marts/<mart>
                                                                                  (SQLMesh, + blocking grain check)
    themes      marts/consultation_firm_{words,pairs,themes} (the theme releases' marts, assets/themes.py)
                marts/programme_need_firm_{words,pairs,themes} (themes of the programme's platform texts, same engine)
    debts       operational/debt_advice, marts/debt_small_claims (the rules per claim; the KPI mart, assets/debts.py)
    programme   marts/programme_firm_quarter, marts/programme_firm_platform (the support programme's funnel, assets/programme_funnel.py)
                operational/consultant_caseload_files (data/operational/consultants/<code>/caseload.parquet: own cases only,
                assets/programme.py)
                operational/creditor_advice_files   (data/operational/<creditor>/advice.parquet: own claims only)
    releases    releases/<spec> per config/releases/*.yaml, privacy/ledger        (OpenDP)
    exports     exports/<spec>, exports/privacy_ledger                            (Parquet)
                exports/consultation_theme_catalogue                              (themes.json: names, terms, quotes)
                exports/programme_need_theme_catalogue                            (themes.json: names, terms)
                exports/alerts      early warnings on the released CGC balances and DIS burden (assets/alerts.py)
"""

from __future__ import annotations

import dagster as dg

from assets.alerts import ALERT_ASSETS
from assets.avg import AVG_ASSETS, DELETION_LOG
from assets.debts import DEBT_ASSETS
from assets.exports import EXPORT_ASSETS
from assets.ingest.factory import EXPECTATION_CHECKS, INGEST_ASSETS
from assets.programme import PROGRAMME_ASSETS
from assets.programme_funnel import PROGRAMME_MART_ASSETS
from assets.releases.continual import RUNNING_ASSETS
from assets.releases.factory import GRAIN_CHECKS, LEDGER_ASSET, RELEASE_ASSETS
from assets.themes import THEME_ASSETS
from assets.transform import sqlmesh_models
from core.files import restrict_new_files
from pipelines.memory import RELEASE_MEMORY_HOOKS
from pipelines.resources import default_resources
from pipelines.sensors import build_automation, build_avg_automation

restrict_new_files()  # the code location's process (sensor runs, materialisations) creates owner-only files

ALL_ASSETS = [*INGEST_ASSETS, sqlmesh_models, *THEME_ASSETS, *DEBT_ASSETS, *PROGRAMME_MART_ASSETS, *PROGRAMME_ASSETS, *RELEASE_ASSETS, LEDGER_ASSET, *EXPORT_ASSETS, *ALERT_ASSETS, *RUNNING_ASSETS]
ALL_CHECKS = [*EXPECTATION_CHECKS, *GRAIN_CHECKS]

# One step at a time in one process: DuckDB has one writer per file.
pipeline = dg.define_asset_job(
    "pipeline",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("avg"),
    executor_def=dg.in_process_executor,
    hooks=RELEASE_MEMORY_HOOKS,  # one process for every step: what a step frees goes back before the next
    description="Landing files -> raw/quarantine -> SQLMesh -> DP releases -> Parquet exports.",
)
landing_zone_sensor, daily_schedule = build_automation(pipeline)

# The theme catalogues hold the consented quotes (not a DP release): made again, so an erased firm's quote goes too.
CATALOGUES = dg.AssetSelection.assets(dg.AssetKey(["exports", "consultation_theme_catalogue"]),
                                      dg.AssetKey(["exports", "programme_need_theme_catalogue"]))
REBUILT_AFTER_AVG = (dg.AssetSelection.assets(DELETION_LOG).downstream()
                     - dg.AssetSelection.groups("releases", "exports") - dg.AssetSelection.assets(LEDGER_ASSET)) | CATALOGUES
avg = dg.define_asset_job(
    "avg",
    selection=REBUILT_AFTER_AVG,
    executor_def=dg.in_process_executor,
    hooks=RELEASE_MEMORY_HOOKS,
    description="AVG: waiting erasure requests, retention, inzage exports; then the marts and everything made from raw rebuilt "
                "without what was deleted. No release is made or changed.",
)
avg_requests_sensor, retention_schedule = build_avg_automation(avg)

AVG_JOB_ASSETS = [*AVG_ASSETS, *ALL_ASSETS]

defs = dg.Definitions(
    assets=AVG_JOB_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=[pipeline, avg],
    sensors=[landing_zone_sensor, avg_requests_sensor],
    schedules=[daily_schedule, retention_schedule],
    resources=default_resources(),
)
