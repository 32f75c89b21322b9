"""Sampling error of released figures, estimated from released numbers only (free post-processing).

The respondents are a sample of the business population, so a figure about
them (a share, a balance, a mean, a median) also differs from the same figure
over all firms. Its standard error is estimated, as for a simple random
sample, from released (noisy, clipped) statistics only, never from rows:

| figure | standard error | from |
|---|---|---|
| share p (single or multi-select) | sqrt(p (1 - p) / n) | the released share and its basis n |
| balance b = p+ - p- | sqrt((p+ + p- - b^2) / n) | the released positive and negative shares |
| mean | s / sqrt(n), s^2 = (Q / n - m^2) n / (n - 1) | a released bounded sum of squares Q (`sum_of_squares: true`) |
| mean without Q, with a histogram | s from the bins (middles, plus width^2 / 12 within) | a released histogram of the same column and bounds (a quantiles measure) |
| mean without either | sqrt((U - m)(m - L) / n) | the largest variance values in [L, U] with mean m can have (Bhatia-Davis): conservative |
| quantile | sqrt(p (1 - p) / n) / f | f: the released histogram's density in the quantile's bin |

Counts and sums describe the respondents themselves (the number of firms
that answered, the total over them), so their sampling error is 0 here. No
finite-population correction is applied (the sample fraction is small and
the correction only shrinks the error), and the estimates are unweighted:
population weighting is a separate step.

The combined interval adds the two sources of error in quadrature, per side:
lower = estimate - sqrt((estimate - dp_low)^2 + (z se)^2), and the same
above, clipped to the figure's possible range.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

__all__ = ["balance_se", "combined_interval", "histogram_variance", "mean_se", "quantile_se", "share_se", "z_value"]


def z_value(level: float) -> float:
    """The two-sided normal quantile for `level`.

    >>> round(z_value(0.95), 2)
    1.96
    """
    return NormalDist().inv_cdf(0.5 + level / 2)


def _basis(n) -> np.ndarray:
    return np.maximum(np.asarray(n, dtype=float), 1.0)


def share_se(share_percent, n) -> np.ndarray:
    """Standard error of a share, in percentage points.

    >>> share_se(np.array([50.0]), np.array([100.0])).tolist()
    [5.0]
    """
    p = np.clip(np.asarray(share_percent, dtype=float) / 100.0, 0.0, 1.0)
    return 100.0 * np.sqrt(p * (1 - p) / _basis(n))


def balance_se(positive_percent, negative_percent, n) -> np.ndarray:
    """Standard error of a balance (percentage points) from its positive and negative shares (percent).

    >>> round(float(balance_se(np.array([50.0]), np.array([50.0]), np.array([100.0]))[0]), 6)
    10.0
    """
    plus = np.clip(np.asarray(positive_percent, dtype=float) / 100.0, 0.0, 1.0)
    minus = np.clip(np.asarray(negative_percent, dtype=float) / 100.0, 0.0, 1.0)
    variance = np.maximum(plus + minus - (plus - minus) ** 2, 0.0)
    return 100.0 * np.sqrt(variance / _basis(n))


def histogram_variance(bins, edges) -> np.ndarray:
    """Variance of values from a released histogram (groups x K bins), each value spread evenly over its bin.

    Between the bins' middles plus within the bins (width^2 / 12, as for grouped data).

    >>> histogram_variance(np.array([[50.0, 50.0]]), [0, 1, 2]).round(6).tolist()  # uniform on [0, 2]: 4 / 12
    [0.333333]
    """
    bins = np.maximum(np.atleast_2d(np.asarray(bins, dtype=float)), 0.0)
    edges_array = np.asarray(edges, dtype=float)
    middles, widths = (edges_array[:-1] + edges_array[1:]) / 2, np.diff(edges_array)
    weights = bins / np.maximum(bins.sum(axis=1, keepdims=True), 1.0)
    mean = weights @ middles
    return weights @ (middles**2 + widths**2 / 12) - mean**2


def mean_se(mean_steps, n, squares, bounds_steps: tuple[float, float], resolution: float, variance=None) -> np.ndarray:
    """Standard error of a mean, in the measure's unit; `mean_steps` and `squares` are centred, in steps.

    With `squares` (the released sum of squared centred values) the sample
    variance; else with `variance` (in the measure's unit squared, e.g. from
    a released histogram of the same column) that one; else none. Each is
    clipped to [0, Bhatia-Davis bound], and without either it is the bound.

    >>> round(float(mean_se(np.array([0.0]), np.array([100.0]), None, (-2, 2), 1.0)[0]), 6)  # values at -2 and 2
    0.2
    >>> round(float(mean_se(np.array([0.0]), np.array([101.0]), np.array([101.0]), (-2, 2), 1.0)[0]), 6)  # variance 1.01
    0.1
    """
    m = np.asarray(mean_steps, dtype=float)
    n = np.maximum(np.asarray(n, dtype=float), 2.0)
    lower, upper = bounds_steps
    most = np.maximum((upper - m) * (m - lower), 0.0)
    if squares is not None:
        estimated = (np.asarray(squares, dtype=float) / n - m**2) * n / (n - 1)
    elif variance is not None:
        estimated = np.asarray(variance, dtype=float) / resolution**2
    else:
        estimated = most
    return np.sqrt(np.clip(estimated, 0.0, most) / n) * resolution


def quantile_se(bins, edges, probability: float, estimate) -> np.ndarray:
    """Standard error of a quantile: sqrt(p (1 - p) / n) / f, f the histogram's density in the estimate's bin.

    >>> quantile_se(np.array([[25.0, 50.0, 25.0]]), [0, 1, 2, 3], 0.5, np.array([1.5])).tolist()
    [0.1]
    """
    bins = np.maximum(np.atleast_2d(np.asarray(bins, dtype=float)), 0.0)
    edges_array = np.asarray(edges, dtype=float)
    total = np.maximum(bins.sum(axis=1), 1.0)
    estimate = np.asarray(estimate, dtype=float)
    index = np.clip(np.searchsorted(edges_array, np.nan_to_num(estimate, nan=edges_array[0]), side="right") - 1, 0, bins.shape[1] - 1)
    density = bins[np.arange(bins.shape[0]), index] / total / np.diff(edges_array)[index]
    with np.errstate(divide="ignore"):
        return np.where(density > 0, np.sqrt(probability * (1 - probability) / total) / np.where(density > 0, density, 1.0), np.inf)


def combined_interval(estimate, dp_low, dp_high, se, level: float, bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Noise and sampling error together, per side, clipped to the possible range.

    >>> [x.tolist() for x in combined_interval(np.array([10.0]), np.array([7.0]), np.array([13.0]), np.array([0.0]), 0.95, (0, 100))]
    [[7.0], [13.0]]
    """
    estimate = np.asarray(estimate, dtype=float)
    spread = z_value(level) * np.asarray(se, dtype=float)
    low = estimate - np.sqrt((estimate - np.asarray(dp_low, dtype=float)) ** 2 + spread**2)
    high = estimate + np.sqrt((np.asarray(dp_high, dtype=float) - estimate) ** 2 + spread**2)
    return np.clip(low, *bounds), np.clip(high, *bounds)
