"""The Dagster wiring: asset graph, checks, sensor and schedule."""

from __future__ import annotations

import dagster as dg

from core.sources import sources
from pipelines.definitions import defs, pipeline
from pipelines.sensors import build_automation
from privacy.loading import release_specs


def test_asset_graph_has_every_layer_in_order():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    specs = release_specs()
    per_source = {
        key for declared in sources().values() for key in (
            f"raw/{declared.table}", f"quarantine/{declared.table}", f"marts/{declared.mart}",
            *((f"staging/{declared.name}_answers", f"staging/{declared.name}_profiles") if declared.latest == "answer"
              else (f"staging/{declared.name}_latest",)),
        )
    }
    assert {"raw/cgc_responses", "marts/cgc_firm_wave", "raw/dis_responses", "marts/dis_firm_proposal"} <= per_source
    assert {"raw/debt_signals", "staging/debt_signal_latest", "marts/debt_claim_month"} <= per_source
    assert keys == {
        *per_source, "meta/ingest_manifest", "privacy/ledger", "exports/privacy_ledger",
        "meta/deletion_log",  # AVG (assets/avg.py): erasure requests, retention and inzage exports, before every ingestion
        *(f"releases/{name}" for name in specs), *(f"exports/{name}" for name in specs),
        "releases/dis_running", "exports/dis_running",  # running figures while a proposal is open (privacy/continual.py)
        # the themes in the consultation comments (assets/themes.py): the marts of the three theme releases, the catalogue
        "marts/consultation_firm_words", "marts/consultation_firm_pairs", "marts/consultation_firm_themes",
        "exports/consultation_theme_catalogue",
        # the same engine on the programme's platform texts (issue 14.3): its three marts and its catalogue
        "marts/programme_need_firm_words", "marts/programme_need_firm_pairs", "marts/programme_need_firm_themes",
        "exports/programme_need_theme_catalogue",
        "exports/alerts",  # early warnings on the released series (assets/alerts.py): after the exports it reads
        # debt signals (assets/debts.py): the rules' advice per claim (operational) and the mart of the KPI release
        "operational/debt_advice", "marts/debt_small_claims", "marts/debt_person_risk",
        "marts/debt_whatif", "marts/debt_collection", "marts/debt_person_month",
        "operational/creditor_advice_files",  # one file per creditor organisation for its own staff (debts/creditor_files.py)
        # the support programme (assets/programme_funnel.py): the funnel's and the ecosystem's marts from the eight source marts
        "marts/programme_firm_quarter", "marts/programme_firm_platform",
        "operational/consultant_caseload_files",  # one file per MKB consultant with its own cases (programme/caseload.py)
    }
    programme_sources = {dg.AssetKey(["marts", d.mart]) for name, d in sources().items() if name.startswith("programme_")}
    assert len(programme_sources) == 8
    for key in ("programme_firm_quarter", "programme_firm_platform"):
        assert graph.get(dg.AssetKey(["marts", key])).parent_keys == programme_sources
    caseload_marts = {"programme_registration_month", "programme_intake_month", "programme_session_month", "programme_decision_month",
                      "programme_plan_month"}
    assert graph.get(dg.AssetKey(["operational", "consultant_caseload_files"])).parent_keys == {dg.AssetKey(["marts", m]) for m in caseload_marts}
    for key in ("operational/debt_advice", "marts/debt_small_claims", "marts/debt_person_risk", "marts/debt_whatif", "marts/debt_collection",
                "marts/debt_person_month"):
        assert graph.get(dg.AssetKey(key.split("/"))).parent_keys == {dg.AssetKey(["marts", "debt_claim_month"])}
    assert graph.get(dg.AssetKey(["operational", "creditor_advice_files"])).parent_keys == {dg.AssetKey(["operational", "debt_advice"])}
    theme_parents = {name: graph.get(dg.AssetKey(["marts", name])).parent_keys
                     for name in ("consultation_firm_words", "consultation_firm_pairs", "consultation_firm_themes")}
    assert dg.AssetKey(["releases", "consultation_terms"]) in theme_parents["consultation_firm_pairs"]
    assert dg.AssetKey(["releases", "consultation_term_pairs"]) in theme_parents["consultation_firm_themes"]
    need_parents = {name: graph.get(dg.AssetKey(["marts", name])).parent_keys
                    for name in ("programme_need_firm_words", "programme_need_firm_pairs", "programme_need_firm_themes")}
    platform = dg.AssetKey(["raw", "programme_platform"])
    assert need_parents["programme_need_firm_words"] == {platform}
    assert need_parents["programme_need_firm_pairs"] == {platform, dg.AssetKey(["releases", "programme_need_terms"])}
    assert need_parents["programme_need_firm_themes"] == {platform, dg.AssetKey(["releases", "programme_need_term_pairs"])}
    assert graph.get(dg.AssetKey(["releases", "dis_running"])).parent_keys == {dg.AssetKey(["marts", "dis_firm_proposal"])}
    upstream = graph.get(dg.AssetKey(["marts", "cgc_firm_wave"])).parent_keys
    assert dg.AssetKey(["staging", "cgc_answers"]) in upstream
    assert graph.get(dg.AssetKey(["marts", "debt_claim_month"])).parent_keys == {dg.AssetKey(["staging", "debt_signal_latest"])}
    for name, spec in specs.items():  # one release asset per spec, reading the spec's source mart
        assert graph.get(dg.AssetKey(["releases", name])).parent_keys == {dg.AssetKey(spec.source.split("."))}
        assert dg.AssetKey(["releases", name]) in graph.get(dg.AssetKey(["privacy", "ledger"])).parent_keys
        assert graph.get(dg.AssetKey(["exports", name])).parent_keys == {dg.AssetKey(["releases", name])}
    assert graph.get(dg.AssetKey(["exports", "alerts"])).parent_keys == {dg.AssetKey(["exports", "cgc_balance"]), dg.AssetKey(["exports", "dis_burden"])}
    checks = {key.name for key in graph.asset_check_keys}
    assert {"firm_id_is_pseudonym", "free_text_has_no_identifiers"} <= checks
    grain = graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey(["marts", "cgc_firm_wave"]), "one_row_per_firm_id_per_wave"))
    assert grain.blocking


def test_sensor_and_schedule_are_defined():
    assert defs.resolve_sensor_def("landing_zone_sensor").minimum_interval_seconds <= 30
    assert defs.resolve_schedule_def("daily_pipeline").cron_schedule == "0 6 * * *"


def test_the_avg_job_runs_first_then_rebuilds_what_is_made_from_raw_but_makes_no_release():
    graph = defs.resolve_asset_graph()
    deletion_log = dg.AssetKey(["meta", "deletion_log"])
    for declared in sources().values():  # erasure and retention run before a landing file is read
        assert deletion_log in graph.get(dg.AssetKey(["raw", declared.table])).parent_keys
    selected = {key.to_user_string() for key in defs.resolve_job_def("avg").asset_layer.selected_asset_keys}
    assert {"meta/deletion_log", "raw/cgc_responses", "marts/cgc_firm_wave", "marts/debt_claim_month", "operational/debt_advice",
            "operational/creditor_advice_files", "operational/consultant_caseload_files", "marts/programme_firm_quarter",
            "marts/consultation_firm_themes", "exports/consultation_theme_catalogue"} <= selected
    assert not {key for key in selected if key.startswith(("releases/", "privacy/"))}  # releases and the ledger are never remade
    assert {key for key in selected if key.startswith("exports/")} == {"exports/consultation_theme_catalogue", "exports/programme_need_theme_catalogue"}
    assert "meta/deletion_log" not in {key.to_user_string() for key in defs.resolve_job_def("pipeline").asset_layer.selected_asset_keys}
    assert defs.resolve_schedule_def("daily_retention").cron_schedule == "30 5 * * *"  # before the daily pipeline
    assert defs.resolve_sensor_def("avg_requests_sensor").minimum_interval_seconds <= 30


def test_the_avg_sensor_starts_the_job_only_when_a_request_waits(tmp_path, store):
    from accounts.service import Account
    from avg.requests import request_erasure
    from pipelines.sensors import build_avg_automation

    sensor, _ = build_avg_automation(defs.resolve_job_def("avg"), accounts_file=tmp_path / "accounts.sqlite")
    assert isinstance(sensor(dg.build_sensor_context()), dg.SkipReason)
    request_erasure(store, Account(0, "beheer@example.nl", "Beheer", "administrator", None, True, True), "kvk", "12345678", "12345678")
    requested = sensor(dg.build_sensor_context())
    assert requested.run_key == "avg-requests-1"


def test_sensor_requests_one_run_per_new_batch(tmp_path):
    sensor, _ = build_automation(pipeline, landing=tmp_path)
    assert isinstance(sensor(dg.build_sensor_context()), dg.SkipReason)
    (tmp_path / "cgc").mkdir()
    (tmp_path / "cgc" / "form_a.jsonl").write_text("{}\n")
    first = sensor(dg.build_sensor_context())
    assert len(first.run_requests) == 1
    again = sensor(dg.build_sensor_context(cursor=first.cursor))
    assert isinstance(again, dg.SkipReason)
