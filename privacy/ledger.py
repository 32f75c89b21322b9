"""The persistent privacy ledger: every release charged, budgets enforced.

`privacy.ledger` holds one row per release (it contains no personal data, so
everyone may read it). A budget is set per dataset per period (a survey
wave) in `config/privacy.yaml`. `charge` runs inside the caller's
transaction together with the storing of the release, so a release is
either charged and stored, or neither; DuckDB's single writer per file
means two runs cannot interleave their check and charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

LEDGER_DDL = """
CREATE SCHEMA IF NOT EXISTS privacy;
CREATE TABLE IF NOT EXISTS privacy.ledger (
    release_id VARCHAR PRIMARY KEY,  -- '<release>/<period>/v<version>'
    release_name VARCHAR NOT NULL,   -- e.g. 'cgc_balance'
    dataset VARCHAR NOT NULL,        -- the budgeted dataset, e.g. 'cgc'
    period VARCHAR NOT NULL,         -- the budget period, e.g. wave '2025-01'
    version INTEGER NOT NULL,
    measures VARCHAR NOT NULL,       -- what was released
    privacy_unit VARCHAR NOT NULL,   -- whose participation is protected
    epsilon DOUBLE NOT NULL,
    delta DOUBLE NOT NULL,
    mechanism VARCHAR NOT NULL,
    sensitivity DOUBLE NOT NULL,     -- L1 sensitivity of the released vector
    noise_scale DOUBLE NOT NULL,
    spec_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
"""


@dataclass(frozen=True)
class Charge:
    """One release's entry in the ledger."""

    release_id: str
    release_name: str
    dataset: str
    period: str
    version: int
    measures: str
    privacy_unit: str
    epsilon: float
    delta: float
    mechanism: str
    sensitivity: float
    noise_scale: float
    spec_hash: str
    created_at: datetime


class BudgetExceeded(RuntimeError):
    """A release would spend more than the period's budget; nothing was released."""

    def __init__(self, dataset: str, period: str, remaining: float, requested: float):
        super().__init__(
            f"privacy budget of dataset '{dataset}' for period {period} is insufficient: "
            f"epsilon {remaining:.4g} left, {requested:.4g} requested"
        )
        self.dataset, self.period, self.remaining, self.requested = dataset, period, remaining, requested


def ensure_ledger(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(LEDGER_DDL)


def spent(connection: duckdb.DuckDBPyConnection, dataset: str, period: str) -> float:
    """Epsilon already spent on `dataset` in `period`."""
    row = connection.execute(
        "SELECT COALESCE(SUM(epsilon), 0) FROM privacy.ledger WHERE dataset = ? AND period = ?", [dataset, period]
    ).fetchone()
    return float(row[0])


def check(connection: duckdb.DuckDBPyConnection, dataset: str, period: str, budget: float, epsilon: float) -> None:
    """Raise `BudgetExceeded` if `epsilon` more would overspend (a tolerance of 1e-9 for float sums)."""
    remaining = budget - spent(connection, dataset, period)
    if epsilon > remaining + 1e-9:
        raise BudgetExceeded(dataset, period, max(remaining, 0.0), epsilon)


def charge(connection: duckdb.DuckDBPyConnection, entry: Charge, budget: float) -> None:
    """Check and charge; call inside the transaction that also stores the release."""
    check(connection, entry.dataset, entry.period, budget, entry.epsilon)
    connection.execute(
        "INSERT INTO privacy.ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            entry.release_id, entry.release_name, entry.dataset, entry.period, entry.version, entry.measures,
            entry.privacy_unit, entry.epsilon, entry.delta, entry.mechanism, entry.sensitivity, entry.noise_scale,
            entry.spec_hash, entry.created_at,
        ],
    )


def find(connection: duckdb.DuckDBPyConnection, release_id: str) -> dict | None:
    """The ledger entry of a release, if it was made."""
    ensure_ledger(connection)
    frame = connection.execute("SELECT * FROM privacy.ledger WHERE release_id = ?", [release_id]).pl()
    return frame.to_dicts()[0] if frame.height else None
