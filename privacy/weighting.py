"""Population weighting of released cells (post-processing: no budget), as CBS and the EU business surveys do.

Respondents are not a miniature of the business population: larger firms
answer more often, and four in five Dutch firms have 0-1 persons employed.
A figure for a target group g (the nation, a sector, a province) is
therefore the population-weighted combination of released stratum figures:

    theta_g = sum_h W_gh x theta_h,   W_gh = N_gh / sum_h N_gh

over the strata h inside g (size classes nationally; sector x size class
cells within a sector, when such cells are released), with N_gh the number
of firms (or persons employed) in the population (`reference/
business_population.csv`, CBS StatLine 81588NED / 81589NED; see its
`.yaml` for sources, period and which numbers are approximate). This is
post-stratification: every stratum's figure is a released number, so the
weighted figure is post-processing of released numbers and costs no budget.

Variance. The strata are released with independent noise (every entry of a
noisy vector gets its own draw) and respondents of different strata are
independent samples, so

    Var(theta_g) = sum_h W_gh^2 x (var_dp_h + var_sampling_h)

with var_dp_h the variance of stratum h's figure from the declared noise
(its scale is public) and var_sampling_h its sampling variance estimated
from released statistics. The interval is theta_g +- z x sqrt(Var) (normal
approximation; a sum over strata is close to normal). Weighting costs
precision when the weights differ from the respondents' own shares: against
the unweighted figure the variance grows by about Kish's design effect
1 + CV^2 of the per-respondent weights (`kish_design_effect`); it buys the
removal of the bias that unequal response between strata causes.

A stratum without a figure (suppressed, "x") cannot be weighted: the target
figure is then not computed (NaN) unless `allow_missing` is set, in which
case the weights are renormalised over the strata that have a figure and
`covered_share` says which share of the population they represent.

Which weighting the standard release allows: `cgc_balance` releases nation,
province, sector and size class, not sector x size class. So the national
figure is post-stratified by size class (the variable response depends on);
sector and province figures can only be weighted by size once a sector x
size (or province x size) level is released (its cost is measured in
`benchmarks/accuracy.py`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from statistics import NormalDist

import numpy as np
import polars as pl

from core.settings import REFERENCE_DIR

__all__ = [
    "WeightedFigure",
    "business_population",
    "kish_design_effect",
    "population_weights",
    "weighted_figure",
    "weighted_release",
]

LINEAR_STATISTICS = ("balance", "share", "mean")  # figures whose population value is the weighted mean of the strata's

REFERENCE = REFERENCE_DIR / "business_population.csv"


@dataclass(frozen=True)
class WeightedFigure:
    """A population-weighted figure, its variance parts and its interval (same unit as the stratum figures)."""

    estimate: float
    variance_dp: float
    variance_sampling: float
    ci_low: float
    ci_high: float
    covered_share: float  # share of the target population whose strata had a figure (1.0 when complete)

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2.0


@cache
def business_population(path: Path = REFERENCE) -> dict[tuple[str, str], int]:
    """Firms per (SBI section, size class) in the Dutch MKB population (CBS; see business_population.yaml).

    >>> population = business_population()
    >>> sum(population.values())  # CBS 81588NED, 2024 Q2: firms with fewer than 250 persons employed
    2312935
    """
    with path.open(encoding="utf-8") as handle:
        return {(row["sector"], row["size_class"]): int(row["firms"]) for row in csv.DictReader(handle)}


def population_weights(
    by: str, within: dict[str, str] | None = None, population: dict[tuple[str, str], int] | None = None
) -> dict[str, float]:
    """Population shares of the strata `by` ('size_class' or 'sector') inside a target group.

    `within` restricts the population, e.g. {'sector': 'C'} for the size
    composition of industry.

    >>> weights = population_weights("size_class")
    >>> round(weights["0-1"], 4), round(sum(weights.values()), 6)
    (0.8171, 1.0)
    """
    if by not in ("sector", "size_class"):
        raise ValueError(f"by: '{by}' is not a stratum of the business population (sector or size_class)")
    population = population if population is not None else business_population()
    totals: dict[str, int] = {}
    for (sector, size_class), firms in population.items():
        keys = {"sector": sector, "size_class": size_class}
        if within and any(keys.get(field) != value for field, value in within.items()):
            continue
        totals[keys[by]] = totals.get(keys[by], 0) + firms
    grand = sum(totals.values())
    if grand == 0:
        raise ValueError(f"within: {within} has no firms in the business population")
    return {stratum: firms / grand for stratum, firms in totals.items()}


def weighted_figure(
    estimates: dict[str, float],
    variance_dp: dict[str, float],
    variance_sampling: dict[str, float],
    weights: dict[str, float],
    confidence_level: float = 0.95,
    allow_missing: bool = False,
) -> WeightedFigure:
    """Post-stratified figure sum_h W_h theta_h with Var = sum_h W_h^2 (var_dp_h + var_sampling_h).

    A stratum whose estimate is missing or NaN (suppressed) makes the figure
    NaN, unless `allow_missing`: then the weights are renormalised over the
    strata present and `covered_share` is their population share.

    >>> f = weighted_figure({"a": 10.0, "b": 30.0}, {"a": 4.0, "b": 9.0}, {"a": 1.0, "b": 0.0}, {"a": 0.75, "b": 0.25})
    >>> f.estimate, f.variance_dp, f.variance_sampling  # 0.75*10 + 0.25*30; 0.5625*4 + 0.0625*9; 0.5625*1
    (15.0, 2.8125, 0.5625)
    """
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level: {confidence_level} must lie between 0 and 1")
    present = {
        h: w for h, w in weights.items() if w > 0 and h in estimates and estimates[h] is not None and np.isfinite(estimates[h])
    }
    covered = sum(present.values()) / sum(weights.values())
    if not present or (covered < 1.0 - 1e-12 and not allow_missing):
        return WeightedFigure(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), covered)
    scale = 1.0 / sum(present.values())
    estimate = sum(scale * w * estimates[h] for h, w in present.items())
    var_dp = sum((scale * w) ** 2 * variance_dp[h] for h, w in present.items())
    var_sampling = sum((scale * w) ** 2 * variance_sampling[h] for h, w in present.items())
    z = NormalDist().inv_cdf(0.5 + confidence_level / 2.0)
    spread = z * float(np.sqrt(var_dp + var_sampling))
    return WeightedFigure(
        float(estimate), float(var_dp), float(var_sampling), float(estimate - spread), float(estimate + spread), float(covered)
    )


def kish_design_effect(weights: dict[str, float], respondents: dict[str, float]) -> float:
    """Kish's approximate design effect 1 + CV^2 of the per-respondent weights W_h / n_h.

    It says how much larger the variance of the weighted mean is than that
    of an unweighted mean of as many respondents (1.0 when the respondents
    already have the population's composition).

    >>> kish_design_effect({"a": 0.5, "b": 0.5}, {"a": 50, "b": 50})
    1.0
    >>> round(kish_design_effect({"a": 0.8, "b": 0.2}, {"a": 50, "b": 50}), 2)
    1.36
    """
    strata = [h for h in weights if respondents.get(h, 0) > 0]
    counts = np.array([respondents[h] for h in strata], dtype=float)
    per_unit = np.array([weights[h] for h in strata], dtype=float) / counts
    mean = np.sum(counts * per_unit) / counts.sum()
    variance = np.sum(counts * (per_unit - mean) ** 2) / counts.sum()
    return float(1.0 + variance / mean**2)


def weighted_release(
    cells: pl.DataFrame,
    by: str = "size_class",
    confidence_level: float = 0.95,
    population: dict[tuple[str, str], int] | None = None,
) -> pl.DataFrame:
    """National figures post-stratified over the released cells of level `by` (a stored release or its export).

    One row per period, measure, statistic and category of the balances,
    shares and means (counts, sums and quantiles do not combine as a
    weighted mean). The DP variance of a stratum is read from its DP
    interval, ((dp_high - dp_low) / (2 z))^2, as if it were normal; the
    sampling variance is sampling_se^2. A suppressed stratum makes the
    national figure empty (NaN), as `weighted_figure` does.

    >>> cells = pl.DataFrame({"period": ["w"] * 2, "level": ["size_class"] * 2, "size_class": ["0-1", "2-9"],
    ...     "measure": ["m"] * 2, "statistic": ["balance"] * 2, "category": [None, None], "estimate": [10.0, 30.0],
    ...     "dp_low": [10.0, 30.0], "dp_high": [10.0, 30.0], "sampling_se": [0.0, 0.0], "suppressed": [False, False]})
    >>> weighted_release(cells, population={("C", "0-1"): 3, ("C", "2-9"): 1})["estimate"].to_list()
    [15.0]
    """
    z = NormalDist().inv_cdf(0.5 + confidence_level / 2.0)
    weights = population_weights(by, population=population)
    strata = cells.filter((pl.col("level") == by) & pl.col("statistic").is_in(LINEAR_STATISTICS))
    rows = []
    for (period, measure, statistic, category), block in strata.group_by(
        "period", "measure", "statistic", "category", maintain_order=True
    ):
        shown = block.filter(~pl.col("suppressed"))
        estimates = {h: float("nan") for h in weights}
        estimates |= dict(zip(shown[by], shown["estimate"], strict=True))
        variance_dp = {h: ((high - low) / (2 * z)) ** 2 for h, low, high in shown.select(by, "dp_low", "dp_high").iter_rows()}
        variance_sampling = {h: se**2 for h, se in shown.select(by, "sampling_se").iter_rows()}
        figure = weighted_figure(estimates, variance_dp, variance_sampling, weights, confidence_level)
        rows.append(
            (
                period,
                measure,
                statistic,
                category,
                figure.estimate,
                figure.ci_low,
                figure.ci_high,
                figure.variance_dp,
                figure.variance_sampling,
                figure.covered_share,
            )
        )
    schema = {
        "period": pl.Utf8,
        "measure": pl.Utf8,
        "statistic": pl.Utf8,
        "category": pl.Utf8,
        "estimate": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "variance_dp": pl.Float64,
        "variance_sampling": pl.Float64,
        "covered_share": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row").with_columns(pl.lit(f"nation weighted by {by}").alias("level"))
