"""The persistent privacy ledger: every release charged, budgets per dataset per period enforced.

Two tables in the warehouse's `privacy` schema (no personal data: everyone may read them):

* `privacy.ledger`: one row per release (release id, dataset, period,
  version, query, unit, epsilon, delta, mechanism, per-component noise, spec
  hash, time).
* `privacy.budget`: one row per dataset and period with what is spent.

Check and charge are one statement: a conditional `UPDATE` of the period's
budget row that only succeeds while the new total stays within the budget,
in the same transaction that stores the ledger entry and the released cells.
Two transactions charging the same period write the same row, so DuckDB
lets only one of them commit (the other gets a conflict, retries, and then
sees the new total); two processes cannot even hold the file at once. So
releases can race but never overspend together; a test races two processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

LEDGER_DDL = """
CREATE SCHEMA IF NOT EXISTS privacy;
CREATE TABLE IF NOT EXISTS privacy.budget (
    dataset VARCHAR NOT NULL,        -- the budgeted dataset, e.g. 'cgc'
    period VARCHAR NOT NULL,         -- e.g. survey wave '2025-01'
    epsilon_spent DOUBLE NOT NULL,
    delta_spent DOUBLE NOT NULL,
    releases INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (dataset, period)
);
CREATE TABLE IF NOT EXISTS privacy.ledger (
    release_id VARCHAR PRIMARY KEY,  -- '<release>/<period>/v<version>'
    release_name VARCHAR NOT NULL,   -- the spec, e.g. 'cgc_balance'
    dataset VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    query VARCHAR NOT NULL,          -- what was released, in words
    privacy_unit VARCHAR NOT NULL,   -- whose participation is protected
    epsilon DOUBLE NOT NULL,         -- as certified by OpenDP's privacy maps
    delta DOUBLE NOT NULL,
    mechanism VARCHAR NOT NULL,
    components VARCHAR NOT NULL,     -- JSON: per noisy vector its sensitivity, scale and epsilon
    bounding VARCHAR NOT NULL,       -- how contributions were bounded
    spec_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
"""

TOLERANCE = 1e-9  # floating-point slack when summing epsilons


@dataclass(frozen=True)
class Entry:
    """One release's line in the ledger."""

    release_id: str
    release_name: str
    dataset: str
    period: str
    version: int
    query: str
    privacy_unit: str
    epsilon: float
    delta: float
    mechanism: str
    components: str
    bounding: str
    spec_hash: str
    created_at: datetime


class BudgetExceeded(RuntimeError):
    """A release would spend more than its period's budget; nothing was released or charged."""

    def __init__(self, dataset: str, period: str, remaining: tuple[float, float], requested: tuple[float, float]):
        super().__init__(
            f"privacy budget of dataset '{dataset}' for period {period} is insufficient: "
            f"epsilon {remaining[0]:.4g} left, {requested[0]:.4g} requested"
            + (f" (delta {remaining[1]:.3g} left, {requested[1]:.3g} requested)" if requested[1] else "")
        )
        self.dataset, self.period, self.remaining, self.requested = dataset, period, remaining, requested


def execute_ddl(connection: duckdb.DuckDBPyConnection, sql: str, attempts: int = 20) -> None:
    """Run idempotent DDL; two connections creating the same schema at once conflict, so retry."""
    for attempt in range(attempts):
        try:
            connection.execute(sql)
            return
        except duckdb.TransactionException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


def ensure_ledger(connection: duckdb.DuckDBPyConnection) -> None:
    execute_ddl(connection, LEDGER_DDL)


def spent(connection: duckdb.DuckDBPyConnection, dataset: str, period: str) -> tuple[float, float]:
    """(epsilon, delta) already spent on `dataset` in `period`."""
    ensure_ledger(connection)
    row = connection.execute(
        "SELECT epsilon_spent, delta_spent FROM privacy.budget WHERE dataset = ? AND period = ?", [dataset, period]
    ).fetchone()
    return (float(row[0]), float(row[1])) if row else (0.0, 0.0)


def remaining(connection: duckdb.DuckDBPyConnection, dataset: str, period: str, budget: tuple[float, float]) -> tuple[float, float]:
    epsilon, delta = spent(connection, dataset, period)
    return max(budget[0] - epsilon, 0.0), max(budget[1] - delta, 0.0)


def charge(connection: duckdb.DuckDBPyConnection, entry: Entry, budget: tuple[float, float]) -> None:
    """Check and charge in one statement; call inside the transaction that also stores the release.

    Raises `BudgetExceeded` (and charges nothing) when the period's budget would be overspent.
    """
    connection.execute(
        "INSERT INTO privacy.budget VALUES (?, ?, 0, 0, 0, ?) ON CONFLICT DO NOTHING",
        [entry.dataset, entry.period, entry.created_at],
    )
    charged = connection.execute(
        """
        UPDATE privacy.budget
        SET epsilon_spent = epsilon_spent + $epsilon, delta_spent = delta_spent + $delta,
            releases = releases + 1, updated_at = $now
        WHERE dataset = $dataset AND period = $period
          AND epsilon_spent + $epsilon <= $epsilon_budget + $tolerance
          AND delta_spent + $delta <= $delta_budget + $tolerance * 1e-6
        RETURNING epsilon_spent
        """,
        {
            "epsilon": entry.epsilon, "delta": entry.delta, "now": entry.created_at, "dataset": entry.dataset,
            "period": entry.period, "epsilon_budget": budget[0], "delta_budget": budget[1], "tolerance": TOLERANCE,
        },
    ).fetchall()
    if not charged:
        raise BudgetExceeded(entry.dataset, entry.period, remaining(connection, entry.dataset, entry.period, budget), (entry.epsilon, entry.delta))
    connection.execute(
        "INSERT INTO privacy.ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            entry.release_id, entry.release_name, entry.dataset, entry.period, entry.version, entry.query, entry.privacy_unit,
            entry.epsilon, entry.delta, entry.mechanism, entry.components, entry.bounding, entry.spec_hash, entry.created_at,
        ],
    )


def find(connection: duckdb.DuckDBPyConnection, release_id: str) -> dict | None:
    """The ledger entry of a release, if it was made."""
    ensure_ledger(connection)
    return find_many(connection, [release_id]).get(release_id)


def find_many(connection: duckdb.DuckDBPyConnection, release_ids: list[str]) -> dict[str, dict]:
    """Ledger entries of the releases that were made, by release id (one query; the ledger must exist)."""
    frame = connection.execute("SELECT * FROM privacy.ledger WHERE list_contains(?, release_id)", [release_ids]).pl()
    return {row["release_id"]: row for row in frame.iter_rows(named=True)}


def spent_many(connection: duckdb.DuckDBPyConnection, dataset: str, periods: list[str]) -> dict[str, tuple[float, float]]:
    """(epsilon, delta) spent per period of `dataset` (0 for periods without releases; one query)."""
    rows = connection.execute(
        "SELECT period, epsilon_spent, delta_spent FROM privacy.budget WHERE dataset = ? AND list_contains(?, period)", [dataset, periods]
    ).fetchall()
    found = {period: (float(epsilon), float(delta)) for period, epsilon, delta in rows}
    return {period: found.get(period, (0.0, 0.0)) for period in periods}


def budget_overview(connection: duckdb.DuckDBPyConnection, budgets: dict[str, tuple[float, float]]) -> pl.DataFrame:
    """Per dataset and period: spent, budget and left (for Dagster metadata and `mkbvm budget`); needs the ledger tables."""
    frame = connection.execute("SELECT dataset, period, epsilon_spent, delta_spent, releases FROM privacy.budget ORDER BY dataset, period").pl()
    limits = pl.DataFrame(
        {"dataset": list(budgets), "epsilon_budget": [b[0] for b in budgets.values()], "delta_budget": [b[1] for b in budgets.values()]},
        schema={"dataset": pl.Utf8, "epsilon_budget": pl.Float64, "delta_budget": pl.Float64},
    )
    return frame.join(limits, on="dataset", how="left").with_columns(
        (pl.col("epsilon_budget") - pl.col("epsilon_spent")).clip(lower_bound=0).alias("epsilon_left")
    )
