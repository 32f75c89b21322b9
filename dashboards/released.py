"""Released data: the files in `data/exports/`, read through a DuckDB that can open nothing else.

Dashboards read only the released Parquet files, through an in-memory DuckDB
whose file access is locked to the exports folder: the warehouse, the landing
zone and every other path are refused by DuckDB itself. Releases are in long
format (one row per period x level x group x measure x statistic x category;
see the codebook next to each release).
"""

from __future__ import annotations

import os
import re
from functools import cache, lru_cache
from pathlib import Path

import duckdb
import polars as pl
import yaml

from core.files import public_dir
from core.settings import CONFIG_DIR, paths
from dashboards.formatting import nl_number
from privacy.loading import privacy_settings, release_specs


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
    """Run `sql` over the Parquet files matching `pattern` (relative to the exports folder); empty if none.

    Kept in memory per set of files (name, size and modification time of each): a released file is written once and
    never changed, so a page's rerun reads the files again only when a new release or version has been exported.
    """
    folder = _exports(exports)
    files = sorted(folder.glob(pattern))
    if not files:
        return pl.DataFrame()
    signature = tuple((path.name, info.st_size, info.st_mtime_ns) for path in files for info in (path.stat(),))
    return _read_files(str(folder), pattern, sql, signature).clone()


@lru_cache(maxsize=128)
def _read_files(folder: str, pattern: str, sql: str, signature: tuple) -> pl.DataFrame:
    """`_read` for one set of files (`signature` makes a new export a new entry)."""
    connection = released_connection(Path(folder))
    try:
        return connection.execute(sql.format(files=f"read_parquet('{folder}/{pattern}', union_by_name = true)")).pl()
    finally:
        connection.close()


def released_files(pattern: str, sql: str, exports: Path | None = None) -> pl.DataFrame:
    """`sql` over the released Parquet files matching `pattern` under the exports folder ({files} in `sql`), through
    the locked connection; empty if there are none."""
    return _read(exports, pattern, sql)


def release_cells(name: str, exports: Path | None = None) -> pl.DataFrame:
    """All released cells of one release spec, the newest version per period only, with the display rule applied."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a release name: {name!r}")
    cells = _read(
        exports,
        f"{name}/{name}_*.parquet",
        "SELECT * FROM {files} QUALIFY version = MAX(version) OVER (PARTITION BY period) "
        "ORDER BY period, level, measure, statistic, category",
    )
    return apply_display_rule(cells, name)


DISPLAY_CONFIG = "MKB_DISPLAY_CONFIG"  # another rule file (the tests' small installation uses one); default config/display.yaml


def display_limits() -> dict[str, float]:
    """The largest half-width of the combined interval a shown figure may have, per kind (config/display.yaml)."""
    return _limits(os.environ.get(DISPLAY_CONFIG) or str(CONFIG_DIR / "display.yaml"))


@cache
def _limits(path: str) -> dict[str, float]:
    rules = yaml.safe_load(Path(path).read_text())["max_half_width"]
    return {kind: float(limit) for kind, limit in rules.items()}


def _kind(statistic: str) -> str:
    return "quantile" if re.fullmatch(r"p\d+", statistic or "") else statistic


def half_width_limits(cells: pl.DataFrame, name: str, limits: dict[str, float] | None = None) -> pl.Series:
    """Per cell: the largest half-width it may have and still be shown, in the unit of its estimate.

    Balances and shares: points. Means, quantiles and ratios: a fraction of the
    measure's (the ratio's) declared range. Counts and sums: a fraction of the figure itself.
    """
    limits, spec = limits or display_limits(), release_specs().get(name)
    ranges = {m.name: m.bounds[1] - m.bounds[0] for m in [*spec.measures, *spec.ratios] if hasattr(m, "bounds")} if spec else {}
    out = []
    for measure, statistic, estimate in cells.select("measure", "statistic", "estimate").iter_rows():
        kind = _kind(statistic)
        limit = limits.get(kind)
        if limit is None:
            out.append(None)
        elif kind in ("mean", "quantile", "ratio"):
            out.append(limit * ranges[measure] if measure in ranges else None)
        elif kind in ("count", "sum"):
            out.append(None if estimate is None else limit * abs(estimate))
        else:
            out.append(limit)
    return pl.Series("_limit", out, dtype=pl.Float64)


def apply_display_rule(cells: pl.DataFrame, name: str, limits: dict[str, float] | None = None) -> pl.DataFrame:
    """Cells whose combined interval is too wide to say something become 'x', with the reason in Dutch.

    The rule (config/display.yaml): a cell is shown only when the half-width
    of its 95 % interval (ci_low - ci_high, noise and sampling error together)
    is at most the limit of its kind (`limits`: those of the rule file by default).
    Cells already suppressed keep their reason.

    >>> cells = pl.DataFrame({"measure": ["q", "q"], "statistic": ["balance", "balance"], "estimate": [5.0, 8.0],
    ...     "ci_low": [1.0, -20.0], "ci_high": [9.0, 36.0], "basis": [900, 40], "suppressed": [False, False],
    ...     "suppression_reason": [None, None]})
    >>> shown = apply_display_rule(cells, "no_such_release", {"balance": 10.0})
    >>> shown["suppressed"].to_list(), shown["suppression_reason"][1]
    ([False, True], 'te onzeker om te tonen: de marge is ±28,0, meer dan ±10,0')
    """
    if cells.is_empty() or not {"ci_low", "ci_high", "suppressed"} <= set(cells.columns):
        return cells
    half = ((pl.col("ci_high") - pl.col("ci_low")) / 2).alias("_half")
    marked = cells.with_columns(half_width_limits(cells, name, limits)).with_columns(half)
    too_wide = ~pl.col("suppressed") & pl.col("_limit").is_not_null() & pl.col("_half").is_not_null() & (pl.col("_half") > pl.col("_limit"))
    reasons = [None if not (wide and not hidden) else f"te onzeker om te tonen: de marge is ±{nl_number(h)}, meer dan ±{nl_number(limit)}"
               for wide, hidden, h, limit in marked.select(too_wide.alias("w"), "suppressed", "_half", "_limit").iter_rows()]
    marked = marked.with_columns(pl.Series("_reason", reasons, dtype=pl.Utf8), too_wide.alias("_wide"))
    uncertain = [c for c in ("estimate", "ci_low", "ci_high", "dp_low", "dp_high", "sampling_se", "basis") if c in cells.columns]
    return marked.with_columns(
        [pl.when(pl.col("_wide")).then(None).otherwise(pl.col(c)).alias(c) for c in uncertain]
        + [pl.when(pl.col("_wide")).then(pl.col("_reason")).otherwise(pl.col("suppression_reason")).alias("suppression_reason"),
           (pl.col("suppressed") | pl.col("_wide")).alias("suppressed")]
    ).drop("_limit", "_half", "_reason", "_wide")


def running_cells(name: str, exports: Path | None = None) -> pl.DataFrame:
    """All released days of a running series (one file per open proposal, growing by a day at a time)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a release name: {name!r}")
    return _read(exports, f"{name}/{name}_*.parquet", "SELECT * FROM {files} ORDER BY proposal, day, level, measure")


def privacy_ledger(exports: Path | None = None) -> pl.DataFrame:
    """The public ledger: one row per release (every version), newest period first."""
    return _read(exports, "privacy_ledger.parquet", "SELECT * FROM {files} ORDER BY period DESC, release_name, version DESC")


def privacy_yearly_loss(exports: Path | None = None) -> pl.DataFrame:
    """One unit's privacy loss over every 12 months, per kind of unit, beside the yearly cap (from the ledger file)."""
    return _read(exports, "privacy_yearly_loss.parquet", "SELECT * FROM {files} ORDER BY unit_kind, window_end")


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
