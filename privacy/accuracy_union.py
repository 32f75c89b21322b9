"""The engine's first intervals (kept for comparison): a union bound over a box of noisy counts.

`privacy.accuracy` replaced these in the releases: they cover 99-100 % at a
stated 95 % and are 2-3 times too wide. They stay importable so a benchmark
can put the old engine beside the new one in one run
(`privacy.postprocess.post_process(..., method="union")`), and
`privacy.continual` still uses `count_interval` and `mean_interval` for its
running figures.

All intervals cover the differential-privacy noise only: they say where the
exact figure among the respondents lies, not how well respondents represent
all firms (sampling error is a separate matter).

The building block is OpenDP's `discrete_laplacian_scale_to_accuracy`: for
one noisy count, P(|noise| > a) <= alpha (`mechanisms.count_accuracy`). A
figure computed from k noisy counts gets each count's box at alpha / k; by
the union bound all k true counts lie in their boxes with probability at
least 1 - alpha, and the interval is the exact range of the figure over that
box (computed at the box's corners, where a ratio of counts takes its
extremes). True counts are never negative, so boxes are clipped at 0.

Everything here is post-processing of released numbers: it costs no budget.
"""

from __future__ import annotations

import numpy as np

__all__ = ["balance", "balance_interval", "count_interval", "mean_interval", "quantile_estimates", "share_intervals", "sum_interval"]


def _box(values: np.ndarray, half_width: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=float)
    return np.maximum(values - half_width, 0.0), np.maximum(values + half_width, 0.0)


def _ratio(numerator: np.ndarray, denominator: np.ndarray, empty: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), empty)


def count_interval(noisy: np.ndarray, half_width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A count clipped at 0 and its interval (noisy +- half-width, never below 0).

    >>> [a.tolist() for a in count_interval(np.array([-3, 50]), 10.0)]
    [[0.0, 50.0], [0.0, 40.0], [7.0, 60.0]]
    """
    noisy = np.asarray(noisy, dtype=float)
    return np.maximum(noisy, 0.0), np.maximum(noisy - half_width, 0.0), np.maximum(noisy + half_width, 0.0)


def balance(positive: np.ndarray, neutral: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Balance in percentage points: % positive minus % negative (NaN without answers).

    >>> balance(np.array([30.0]), np.array([50.0]), np.array([20.0])).tolist()
    [10.0]
    """
    total = positive + neutral + negative
    return np.clip(_ratio(100.0 * (positive - negative), total, np.nan), -100.0, 100.0)


def balance_interval(positive, neutral, negative, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Range of the balance over the box of the three answer counts (each at alpha / 3).

    f(P, U, N) = (P - N) / (P + U + N) rises with P, falls with N, and is
    monotone in U for fixed P and N, so its minimum is at (P low, N high) and
    its maximum at (P high, N low), each with U at one of its two ends.

    >>> [round(float(x[0]), 1) for x in balance_interval(np.array([60.0]), np.array([30.0]), np.array([10.0]), 5.0)]
    [38.1, 63.2]
    """
    (p_low, p_high), (u_low, u_high), (n_low, n_high) = _box(positive, half_width), _box(neutral, half_width), _box(negative, half_width)
    lows = [_ratio(100.0 * (p_low - n_high), p_low + u + n_high, -100.0) for u in (u_low, u_high)]
    highs = [_ratio(100.0 * (p_high - n_low), p_high + u + n_low, 100.0) for u in (u_low, u_high)]
    return np.clip(np.minimum(*lows), -100.0, 100.0), np.clip(np.maximum(*highs), -100.0, 100.0)


def share_intervals(counts: np.ndarray, half_width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percent per category (single choice) and its range over the box of all K counts (each at alpha / K).

    Share k = h_k / (h_k + rest) is lowest with h_k low and every other count
    high, and highest the other way round. `counts` is (groups x K).

    >>> share, low, high = share_intervals(np.array([[50.0, 50.0]]), 0.0); share.tolist(), low.tolist()
    ([[50.0, 50.0]], [[50.0, 50.0]])
    """
    counts = np.maximum(np.asarray(counts, dtype=float), 0.0)
    low_box, high_box = _box(counts, half_width)
    share = _ratio(100.0 * counts, counts.sum(axis=1, keepdims=True), np.nan)
    low = _ratio(100.0 * low_box, low_box + (high_box.sum(axis=1, keepdims=True) - high_box), 0.0)
    high = _ratio(100.0 * high_box, high_box + (low_box.sum(axis=1, keepdims=True) - low_box), 100.0)
    return share, low, high


def ratio_interval(numerator, numerator_width, denominator, denominator_width) -> tuple[np.ndarray, np.ndarray]:
    """Range of numerator / denominator over its box (each at alpha / 2); the denominator is at least 1.

    s / n is linear in s and monotone in n for fixed s, so the extremes are at the four corners.

    >>> [x.tolist() for x in ratio_interval(np.array([10.0]), 2.0, np.array([20.0]), 4.0)]
    [[0.3333333333333333], [0.75]]
    """
    numerator, denominator = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    n_low = np.maximum(denominator - denominator_width, 1.0)
    n_high = np.maximum(denominator + denominator_width, 1.0)
    corners = [(numerator + sign * numerator_width) / n for sign in (-1.0, 1.0) for n in (n_low, n_high)]
    return np.minimum.reduce(corners), np.maximum.reduce(corners)


def mean_interval(centred_sum, sum_width, count, count_width, centre: float, resolution: float, bounds: tuple[float, float]):
    """Mean = (centre + S / N) x resolution, clamped to the bounds; interval from `ratio_interval`.

    >>> [round(float(x[0]), 2) for x in mean_interval(np.array([100.0]), 0.0, np.array([100.0]), 0.0, 3, 1.0, (1, 5))]
    [4.0, 4.0, 4.0]
    """
    count = np.asarray(count, dtype=float)
    estimate = (centre + _ratio(np.asarray(centred_sum, dtype=float), count, np.nan)) * resolution
    low, high = ratio_interval(centred_sum, sum_width, count, count_width)
    lower, upper = bounds
    return (
        np.clip(estimate, lower, upper),
        np.clip((centre + low) * resolution, lower, upper),
        np.clip((centre + high) * resolution, lower, upper),
    )


def sum_interval(centred_sum, sum_width, count, count_width, centre: float, resolution: float, bounds: tuple[float, float]):
    """Sum = (S + centre x N) x resolution; linear in S and N, so its range is at the box's corners.

    A sum of values that cannot be negative is clipped at 0.

    >>> [x.tolist() for x in sum_interval(np.array([0.0]), 0.0, np.array([10.0]), 1.0, 3, 1.0, (1, 5))]
    [[30.0], [27.0], [33.0]]
    """
    centred_sum, count = np.asarray(centred_sum, dtype=float), np.asarray(count, dtype=float)
    n_low, n_high = _box(count, count_width)
    estimate = (centred_sum + centre * np.maximum(count, 0.0)) * resolution
    corners = [(centred_sum + sign * sum_width + centre * n) * resolution for sign in (-1.0, 1.0) for n in (n_low, n_high)]
    low, high = np.minimum.reduce(corners), np.maximum.reduce(corners)
    if bounds[0] >= 0:
        estimate, low, high = np.maximum(estimate, 0.0), np.maximum(low, 0.0), np.maximum(high, 0.0)
    return estimate, low, high


def quantile_estimates(bins: np.ndarray, edges: list[float], probability: float, half_width: float):
    """Quantile from a noisy histogram (groups x K bins), with its interval over the box of all K counts.

    Estimate: where the cumulative noisy histogram (clipped at 0) reaches
    p x total, interpolated linearly inside that bin. Interval: with every
    true bin count h_i in [h_i - a, h_i + a] (a at alpha / K), the true share
    of values up to edge j is at least F_low / (F_low + R_high) and at most
    F_high / (F_high + R_low) (F: bins up to j, R: the bins after). The true
    p-quantile is above edge j when even the highest share there is below p,
    and at or below edge j when even the lowest share reaches p; the interval
    runs from the last edge of the first kind to the first edge of the second.

    >>> est, low, high = quantile_estimates(np.array([[10.0, 10.0, 10.0, 10.0]]), [0, 1, 2, 3, 4], 0.5, 0.0)
    >>> est.tolist(), low.tolist(), high.tolist()  # half of the values lie at or below 2, a quarter at or below 1
    ([2.0], [1.0], [2.0])
    """
    bins = np.maximum(np.asarray(bins, dtype=float), 0.0)
    edges_array = np.asarray(edges, dtype=float)
    total = bins.sum(axis=1)
    cumulative = np.cumsum(bins, axis=1)
    target = probability * total
    # first bin whose cumulative count reaches the target; interpolate inside it
    index = np.minimum((cumulative < target[:, None]).sum(axis=1), bins.shape[1] - 1)
    rows = np.arange(bins.shape[0])
    before = np.where(index > 0, cumulative[rows, np.maximum(index - 1, 0)], 0.0)
    inside = bins[rows, index]
    fraction = np.clip(_ratio(target - before, inside, 0.0), 0.0, 1.0)
    estimate = np.where(total > 0, edges_array[index] + fraction * (edges_array[index + 1] - edges_array[index]), np.nan)

    low_box, high_box = _box(bins, half_width)
    f_low, f_high = np.cumsum(low_box, axis=1)[:, :-1], np.cumsum(high_box, axis=1)[:, :-1]
    r_low = low_box.sum(axis=1, keepdims=True) - np.cumsum(low_box, axis=1)[:, :-1]
    r_high = high_box.sum(axis=1, keepdims=True) - np.cumsum(high_box, axis=1)[:, :-1]
    share_low = _ratio(f_low, f_low + r_high, 0.0)  # inner edges 1 .. K-1
    share_high = _ratio(f_high, f_high + r_low, 1.0)
    inner = edges_array[1:-1]
    above = share_high < probability  # the quantile lies above this edge
    at_or_below = share_low >= probability
    low = np.where(above.any(axis=1), inner[np.where(above, np.arange(inner.size), -1).max(axis=1)], edges_array[0])
    first_reach = np.where(at_or_below, np.arange(inner.size), inner.size).min(axis=1)
    high = np.where(at_or_below.any(axis=1), inner[np.minimum(first_reach, inner.size - 1)], edges_array[-1])
    return estimate, low, high
