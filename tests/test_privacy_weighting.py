"""Population weighting (privacy/weighting.py): hand computations, released cells without noise, the CBS reference."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import polars as pl
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from core import reference
from privacy.engine import release, stored_release
from privacy.weighting import (
    REFERENCE,
    business_population,
    kish_design_effect,
    population_weights,
    weighted_figure,
    weighted_release,
)
from tests.privacy_support import cgc_spec, firms_frame, make_mart, unlimited_settings, without_noise


def test_weighted_estimate_equals_a_hand_computation():
    # Three size classes with balances 20, -10 and 40 points; population 600, 300 and 100 firms.
    # Hand: 0.6 x 20 + 0.3 x (-10) + 0.1 x 40 = 12 - 3 + 4 = 13.
    # DP variances 25, 16, 9:  0.36 x 25 + 0.09 x 16 + 0.01 x 9 = 9 + 1.44 + 0.09 = 10.53.
    # Sampling variances 4, 1, 100: 0.36 x 4 + 0.09 x 1 + 0.01 x 100 = 1.44 + 0.09 + 1 = 2.53.
    # 95 %: 13 +- 1.959964 x sqrt(13.06) = 13 +- 7.0830.
    population = {("C", "0-1"): 600, ("C", "2-9"): 300, ("C", "10-49"): 100}
    weights = population_weights("size_class", population=population)
    assert weights == {"0-1": 0.6, "2-9": 0.3, "10-49": 0.1}
    figure = weighted_figure(
        {"0-1": 20.0, "2-9": -10.0, "10-49": 40.0},
        {"0-1": 25.0, "2-9": 16.0, "10-49": 9.0},
        {"0-1": 4.0, "2-9": 1.0, "10-49": 100.0},
        weights,
    )
    assert figure.estimate == pytest.approx(13.0)
    assert figure.variance_dp == pytest.approx(10.53)
    assert figure.variance_sampling == pytest.approx(2.53)
    assert figure.half_width == pytest.approx(1.959964 * math.sqrt(13.06), rel=1e-6)
    assert (figure.ci_low, figure.ci_high) == pytest.approx((13.0 - 7.0830, 13.0 + 7.0830), abs=1e-3)
    assert figure.covered_share == 1.0


def test_weights_within_a_sector():
    population = {("C", "0-1"): 30, ("C", "2-9"): 10, ("F", "0-1"): 60}
    assert population_weights("size_class", within={"sector": "C"}, population=population) == {"0-1": 0.75, "2-9": 0.25}
    assert population_weights("sector", population=population) == {"C": 0.4, "F": 0.6}
    with pytest.raises(ValueError, match="within"):
        population_weights("size_class", within={"sector": "Z"}, population=population)
    with pytest.raises(ValueError, match="by: 'province'"):
        population_weights("province", population=population)


def test_a_suppressed_stratum_is_not_weighted_away_silently():
    weights = {"a": 0.5, "b": 0.3, "c": 0.2}
    estimates = {"a": 10.0, "b": float("nan"), "c": 40.0}
    variances = {"a": 1.0, "b": 1.0, "c": 1.0}
    assert math.isnan(weighted_figure(estimates, variances, variances, weights).estimate)
    partial = weighted_figure(estimates, variances, variances, weights, allow_missing=True)
    assert partial.covered_share == pytest.approx(0.7)
    assert partial.estimate == pytest.approx((0.5 * 10 + 0.2 * 40) / 0.7)


@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(0, 400), st.integers(1, 10_000)), min_size=1, max_size=8))
def test_weighted_figure_is_a_convex_combination(strata):
    estimates = {str(i): e for i, (e, _, _) in enumerate(strata)}
    variances = {str(i): v for i, (_, v, _) in enumerate(strata)}
    total = sum(n for _, _, n in strata)
    weights = {str(i): n / total for i, (_, _, n) in enumerate(strata)}
    figure = weighted_figure(estimates, variances, {h: 0.0 for h in variances}, weights)
    assert min(estimates.values()) - 1e-9 <= figure.estimate <= max(estimates.values()) + 1e-9
    assert figure.variance_dp <= max(variances.values()) + 1e-9  # sum W^2 v <= max v, since sum W^2 <= 1
    assert figure.ci_low <= figure.estimate <= figure.ci_high


def test_kish_design_effect_grows_with_unequal_weights():
    assert kish_design_effect({"a": 0.5, "b": 0.5}, {"a": 10, "b": 10}) == pytest.approx(1.0)
    # per respondent 9/100 (10 of them) and 1/900 (90): mean 1/100, deviations 8/100 and -8/900,
    # variance (10 x 64/10^4 + 90 x 64/810000) / 100 = 64/90000, CV^2 = 64/9
    assert kish_design_effect({"a": 0.9, "b": 0.1}, {"a": 10, "b": 90}) == pytest.approx(73 / 9)
    assert kish_design_effect({"a": 0.9, "b": 0.1}, {"a": 10, "b": 90}) > kish_design_effect(
        {"a": 0.9, "b": 0.1}, {"a": 50, "b": 50}
    )


def test_national_balance_weighted_from_released_size_classes_without_noise():
    """Released size-class balances (no noise) weighted by the CBS size shares equal the post-stratified balance of the mart."""
    waves = ["2025-01"]
    mart = firms_frame(2_000, waves, seed=5)
    spec = cgc_spec("cgc_balance")
    with duckdb.connect() as connection:
        make_mart(connection, mart)
        (outcome,) = release(connection, without_noise(spec), waves, settings=unlimited_settings())
        cells = stored_release(connection, spec, outcome.release_id)
    sizes = cells.filter(
        (pl.col("level") == "size_class") & (pl.col("measure") == "order_book") & (pl.col("statistic") == "balance")
    )
    estimates = dict(zip(sizes["size_class"], sizes["estimate"], strict=True))
    zero = {h: 0.0 for h in estimates}
    weights = population_weights("size_class")
    figure = weighted_figure(estimates, zero, zero, weights)
    answered = mart.filter(pl.col("order_book").is_not_null())
    per_size = answered.group_by("size_class").agg(
        (100.0 * ((pl.col("order_book") == "grown").mean() - (pl.col("order_book") == "shrunk").mean())).alias("balance")
    )
    by_hand = sum(weights[row["size_class"]] * row["balance"] for row in per_size.iter_rows(named=True))
    assert figure.estimate == pytest.approx(by_hand, abs=1e-9)
    assert figure.half_width == 0.0


def test_reference_population_matches_its_documented_cbs_totals():
    population = business_population()
    source = yaml.safe_load(REFERENCE.with_suffix(".yaml").read_text(encoding="utf-8"))
    assert {"81588NED", "81589NED"} <= {s["table"] for s in source["sources"]}
    assert all({"table", "name", "url", "period", "used"} <= set(s) for s in source["sources"])
    assert source["retrieved"] and source["period"] and "approximate" in source["status"]
    by_size = {h: sum(n for (_, size), n in population.items() if size == h) for h in reference.domain_codes("size_class")}
    assert by_size["0-1"] == 1_889_860 and by_size["50-249"] == 12_060  # 81588NED, 2024 Q2
    assert by_size["2-9"] + by_size["10-49"] == 411_015
    assert {s for s, _ in population} == set(reference.domain_codes("sector"))
    with REFERENCE.open(encoding="utf-8") as handle:
        statuses = {line.rstrip("\n").split(",")[-1] for line in list(handle)[1:]}
    assert statuses <= {"cbs", "approximate", "placeholder"}


def test_weighted_release_from_a_stored_release_equals_a_hand_computation():
    """A real release with OpenDP noise: the weighted national balance is sum W_h x estimate_h over its size-class cells."""
    waves = ["2025-01"]
    mart = firms_frame(3_000, waves, seed=8)
    spec = cgc_spec("cgc_balance")
    with duckdb.connect() as connection:
        make_mart(connection, mart)
        (outcome,) = release(connection, spec, waves, settings=unlimited_settings())
        cells = stored_release(connection, spec, outcome.release_id)
    weighted = weighted_release(cells)
    assert set(weighted["statistic"]) <= {"balance", "share", "mean"}
    row = weighted.filter((pl.col("measure") == "investment") & (pl.col("statistic") == "balance")).row(0, named=True)
    sizes = cells.filter(
        (pl.col("level") == "size_class") & (pl.col("measure") == "investment") & (pl.col("statistic") == "balance")
    )
    weights = population_weights("size_class")
    z = 1.959963984540054
    by_hand = sum(weights[r["size_class"]] * r["estimate"] for r in sizes.iter_rows(named=True))
    sampling = sum(weights[r["size_class"]] ** 2 * r["sampling_se"] ** 2 for r in sizes.iter_rows(named=True))
    noise = sum(
        weights[r["size_class"]] ** 2 * ((r["dp_high"] - r["dp_low"]) / (2 * z)) ** 2 for r in sizes.iter_rows(named=True)
    )
    assert not sizes["suppressed"].any()
    assert row["estimate"] == pytest.approx(by_hand)
    assert row["variance_sampling"] == pytest.approx(sampling)
    assert row["variance_dp"] == pytest.approx(noise)
    assert row["ci_high"] - row["estimate"] == pytest.approx(z * math.sqrt(sampling + noise))
    assert row["level"] == "nation weighted by size_class" and row["covered_share"] == 1.0


@pytest.mark.slow
def test_weighted_interval_covers_the_exact_weighted_balance():
    """4,000 releases of four size-class cells with OpenDP noise (the standard release's scale, 12 per answer side).

    Each stratum's DP variance comes from the engine's nominal interval
    (privacy.accuracy.balance_interval), the weighted interval from
    weighted_figure (no sampling part: the target is the respondents' exact
    weighted balance). Coverage must lie in 93.5-97.5 % (measured: 96.4 %; the
    engine's intervals are slightly conservative). With 4,000 draws its
    standard error is 0.3 points, so a true 96.4 % falls outside with
    probability about 1e-4.
    """
    from privacy.accuracy import balance_interval
    from privacy.mechanisms import vector_measurement

    exact = np.array([[900, 1500, 600], [300, 400, 200], [60, 100, 40], [12, 25, 13]], dtype=np.int64)
    sizes = ["0-1", "2-9", "10-49", "50-249"]
    weights = population_weights("size_class")
    truth = sum(weights[h] * 100.0 * (row[0] - row[2]) / row.sum() for h, row in zip(sizes, exact, strict=True))
    draws, scale, z = 4_000, 12.0, 1.959963984540054
    noisy = np.asarray(vector_measurement(scale)(np.tile(exact.ravel(), draws)), dtype=float).reshape(draws * 4, 3)
    sides = np.maximum(noisy, 0.0)
    estimate, low, high = balance_interval(sides[:, 0], sides[:, 1], sides[:, 2], scale, 0.95)
    estimate, low, high = (x.reshape(draws, 4) for x in (estimate, low, high))
    inside = 0
    for draw in range(draws):
        figure = weighted_figure(
            dict(zip(sizes, estimate[draw], strict=True)),
            {h: ((high[draw, i] - low[draw, i]) / (2 * z)) ** 2 for i, h in enumerate(sizes)},
            dict.fromkeys(sizes, 0.0),
            weights,
        )
        inside += figure.ci_low <= truth <= figure.ci_high
    assert 0.935 <= inside / draws <= 0.975
