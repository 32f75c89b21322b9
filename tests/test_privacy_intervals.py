"""Unit tests of the interval functions (privacy.accuracy, privacy.sampling): properties with hypothesis,
and the single count's interval equal to the accuracy OpenDP itself reports.

Scales are drawn from a few values: each new scale computes its noise
quantiles once (cached), which takes about a second.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import opendp.prelude as dp
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy import accuracy, sampling
from privacy.engine import _noisy_cells
from privacy.loading import release_specs
from privacy.mechanisms import count_accuracy
from privacy.postprocess import post_process
from privacy.sensitivity import plan
from privacy.statistics import level_cells, sufficient_statistics
from tests.privacy_support import cgc_spec, firms_frame, make_mart, noiseless

SCALES = st.sampled_from([0.0, 4.0, 12.0])
COUNTS = st.integers(min_value=-30, max_value=3_000)
EPS = 1e-9


def contains(low, estimate, high) -> bool:
    return bool(np.all((low <= estimate + EPS) & (estimate <= high + EPS)))


@settings(max_examples=60, deadline=None)
@given(positive=COUNTS, neutral=COUNTS, negative=COUNTS, scale=SCALES, more=st.integers(1, 200))
def test_balance_interval_contains_its_estimate_stays_in_range_and_rises_with_positive_answers(positive, neutral, negative, scale, more):
    sides = [np.array([float(max(x, 0))]) for x in (positive, neutral, negative)]
    estimate, low, high = accuracy.balance_interval(*sides, scale, 0.95)
    if not np.isfinite(estimate[0]):
        return  # no answers at all: nothing to say (the cell is suppressed)
    assert contains(low, estimate, high) and -100 <= low[0] <= high[0] <= 100
    estimate2, low2, high2 = accuracy.balance_interval(sides[0] + more, sides[1], sides[2], scale, 0.95)
    assert estimate2[0] >= estimate[0] - EPS and low2[0] >= low[0] - 1e-6 and high2[0] >= high[0] - 1e-6


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(COUNTS, min_size=2, max_size=5), scale=SCALES)
def test_share_intervals_contain_their_estimate_and_stay_within_0_and_100(counts, scale):
    share, low, high = accuracy.share_intervals(np.maximum(np.array([counts], dtype=float), 0.0), scale, 0.95)
    if not np.isfinite(share).all():
        return
    assert contains(low, share, high) and (low >= -EPS).all() and (high <= 100 + EPS).all()
    assert share.sum() == pytest.approx(100.0)


@settings(max_examples=60, deadline=None)
@given(named=COUNTS, answered=st.integers(1, 3_000), scale=SCALES)
def test_multi_select_share_interval_contains_its_estimate_within_0_and_100(named, answered, scale):
    share, low, high = accuracy.multi_select_intervals(np.array([[float(named)]]), np.array([float(answered)]), scale, 0.95)
    assert contains(low, share, high) and 0 <= low[0, 0] <= high[0, 0] <= 100


@settings(max_examples=60, deadline=None)
@given(mean=st.floats(1.0, 5.0), count=st.integers(5, 3_000), scale=SCALES, shift=st.integers(1, 500))
def test_mean_interval_contains_its_estimate_stays_within_the_bounds_and_rises_with_the_sum(mean, count, scale, shift):
    centred = np.array([round((mean - 3) * count)], dtype=float)
    noise = (2 * scale, scale)
    estimate, low, high = accuracy.mean_interval_nominal(centred, np.array([float(count)]), noise, 3, 1.0, (1, 5), 0.95)
    assert contains(low, estimate, high) and 1 <= low[0] <= high[0] <= 5
    estimate2, low2, high2 = accuracy.mean_interval_nominal(centred + shift, np.array([float(count)]), noise, 3, 1.0, (1, 5), 0.95)
    assert estimate2[0] >= estimate[0] - EPS and low2[0] >= low[0] - 1e-6 and high2[0] >= high[0] - 1e-6


@settings(max_examples=40, deadline=None)
@given(bins=st.lists(st.integers(-20, 800), min_size=5, max_size=5), scale=SCALES, probability=st.sampled_from([0.25, 0.5, 0.9]))
def test_quantile_interval_contains_its_estimate_within_the_bounds(bins, scale, probability):
    edges = [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]
    estimate, low, high = accuracy.quantile_interval(np.array([bins], dtype=float), edges, probability, scale, 0.95)
    if not np.isfinite(estimate[0]):
        return
    assert contains(low, estimate, high) and 0.5 <= low[0] <= high[0] <= 5.5


@settings(max_examples=40, deadline=None)
@given(noisy=COUNTS, scale=st.sampled_from([1.0, 4.0, 24.0]))
def test_a_wider_noise_gives_a_wider_interval(noisy, scale):
    """Monotone in the noise: at twice the scale no end of a count's or a balance's interval moves inwards."""
    _, low, high = accuracy.count_interval(np.array([noisy]), count_accuracy(scale, 0.05))
    _, low2, high2 = accuracy.count_interval(np.array([noisy]), count_accuracy(2 * scale, 0.05))
    assert low2[0] <= low[0] and high2[0] >= high[0] and low[0] >= 0
    sides = [np.array([float(max(noisy, 0) + 50)]), np.array([40.0]), np.array([30.0])]
    _, b_low, b_high = accuracy.balance_interval(*sides, min(scale, 12.0), 0.95)
    _, b_low2, b_high2 = accuracy.balance_interval(*sides, min(scale, 12.0) * 2 if scale < 12 else 12.0, 0.95)
    assert b_low2[0] <= b_low[0] + 1e-6 and b_high2[0] >= b_high[0] - 1e-6


@settings(max_examples=60, deadline=None)
@given(estimate=st.floats(-100, 100), spread=st.floats(0, 30), se=st.floats(0, 30))
def test_the_combined_interval_holds_the_noise_interval_and_stays_in_range(estimate, spread, se):
    low, high = sampling.combined_interval(np.array([estimate]), np.array([estimate - spread]), np.array([estimate + spread]),
                                           np.array([se]), 0.95, (-100.0, 100.0))
    assert low[0] <= max(estimate - spread, -100) + EPS and high[0] >= min(estimate + spread, 100) - EPS
    assert -100 <= low[0] <= estimate + EPS and estimate - EPS <= high[0] <= 100
    half = (high[0] - low[0]) / 2
    if -100 < estimate - math.hypot(spread, 1.96 * se) and estimate + math.hypot(spread, 1.96 * se) < 100:
        assert half == pytest.approx(math.hypot(spread, sampling.z_value(0.95) * se))


def test_the_noise_quantile_of_two_values_is_exact():
    """|Z1 + Z2| at scale 4: the exact two-term sum equals a brute-force convolution of the two laws."""
    scale, level = 4.0, 0.95
    support = np.arange(-400, 401)
    pmf = np.exp(-np.abs(support) / scale)
    pmf /= pmf.sum()
    law = np.convolve(pmf, pmf)  # the law of Z1 + Z2 on -800 .. 800
    values = np.arange(-800, 801)
    inside = [law[np.abs(values) <= t].sum() for t in range(60)]
    smallest = next(t for t, p in enumerate(inside) if p >= level)
    threshold = accuracy.noise_threshold((scale, scale), np.array([[1.0, 1.0]]), level)[0]
    assert smallest - 1 < threshold <= smallest + 1e-6


@pytest.mark.parametrize("mechanism", ["laplace", "gaussian"])
def test_a_single_count_gets_exactly_the_accuracy_opendp_reports(mechanism):
    """The released count's noise interval is OpenDP's accuracy at the same alpha, from OpenDP's own summary.

    Laplace: the spec at epsilon 1.5; Gaussian: the configured zCDP spec, against OpenDP's Context at the count's rho.
    """
    spec = cgc_spec("cgc_balance", epsilon=1.5 if mechanism == "laplace" else None)
    assert spec.privacy_loss.mechanism == mechanism
    with duckdb.connect() as connection:
        make_mart(connection, firms_frame(2_000, ["2025-01"], seed=4))
        cells = level_cells(sufficient_statistics(connection, spec, ["2025-01"]), spec, ["2025-01"])
    components = plan(spec)
    released = post_process(_noisy_cells(cells, components, {}), spec, components)
    nation = released.filter((pl.col("level") == "nation") & (pl.col("measure") == "respondents")).row(0, named=True)
    (count,) = [c for c in components if c.measure == "respondents"]

    frame = pl.LazyFrame({"x": [1] * 10})
    if mechanism == "laplace":  # L1 sensitivity 4: a unit with 4 rows in one count
        unit, loss = dp.unit_of(contributions=count.sensitivity), dp.loss_of(epsilon=count.epsilon)
    else:  # L2 sensitivity sqrt(4) = 2: a unit with 2 rows in one count moves it by 2 as well
        unit, loss = dp.unit_of(contributions=math.isqrt(count.l2_squared)), dp.loss_of(rho=count.rho)
    context = dp.Context.compositor(data=frame, privacy_unit=unit, privacy_loss=loss, split_evenly_over=1)
    summary = context.query().select(dp.len(signed=True)).summarize(alpha=1 - spec.confidence_level)
    assert summary["scale"][0] == pytest.approx(count.scale)
    opendp_accuracy = summary["accuracy"][0]
    assert nation["dp_high"] - nation["estimate"] == pytest.approx(opendp_accuracy, rel=1e-12)
    assert nation["estimate"] - nation["dp_low"] == pytest.approx(opendp_accuracy, rel=1e-12)
    assert nation["ci_low"] == nation["dp_low"] and nation["ci_high"] == nation["dp_high"]  # a count has no sampling error


def test_a_mean_without_a_sum_of_squares_takes_its_spread_from_the_released_histogram_of_its_column():
    """dis_impact releases the cost change's histogram (for the median): the mean's sampling error uses its bins
    (middles, plus width^2 / 12 within a bin), computed here by hand without noise, and lands near the true one."""
    from tests.test_privacy_coverage import PROPOSAL, dis_frame, exact_cells

    spec = release_specs()["dis_impact"]
    frame = dis_frame(2_000)
    cells = exact_cells(spec, frame, "marts.dis_firm_proposal", PROPOSAL).filter(pl.col("level") == "nation")
    released = post_process(cells, spec, noiseless(plan(spec)))
    cell = released.filter(pl.col("measure") == "cost_change_mean").row(0, named=True)
    values = frame["cost_change_euro"].clip(-100_000, 100_000).to_numpy()
    edges = np.asarray(spec.measure("cost_change_median").bin_edges)
    counts = np.histogram(values, bins=edges)[0]
    middles, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    weights = counts / counts.sum()
    variance = weights @ (middles**2 + widths**2 / 12) - (weights @ middles) ** 2
    assert cell["sampling_se"] == pytest.approx(math.sqrt(variance / len(values)), rel=1e-9)
    true_se = values.std(ddof=1) / math.sqrt(len(values))
    assert 0.8 * true_se < cell["sampling_se"] < 1.5 * true_se  # bins of 100 to 75,000 euros: close, a little wide
    bhatia_davis = math.sqrt((100_000 - values.mean()) * (values.mean() + 100_000) / len(values))
    assert cell["sampling_se"] < bhatia_davis / 5  # what the mean would carry without the histogram
