"""Released data: the files in `data/exports/`, read through a DuckDB that can open nothing else.

Dashboards read only the released Parquet files, through an in-memory DuckDB
whose file access is locked to the exports folder: the warehouse, the landing
zone and every other path are refused by DuckDB itself. Releases are in long
format (one row per period x level x group x measure x statistic x category;
see the codebook next to each release).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl

from core.files import public_dir
from core.settings import paths
from privacy.loading import privacy_settings


def _exports(exports: Path | None) -> Path:
    return (exports or paths().exports).resolve()


def released_connection(exports: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read files under `exports/` and nothing else."""
    folder = _exports(exports)
    public_dir(folder, top=folder)
    connection = duckdb.connect(":memory:")
    connection.execute("SET allowed_directories = [?]", [f"{folder}/"])
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def _read(exports: Path | None, pattern: str, sql: str) -> pl.DataFrame:
    """Run `sql` over the Parquet files matching `pattern` (relative to the exports folder); empty if none."""
    folder = _exports(exports)
    if not any(folder.glob(pattern)):
        return pl.DataFrame()
    connection = released_connection(exports)
    try:
        return connection.execute(sql.format(files=f"read_parquet('{folder}/{pattern}', union_by_name = true)")).pl()
    finally:
        connection.close()


def release_cells(name: str, exports: Path | None = None) -> pl.DataFrame:
    """All released cells of one release spec, the newest version per period only."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a release name: {name!r}")
    return _read(
        exports,
        f"{name}/{name}_*.parquet",
        "SELECT * FROM {files} QUALIFY version = MAX(version) OVER (PARTITION BY period) "
        "ORDER BY period, level, measure, statistic, category",
    )


def running_cells(name: str, exports: Path | None = None) -> pl.DataFrame:
    """All released days of a running series (one file per open proposal, growing by a day at a time)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a release name: {name!r}")
    return _read(exports, f"{name}/{name}_*.parquet", "SELECT * FROM {files} ORDER BY proposal, day, level, measure")


def privacy_ledger(exports: Path | None = None) -> pl.DataFrame:
    """The public ledger: one row per release (every version), newest period first."""
    return _read(exports, "privacy_ledger.parquet", "SELECT * FROM {files} ORDER BY period DESC, release_name, version DESC")


def privacy_budget(exports: Path | None = None) -> pl.DataFrame:
    """Privacy loss spent per dataset per period, beside the configured budget per period."""
    spent = _read(exports, "privacy_budget.parquet", "SELECT * FROM {files} ORDER BY dataset, period")
    if spent.is_empty():
        return spent
    budgets = pl.DataFrame(
        [
            {"dataset": name, "epsilon_budget": d.budget_per_period.epsilon, "delta_budget": d.budget_per_period.delta}
            for name, d in privacy_settings().datasets.items()
        ]
    )
    return spent.join(budgets, on="dataset", how="left")


def suppression_reasons(frame: pl.DataFrame) -> list[str]:
    """The distinct reasons why cells are not published, in the order they occur."""
    if frame.is_empty() or "suppression_reason" not in frame.columns:
        return []
    return frame.filter(pl.col("suppressed"))["suppression_reason"].drop_nulls().unique(maintain_order=True).to_list()
