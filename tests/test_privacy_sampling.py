"""DP tier 3: sampling tests with fixed sizes and a stated false-failure rate (marked slow).

* The noise the engine adds (its own `_noisy_cells`, at every scale of the
  configured specs) follows the declared law (discrete Gaussian for the zCDP
  specs, discrete Laplace for a pure-DP variant) at the declared scale: a KS
  test at p = 1e-6. KS on a discrete distribution is
  conservative, so a correct engine fails it with probability below 1e-6.
  The same samples must be rejected against a scale 1.3 times larger, which
  shows the test has the power to notice a wrong scale (that check itself
  fails wrongly with probability far below 1e-6 at these sizes).
* The 95 % privacy-noise intervals (dp_low, dp_high) cover the exact figure
  at least 95 % of the time: for one cell of every kind, coverage over 2,000
  releases must not fall below the 1e-6 quantile of Binomial(2000, 0.95)
  (false-failure rate <= 1e-6 per cell). That they are not wider than they
  need to be (at most 97 %) is tests/test_privacy_coverage.py.
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy import stats

from privacy.engine import _noisy_cells
from privacy.loading import release_specs
from privacy.postprocess import post_process
from privacy.sensitivity import Component, plan
from privacy.statistics import LEVEL, PERIOD, level_cells, sufficient_statistics
from tests.privacy_support import cgc_spec, firms_frame, make_mart, noiseless

pytestmark = pytest.mark.slow
P_VALUE = 1e-6
WAVE = "2025-01"


def exact_cells(spec, firms: int = 2_000) -> pl.DataFrame:
    with duckdb.connect() as connection:
        make_mart(connection, firms_frame(firms, [WAVE], seed=21))
        return level_cells(sufficient_statistics(connection, spec, [WAVE]), spec, [WAVE])


def engine_noise(cells: pl.DataFrame, component: Component, copies: int) -> np.ndarray:
    """Noise the engine adds to one component's entries, over `copies` independent releases of the same cells."""
    tiled = pl.concat([cells] * copies)
    noisy = _noisy_cells(tiled, [component], {})
    columns = list(component.columns)
    return (noisy.select(columns).to_numpy() - tiled.select(columns).to_numpy()).ravel()


def discrete_laplace(scale: float):
    return stats.dlaplace(1.0 / scale)


class DiscreteGaussian:
    """P(k) proportional to exp(-k^2 / (2 scale^2)) on the integers (written here, apart from the engine's own tables)."""

    def __init__(self, scale: float):
        self.support = np.arange(-int(14 * scale) - 1, int(14 * scale) + 2)
        mass = np.exp(-(self.support.astype(float) ** 2) / (2 * scale**2))
        self.cumulative = np.cumsum(mass) / mass.sum()

    def cdf(self, k: np.ndarray) -> np.ndarray:
        index = np.searchsorted(self.support, np.floor(k), side="right") - 1
        return np.where(index < 0, 0.0, self.cumulative[np.clip(index, 0, None)])


def declared_law(component: Component, stretch: float = 1.0):
    return (DiscreteGaussian if component.mechanism == "gaussian" else discrete_laplace)(component.scale * stretch)


def discrete_ks_pvalue(samples: np.ndarray, distribution) -> float:
    """KS test of integer samples against a discrete distribution, conservative.

    The distance is taken where both CDFs are defined alike: at every integer
    of the samples' range, empirical P(X <= k) against the model's. With the
    p-value of the continuous Kolmogorov distribution the test is
    conservative for a discrete null (Noether 1963), so its false-failure
    rate is at most the chosen level. (scipy's kstest compares the model
    CDF at tied points with the empirical CDF just before them, which for
    discrete data rejects a correct model.)
    """
    support = np.arange(samples.min() - 1, samples.max() + 1)
    empirical = np.searchsorted(np.sort(samples), support, side="right") / samples.size
    distance = np.abs(empirical - distribution.cdf(support)).max()
    return float(stats.kstwo.sf(distance, samples.size))


@pytest.mark.parametrize(("name", "epsilon"), [("cgc_balance", None), ("cgc_profile", None), ("cgc_balance", 1.5)])
def test_engine_noise_follows_the_declared_law_and_scale(name, epsilon):
    """The configured (zCDP: discrete Gaussian) specs, and one pure-DP (discrete Laplace) variant."""
    spec = cgc_spec(name, epsilon=epsilon)
    cells = exact_cells(spec)
    for component in plan(spec):
        copies = max(1, 30_000 // (cells.height * len(component.columns)))
        noise = engine_noise(cells, component, copies)
        assert noise.size >= 20_000
        fit = discrete_ks_pvalue(noise, declared_law(component))
        assert fit > P_VALUE, (component.measure, component.part, component.scale, fit)
        too_wide = discrete_ks_pvalue(noise, declared_law(component, 1.3))
        assert too_wide < P_VALUE, (component.measure, component.part, "the KS test cannot tell a wrong scale", too_wide)


CELLS = {
    "cgc_balance": [("respondents", "count", None), ("order_book", "balance", None), ("sentiment", "share", "negative")],
    "cgc_profile": [("sentiment_mean", "mean", None), ("sentiment_median", "p50", None), ("challenges", "share", "energie")],
}


@pytest.mark.parametrize("name", sorted(CELLS))
def test_intervals_cover_the_exact_figure_at_least_95_percent_of_the_time(name):
    spec = release_specs()[name]
    components = plan(spec)
    cells = exact_cells(spec).filter(pl.col(LEVEL).is_in(["nation", "sector"]) & (pl.col("sector").is_null() | (pl.col("sector") == "C")))
    zero_noise = noiseless(components)
    exact = post_process(cells, spec, zero_noise)
    releases = 2_000
    noisy = post_process(_noisy_cells(pl.concat([cells] * releases), components, {}), spec, components)
    minimum = stats.binom.ppf(P_VALUE, releases, 0.95)
    keys = [PERIOD, LEVEL, "sector", "measure", "statistic", "category"]
    for measure, statistic, category in CELLS[name]:
        for level in ("nation", "sector"):
            cell = (pl.col("measure") == measure) & (pl.col("statistic") == statistic) & (pl.col(LEVEL) == level)
            if category:
                cell &= pl.col("category") == category
            truth = exact.filter(cell)["estimate"].item()
            released = noisy.filter(cell & ~pl.col("suppressed"))
            assert released.height > releases * 0.9, (measure, level, "mostly suppressed: pick a bigger group")
            covered = int(((released["dp_low"] <= truth + 1e-9) & (truth - 1e-9 <= released["dp_high"])).sum())
            covered += releases - released.height  # a suppressed cell claims nothing
            assert covered >= minimum, (name, measure, statistic, category, level, covered, minimum)
    assert set(keys) <= set(exact.columns)
