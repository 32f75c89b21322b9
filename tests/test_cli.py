"""The `mkbvm` commands a data engineer uses for releases: a new version through Dagster, the budget table."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import make_installation


@pytest.fixture()
def installation(pipeline, tmp_path, monkeypatch):
    target = make_installation(tmp_path / "installation")
    shutil.copytree(pipeline.data_dir, target.data_dir)
    monkeypatch.setenv("MKB_DATA_DIR", str(target.data_dir))
    return target


def test_a_new_version_is_refused_when_the_budget_is_spent_and_the_budget_shows_it(installation):
    runner = CliRunner()
    budget = runner.invoke(app, ["budget"])
    # the wave's zCDP releases (rho 0.08 + 0.0527) are epsilon 2.4995 at delta 1e-6 together: 3.0 - 2.4995 is left
    assert budget.exit_code == 0 and "2026-10" in budget.output and "0.501" in budget.output, budget.output
    again = runner.invoke(app, ["release", "cgc_profile", "--period", "2026-10"])
    assert again.exit_code == 0 and "0 released, 1 served again" in again.output, again.output
    refused = runner.invoke(app, ["release", "cgc_profile", "--period", "2026-10", "--version", "2"])
    assert refused.exit_code == 1
    assert "refused: privacy budget of dataset 'cgc' for period 2026-10 is insufficient" in " ".join(refused.output.split())


def test_unknown_periods_and_releases_are_named(installation):
    runner = CliRunner()
    unknown = runner.invoke(app, ["release", "cgc_profile", "--period", "2030-01"])
    assert unknown.exit_code == 1 and "periods ['2030-01'] are not closed or have no data" in " ".join(unknown.output.split())
    missing = runner.invoke(app, ["release", "geen_release"])
    assert missing.exit_code == 2 and "Unknown release 'geen_release'" in missing.output
