"""The support programme (issue 14): the private marts its funnel, flow and ecosystem are released from.

    marts/programme_*_month (SQLMesh, sources/programme_*) -> marts/programme_firm_quarter + marts/programme_firm_platform
                                                           -> releases/programme_funnel, programme_conversion, programme_flow,
                                                              programme_ecosystem

How a firm's stage is decided: programme/pipeline.py.
"""

from __future__ import annotations

import dagster as dg

from assets.resources import Warehouse
from core.sources import sources
from programme import pipeline

SOURCES = [dg.AssetKey(["marts", declared.mart]) for name, declared in sources().items() if name.startswith("programme_")]
MADE = {
    ("marts", "programme_firm_quarter"): "Per firm per quarter from its registration on: its stage at the quarter's end, the stages "
                                         "entered and left, the steps reached so far, intake, plan, sessions, no-shows, referral "
                                         "(private; released by releases/programme_funnel, programme_conversion, programme_flow).",
    ("marts", "programme_firm_platform"): "Per firm per quarter with platform use: offers used and requested, unanswered question "
                                          "topics, reported needs, answer time (private; released by releases/programme_ecosystem).",
}


@dg.multi_asset(
    specs=[dg.AssetSpec(list(key), deps=SOURCES, group_name="programme", description=text) for key, text in MADE.items()],
    compute_kind="duckdb",
)
def programme_marts(warehouse: Warehouse):
    """Both programme marts rebuilt from the source marts in one transaction (a crash leaves the old ones)."""
    with warehouse.connect() as connection:
        counts = pipeline.build(connection)
        stages = dict(connection.execute(
            f"SELECT stage, count(*) FROM {pipeline.FIRM_QUARTER} WHERE quarter = (SELECT max(quarter) FROM {pipeline.FIRM_QUARTER}) "
            "GROUP BY 1 ORDER BY 1").fetchall())
    yield dg.MaterializeResult(asset_key=["marts", "programme_firm_quarter"], metadata={
        "rows": counts["firm_quarters"], "firms": counts["firms"], "later_registrations": counts["later_registrations"],
        "stages_latest_quarter": dg.MetadataValue.json(stages)})
    yield dg.MaterializeResult(asset_key=["marts", "programme_firm_platform"], metadata={
        "rows": counts["platform_firm_quarters"], "masterclasses_without_profile": counts["masterclasses_without_profile"]})


PROGRAMME_MART_ASSETS = [programme_marts]
