"""The landing-zone sensor and the daily schedule.

The sensor looks at file names and modification times only (it never opens
the warehouse, which a running pipeline may hold); the ingestion itself
skips files whose content hash is already in the manifest. A file that
arrives with an old modification time is still picked up by the daily run.
"""


import hashlib
from pathlib import Path

import dagster as dg

from core.landing import list_landing_files
from core.settings import paths
from core.sources import sources

SENSOR_INTERVAL_SECONDS = 20


def build_automation(job, landing: Path | None = None):
    landing_dir = landing

    @dg.sensor(job=job, minimum_interval_seconds=SENSOR_INTERVAL_SECONDS, default_status=dg.DefaultSensorStatus.RUNNING)
    def landing_zone_sensor(context: dg.SensorEvaluationContext):
        """Start the pipeline when new files of any declared source (form submissions, exports, deliveries) land."""
        folder = landing_dir or paths().landing
        seen_until = int(context.cursor or 0)
        new = [f for name in sources() for f in list_landing_files(folder, name) if f.modified_ns > seen_until]
        if not new:
            return dg.SkipReason("no new landing files")
        names = sorted(f"{f.source}/{f.path.name}" for f in new)
        run_key = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"landing-{run_key}", tags={"landing_files": str(len(new))})],
            cursor=str(max(f.modified_ns for f in new)),
        )

    daily = dg.ScheduleDefinition(
        name="daily_pipeline",
        job=job,
        cron_schedule="0 6 * * *",
        execution_timezone="Europe/Amsterdam",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Daily run: picks up any file the sensor missed and releases waves that have closed.",
    )
    return landing_zone_sensor, daily


AVG_SENSOR_INTERVAL_SECONDS = 30


def build_avg_automation(job, accounts_file: Path | None = None):
    """The sensor that starts the job `avg` when an AVG request waits, and its nightly schedule (retention)."""

    @dg.sensor(job=job, minimum_interval_seconds=AVG_SENSOR_INTERVAL_SECONDS, default_status=dg.DefaultSensorStatus.RUNNING)
    def avg_requests_sensor(context: dg.SensorEvaluationContext):
        """Start the job `avg` when an erasure or inzage request waits in the account store (never opens the warehouse)."""
        from accounts.store import store
        from avg.requests import pending_ids

        path = accounts_file or paths().data_dir / "accounts" / "accounts.sqlite"
        if not path.exists():
            return dg.SkipReason("no account store yet")
        with store(path) as connection:
            waiting = pending_ids(connection)
        if not waiting:
            return dg.SkipReason("no AVG request waiting")
        return dg.RunRequest(run_key=f"avg-requests-{waiting[-1]}", tags={"avg_requests": str(len(waiting))})

    nightly = dg.ScheduleDefinition(
        name="daily_retention",
        job=job,
        cron_schedule="30 5 * * *",
        execution_timezone="Europe/Amsterdam",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Nightly: delete what is past its retention period (config/retention.yaml), log it, rebuild the marts without it.",
    )
    return avg_requests_sensor, nightly
