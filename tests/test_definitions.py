"""The Dagster wiring: asset graph, checks, sensor and schedule."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import cgc_pipeline, defs
from pipelines.sensors import build_automation


def test_asset_graph_has_every_layer_in_order():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "raw/cgc_responses", "quarantine/cgc_responses", "meta/ingest_manifest",
        "staging/cgc_answers", "staging/cgc_profiles", "marts/cgc_firm_wave",
        "releases/cgc_balance", "privacy/ledger", "exports/cgc_balance",
    }
    upstream = graph.get(dg.AssetKey(["marts", "cgc_firm_wave"])).parent_keys
    assert dg.AssetKey(["staging", "cgc_answers"]) in upstream
    assert dg.AssetKey(["marts", "cgc_firm_wave"]) in graph.get(dg.AssetKey(["releases", "cgc_balance"])).parent_keys
    checks = {key.name for key in graph.asset_check_keys}
    assert {"firm_id_is_pseudonym", "free_text_has_no_identifiers"} <= checks


def test_sensor_and_schedule_are_defined():
    assert defs.resolve_sensor_def("landing_zone_sensor").minimum_interval_seconds <= 30
    assert defs.resolve_schedule_def("daily_cgc_pipeline").cron_schedule == "0 6 * * *"


def test_sensor_requests_one_run_per_new_batch(tmp_path):
    sensor, _ = build_automation(cgc_pipeline, landing=tmp_path)
    assert isinstance(sensor(dg.build_sensor_context()), dg.SkipReason)
    (tmp_path / "cgc").mkdir()
    (tmp_path / "cgc" / "form_a.jsonl").write_text("{}\n")
    first = sensor(dg.build_sensor_context())
    assert len(first.run_requests) == 1
    again = sensor(dg.build_sensor_context(cursor=first.cursor))
    assert isinstance(again, dg.SkipReason)
