"""Contribution bounding: how many rows of one unit a release may see per period.

Two routes, chosen by the spec:

* **Source grain** (`source_grain: [unit, period]`, `max_rows_per_unit: 1`):
  the private mart holds one row per unit per period by construction (the
  SQLMesh model groups by that grain). The engine does not trust this: it is
  checked exactly by `grain_violations`, once after every build of the mart
  (a blocking Dagster asset check, so no release runs on an unchecked build)
  and by the release itself whenever it is not told that the check just ran.
  Checking once per build instead of once per release keeps releases as fast
  as a plain aggregation (see `benchmarks/release_benchmark.py`).
* **Capped rows** (everything else, e.g. debt claims per person): the release
  keeps at most `max_rows_per_unit` rows per unit and period, chosen by the
  spec's `keep` order, inside the same DuckDB query as the aggregation.

Numeric values are clamped to their declared bounds in the aggregation itself
(`privacy.statistics`), so no single value can weigh more than the bounds allow.
"""

from __future__ import annotations

import duckdb

from privacy.spec import ReleaseSpec


class ContributionBoundViolated(RuntimeError):
    """The source holds more rows per unit and period than the spec allows; nothing is released."""


def bounded_source_sql(spec: ReleaseSpec) -> str:
    """SQL for the source rows of the periods in parameter 1 (a list), at most the allowed rows per unit.

    >>> from privacy.spec import release_specs
    >>> "QUALIFY" in bounded_source_sql(release_specs()["cgc_balance"])
    False
    """
    unit, period = spec.privacy_unit.column, spec.period
    rows = f'SELECT * FROM {spec.source} AS source_row WHERE list_contains(?, CAST("{period}" AS VARCHAR))'
    if spec.contribution.source_grain is not None:
        return rows
    keep = spec.contribution.keep or unit
    column, _, direction = keep.partition(" ")
    # Ties in the keep order are broken by a hash of the whole row: deterministic, whatever the storage order.
    order = f'"{column}" {direction or "ASC"}, hash(source_row)'
    return (
        f'{rows} QUALIFY ROW_NUMBER() OVER (PARTITION BY "{unit}", "{period}" ORDER BY {order}) '
        f"<= {spec.contribution.max_rows_per_unit}"
    )


def grain_violations(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec, periods: list[str] | None = None) -> dict[str, int]:
    """Per period, the rows beyond one per unit (empty when the source grain holds); exact."""
    unit, period = spec.privacy_unit.column, spec.period
    where = "" if periods is None else f'WHERE list_contains(?, CAST("{period}" AS VARCHAR))'
    sql = f"""
        SELECT CAST("{period}" AS VARCHAR) AS period, COUNT("{unit}") - COUNT(DISTINCT "{unit}") AS extra_rows,
               COUNT(*) FILTER (WHERE "{unit}" IS NULL) AS rows_without_unit
        FROM {spec.source} {where}
        GROUP BY ALL
        HAVING extra_rows > 0 OR rows_without_unit > 0
    """
    result = connection.execute(sql, [] if periods is None else [periods]).fetchall()
    return {row[0]: int(row[1]) + int(row[2]) for row in result}


def require_grain(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec, periods: list[str]) -> None:
    """Raise `ContributionBoundViolated` unless every period has at most one row per unit."""
    violations = grain_violations(connection, spec, periods)
    if violations:
        detail = ", ".join(f"{p}: {n} rows too many" for p, n in sorted(violations.items()))
        raise ContributionBoundViolated(
            f"{spec.name}: contribution.source_grain: {spec.source} must hold one row per "
            f"{spec.privacy_unit.column} per {spec.period}, but it does not ({detail}); nothing was released"
        )
