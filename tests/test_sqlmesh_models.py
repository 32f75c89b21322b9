"""The SQLMesh project: YAML unit tests under pytest, every model has one, and the declarations generate it.

The staging views and the marts are Python models that return SQL, one
blueprint per declared source (models/staging/answers.py, profiles.py,
models/marts/unit_period.py); `external_models.yaml` is generated from the
declarations. Adding a source is adding its folder: the last test declares a
second source in a temporary sources folder and plans it.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml

import core.sources
from core.sqlmesh_project import (
    REGENERATE,
    external_models_yaml,
    plan_and_refresh,
    run_unit_tests,
    sqlmesh_context,
    write_external_models,
)
from core.warehouse import connect as warehouse_connect
from core.warehouse import ensure_ingest_tables, warehouse_attach_sql, warehouse_key

ROOT = Path(__file__).resolve().parent.parent


def test_sqlmesh_unit_tests_pass(tmp_path):
    result = run_unit_tests(tmp_path / "unit.duckdb")
    assert result.testsRun >= 3
    assert result.wasSuccessful(), [str(f) for f in result.failures + result.errors]


def test_every_model_has_a_unit_test(tmp_path):
    context = sqlmesh_context(tmp_path / "models.duckdb")
    try:
        models = {model.name for model in context.models.values() if model.kind.name != "EXTERNAL"}
    finally:
        context.close()
    tested = {test["model"] for path in (ROOT / "tests" / "models").glob("test_*.yaml") for test in yaml.safe_load(path.read_text()).values()}
    assert {"staging.cgc_answers", "staging.cgc_profiles", "marts.cgc_firm_wave"} <= models
    assert models <= tested, f"models without a YAML unit test in tests/models/: {sorted(models - tested)}"


def test_external_models_match_the_declarations():
    committed = (ROOT / "external_models.yaml").read_text(encoding="utf-8")
    assert committed == external_models_yaml(), f"external_models.yaml differs from sources/*/source.yaml; regenerate it: {REGENERATE}"


# ---------------------------------------------------------------------------- a second declared source

IMPACT = """
name: impact
title: Impactsimulatie
description: What a proposal would change for a firm, in euros, FTE and hours.
unit: firm
table: impact_simulations
mart: impact_firm_proposal
key: simulation_id
period:
  field: proposal
  calendar: proposal
fields:
  simulation_id: {type: text, role: key, label: Simulatienummer, required: true}
  submitted_at: {type: timestamp, role: submitted_at, label: Tijdstip, required: true}
  proposal: {type: text, role: period, label: Voorstel, required: true}
  kvk_number: {type: identifier, role: unit, label: KvK-nummer, required: true, pattern: '^[0-9]{8}$', pattern_rule: acht cijfers, pseudonym: firm_id}
  sector: {type: choice, role: profile, label: Sector, required: true, domain: sector}
  cost_change: {type: decimal, label: Kostenverandering, unit: euro per jaar, minimum: -1000000, maximum: 1000000}
  fte: {type: decimal, label: Formatieverandering, unit: FTE, step: 0.1, minimum: -50, maximum: 50}
  admin_hours: {type: integer, label: Administratieve last, unit: uur per maand, minimum: 0, maximum: 1000}
  outlook: {type: choice, label: Vooruitzicht, options: {better: Beter, same: Gelijk, worse: Slechter}}
  remark: {type: free_text, label: Toelichting, max_length: 500}
"""


@pytest.fixture
def two_sources(tmp_path, monkeypatch):
    """A sources folder with the CGC and a small second source; the declarations cache is cleared around it."""
    folder = tmp_path / "sources"
    shutil.copytree(ROOT / "sources" / "cgc", folder / "cgc")
    (folder / "impact").mkdir()
    (folder / "impact" / "source.yaml").write_text(IMPACT, encoding="utf-8")
    monkeypatch.setattr(core.sources, "SOURCES_DIR", folder)
    core.sources.sources.cache_clear()  # the Python models read sources() while the Context loads
    yield core.sources.sources()
    core.sources.sources.cache_clear()


def test_a_new_source_needs_no_model_code(tmp_path, two_sources):
    assert set(two_sources) == {"cgc", "impact"}
    project = tmp_path / "project"  # the models as they are, and external_models.yaml generated for both sources
    shutil.copytree(ROOT / "models", project / "models", ignore=shutil.ignore_patterns("__pycache__"))
    write_external_models(project / "external_models.yaml")
    assert "raw.impact_simulations" in (project / "external_models.yaml").read_text()
    warehouse = tmp_path / "warehouse.duckdb"
    at = datetime(2026, 3, 1, 9)
    with warehouse_connect(warehouse) as connection:
        for name in two_sources:
            ensure_ingest_tables(connection, name)
        connection.executemany(
            "INSERT INTO raw.impact_simulations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'h', ?, ?)",
            [  # f1 simulates twice: the later one changes the costs and the outlook, skips the FTE
                ("s1", at, "wet-a", "f1", "C", -1234.5, 0.1, 12, "worse", "eerste", 1, at),
                ("s2", at.replace(hour=10), "wet-a", "f1", "F", 2500.25, None, 8, "same", None, 2, at),
                ("s3", at, "wet-a", "f2", "G", None, -1.3, None, None, None, 3, at),
                ("s4", at, "wet-b", "f1", "C", 0.0, 2.0, 0, "better", None, 4, at),
            ],
        )

    outcome = plan_and_refresh(warehouse, project)

    assert "marts.impact_firm_proposal" in outcome["models_rebuilt"] and "marts.cgc_firm_wave" in outcome["models_rebuilt"]
    with warehouse_connect(warehouse, read_only=True) as connection:
        def types(schema: str, table: str) -> dict[str, str]:
            return dict(connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, table]).fetchall())

        assert types("staging", "impact_answers") == {
            "firm_id": "VARCHAR", "proposal": "VARCHAR", "question": "VARCHAR", "answer": "VARCHAR",
            "submitted_at": "TIMESTAMP", "simulation_id": "VARCHAR"}
        assert types("staging", "impact_profiles") == {
            "firm_id": "VARCHAR", "proposal": "VARCHAR", "sector": "VARCHAR", "profile_submitted_at": "TIMESTAMP"}
        assert types("marts", "impact_firm_proposal") == {  # numbers stay numbers; free text stays out
            "firm_id": "VARCHAR", "proposal": "VARCHAR", "sector": "VARCHAR",
            "cost_change": "DOUBLE", "fte": "DOUBLE", "admin_hours": "BIGINT", "outlook": "VARCHAR"}
        assert types("marts", "cgc_firm_wave")["sentiment"] == "INTEGER"
        rows = connection.execute("SELECT * FROM marts.impact_firm_proposal ORDER BY firm_id, proposal").fetchall()
        assert rows == [
            ("f1", "wet-a", "F", 2500.25, 0.1, 8, "same"),  # latest per question; the FTE of the earlier one
            ("f1", "wet-b", "C", 0.0, 2.0, 0, "better"),
            ("f2", "wet-a", "G", None, -1.3, None, None),
        ]
        answers = connection.execute("SELECT question, answer FROM staging.impact_answers WHERE firm_id = 'f1' AND proposal = 'wet-a' ORDER BY question").fetchall()
        assert answers == [("admin_hours", "8"), ("cost_change", "2500.25"), ("fte", "0.1"), ("outlook", "same"), ("remark", "eerste")]

    # A fresh warehouse: the plan built every mart from the raw rows, so none was restated (built twice).
    assert {"marts.impact_firm_proposal", "marts.cgc_firm_wave"} <= set(outcome["models_built_by_the_plan"])
    # Nothing changed in the models, new raw rows: the restatement builds the mart again, with them.
    with warehouse_connect(warehouse) as connection:
        connection.execute("INSERT INTO raw.impact_simulations VALUES ('s6', ?, 'wet-b', 'f2', 'G', 10.0, NULL, NULL, NULL, NULL, 'h', 6, ?)", [at, at])
    again = plan_and_refresh(warehouse, project)
    assert again["models_changed"] == [] and "marts.impact_firm_proposal" not in again["models_built_by_the_plan"]
    with warehouse_connect(warehouse, read_only=True) as connection:
        assert connection.execute("SELECT cost_change FROM marts.impact_firm_proposal WHERE firm_id = 'f2' AND proposal = 'wet-b'").fetchall() == [(10.0,)]

    # The audits are blueprint variables too: an out-of-range number (the raw table has no CHECK) stops the rebuild.
    with warehouse_connect(warehouse) as connection:
        connection.execute("INSERT INTO raw.impact_simulations VALUES ('s5', ?, 'wet-c', 'f3', 'C', NULL, NULL, 5000, NULL, NULL, 'h', 5, ?)", [at, at])
    from sqlmesh.core import console

    class FailedModels(console.CaptureTerminalConsole):
        """Keeps why each model failed (the plan's exception only says that it did)."""

        def __init__(self):
            super().__init__()
            self.causes: list[str] = []

        def log_failed_models(self, errors):
            self.causes += [str(error.__cause__) for error in errors]
            super().log_failed_models(errors)

    captured, previous = FailedModels(), console.get_console()
    console.set_console(captured)
    try:
        with pytest.raises(Exception, match="Plan application failed"):
            plan_and_refresh(warehouse, project)
    finally:
        console.set_console(previous)
    assert captured.causes == ["Audits failed: forall"]  # admin_hours 5000 > 1000, and nothing else


def test_audits_name_columns_not_strings(tmp_path):
    """A blueprint variable in an audit must be SQL: as text, `not_null(columns := @x)` would check the literal 'firm_id'."""
    from sqlmesh.core.audit.builtin import BUILT_IN_AUDITS

    context = sqlmesh_context(tmp_path / "audits.duckdb")
    try:
        mart = context.get_model("marts.cgc_firm_wave")
        rendered = {name: mart.render_audit_query(BUILT_IN_AUDITS[name], **args).sql("duckdb") for name, args in mart.audits}
        answers = context.get_model("staging.cgc_answers")
        rendered["answers_not_null"] = answers.render_audit_query(BUILT_IN_AUDITS["not_null"], **dict(answers.audits)["not_null"]).sql("duckdb")
    finally:
        context.close()
    assert '"firm_id" IS NULL' in rendered["not_null"] and '"province" IS NULL' in rendered["not_null"]
    assert 'GROUP BY "firm_id", "wave"' in rendered["unique_combination_of_columns"]
    assert "\"order_book\" IN ('grown', 'same', 'shrunk')" in rendered["forall"] and '"sentiment" IN (1, 2, 3, 4, 5)' in rendered["forall"]
    assert "LIST_HAS_ALL(['personeel'" in rendered["forall"]
    assert '"answer" IS NULL' in rendered["answers_not_null"]
    assert not any("'firm_id'" in sql for sql in rendered.values())


# ---------------------------------------------------------------------------- incremental marts


def _cgc_row(connection, response: str, wave: str, firm: str, sentiment: int, number: int) -> None:
    at = datetime(2026, 3, 1, 9)
    connection.execute(
        "INSERT INTO raw.cgc_responses BY NAME SELECT ? AS response_id, ? AS submitted_at, ? AS wave, ? AS firm_id, 'C' AS sector, "
        "'2-9' AS size_class, 'PV31' AS province, 'same' AS order_book, ? AS sentiment, ['personeel'] AS challenges, "
        "'h' AS file_hash, ? AS row_number, ? AS loaded_at", [response, at, wave, firm, sentiment, number, at])


def _mart(warehouse: Path, table: str = "marts.cgc_firm_wave") -> list[tuple]:
    with warehouse_connect(warehouse, read_only=True) as connection:
        return connection.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def test_incremental_marts_restate_only_the_changed_months(tmp_path, two_sources):
    """The CGC mart (calendar months) is incremental: a run restates the months whose raw rows changed, no others.

    A marker written straight into the mart's table for January shows which months were made again: it survives a
    run that only changes February, and goes when January's raw rows change (an erasure). The impact source (one
    period per proposal) is rebuilt whole, and only when its raw rows changed. At the end the marts equal a build
    from nothing of the same raw rows."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "models", project / "models", ignore=shutil.ignore_patterns("__pycache__"))
    write_external_models(project / "external_models.yaml")
    warehouse = tmp_path / "warehouse.duckdb"
    with warehouse_connect(warehouse) as connection:
        for name in two_sources:
            ensure_ingest_tables(connection, name)
        _cgc_row(connection, "r1", "2026-01", "f1", 2, 1)
        _cgc_row(connection, "r2", "2026-02", "f2", 3, 2)

    first = plan_and_refresh(warehouse, project)
    assert {"marts.cgc_firm_wave", "marts.impact_firm_proposal"} <= set(first["models_built_by_the_plan"]) and first["restated"] == {}

    context = sqlmesh_context(warehouse, project)
    try:
        physical = context.get_snapshot("marts.cgc_firm_wave").table_name()
    finally:
        context.close()

    def mark_january() -> None:
        with warehouse_connect(warehouse) as connection:
            connection.execute(f"UPDATE {physical} SET province = 'MARKER' WHERE wave = '2026-01'")

    mark_january()
    with warehouse_connect(warehouse) as connection:
        _cgc_row(connection, "r3", "2026-02", "f3", 4, 3)
    second = plan_and_refresh(warehouse, project)
    assert second["restated"] == {"marts.cgc_firm_wave": "2026-02"} and "marts.impact_firm_proposal" in second["unchanged"]
    rows = _mart(warehouse)
    assert [(row[0], row[1], row[4]) for row in rows] == [("f1", "2026-01", "MARKER"), ("f2", "2026-02", "PV31"), ("f3", "2026-02", "PV31")]

    third = plan_and_refresh(warehouse, project)  # nothing new: nothing restated
    assert third["restated"] == {} and set(third["unchanged"]) == {"marts.cgc_firm_wave", "marts.impact_firm_proposal"}
    assert _mart(warehouse) == rows

    with warehouse_connect(warehouse) as connection:  # an erasure of f1, and a first impact simulation
        connection.execute("DELETE FROM raw.cgc_responses WHERE firm_id = 'f1'")
        connection.execute("INSERT INTO raw.impact_simulations BY NAME SELECT 's1' AS simulation_id, TIMESTAMP '2026-03-01' AS submitted_at, "
                           "'wet-a' AS proposal, 'f1' AS firm_id, 'C' AS sector, 10.0 AS cost_change, 'h' AS file_hash, 1 AS row_number, "
                           "TIMESTAMP '2026-03-01' AS loaded_at")
    fourth = plan_and_refresh(warehouse, project)
    assert fourth["restated"] == {"marts.cgc_firm_wave": "2026-01", "marts.impact_firm_proposal": "all"}
    assert [(row[0], row[1]) for row in _mart(warehouse)] == [("f2", "2026-02"), ("f3", "2026-02")]
    assert [row[:2] for row in _mart(warehouse, "marts.impact_firm_proposal")] == [("f1", "wet-a")]

    with warehouse_connect(warehouse) as connection:  # a wave planned ahead of today, and a late answer for February
        _cgc_row(connection, "r4", "2028-06", "f2", 1, 4)
        _cgc_row(connection, "r5", "2026-02", "f4", 1, 5)
    fifth = plan_and_refresh(warehouse, project)
    # The months up to 2028-06 are new to SQLMesh (the execution time moves past the last month with rows): the plan
    # makes them; February is restated.
    assert fifth["restated"] == {"marts.cgc_firm_wave": "2026-02"}
    assert [(row[0], row[1]) for row in _mart(warehouse)] == [("f2", "2026-02"), ("f2", "2028-06"), ("f3", "2026-02"), ("f4", "2026-02")]

    with warehouse_connect(warehouse) as connection:  # the wave ahead erased again: its month is still restated
        connection.execute("DELETE FROM raw.cgc_responses WHERE wave = '2028-06'")
    sixth = plan_and_refresh(warehouse, project)
    assert sixth["restated"] == {"marts.cgc_firm_wave": "2028-06"}
    assert [(row[0], row[1]) for row in _mart(warehouse)] == [("f2", "2026-02"), ("f3", "2026-02"), ("f4", "2026-02")]

    fresh = tmp_path / "fresh.duckdb"  # the same raw rows, built from nothing
    with warehouse_connect(fresh) as connection:
        for name in two_sources:
            ensure_ingest_tables(connection, name)
        connection.execute(warehouse_attach_sql(warehouse, warehouse_key(), alias="built", read_only=True))
        for table in ("cgc_responses", "impact_simulations"):
            connection.execute(f"INSERT INTO raw.{table} SELECT * FROM built.raw.{table}")
        connection.execute("DETACH built")
    plan_and_refresh(fresh, project)
    assert _mart(fresh) == _mart(warehouse) and _mart(fresh, "marts.impact_firm_proposal") == _mart(warehouse, "marts.impact_firm_proposal")
