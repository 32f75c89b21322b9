"""SQLMesh's YAML unit tests run under pytest, and every model has one."""

from __future__ import annotations

from pathlib import Path

from core.sqlmesh_project import run_unit_tests

ROOT = Path(__file__).resolve().parent.parent


def test_sqlmesh_unit_tests_pass(tmp_path):
    result = run_unit_tests(tmp_path / "unit.duckdb")
    assert result.testsRun >= 3
    assert result.wasSuccessful(), [str(f) for f in result.failures + result.errors]


def test_every_model_has_a_unit_test():
    models = {p.stem for p in (ROOT / "models").rglob("*.sql")}
    tests = {p.stem.removeprefix("test_") for p in (ROOT / "tests" / "models").glob("test_*.yaml")}
    assert models and models <= tests
