"""Contribution bounding: how many rows of one unit a release may see per period.

Two routes, chosen by the spec:

* **Source grain** (`source_grain: [unit, period]`, `max_rows_per_unit: 1`):
  the private mart holds one row per unit per period by construction (the
  SQLMesh model groups by that grain). The engine does not trust this: it is
  checked exactly by `grain_violations`, once after every build of the mart
  (a blocking Dagster asset check, so no release runs on an unchecked build)
  and by the release itself whenever it is not told that the check just ran.
  Checking once per build instead of once per release keeps a release close
  to a plain aggregation: at 10 million rows the whole release took 1.24
  times plain DuckDB SQL, and the check about 1.1 times it, once per build
  (`benchmarks/release_benchmark.py`).
* **Capped rows** (everything else, e.g. debt claims per person): the release
  keeps at most `max_rows_per_unit` rows per unit and period, chosen by the
  spec's `keep` order, inside the same DuckDB query as the aggregation.

Numeric values are clamped to their declared bounds in the aggregation itself
(`privacy.statistics`), so no single value can weigh more than the bounds allow.
"""

from __future__ import annotations

import duckdb

from privacy.spec import ReleaseSpec


def literal(value: str) -> str:
    """A SQL string literal (quotes doubled).

    >>> literal("O'Neill")
    "'O''Neill'"
    """
    return "'" + str(value).replace("'", "''") + "'"


class ContributionBoundViolated(RuntimeError):
    """The source holds more rows per unit and period than the spec allows; nothing is released."""


def period_filter(spec: ReleaseSpec, periods: list[str]) -> str:
    """`period IN ('2025-01', ...)`: a literal list, which DuckDB filters far faster than a list parameter.

    >>> from privacy.loading import release_specs
    >>> print(period_filter(release_specs()["cgc_balance"], ["2025-01", "2025-02"]))
    "wave" IN ('2025-01', '2025-02')
    """
    return f'"{spec.period}" IN ({", ".join(literal(p) for p in periods) or "NULL"})'


def bounded_source_sql(spec: ReleaseSpec, periods: list[str]) -> str:
    """SQL for the source rows of `periods`, at most the allowed rows per unit and period.

    >>> from privacy.loading import release_specs
    >>> "QUALIFY" in bounded_source_sql(release_specs()["cgc_balance"], ["2025-01"])
    False
    """
    unit, period = spec.privacy_unit.column, spec.period
    rows = f"SELECT * FROM {spec.source} AS source_row WHERE {period_filter(spec, periods)}"
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


def _violations(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec, periods: list[str] | None, key: str) -> dict[str, int]:
    unit, period = spec.privacy_unit.column, spec.period
    where = "" if periods is None else f"WHERE {period_filter(spec, periods)}"
    sql = f"""
        SELECT CAST("{period}" AS VARCHAR) AS period, COUNT("{unit}") - COUNT(DISTINCT {key}) AS extra_rows,
               count_if("{unit}" IS NULL) AS rows_without_unit
        FROM {spec.source} {where}
        GROUP BY ALL
        HAVING extra_rows > 0 OR rows_without_unit > 0
    """
    return {row[0]: int(row[1]) + int(row[2]) for row in connection.execute(sql).fetchall()}


def grain_violations(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec, periods: list[str] | None = None) -> dict[str, int]:
    """Per period, the rows beyond one per unit (empty when the source grain holds); exact.

    First pass on 64-bit hashes of the unit, which is cheaper than comparing
    the units themselves: two rows of one unit always share a hash, so a
    period whose distinct hashes number as many as its rows has no duplicate.
    Only periods that look doubled (a real duplicate, or a hash collision)
    are counted again exactly.
    """
    suspects = _violations(connection, spec, periods, f'hash("{spec.privacy_unit.column}")')
    if not suspects:
        return {}
    return _violations(connection, spec, sorted(suspects), f'"{spec.privacy_unit.column}"')


def require_grain(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec, periods: list[str]) -> None:
    """Raise `ContributionBoundViolated` unless every period has at most one row per unit."""
    violations = grain_violations(connection, spec, periods)
    if violations:
        detail = ", ".join(f"{p}: {n} rows too many" for p, n in sorted(violations.items()))
        raise ContributionBoundViolated(
            f"{spec.name}: contribution.source_grain: {spec.source} must hold one row per "
            f"{spec.privacy_unit.column} per {spec.period}, but it does not ({detail}); nothing was released"
        )
