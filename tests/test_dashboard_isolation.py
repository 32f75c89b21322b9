"""Dashboards read released data only: DuckDB itself refuses everything else."""

from __future__ import annotations

import ast
from pathlib import Path

import duckdb
import pytest

from dashboards.data import balance_releases, released_connection

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"


def test_dashboard_connection_cannot_open_the_warehouse_or_landing(pipeline):
    connection = released_connection(pipeline.exports)
    forbidden = [
        f"ATTACH '{pipeline.warehouse}' AS warehouse (READ_ONLY)",
        f"SELECT * FROM read_csv_auto('{next((pipeline.landing / 'cgc').glob('*.csv'))}')",
        f"SELECT * FROM read_parquet('{pipeline.synthetic / 'firms.parquet'}')",
        f"SELECT * FROM read_parquet('{pipeline.exports}/../synthetic/firms.parquet')",
        "SET enable_external_access = true",
    ]
    for statement in forbidden:
        with pytest.raises(duckdb.Error):
            connection.execute(statement)
    # ... while released data stays readable
    assert connection.execute(f"SELECT COUNT(*) FROM read_parquet('{pipeline.exports}/cgc_balance/*.parquet')").fetchone()[0] > 0


def test_dashboards_never_read_raw_staging_or_marts(pipeline):
    releases = balance_releases(pipeline.exports)
    assert {"balance", "balance_ci_low", "suppressed"} <= set(releases.columns)
    assert "firm_id" not in releases.columns
    for path in DASHBOARDS.rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
        }
        assert not imported & {"core.warehouse", "core.ingest", "privacy.balance_release", "privacy.ledger"}, path
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "connect"]
        for call in calls:  # the only connection dashboards make is in-memory
            assert call.args and isinstance(call.args[0], ast.Constant) and call.args[0].value == ":memory:", path
