"""Consistency across levels (privacy/consistency.py): GLS adds up, leaves exact counts alone, and its variance is what OpenDP's noise gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from privacy.consistency import consistent_margins, discrete_laplace_variance
from privacy.mechanisms import vector_measurement

cells = arrays(np.int64, (3, 2, 4), elements=st.integers(0, 500))  # province x sector x size class, true counts


def margins_of(table: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    nation = np.array([[table.sum()]], dtype=float)
    return nation, {
        "province": table.sum(axis=(1, 2)).astype(float)[:, None],
        "sector": table.sum(axis=(0, 2)).astype(float)[:, None],
        "size_class": table.sum(axis=(0, 1)).astype(float)[:, None],
    }


VARIANCES = {"nation": 4.0, "province": 9.0, "sector": 9.0, "size_class": 16.0}


@given(cells)
def test_counts_that_add_up_are_left_alone(table):
    nation, margins = margins_of(table)
    adjusted = consistent_margins(nation, margins, VARIANCES)
    assert adjusted.values["nation"] == pytest.approx(nation)
    for name, values in margins.items():
        assert adjusted.values[name] == pytest.approx(values)


@given(cells, arrays(float, 10, elements=st.floats(-50, 50)))
def test_adjusted_counts_add_up_at_every_level(table, noise):
    nation, margins = margins_of(table)
    nation = nation + noise[0]
    margins = {
        "province": margins["province"] + noise[1:4, None],
        "sector": margins["sector"] + noise[4:6, None],
        "size_class": margins["size_class"] + noise[6:10, None],
    }
    adjusted = consistent_margins(nation, margins, VARIANCES)
    for name in margins:
        assert adjusted.values[name].sum() == pytest.approx(adjusted.values["nation"].sum(), abs=1e-6)
    derived = consistent_margins(None, margins, VARIANCES)
    for name in margins:
        assert derived.values[name].sum() == pytest.approx(derived.values["nation"].sum(), abs=1e-6)


def test_consistency_lowers_every_variance_and_without_noise_changes_nothing():
    nation, margins = margins_of(np.arange(24).reshape(3, 2, 4))
    adjusted = consistent_margins(nation, margins, VARIANCES)
    for name, variance in VARIANCES.items():
        assert np.all(adjusted.variances[name] <= variance)
    # with equal variances the nation gets 1 + 1/3 + 1/2 + 1/4 measurements' worth of information
    equal = consistent_margins(nation, margins, dict.fromkeys(VARIANCES, 1.0))
    assert equal.variances["nation"][0] == pytest.approx(1 / (1 + 1 / 3 + 1 / 2 + 1 / 4))
    exact = consistent_margins(nation + 5, margins, dict.fromkeys(VARIANCES, 0.0))
    assert exact.values["nation"] == pytest.approx(nation + 5)


@pytest.mark.slow
def test_variance_and_unbiasedness_under_opendp_noise():
    """4,000 releases with OpenDP's discrete Laplace noise (scale 3 per entry, all levels).

    Unbiased: the mean of the adjusted national count lies within 5 standard
    errors of the truth (false failure about 6e-7 for a normal mean). The
    empirical variance lies within 12 % of the GLS formula: the standard
    error of a variance from 4,000 draws with the kurtosis of a Laplace sum
    (at most 6) is sqrt(5 / 4000) = 3.5 %, so 12 % is about 3.4 of them
    (false failure about 1e-3 per level, 4 levels).
    """
    truth = np.arange(24).reshape(3, 2, 4) * 7
    nation, margins = margins_of(truth)
    draws, scale = 4_000, 3.0
    measurement = vector_measurement(scale)
    exact = np.concatenate([nation.ravel(), *[m.ravel() for m in margins.values()]]).astype(np.int64)
    noisy = np.asarray(measurement(np.tile(exact, draws)), dtype=float).reshape(draws, exact.size).T
    variance = discrete_laplace_variance(scale)
    adjusted = consistent_margins(
        noisy[:1], {"province": noisy[1:4], "sector": noisy[4:6], "size_class": noisy[6:10]}, dict.fromkeys(VARIANCES, variance)
    )
    for name, true_values in {"nation": nation, **margins}.items():
        values = adjusted.values[name]
        expected = adjusted.variances[name]
        assert np.all(np.abs(values.mean(axis=1) - true_values.ravel()) <= 5 * np.sqrt(expected / draws))
        assert values.var(axis=1) == pytest.approx(expected, rel=0.12)
    assert adjusted.variances["nation"][0] < 0.6 * variance  # the margins carry real information about the nation
