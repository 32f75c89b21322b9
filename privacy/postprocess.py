"""From noisy statistics to released cells: estimates, intervals, suppression (all free post-processing).

A released cell is one figure of one group: a count, sum, mean, quantile,
share of a category or balance, with its interval (`privacy.accuracy`) and
the noisy number of units or answers it rests on (`basis`). Counts are
clipped at 0. A cell is suppressed, CBS-style ("x"), when its group has a
noisy unit count under the threshold or the figure rests on fewer answers
than the threshold; the reason says which.

Levels are released independently, each with its own noise: the provinces
(or sectors) of a period need not add up to the nation, and the difference
is noise. For a total, use the higher level: its noise is no larger than
that of one lower-level group, so it is the more accurate figure.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from privacy.accuracy import (
    balance,
    balance_interval,
    count_interval,
    mean_interval,
    quantile_estimates,
    share_intervals,
    sum_interval,
)
from privacy.mechanisms import count_accuracy
from privacy.sensitivity import Component, numeric_steps
from privacy.spec import Balance, Count, Mean, Quantiles, ReleaseSpec, Shares, Sum
from privacy.statistics import LEVEL, PERIOD

CELL_COLUMNS = ["measure", "statistic", "category", "estimate", "ci_low", "ci_high", "basis", "unit_of_estimate"]


def _cells(keys: pl.DataFrame, measure: str, statistic: str, category, estimate, low, high, basis, unit: str) -> pl.DataFrame:
    return keys.with_columns(
        pl.lit(measure).alias("measure"),
        pl.lit(statistic).alias("statistic"),
        pl.lit(category, pl.Utf8).alias("category"),
        pl.Series("estimate", np.asarray(estimate, dtype=float)),
        pl.Series("ci_low", np.asarray(low, dtype=float)),
        pl.Series("ci_high", np.asarray(high, dtype=float)),
        pl.Series("basis", np.round(np.maximum(np.asarray(basis, dtype=float), 0.0)).astype(np.int64)),
        pl.lit(unit).alias("unit_of_estimate"),
    )


def _column(cells: pl.DataFrame, name: str) -> np.ndarray:
    return cells[name].to_numpy().astype(float)


def _matrix(cells: pl.DataFrame, names) -> np.ndarray:
    return cells.select(names).to_numpy().astype(float)


def _measure_cells(measure, cells: pl.DataFrame, keys: pl.DataFrame, scales: dict, alpha: float, units: str) -> list[pl.DataFrame]:
    name = measure.name
    if isinstance(measure, Count):
        estimate, low, high = count_interval(_column(cells, f"{name}|n"), count_accuracy(scales[name, "count"], alpha))
        return [_cells(keys, name, "count", None, estimate, low, high, estimate, units)]
    if isinstance(measure, Sum | Mean):
        count, centred = _column(cells, f"{name}|n"), _column(cells, f"{name}|sum")
        count_width = count_accuracy(scales[name, "count"], alpha / 2)
        sum_width = count_accuracy(scales[name, "sum"], alpha / 2)
        _, _, centre, _ = numeric_steps(measure)
        interval = mean_interval if isinstance(measure, Mean) else sum_interval
        estimate, low, high = interval(centred, sum_width, count, count_width, centre, measure.resolution, measure.bounds)
        return [_cells(keys, name, measure.kind, None, estimate, low, high, count, measure.unit)]
    if isinstance(measure, Quantiles):
        bins = _matrix(cells, [f"{name}|b{i}" for i in range(len(measure.bin_edges) - 1)])
        width = count_accuracy(scales[name, "bins"], alpha / bins.shape[1])
        basis = np.maximum(bins, 0).sum(axis=1)
        return [
            _cells(keys, name, f"p{round(p * 100):g}", None, *quantile_estimates(bins, measure.bin_edges, p, width), basis, measure.unit)
            for p in measure.probabilities
        ]
    if isinstance(measure, Shares):
        categories = list(measure.categories)
        counts = _matrix(cells, [f"{name}|c{i}" for i in range(len(categories))])
        if measure.multi_select:  # share of respondents naming the category: a ratio of two counts
            answered = _column(cells, f"{name}|n")
            width = count_accuracy(scales[name, "categories"], alpha / 2)
            blocks = []
            for index, category in enumerate(categories):
                estimate, low, high = mean_interval(counts[:, index], width, answered, width, 0, 100.0, (0.0, 100.0))
                blocks.append(_cells(keys, name, "share", category, estimate, low, high, answered, "procent"))
            return blocks
        width = count_accuracy(scales[name, "categories"], alpha / len(categories))
        share, low, high = share_intervals(counts, width)
        basis = np.maximum(counts, 0).sum(axis=1)
        return [_cells(keys, name, "share", c, share[:, i], low[:, i], high[:, i], basis, "procent") for i, c in enumerate(categories)]
    if isinstance(measure, Balance):
        sides = np.maximum(_matrix(cells, [f"{name}|positive", f"{name}|neutral", f"{name}|negative"]), 0.0)
        width = count_accuracy(scales[name, "sides"], alpha / 3)
        basis = sides.sum(axis=1)
        low, high = balance_interval(sides[:, 0], sides[:, 1], sides[:, 2], width)
        blocks = [_cells(keys, name, "balance", None, balance(sides[:, 0], sides[:, 1], sides[:, 2]), low, high, basis, "procentpunten")]
        share, share_low, share_high = share_intervals(sides, width)
        for index, side in enumerate(("positive", "neutral", "negative")):
            blocks.append(_cells(keys, name, "share", side, share[:, index], share_low[:, index], share_high[:, index], basis, "procent"))
        return blocks
    raise TypeError(f"unknown measure kind {type(measure).__name__}")


def post_process(noisy_cells: pl.DataFrame, spec: ReleaseSpec, components: list[Component]) -> pl.DataFrame:
    """Released cells (long format: one row per group x measure x statistic x category) from noisy statistics."""
    alpha, units_label = 1.0 - spec.confidence_level, spec.privacy_unit.plural_nl
    scales = {(c.measure, c.part): c.scale for c in components}
    keys = noisy_cells.select(PERIOD, LEVEL, *spec.groups.dimensions)
    count_measure = next((m for m in spec.measures if isinstance(m, Count)), None)
    group_units = np.maximum(_column(noisy_cells, f"{count_measure.name}|n"), 0.0) if count_measure else None
    threshold = spec.suppression_threshold
    blocks = []
    for measure in spec.measures:
        for block in _measure_cells(measure, noisy_cells, keys, scales, alpha, units_label):
            small_group = np.zeros(block.height, dtype=bool) if group_units is None else group_units < threshold
            blocks.append(block.with_columns(pl.Series("_small_group", small_group)))
    cells = pl.concat(blocks)
    small_basis = pl.col("basis") < threshold
    reason = (
        pl.when(pl.col("_small_group")).then(pl.lit(f"minder dan {threshold} {units_label} in deze groep"))
        .when(small_basis).then(pl.lit(f"minder dan {threshold} antwoorden"))
        .when(pl.col("estimate").is_nan()).then(pl.lit("geen antwoorden"))
        .otherwise(pl.lit(None, pl.Utf8))
    )
    cells = cells.with_columns(reason.alias("suppression_reason")).with_columns(pl.col("suppression_reason").is_not_null().alias("suppressed"))
    hidden = pl.col("suppressed")
    return cells.drop("_small_group").with_columns(
        [pl.when(hidden).then(None).otherwise(pl.col(c)).alias(c) for c in ("estimate", "ci_low", "ci_high", "basis")]
    )
