"""What the periods of a derived table were made from, so a step makes again only the periods whose input changed.

The fingerprint of a group of rows is their count and the sum of their row
hashes (DuckDB's HASH), in one streamed pass: any new, changed or removed
row changes it. A step combines it with what else its rows depend on (its
code, its settings, released cells) into one hash per period and keeps
those in `meta.period_fingerprints` (scope, period, fingerprint), in the
same transaction as the rows they describe. Used by the debt months
(`debts/pipeline.py`), the theme marts (`core/theme_pipeline.py`) and the
creditors' files (`debts/creditor_files.py`, which keep theirs beside the
files). The SQLMesh marts keep theirs through SQLMesh's adapter
(`core/sqlmesh_project.py`).
"""

from __future__ import annotations

import hashlib

import duckdb

TABLE = "meta.period_fingerprints"


def row_hashes(connection: duckdb.DuckDBPyConnection, relation: str, group: str) -> dict[str, tuple[int, str]]:
    """Value of `group` -> (rows, the sum of their row hashes over every column) of `relation` (a table or a
    registered frame)."""
    query = f"SELECT CAST({group} AS VARCHAR), COUNT(*), CAST(SUM(HASH(r)) AS VARCHAR) FROM {relation} AS r GROUP BY 1"
    return {key: (count, total) for key, count, total in connection.execute(query).fetchall()}


def fingerprint(*parts: object) -> str:
    """One hash of `parts` (their text forms)."""
    return hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()


def changed(current: dict[str, str], recorded: dict[str, str]) -> list[str]:
    """The periods whose fingerprint differs, new ones and gone ones included, sorted."""
    return sorted(period for period in current.keys() | recorded.keys() if current.get(period) != recorded.get(period))


def recorded(connection: duckdb.DuckDBPyConnection, scope: str) -> dict[str, str]:
    """Period -> fingerprint as last recorded for `scope` (empty: never made)."""
    connection.execute("CREATE SCHEMA IF NOT EXISTS meta")
    connection.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (scope VARCHAR, period VARCHAR, fingerprint VARCHAR)")
    return dict(connection.execute(f"SELECT period, fingerprint FROM {TABLE} WHERE scope = ?", [scope]).fetchall())


def record(connection: duckdb.DuckDBPyConnection, scope: str, fingerprints: dict[str, str]) -> None:
    """`fingerprints` as what `scope` was made from, in place of the old ones (inside the caller's transaction)."""
    connection.execute(f"DELETE FROM {TABLE} WHERE scope = ?", [scope])
    if fingerprints:
        connection.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?)", [[scope, p, f] for p, f in sorted(fingerprints.items())])
