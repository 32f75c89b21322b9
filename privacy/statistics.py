"""Bounded sufficient statistics, computed inside DuckDB in one pass over the source.

One query per release batch: the source's rows of the requested periods,
bounded per unit (see `privacy.bounding`), grouped by period and the finest
cell of the spec's levels, with every statistic any measure needs (counts,
clamped integer sums, histogram bins, category counts). The levels are then
rolled up from these cells in polars and completed with every public key,
so an empty group is released too (a group never exists only because a unit
does). Nothing here adds noise: the output is exact and private.
"""

from __future__ import annotations

from itertools import product

import duckdb
import polars as pl

from core import reference
from privacy.bounding import bounded_source_sql, literal
from privacy.sensitivity import numeric_steps, stat_columns
from privacy.spec import Balance, Count, Mean, Quantiles, ReleaseSpec, Shares, Sum

PERIOD = "period"
LEVEL = "level"


class SourceError(ValueError):
    """The source mart does not have what the spec says; the message names the field."""


NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")


def _is_text(column_type: str) -> bool:
    return column_type.upper() == "VARCHAR"


def _canonical(measure, category: str, column_type: str):
    """The value a category names in the column's own type: '4', '04' and '4.0' are all the number 4."""
    if not column_type.upper().startswith(NUMERIC_TYPES):
        return category  # text compares as written; other types compare on their one canonical text (below)
    try:
        return float(category)
    except ValueError:
        raise SourceError(f"measures.{measure.name}: category '{category}' is not a number, but {measure.column} is {column_type}") from None


def check_distinct(measure, groups: list[list[str]], column_type: str) -> None:
    """No two categories of a measure may name the same value: one answer must land in one cell only.

    Otherwise one unit would count in several cells and move the vector by more than
    the derived sensitivity; the spec loader cannot see this, because only the
    column's type decides which spellings are equal.
    """
    seen: dict[object, str] = {}
    for category in (c for group in groups for c in group):
        value = _canonical(measure, category, column_type)
        if value in seen:
            raise SourceError(
                f"measures.{measure.name}: categories '{seen[value]}' and '{category}' are the same value of "
                f"{measure.column} ({column_type}); each value may appear once"
            )
        seen[value] = category


def _match(column: str, column_type: str) -> str:
    """How a column is compared with category literals: itself when text or numeric, else its canonical text."""
    if _is_text(column_type) or column_type.upper().startswith(NUMERIC_TYPES):
        return column
    return f"CAST({column} AS VARCHAR)"


def _values(measure, categories: list[str], column_type: str) -> str:
    """Categories as SQL literals of the column's own type, so DuckDB compares without casting every row."""
    if not column_type.upper().startswith(NUMERIC_TYPES):
        return ", ".join(map(literal, categories))
    return ", ".join(repr(_canonical(measure, category, column_type)) for category in categories)


def _clamped(measure: Sum | Mean | Quantiles) -> str:
    lower, upper = measure.bounds
    return f'LEAST(GREATEST(CAST("{measure.column}" AS DOUBLE), {lower!r}), {upper!r})'


def _present(measure: Sum | Mean | Quantiles) -> str:
    """A value is there: not NULL and not NaN. (DuckDB's GREATEST(NULL, x) is x, so clamping alone would count it.)"""
    return f'"{measure.column}" IS NOT NULL AND NOT isnan(CAST("{measure.column}" AS DOUBLE))'


def _statistics_sql(measure, types: dict[str, str]) -> list[str]:
    """`expression AS "column"` for every sufficient statistic of a measure (count_if: DuckDB's fastest count)."""
    columns = list(stat_columns(measure).values())[-1]  # the values part
    column = f'"{getattr(measure, "column", "")}"'
    if isinstance(measure, Count):
        return [f'COUNT(*) AS "{measure.name}|n"']
    if isinstance(measure, Sum | Mean):
        lower, upper, centre, _ = numeric_steps(measure)
        steps = f"LEAST(GREATEST(CAST(ROUND({_clamped(measure)} / {measure.resolution!r}) AS BIGINT), {lower}), {upper})"
        squares = [  # the spread of the values, for the mean's sampling error (privacy.postprocess)
            (f'CAST(COALESCE(SUM(({steps} - {centre}) * ({steps} - {centre})) FILTER (WHERE {_present(measure)}), 0) AS BIGINT) '
             f'AS "{measure.name}|sq"')
        ] if isinstance(measure, Mean) and measure.sum_of_squares else []
        return [
            f'count_if({_present(measure)}) AS "{measure.name}|n"',
            f'CAST(COALESCE(SUM({steps} - {centre}) FILTER (WHERE {_present(measure)}), 0) AS BIGINT) AS "{measure.name}|sum"',
            *squares,
        ]
    if isinstance(measure, Quantiles):
        value, edges = _clamped(measure), measure.bin_edges
        parts = []
        for index, (low, high) in enumerate(zip(edges, edges[1:], strict=False)):
            upper_rule = "<=" if index == len(edges) - 2 else "<"
            parts.append(f'count_if({_present(measure)} AND {value} >= {low!r} AND {value} {upper_rule} {high!r}) AS "{columns[index]}"')
        return parts
    if isinstance(measure, Shares):
        kind = types[measure.column]
        if not measure.multi_select:
            check_distinct(measure, [measure.categories], kind)
            return [
                f'count_if({_match(column, kind)} = {_values(measure, [category], kind)}) AS "{name}"'
                for category, name in zip(measure.categories, columns, strict=True)
            ]
        if kind.endswith("[]") and kind.upper() != "VARCHAR[]":
            raise SourceError(f"measures.{measure.name}: a multi-select column holds text codes, but {measure.column} is {kind}")
        if kind.endswith("[]"):
            chosen = f"list_slice({column}, 1, {measure.selections})"
        else:
            chosen = f"list_slice(string_split({column}, {literal(measure.separator)}), 1, {measure.selections})"
        answered = f'count_if(len({chosen}) > 0) AS "{measure.name}|n"'
        return [answered] + [
            f'count_if(list_contains({chosen}, {literal(category)})) AS "{name}"'
            for category, name in zip(measure.categories, columns[1:], strict=True)
        ]
    if isinstance(measure, Balance):
        kind = types[measure.column]
        check_distinct(measure, [measure.positive, measure.negative], kind)
        positive, negative = _values(measure, measure.positive, kind), _values(measure, measure.negative, kind)
        value = _match(column, kind)
        return [  # a NULL answer is in none of the three: NOT IN gives NULL, which count_if does not count
            f'count_if({value} IN ({positive})) AS "{measure.name}|positive"',
            f'count_if({value} NOT IN ({positive}, {negative})) AS "{measure.name}|neutral"',
            f'count_if({value} IN ({negative})) AS "{measure.name}|negative"',
        ]
    raise TypeError(f"unknown measure kind {type(measure).__name__}")


def source_columns(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec) -> dict[str, str]:
    """Column name -> DuckDB type of the source; a missing source or column is named in the error."""
    try:
        described = connection.execute(f"DESCRIBE {spec.source}").fetchall()
    except duckdb.CatalogException:
        raise SourceError(f"{spec.name}: source: table '{spec.source}' does not exist in the warehouse") from None
    columns = {row[0]: row[1] for row in described}
    needed = {"privacy_unit.column": spec.privacy_unit.column, "period": spec.period}
    needed |= {f"groups.levels ({dim})": dim for dim in spec.groups.dimensions}
    needed |= {f"measures.{m.name}.column": m.column for m in spec.measures if hasattr(m, "column")}
    for field, column in needed.items():
        if column not in columns:
            raise SourceError(f"{spec.name}: {field}: column '{column}' is not in {spec.source}")
    return columns


def sufficient_statistics(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec, periods: list[str]) -> pl.DataFrame:
    """Exact bounded statistics per period and finest cell of the spec (one DuckDB query)."""
    types = source_columns(connection, spec)
    statistics = [sql for measure in spec.measures for sql in _statistics_sql(measure, types)]
    dims = "".join(f', CAST("{d}" AS VARCHAR) AS "{d}"' for d in spec.groups.dimensions)
    sql = f"""
        SELECT CAST("{spec.period}" AS VARCHAR) AS {PERIOD}{dims}, {", ".join(statistics)}
        FROM ({bounded_source_sql(spec, periods)}) AS bounded
        GROUP BY ALL
    """
    return connection.execute(sql).pl()


def statistic_names(spec: ReleaseSpec) -> list[str]:
    return [column for measure in spec.measures for part in stat_columns(measure).values() for column in part]


def _key_grid(dims: list[str], periods: list[str]) -> pl.DataFrame:
    """Every combination of the public keys per period; a domain nested in the period ('<proposal>/<article>') keeps that period's codes."""
    domains = [periods] + [reference.domain_codes(d) for d in dims]
    rows = product(*domains)
    nested = [i for i, d in enumerate(dims, start=1) if reference.nested_in_period(d)]
    if nested:
        rows = (row for row in rows if all(row[i].startswith(f"{row[0]}/") for i in nested))
    # typed: a period whose nested domain is empty (a proposal without articles) gives no rows, and still joins
    return pl.DataFrame(list(rows), schema={PERIOD: pl.Utf8, **dict.fromkeys(dims, pl.Utf8)}, orient="row")


def level_cells(stats: pl.DataFrame, spec: ReleaseSpec, periods: list[str], keys: dict[str, list[str]] | None = None) -> pl.DataFrame:
    """Every group of every level with its exact statistics, in a fixed order.

    Public keys: every key of the reference domain, 0 for an empty group.
    Private keys: the keys given in `keys` (per period, as selected by partition selection).
    """
    names = statistic_names(spec)
    dims_all = spec.groups.dimensions
    frames = []
    for level_name, dims in spec.groups.levels.items():
        summed = stats.group_by([PERIOD, *dims]).agg(pl.col(names).sum())
        if spec.groups.keys == "public":
            grid = _key_grid(dims, periods)
        else:
            (dim,) = dims
            grid = pl.DataFrame(
                [(p, k) for p in periods for k in sorted((keys or {}).get(p, []))], schema={PERIOD: pl.Utf8, dim: pl.Utf8}, orient="row"
            )  # typed: when no key passes the selection the grid is empty, and still joins
        level = grid.join(summed, on=[PERIOD, *dims], how="left", nulls_equal=True)
        level = level.with_columns(pl.col(names).fill_null(0).cast(pl.Int64), pl.lit(level_name).alias(LEVEL))
        missing = [d for d in dims_all if d not in dims]
        level = level.with_columns([pl.lit(None, pl.Utf8).alias(d) for d in missing])
        frames.append(level.select(PERIOD, LEVEL, *dims_all, *names))
    return pl.concat(frames).sort(PERIOD, maintain_order=True)
