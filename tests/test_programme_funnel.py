"""The support programme's funnel (programme/pipeline.py, config/releases/programme_*.yaml).

Generated programmes (hypothesis): every firm is in exactly one stage in every
quarter from its registration on, and in a release without noise the firms in
each stage at a quarter's end are those that entered it up to then minus
those that left it, at every level (programme, region, partner); the
cumulative funnel and the flow figures equal what the records say.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.loading import release_specs
from privacy.postprocess import post_process
from privacy.sensitivity import plan
from privacy.statistics import LEVEL, PERIOD, level_cells, sufficient_statistics
from programme import pipeline
from tests.privacy_support import noiseless
from tests.programme_support import case, source_marts

TODAY = date(2026, 12, 1)
END_OF_TODAYS_QUARTER = date(2026, 12, 31)
REGIONS = {"noord": "bcc_venlo", "midden": "bcc_roermond", "zuid": "bcc_maastricht"}


@st.composite
def programmes(draw) -> dict[str, list[dict]]:
    """Records of a few firms with random paths: registration, intake (admitted, referred, not suitable), stop, plan."""
    records: dict[str, list[dict]] = {name: [] for name in ("programme_registrations", "programme_intakes", "programme_decisions",
                                                            "programme_plans", "programme_sessions")}
    for number in range(draw(st.integers(1, 12))):
        firm = f"f{number:03d}"
        region = draw(st.sampled_from(sorted(REGIONS)))
        partner = draw(st.sampled_from([REGIONS[region], "rabobank", "zelf"]))
        registered = date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 600)))
        records["programme_registrations"].append(case(firm, registered, region=region, partner=partner))
        if not draw(st.booleans()):
            continue
        intake = registered + timedelta(days=draw(st.integers(0, 120)))
        outcome = draw(st.sampled_from(["toegelaten", "toegelaten", "doorverwezen", "niet_geschikt"]))
        if intake > TODAY:
            continue
        records["programme_intakes"].append({"registration_id": f"R-{firm}", "firm_id": firm, "intake_on": intake, "outcome": outcome,
                                             "referred_to": "liof" if outcome == "doorverwezen" else None})
        if outcome != "toegelaten":
            continue
        for index in range(draw(st.integers(0, 6))):
            day = intake + timedelta(days=14 * index + 1)
            records["programme_sessions"].append({"session_id": f"S-{firm}-{index}", "registration_id": f"R-{firm}", "firm_id": firm,
                                                  "consultant": "mc01", "session_on": day, "duration_minutes": 90,
                                                  "status": draw(st.sampled_from(["gehouden", "gehouden", "niet_verschenen"]))})
        ending = draw(st.sampled_from(["none", "stop", "plan"]))
        later = intake + timedelta(days=draw(st.integers(0, 500)))
        if ending == "stop" and later <= TODAY:
            records["programme_decisions"].append({"decision_id": f"D-{firm}", "registration_id": f"R-{firm}", "firm_id": firm,
                                                   "consultant": "mc01", "decided_on": later, "phase": "analyse", "decision": "stoppen",
                                                   "stop_reason": "geen_tijd"})
        elif ending == "plan" and later <= TODAY:
            financeable = draw(st.booleans())
            records["programme_plans"].append({"registration_id": f"R-{firm}", "firm_id": firm, "delivered_on": later,
                                               "financeable": financeable,
                                               "financing_obtained": 100_000.0 if financeable and draw(st.booleans()) else 0.0})
    return records


def _noiseless_release(connection, name: str, wide: bool = False) -> pl.DataFrame:
    """Released cells of every quarter without noise or suppression (`wide`: every stage a firm entered counts, not only its
    first three)."""
    spec = release_specs()[name].model_copy(update={"suppression_threshold": 0})
    if wide:
        spec = spec.model_copy(update={"measures": [m.model_copy(update={"max_selections": 8}) if getattr(m, "multi_select", False) else m
                                                    for m in spec.measures]})
    quarters = [row[0] for row in connection.execute(f"SELECT DISTINCT quarter FROM {pipeline.FIRM_QUARTER} ORDER BY 1").fetchall()]
    cells = level_cells(sufficient_statistics(connection, spec, quarters), spec, quarters)
    return post_process(cells, spec, noiseless(plan(spec)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=programmes())
def test_every_firm_is_in_one_stage_and_stage_counts_are_entries_minus_exits(records):
    connection = duckdb.connect()
    source_marts(connection, records)
    counts = pipeline.build(connection, today=TODAY)
    mart = connection.execute(f"SELECT * FROM {pipeline.FIRM_QUARTER}").pl()
    firms = {row["firm_id"]: row["registered_on"] for row in records["programme_registrations"]}
    assert counts["firms"] == len(firms)
    for firm, registered in firms.items():  # one row per quarter from the registration's quarter to today's
        quarters = mart.filter(pl.col("firm_id") == firm)["quarter"].to_list()
        first = f"{registered.year}-Q{(registered.month - 1) // 3 + 1}"
        assert quarters[0] == first and quarters[-1] == "2026-Q4" and len(quarters) == len(set(quarters))
    assert mart["stage"].is_in(pipeline.STAGES).all()

    released = _noiseless_release(connection, "programme_funnel", wide=True)
    keys = [PERIOD, LEVEL, "programme_region", "programme_partner"]
    firms_per_group = released.filter(pl.col("measure") == "firms").select(*keys, pl.col("estimate").alias("firms"))
    per_stage = (released.filter(pl.col("statistic") == "count", pl.col("category").is_not_null())
                 .pivot(on="measure", index=[*keys, "category"], values="estimate"))
    summed = per_stage.filter(pl.col("stage").is_not_null()).group_by(keys).agg(pl.col("stage").sum())
    joined = firms_per_group.join(summed, on=keys, nulls_equal=True, how="left")
    assert (joined["firms"] == joined["stage"].fill_null(0)).all()  # every firm in exactly one stage
    ordered = per_stage.sort(PERIOD).with_columns(
        (pl.col("entered") - pl.col("left")).cum_sum().over([LEVEL, "programme_region", "programme_partner", "category"]).alias("net"))
    assert (ordered["net"] == ordered["stage"]).all(), ordered.filter(pl.col("net") != pl.col("stage"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=programmes())
def test_the_cumulative_funnel_and_the_flow_without_noise_equal_the_records(records):
    connection = duckdb.connect()
    source_marts(connection, records)
    pipeline.build(connection, today=TODAY)
    released = _noiseless_release(connection, "programme_conversion")
    last = released.filter(pl.col(PERIOD) == "2026-Q4", pl.col(LEVEL) == "programme", pl.col("statistic") == "sum")
    figures = dict(last.select("measure", "estimate").iter_rows())
    intakes, plans = records["programme_intakes"], records["programme_plans"]
    assert figures["scouted"] == len(records["programme_registrations"])
    assert figures["reached_intake"] == len(intakes)
    assert figures["reached_support"] == sum(row["outcome"] == "toegelaten" for row in intakes)
    assert figures["reached_plan"] == len(plans)
    assert figures["reached_financeable"] == sum(row["financeable"] for row in plans)
    assert figures["reached_financed"] == sum(row["financing_obtained"] > 0 for row in plans)
    flow = _noiseless_release(connection, "programme_flow").filter(pl.col(LEVEL) == "programme", pl.col("statistic") == "sum")
    so_far = dict(flow.filter(pl.col(PERIOD) == "2026-Q4").select("measure", "estimate").iter_rows())  # plans so far
    per_quarter = dict(flow.group_by("measure").agg(pl.col("estimate").sum()).iter_rows())  # sessions in each quarter
    assert so_far["plans"] == len(plans)
    # a session planned after today's quarter (2027) is counted when its quarter comes, not before
    sessions = [row for row in records["programme_sessions"] if row["session_on"] <= END_OF_TODAYS_QUARTER]
    assert per_quarter["sessions_planned"] == len(sessions)
    assert per_quarter["no_shows"] == sum(row["status"] == "niet_verschenen" for row in sessions)
    held_before_plan = {row["firm_id"]: sum(s["status"] == "gehouden" and s["firm_id"] == row["firm_id"] and s["session_on"] <= row["delivered_on"]
                                            for s in sessions) for row in plans}
    assert so_far["plan_sessions"] == sum(held_before_plan.values())


def test_a_firm_registered_twice_counts_once_and_a_record_of_another_firm_is_left_out():
    connection = duckdb.connect()
    source_marts(connection, {
        "programme_registrations": [case("f1", date(2025, 2, 1)), {**case("f1", date(2025, 9, 1)), "registration_id": "R-f1-again"}],
        "programme_intakes": [{"registration_id": "R-f1", "firm_id": "f2", "intake_on": date(2025, 3, 1), "outcome": "toegelaten"}],
    })
    counts = pipeline.build(connection, today=TODAY)
    assert counts["firms"] == 1 and counts["later_registrations"] == 1
    stages = connection.execute(f"SELECT DISTINCT stage FROM {pipeline.FIRM_QUARTER}").fetchall()
    assert stages == [("aangemeld",)]  # the intake names another firm than the case's: not this firm's intake


def test_a_crash_while_building_leaves_the_old_marts():
    connection = duckdb.connect()
    source_marts(connection, {"programme_registrations": [case("f1", date(2025, 2, 1))]})
    pipeline.build(connection, today=TODAY)
    before = connection.execute(f"SELECT count(*) FROM {pipeline.FIRM_QUARTER}").fetchone()[0]
    connection.execute("DROP TABLE marts.programme_plan_month")  # the next build fails half-way
    with pytest.raises(duckdb.Error):
        pipeline.build(connection, today=TODAY)
    assert connection.execute(f"SELECT count(*) FROM {pipeline.FIRM_QUARTER}").fetchone()[0] == before
