"""Dashboards read released data only: DuckDB itself refuses everything else."""

from __future__ import annotations

import ast
from pathlib import Path

import duckdb
import pytest

from core.archive import archive_of, sealed_files
from dashboards.cgc import balance_releases, profile_releases
from dashboards.released import privacy_budget, privacy_ledger, released_connection

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
FORBIDDEN_MODULES = {
    "core.warehouse", "core.ingest", "privacy.engine", "privacy.ledger", "privacy.statistics", "privacy.bounding", "privacy.mechanisms",
    # AVG work that reads or changes the warehouse runs in the pipeline; pages only queue a request (avg/requests.py)
    "avg.erasure", "avg.retention", "avg.inzage", "avg.runner", "avg.store", "avg.landing_rewrite", "core.pseudonymise",
}
AVG_MODULES_FOR_PAGES = ("avg.requests", "avg.settings", "avg.subjects", "avg.deletions")
INTERNAL_SCHEMAS = ("raw.", "staging.", "marts.", "quarantine")
PERSONAL_COLUMNS = {"firm_id", "kvk_number", "response_id", "free_text"}


def _trees():
    for path in sorted(DASHBOARDS.rglob("*.py")):
        yield path, ast.parse(path.read_text())


def test_dashboard_connection_cannot_open_the_warehouse_or_landing(pipeline):
    connection = released_connection(pipeline.exports)
    forbidden = [
        f"ATTACH '{pipeline.warehouse}' AS warehouse (READ_ONLY)",
        f"SELECT * FROM read_blob('{next(iter(sealed_files(archive_of(pipeline.landing), 'cgc').values()))}')",
        f"SELECT * FROM glob('{pipeline.landing / 'cgc'}/*')",
        f"SELECT * FROM read_parquet('{pipeline.synthetic / 'firms.parquet'}')",
        f"SELECT * FROM read_parquet('{pipeline.exports}/../synthetic/firms.parquet')",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
    ]
    for statement in forbidden:
        with pytest.raises(duckdb.Error):
            connection.execute(statement)
    # ... while released data stays readable
    for release in ("cgc_balance", "cgc_profile"):
        assert connection.execute(f"SELECT COUNT(*) FROM read_parquet('{pipeline.exports}/{release}/*.parquet')").fetchone()[0] > 0
    assert connection.execute(f"SELECT COUNT(*) FROM read_parquet('{pipeline.exports}/privacy_ledger.parquet')").fetchone()[0] > 0


def test_dashboard_data_is_released_long_format_without_personal_columns(pipeline):
    for cells in (balance_releases(pipeline.exports), profile_releases(pipeline.exports)):
        assert {"period", "level", "measure", "statistic", "estimate", "ci_low", "ci_high", "suppressed"} <= set(cells.columns)
        assert not PERSONAL_COLUMNS & set(cells.columns)
        assert cells.filter(cells["suppressed"])["estimate"].null_count() == cells["suppressed"].sum()  # 'x' carries no figure
    for frame in (privacy_ledger(pipeline.exports), privacy_budget(pipeline.exports)):
        assert not frame.is_empty() and not PERSONAL_COLUMNS & set(frame.columns)


def test_dashboards_never_import_the_pipeline_or_the_privacy_engine():
    for path, tree in _trees():
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
        }
        assert not imported & FORBIDDEN_MODULES, path
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "connect"]
        for call in calls:  # the only connection dashboards make is in-memory
            assert call.args and isinstance(call.args[0], ast.Constant) and call.args[0].value == ":memory:", path


def test_dashboards_name_no_internal_tables_and_allow_no_html():
    for path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not any(schema in node.value for schema in INTERNAL_SCHEMAS), (path, node.value)
            if isinstance(node, ast.keyword) and node.arg == "unsafe_allow_html":
                pytest.fail(f"{path}: unsafe_allow_html")
            # st.html only with the app's own constant HTML (the page language in app.py), never with text from a variable
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "html":
                assert node.args and isinstance(node.args[0], ast.Constant), f"{path}: st.html with HTML that is not a constant"


def test_the_avg_modules_pages_use_load_nothing_that_reads_the_warehouse():
    """An inzage export or an erasure is queued by a page and made by the pipeline: what pages import of avg/ cannot get at the
    warehouse or the pseudonym key, not even through an import of an import."""
    import subprocess
    import sys

    probe = (f"import sys; import {', '.join(AVG_MODULES_FOR_PAGES)}; "
             f"print(sorted(m for m in {sorted(FORBIDDEN_MODULES)!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=DASHBOARDS.parent).stdout.strip()
    assert loaded == "[]"
    avg_imports = {n.module for _, tree in _trees() for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("avg")}
    assert avg_imports and avg_imports <= set(AVG_MODULES_FOR_PAGES)
