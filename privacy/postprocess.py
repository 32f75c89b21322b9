"""From noisy statistics to released cells: estimates, intervals, suppression (all free post-processing).

A released cell is one figure of one group: a count, sum, mean, quantile,
share of a category or balance, with the noisy number of units or answers it
rests on (`basis`) and three kinds of uncertainty, each stored:

* `dp_low`, `dp_high`: where the exact figure among the respondents lies,
  given the privacy noise (`privacy.accuracy`, at the spec's level);
* `sampling_se`: the standard error from sampling firms (`privacy.sampling`),
  estimated from released numbers;
* `ci_low`, `ci_high`: both together, the interval analysts see (for the
  figure over all firms the respondents stand for).

Counts are clipped at 0. A cell is suppressed, CBS-style ("x"), when its
group has a noisy unit count under the threshold or the figure rests on
fewer answers than the threshold; the reason says which.

Levels are released independently, each with its own noise: the provinces
(or sectors) of a period need not add up to the nation, and the difference
is noise. For a total, use the higher level: its noise is no larger than
that of one lower-level group, so it is the more accurate figure.

`post_process(..., method="union")` gives the engine's first intervals
(`privacy.accuracy_union`: a union bound, 2-3 times too wide) in the dp
columns instead, for a benchmark of old against new in one run.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import polars as pl

from privacy import accuracy, accuracy_union, sampling
from privacy.mechanisms import count_accuracy
from privacy.sensitivity import Component, numeric_steps
from privacy.spec import Balance, Count, Mean, Quantiles, ReleaseSpec, Shares, Sum
from privacy.statistics import LEVEL, PERIOD

CELL_COLUMNS = ["measure", "statistic", "category", "estimate", "ci_low", "ci_high", "dp_low", "dp_high", "sampling_se", "basis",
                "unit_of_estimate"]
UNCERTAIN = ("estimate", "ci_low", "ci_high", "dp_low", "dp_high", "sampling_se", "basis")
Method = Literal["nominal", "union"]


def _cells(keys: pl.DataFrame, measure: str, statistic: str, category, estimate, low, high, basis, unit: str,
           se=0.0, bounds: tuple[float, float] = (-math.inf, math.inf), level: float = 0.95) -> pl.DataFrame:
    estimate = np.asarray(estimate, dtype=float)
    se = np.broadcast_to(np.asarray(se, dtype=float), estimate.shape)
    combined_low, combined_high = sampling.combined_interval(estimate, low, high, se, level, bounds)
    return keys.with_columns(
        pl.lit(measure).alias("measure"),
        pl.lit(statistic).alias("statistic"),
        pl.lit(category, pl.Utf8).alias("category"),
        pl.Series("estimate", estimate),
        pl.Series("ci_low", combined_low),
        pl.Series("ci_high", combined_high),
        pl.Series("dp_low", np.asarray(low, dtype=float)),
        pl.Series("dp_high", np.asarray(high, dtype=float)),
        pl.Series("sampling_se", se),
        pl.Series("basis", np.round(np.maximum(np.asarray(basis, dtype=float), 0.0)).astype(np.int64)),
        pl.lit(unit).alias("unit_of_estimate"),
    )


def _column(cells: pl.DataFrame, name: str) -> np.ndarray:
    return cells[name].to_numpy().astype(float)


def _matrix(cells: pl.DataFrame, names) -> np.ndarray:
    return cells.select(names).to_numpy().astype(float)


def possible_range(measure, statistic: str) -> tuple[float, float]:
    """Where a figure can lie at all: intervals are clipped to it."""
    if statistic == "balance":
        return -100.0, 100.0
    if statistic == "share":
        return 0.0, 100.0
    if isinstance(measure, Mean | Quantiles):
        return tuple(measure.bounds)
    if isinstance(measure, Count) or measure.bounds[0] >= 0:
        return 0.0, math.inf
    return -math.inf, math.inf


def _union_intervals(measure, cells: pl.DataFrame, scales: dict, alpha: float):
    """The first engine's intervals (union bound) per statistic, for `method="union"`: {(statistic, category): (low, high)}."""
    name, out = measure.name, {}
    if isinstance(measure, Count):
        _, low, high = accuracy_union.count_interval(_column(cells, f"{name}|n"), count_accuracy(scales[name, "count"], alpha))
        out["count", None] = (low, high)
    elif isinstance(measure, Sum | Mean):
        count, centred = _column(cells, f"{name}|n"), _column(cells, f"{name}|sum")
        widths = count_accuracy(scales[name, "sum"], alpha / 2), count_accuracy(scales[name, "count"], alpha / 2)
        interval = accuracy_union.mean_interval if isinstance(measure, Mean) else accuracy_union.sum_interval
        _, low, high = interval(centred, widths[0], count, widths[1], numeric_steps(measure)[2], measure.resolution, measure.bounds)
        out[measure.kind, None] = (low, high)
    elif isinstance(measure, Quantiles):
        bins = _matrix(cells, [f"{name}|b{i}" for i in range(len(measure.bin_edges) - 1)])
        width = count_accuracy(scales[name, "bins"], alpha / bins.shape[1])
        for p in measure.probabilities:
            _, low, high = accuracy_union.quantile_estimates(bins, measure.bin_edges, p, width)
            out[f"p{round(p * 100):g}", None] = (low, high)
    if isinstance(measure, Shares) and measure.counts:
        counts = _matrix(cells, [f"{name}|c{i}" for i in range(len(measure.categories))])
        width = count_accuracy(scales[name, "categories"], alpha)
        out |= {("count", c): accuracy.count_interval(counts[:, i], width)[1:] for i, c in enumerate(measure.categories)}
    if isinstance(measure, Shares) and measure.multi_select:
        counts, answered = _matrix(cells, [f"{name}|c{i}" for i in range(len(measure.categories))]), _column(cells, f"{name}|n")
        width = count_accuracy(scales[name, "categories"], alpha / 2)
        for index, category in enumerate(measure.categories):
            _, low, high = accuracy_union.mean_interval(counts[:, index], width, answered, width, 0, 100.0, (0.0, 100.0))
            out["share", category] = (low, high)
    elif isinstance(measure, Shares):
        counts = _matrix(cells, [f"{name}|c{i}" for i in range(len(measure.categories))])
        _, low, high = accuracy_union.share_intervals(counts, count_accuracy(scales[name, "categories"], alpha / len(measure.categories)))
        out |= {("share", c): (low[:, i], high[:, i]) for i, c in enumerate(measure.categories)}
    elif isinstance(measure, Balance):
        sides = np.maximum(_matrix(cells, [f"{name}|positive", f"{name}|neutral", f"{name}|negative"]), 0.0)
        width = count_accuracy(scales[name, "sides"], alpha / 3)
        out["balance", None] = accuracy_union.balance_interval(sides[:, 0], sides[:, 1], sides[:, 2], width)
        _, low, high = accuracy_union.share_intervals(sides, width)
        out |= {("share", side): (low[:, i], high[:, i]) for i, side in enumerate(("positive", "neutral", "negative"))}
    return out


def _histogram_of(measure, spec: ReleaseSpec):
    """A quantiles measure over the same column and bounds as a mean: its released bins give the mean's sampling error."""
    if not isinstance(measure, Mean) or measure.sum_of_squares:
        return None
    return next((m for m in spec.measures if isinstance(m, Quantiles) and m.column == measure.column and m.bounds == measure.bounds), None)


def _measure_cells(measure, cells: pl.DataFrame, keys: pl.DataFrame, scales: dict, level: float, units: str,
                   histogram: Quantiles | None = None) -> list[pl.DataFrame]:
    name = measure.name
    if isinstance(measure, Count):
        estimate, low, high = accuracy.count_interval(_column(cells, f"{name}|n"), count_accuracy(scales[name, "count"], accuracy.alpha_of(level)))
        return [_cells(keys, name, "count", None, estimate, low, high, estimate, units, bounds=(0.0, math.inf), level=level)]
    if isinstance(measure, Sum | Mean):
        count, centred = _column(cells, f"{name}|n"), _column(cells, f"{name}|sum")
        lower, upper, centre, _ = numeric_steps(measure)
        noise = (scales[name, "sum"], scales[name, "count"])
        if isinstance(measure, Sum):
            estimate, low, high = accuracy.sum_interval_nominal(centred, count, noise, centre, measure.resolution, measure.bounds, level)
            return [_cells(keys, name, "sum", None, estimate, low, high, count, measure.unit, bounds=possible_range(measure, "sum"), level=level)]
        estimate, low, high = accuracy.mean_interval_nominal(centred, count, noise, centre, measure.resolution, (lower, upper), level)
        squares = _column(cells, f"{name}|sq") if measure.sum_of_squares else None
        variance = None
        if squares is None and histogram is not None:  # the same column's released histogram tells its spread
            variance = sampling.histogram_variance(_matrix(cells, [f"{histogram.name}|b{i}" for i in range(len(histogram.bin_edges) - 1)]),
                                                   histogram.bin_edges)
        se = sampling.mean_se(estimate / measure.resolution - centre, count, squares, (lower - centre, upper - centre), measure.resolution,
                              variance)
        return [_cells(keys, name, "mean", None, estimate, low, high, count, measure.unit, se, measure.bounds, level)]
    if isinstance(measure, Quantiles):
        bins = _matrix(cells, [f"{name}|b{i}" for i in range(len(measure.bin_edges) - 1)])
        basis = np.maximum(bins, 0).sum(axis=1)
        blocks = []
        for p in measure.probabilities:
            estimate, low, high = accuracy.quantile_interval(bins, measure.bin_edges, p, scales[name, "bins"], level)
            se = sampling.quantile_se(bins, measure.bin_edges, p, estimate)
            blocks.append(_cells(keys, name, f"p{round(p * 100):g}", None, estimate, low, high, basis, measure.unit, se, measure.bounds, level))
        return blocks
    if isinstance(measure, Shares):
        categories = list(measure.categories)
        counts = _matrix(cells, [f"{name}|c{i}" for i in range(len(categories))])
        scale = scales[name, "categories"]
        if measure.multi_select:  # share of respondents naming the category: a ratio of two counts
            answered = _column(cells, f"{name}|n")
            share, low, high = accuracy.multi_select_intervals(counts, answered, scale, level)
            basis = answered
        else:
            share, low, high = accuracy.share_intervals(counts, scale, level)
            basis = np.maximum(counts, 0).sum(axis=1)
        blocks = [_cells(keys, name, "share", c, share[:, i], low[:, i], high[:, i], basis, "procent", sampling.share_se(share[:, i], basis),
                         (0.0, 100.0), level) for i, c in enumerate(categories)]
        if measure.counts:  # the number of units per category: the same noisy counts, so free (a census: no sampling error)
            width = count_accuracy(scale, accuracy.alpha_of(level))
            for i, c in enumerate(categories):
                estimate, low, high = accuracy.count_interval(counts[:, i], width)
                blocks.append(_cells(keys, name, "count", c, estimate, low, high, estimate, units, bounds=(0.0, math.inf), level=level))
        return blocks
    if isinstance(measure, Balance):
        raw = _matrix(cells, [f"{name}|positive", f"{name}|neutral", f"{name}|negative"])
        sides = np.maximum(raw, 0.0)
        scale = scales[name, "sides"]
        basis = sides.sum(axis=1)
        estimate, low, high = accuracy.balance_interval(sides[:, 0], sides[:, 1], sides[:, 2], scale, level)
        share, share_low, share_high = accuracy.share_intervals(sides, scale, level)
        se = sampling.balance_se(share[:, 0], share[:, 2], basis)
        blocks = [_cells(keys, name, "balance", None, estimate, low, high, basis, "procentpunten", se, (-100.0, 100.0), level)]
        for index, side in enumerate(("positive", "neutral", "negative")):
            blocks.append(_cells(keys, name, "share", side, share[:, index], share_low[:, index], share_high[:, index], basis, "procent",
                                 sampling.share_se(share[:, index], basis), (0.0, 100.0), level))
        return blocks
    raise TypeError(f"unknown measure kind {type(measure).__name__}")


def _ratio_cells(ratio, spec: ReleaseSpec, cells: pl.DataFrame, keys: pl.DataFrame, scales: dict, level: float) -> pl.DataFrame:
    """A ratio of two sums: estimate and interval from the joint noise law; its basis is the denominator's count.

    Like the sums it divides, it is a figure of the delivered rows themselves
    (no sampling error: `sampling_se` 0).
    """
    def side(name: str) -> tuple:
        measure = spec.measure(name)
        return (_column(cells, f"{name}|sum"), _column(cells, f"{name}|n"), scales[name, "sum"], scales[name, "count"],
                numeric_steps(measure)[2], measure.resolution)

    numerator, denominator = side(ratio.numerator), side(ratio.denominator)
    estimate, low, high = accuracy.ratio_of_sums_interval(numerator, denominator, ratio.bounds, level)
    return _cells(keys, ratio.name, "ratio", None, estimate, low, high, denominator[1], ratio.unit, bounds=ratio.bounds, level=level)


def _with_union(blocks: list[pl.DataFrame], measure, cells: pl.DataFrame, scales: dict, level: float) -> list[pl.DataFrame]:
    """The same cells with the union-bound intervals in the dp columns (and the combined interval from them)."""
    union = _union_intervals(measure, cells, scales, accuracy.alpha_of(level))
    replaced = []
    for block in blocks:
        statistic, category = block["statistic"][0], block["category"][0]
        low, high = union[statistic, category]
        estimate, se = block["estimate"].to_numpy(), block["sampling_se"].to_numpy()
        combined_low, combined_high = sampling.combined_interval(estimate, low, high, se, level, possible_range(measure, statistic))
        replaced.append(block.with_columns(
            pl.Series("dp_low", np.asarray(low, dtype=float)), pl.Series("dp_high", np.asarray(high, dtype=float)),
            pl.Series("ci_low", combined_low), pl.Series("ci_high", combined_high),
        ))
    return replaced


def post_process(noisy_cells: pl.DataFrame, spec: ReleaseSpec, components: list[Component], method: Method = "nominal") -> pl.DataFrame:
    """Released cells (long format: one row per group x measure x statistic x category) from noisy statistics.

    `method="union"` puts the first engine's union-bound intervals in dp_low / dp_high (and ci_low / ci_high
    combined from them): for comparing the old engine with the new one in a benchmark.
    """
    if method not in ("nominal", "union"):
        raise ValueError(f"method: '{method}' is not 'nominal' or 'union'")
    level, units_label = spec.confidence_level, spec.privacy_unit.plural_nl
    scales = {(c.measure, c.part): c.noise for c in components}  # the law and scale of each noisy vector
    keys = noisy_cells.select(PERIOD, LEVEL, *spec.groups.dimensions)
    count_measure = next((m for m in spec.measures if isinstance(m, Count)), None)
    group_units = np.maximum(_column(noisy_cells, f"{count_measure.name}|n"), 0.0) if count_measure else None
    threshold = spec.suppression_threshold
    blocks = []
    for measure in spec.measures:
        made = _measure_cells(measure, noisy_cells, keys, scales, level, units_label, _histogram_of(measure, spec))
        if method == "union":
            made = _with_union(made, measure, noisy_cells, scales, level)
        for block in made:
            small_group = np.zeros(block.height, dtype=bool) if group_units is None else group_units < threshold
            blocks.append(block.with_columns(pl.Series("_small_group", small_group), pl.lit(False).alias("_no_denominator")))
    for ratio in spec.ratios:  # nominal intervals under either method: the first engine had no ratios
        block = _ratio_cells(ratio, spec, noisy_cells, keys, scales, level)
        small_group = np.zeros(block.height, dtype=bool) if group_units is None else group_units < threshold
        blocks.append(block.with_columns(pl.Series("_small_group", small_group), pl.col("estimate").is_nan().alias("_no_denominator")))
    cells = pl.concat(blocks)
    small_basis = pl.col("basis") < threshold
    reason = (
        pl.when(pl.col("_small_group")).then(pl.lit(f"minder dan {threshold} {units_label} in deze groep"))
        .when(small_basis).then(pl.lit(f"minder dan {threshold} antwoorden"))
        .when(pl.col("_no_denominator")).then(pl.lit("te onzeker: het bedrag waardoor gedeeld wordt, is niet groter dan de ruis"))
        .when(pl.col("estimate").is_nan()).then(pl.lit("geen antwoorden"))
        .otherwise(pl.lit(None, pl.Utf8))
    )
    cells = cells.with_columns(reason.alias("suppression_reason")).with_columns(pl.col("suppression_reason").is_not_null().alias("suppressed"))
    hidden = pl.col("suppressed")
    return cells.drop("_small_group", "_no_denominator").with_columns([pl.when(hidden).then(None).otherwise(pl.col(c)).alias(c) for c in UNCERTAIN])
