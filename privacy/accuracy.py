"""Intervals at their nominal level for released figures, from the exact distribution of the noise.

Every noisy value the engine releases is an exact integer statistic plus an
independent discrete Laplace (pure DP) or discrete Gaussian (zCDP) draw
whose law and scale are public (`privacy.mechanisms.Noise`); every function
below takes the noise as a `Noise` or, for Laplace, as a bare scale.
So the noise of any figure computed from released values is known, and its
interval is derived from it. This is post-processing of released numbers: it
reads no data and costs no budget.

* **count**: noisy +- OpenDP's accuracy at the level (`count_accuracy`),
  clipped at 0. Exact: this is the interval OpenDP itself reports.
* **sum** (of a clamped column, in resolution steps: S + c N with c the centre):
  its noise Z_S + c Z_N is a fixed sum of two discrete Laplace draws; the
  half-width is that sum's exact quantile (`noise_threshold`, two terms: exact).
* **ratios** (mean = S / N, shares, balance, multi-select shares): a figure
  theta = a.x / d.x of exact counts x. Under theta, the statistic
  a.x~ - theta d.x~ of the noisy counts x~ equals (a - theta d).Z: pure noise
  whose distribution depends on theta alone (Fieller's pivot). The interval
  is every theta for which |a.x~ - theta d.x~| is within that noise's
  (level)-quantile: a test inversion, so it covers the exact figure with the
  stated probability whatever the group's size (up to the discreteness of
  the noise). Found on a grid of theta over the possible range, then by
  bisection at both ends.
* **quantiles** (from noisy histogram bins; the estimate interpolates inside
  a bin, as for grouped data): under "the p-quantile is q", the noisy
  interpolated cumulative count at q minus p x the noisy total is again pure
  noise with weights that depend on q only; inverted the same way.

The quantile of |(weights).Z| is computed exactly when at most two noisy
values are involved (one draw's CDF summed over the other's support; the
discrete Gaussian's from its probabilities, summed to 1e-12), otherwise by
simulation: independent draws of the declared laws at the declared scales
from numpy with a fixed seed. That simulation is
post-processing of public quantities (the scales): it adds no noise to any
release and reads no data, so seeded numpy is fine here, and it makes the
interval of a stored release reproducible. Its error (100,000 draws) moves
the coverage by about 0.1 percentage point.

Every function returns (estimate, low, high) arrays clipped to the figure's
possible range; the interval always contains the estimate. Intervals say
where the exact figure among the respondents lies; the sampling error
(how respondents represent all firms) is added in `privacy.postprocess`.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise

import numpy as np

from privacy.mechanisms import Noise, as_noise, count_accuracy

__all__ = [
    "balance",
    "balance_interval",
    "count_interval",
    "mean_interval_nominal",
    "mean_interval_summed",
    "multi_select_intervals",
    "noise_threshold",
    "quantile_interval",
    "share_intervals",
    "sum_interval_nominal",
]

SIMULATION_DRAWS = 100_000
SIMULATION_SEED = 20_261_201  # fixed: the same release always gets the same intervals
GRID_POINTS = 65  # where the noise quantile is computed (it is smooth in theta: interpolated between), and the first scan
BISECTIONS = 40
TAIL = 1e-12  # probability mass of a discrete Laplace left out of the exact sums


# --------------------------------------------------------------------------- the noise


def alpha_of(level: float) -> float:
    """1 - level without floating-point dust (1 - 0.95 is 0.050000000000000044): OpenDP gets the alpha a person means.

    >>> alpha_of(0.95)
    0.05
    """
    return float(f"{1.0 - level:.12g}")


@lru_cache(maxsize=512)
def _table(noise: Noise) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(support, pmf, cdf) of one noise draw over every value whose probability is above TAIL (a Gaussian's only)."""
    reach = int(np.ceil(noise.scale * np.sqrt(2.0 * -np.log(TAIL)))) + 1
    support = np.arange(-reach, reach + 1, dtype=float)
    pmf = np.exp(-(support**2) / (2.0 * noise.scale**2))
    pmf /= pmf.sum()
    return support, pmf, np.cumsum(pmf)


def _cdf(k: np.ndarray, noise: Noise) -> np.ndarray:
    """P(Z <= k) for one noise draw Z (k rounded down): discrete Laplace in closed form, discrete Gaussian from its table."""
    k = np.floor(k)
    if noise.law == "laplace":
        scale = noise.scale
        r = np.exp(-1.0 / scale)
        return np.where(k < 0, np.exp(-np.abs(k) / scale) / (1 + r), 1 - np.exp(-np.abs(k + 1) / scale) / (1 + r))
    support, _, cdf = _table(noise)
    index = np.clip(k - support[0], -1, support.size - 1).astype(int)
    return np.where(index < 0, 0.0, cdf[np.maximum(index, 0)])


def _pmf(noise: Noise) -> tuple[np.ndarray, np.ndarray]:
    """The support (mass above TAIL) and probabilities of one noise draw."""
    if noise.law == "laplace":
        scale = noise.scale
        support = np.arange(-np.ceil(scale * -np.log(TAIL)), np.ceil(scale * -np.log(TAIL)) + 1)
        return support, -np.expm1(-1.0 / scale) / (1 + np.exp(-1.0 / scale)) * np.exp(-np.abs(support) / scale)
    support, pmf, _ = _table(noise)
    return support, pmf


def _draws(rng: np.random.Generator, noise: Noise, size: int) -> np.ndarray:
    """Draws from the noise's law: discrete Laplace as the difference of two geometric draws, discrete Gaussian from its table."""
    if noise.scale == 0:
        return np.zeros(size)
    if noise.law == "laplace":
        p = -np.expm1(-1.0 / noise.scale)
        return (rng.geometric(p, size) - rng.geometric(p, size)).astype(float)
    support, pmf, _ = _table(noise)
    return rng.choice(support, size=size, p=pmf)


def _two_term_threshold(big: Noise, small: Noise, ratio: np.ndarray, level: float) -> np.ndarray:
    """Smallest t with P(|Z1 + v Z2| <= t) >= level per v in `ratio` (Z1 with noise `big`, Z2 with `small`), exactly."""
    support, weights = _pmf(small)
    tail = alpha_of(level) / 2
    high = np.full(ratio.shape, count_accuracy(big, tail) + 1.0) + np.abs(ratio) * (count_accuracy(small, tail) + 1.0)
    low = np.zeros(ratio.shape)
    shifts = ratio[:, None] * support[None, :]

    def coverage(t: np.ndarray) -> np.ndarray:
        inside = _cdf(t[:, None] - shifts, big) - _cdf(np.ceil(-t[:, None] - shifts) - 1, big)
        return (inside * weights).sum(axis=1)

    for _ in range(50):  # P(|.| <= t) is a step function of t: converge on its step past `level`
        middle = (low + high) / 2
        enough = coverage(middle) >= level
        high, low = np.where(enough, middle, high), np.where(enough, low, middle)
    return high


@lru_cache(maxsize=256)
def _simulated_draws(noises: tuple[Noise, ...]) -> np.ndarray:
    rng = np.random.default_rng(SIMULATION_SEED)
    return np.column_stack([_draws(rng, noise, SIMULATION_DRAWS) for noise in noises])


def noise_threshold(scales: tuple[Noise | float, ...], weights: np.ndarray, level: float) -> np.ndarray:
    """Per row w of `weights` (rows x J): the level-quantile of |w . Z|, Z_j independent noise draws (`Noise`, or a Laplace scale).

    One noisy value: OpenDP's accuracy. Two: exact. More: simulated (seeded; see the module docstring).

    >>> float(noise_threshold((9.0,), np.array([[1.0]]), 0.95)[0]) == count_accuracy(9.0, 0.05)
    True
    >>> [round(float(t)) for t in noise_threshold((9.0, 9.0), np.array([[1.0, 0.0], [1.0, 1.0]]), 0.95)]
    [27, 37]
    >>> [round(float(t)) for t in noise_threshold((Noise("gaussian", 10.0),) * 2, np.array([[1.0, 1.0]]), 0.95)]
    [28]
    """
    noises = tuple(as_noise(scale) for scale in scales)
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    live = [j for j, noise in enumerate(noises) if noise.scale > 0 and np.any(weights[:, j] != 0)]
    if not live:
        return np.zeros(weights.shape[0])
    if len(live) == 1:
        (j,) = live
        return np.abs(weights[:, j]) * count_accuracy(noises[j], alpha_of(level))
    if len(live) == 2:
        big, small = sorted(live, key=lambda j: -noises[j].scale)
        w_big, w_small = weights[:, big], weights[:, small]
        safe = np.where(w_big != 0, w_big, 1.0)
        exact = np.abs(w_big) * _two_term_threshold(noises[big], noises[small], w_small / safe, level)
        return np.where(w_big != 0, exact, np.abs(w_small) * count_accuracy(noises[small], alpha_of(level)))
    draws = _simulated_draws(tuple(noises[j] for j in live))
    chosen = weights[:, live]
    out = np.empty(weights.shape[0])
    for start in range(0, chosen.shape[0], 32):  # 32 rows at a time keeps the draws x rows matrix small
        block = draws @ chosen[start:start + 32].T  # the same product as ever: its bits decide which draw is the quantile
        out[start:start + 32] = _higher_quantile(np.abs(block, out=block), level)
    return out


def _higher_quantile(columns: np.ndarray, level: float) -> np.ndarray:
    """Per column of `columns` (values x columns): `np.quantile(column, level, method="higher")`, bit for bit.

    np.quantile partitions along the first axis, strided here, which was most of the time of a running export
    (`privacy.continual`). The columns are copied into contiguous rows (in tiles: a plain transposing copy is
    cache-unfriendly) and partitioned there; the element at index ceil((n - 1) level) of a sorted column is the same.

    >>> values = np.random.default_rng(0).normal(size=(5001, 3)); values[7, 2] = np.nan
    >>> bool(np.array_equal(_higher_quantile(values, 0.95), np.quantile(values, 0.95, axis=0, method="higher"), equal_nan=True))
    True
    """
    count = columns.shape[0]
    rows = np.empty((columns.shape[1], count), dtype=columns.dtype)
    for start in range(0, count, 1024):
        rows[:, start:start + 1024] = columns[start:start + 1024].T
    index = int(np.ceil((count - 1) * np.asarray(level, dtype=float)))  # as numpy's "higher" method
    rows.partition((index, -1), axis=1)  # as np.quantile: a NaN sorts last, and a column with one has the quantile NaN
    return np.where(np.isnan(rows[:, -1]), np.nan, rows[:, index])


# --------------------------------------------------------------------------- test inversion


def _invert(statistic, grid: np.ndarray, threshold: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ends of {theta in grid range : |statistic(theta)| <= threshold(theta)} per group, the estimate included.

    `statistic(theta)` takes (groups x m) values and returns (groups x m). The
    set is scanned on the grid, then each end is refined by bisection between
    the last rejected grid point and the first accepted one.
    """
    groups = estimate.shape[0]
    valid = np.isfinite(estimate)
    safe_estimate = np.where(valid, estimate, grid[0])
    if not np.any(threshold > 0):  # no noise: the figure is exact
        return safe_estimate.copy(), safe_estimate.copy()

    def accepted(theta: np.ndarray) -> np.ndarray:
        return np.abs(statistic(theta)) <= np.interp(theta, grid, threshold)

    on_grid = accepted(np.broadcast_to(grid, (groups, grid.size)))
    any_accepted = on_grid.any(axis=1)
    first = np.argmax(on_grid, axis=1)
    last = grid.size - 1 - np.argmax(on_grid[:, ::-1], axis=1)
    inner_low = np.where(any_accepted, np.minimum(grid[first], safe_estimate), safe_estimate)
    inner_high = np.where(any_accepted, np.maximum(grid[last], safe_estimate), safe_estimate)
    below = np.searchsorted(grid, inner_low, side="left") - 1
    above = np.searchsorted(grid, inner_high, side="right")
    outer_low = np.where(below >= 0, grid[np.maximum(below, 0)], inner_low)
    outer_high = np.where(above < grid.size, grid[np.minimum(above, grid.size - 1)], inner_high)
    ends = []
    for inner, outer in ((inner_low, outer_low), (inner_high, outer_high)):
        for _ in range(BISECTIONS):
            middle = (inner + outer) / 2
            ok = accepted(middle[:, None])[:, 0]
            inner, outer = np.where(ok, middle, inner), np.where(ok, outer, middle)
        ends.append(inner)
    return ends[0], ends[1]


@lru_cache(maxsize=256)
def _ratio_thresholds(scales: tuple[Noise, ...], numerator: tuple[float, ...], denominator: tuple[float, ...],
                      bounds: tuple[float, float], level: float) -> tuple[np.ndarray, np.ndarray]:
    grid = np.linspace(bounds[0], bounds[1], GRID_POINTS)
    weights = np.asarray(numerator)[None, :] - grid[:, None] * np.asarray(denominator)[None, :]
    return grid, noise_threshold(scales, weights, level)


def _ratio(numerator: np.ndarray, denominator: np.ndarray, bounds: tuple[float, float], scales, a, d, level: float):
    """theta = a.x / d.x with its test-inversion interval, theta within `bounds`; NaN without a positive denominator."""
    numerator, denominator = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = np.where(denominator > 0, np.clip(numerator / np.where(denominator > 0, denominator, 1.0), *bounds), np.nan)
    grid, threshold = _ratio_thresholds(tuple(map(as_noise, scales)), tuple(map(float, a)), tuple(map(float, d)), tuple(map(float, bounds)), level)
    low, high = _invert(lambda theta: numerator[:, None] - theta * denominator[:, None], grid, threshold, estimate)
    valid = np.isfinite(estimate)
    return estimate, np.where(valid, low, np.nan), np.where(valid, high, np.nan)


# --------------------------------------------------------------------------- the kinds


def count_interval(noisy: np.ndarray, half_width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A count clipped at 0 and its interval (noisy +- half-width, never below 0); half-width = OpenDP's accuracy.

    >>> [a.tolist() for a in count_interval(np.array([-3, 50]), 10.0)]
    [[0.0, 50.0], [0.0, 40.0], [7.0, 60.0]]
    """
    noisy = np.asarray(noisy, dtype=float)
    return np.maximum(noisy, 0.0), np.maximum(noisy - half_width, 0.0), np.maximum(noisy + half_width, 0.0)


def sum_interval_nominal(centred_sum, count, scales: tuple[float, float], centre: float, resolution: float,
                         bounds: tuple[float, float], level: float):
    """Sum = (S + centre x N) x resolution; its noise Z_S + centre Z_N, whose exact quantile is the half-width.

    A sum of values that cannot be negative is clipped at 0.

    >>> [x.tolist() for x in sum_interval_nominal(np.array([0.0]), np.array([10.0]), (0.0, 0.0), 3, 1.0, (1, 5), 0.95)]
    [[30.0], [30.0], [30.0]]
    """
    centred_sum, count = np.asarray(centred_sum, dtype=float), np.asarray(count, dtype=float)
    half_width = float(noise_threshold(scales, np.array([[1.0, float(centre)]]), level)[0]) * resolution
    estimate = (centred_sum + centre * np.maximum(count, 0.0)) * resolution
    low, high = estimate - half_width, estimate + half_width
    if bounds[0] >= 0:
        estimate, low, high = np.maximum(estimate, 0.0), np.maximum(low, 0.0), np.maximum(high, 0.0)
    return estimate, low, high


def mean_interval_nominal(centred_sum, count, scales: tuple[float, float], centre: float, resolution: float,
                          steps: tuple[int, int], level: float):
    """Mean = (centre + S / N) x resolution within the bounds (`steps`: lower and upper in resolution steps).

    >>> est, low, high = mean_interval_nominal(np.array([100.0]), np.array([100.0]), (0.0, 0.0), 3, 1.0, (1, 5), 0.95)
    >>> est.tolist(), low.tolist(), high.tolist()
    ([4.0], [4.0], [4.0])
    """
    bounds = (steps[0] - centre, steps[1] - centre)
    estimate, low, high = _ratio(centred_sum, count, bounds, scales, (1.0, 0.0), (0.0, 1.0), level)
    return tuple((centre + x) * resolution for x in (estimate, low, high))


def mean_interval_summed(centred_sum, count, sum_noise: Noise | float, sum_draws, count_noise: Noise | float, count_draws,
                         centre: float, resolution: float, steps: tuple[int, int], level: float):
    """A mean whose noisy sum and count are each the sum of several independent draws (a running figure's tree nodes).

    Row i's sum carries `sum_draws[i]` draws of `sum_noise`, its count `count_draws[i]` of `count_noise`; the pivot
    S~ - theta N~ is then noise with weights 1 (sum draws) and -theta (count draws), inverted as for one draw each.

    >>> est, low, high = mean_interval_summed(np.array([100.0]), np.array([100.0]), 0.0, [2], 0.0, [2], 3, 1.0, (1, 5), 0.95)
    >>> est.tolist(), low.tolist(), high.tolist()
    ([4.0], [4.0], [4.0])
    """
    centred_sum, count = np.asarray(centred_sum, dtype=float), np.asarray(count, dtype=float)
    sum_draws = np.nan_to_num(np.asarray(sum_draws, dtype=float)).astype(int)
    count_draws = np.nan_to_num(np.asarray(count_draws, dtype=float)).astype(int)
    bounds = (steps[0] - centre, steps[1] - centre)
    estimate, low, high = (np.full(count.shape, np.nan) for _ in range(3))
    for k, j in {(int(a), int(b)) for a, b in zip(sum_draws, count_draws, strict=True)}:
        rows = (sum_draws == k) & (count_draws == j)
        noises = (as_noise(sum_noise),) * k + (as_noise(count_noise),) * j
        a, d = (1.0,) * k + (0.0,) * j, (0.0,) * k + (1.0,) * j
        estimate[rows], low[rows], high[rows] = _ratio(centred_sum[rows], count[rows], bounds, noises, a, d, level)
    return tuple((centre + x) * resolution for x in (estimate, low, high))


def ratio_of_sums_interval(numerator: tuple, denominator: tuple, bounds: tuple[float, float], level: float):
    """Ratio of two released sums, each given as (centred sum S, count N, sum noise, count noise, centre, resolution).

    Sum = (S + centre x N) x resolution. The pivot numerator - theta x
    denominator (in the numerator's steps) is noise with weights (1, c1, -t, -t c2)
    on the four independent noisy vectors; its quantile per theta is inverted
    as for a mean (simulated from the declared laws: more than two terms).
    `bounds` are the ratio's own (in its unit): the interval never leaves them.

    >>> est, low, high = ratio_of_sums_interval((np.array([50.0]), np.array([10.0]), 0.0, 0.0, 5, 1.0),
    ...                                         (np.array([0.0]), np.array([10.0]), 0.0, 0.0, 20, 1.0), (0.0, 5.0), 0.95)
    >>> est.tolist(), low.tolist(), high.tolist()
    ([0.5], [0.5], [0.5])
    """
    s1, n1, sum_noise1, count_noise1, c1, r1 = numerator
    s2, n2, sum_noise2, count_noise2, c2, r2 = denominator
    s1, n1, s2, n2 = (np.asarray(x, dtype=float) for x in (s1, n1, s2, n2))
    top, bottom = s1 + c1 * np.maximum(n1, 0.0), s2 + c2 * np.maximum(n2, 0.0)
    to_steps = r2 / r1  # theta in the numerator's steps per denominator step
    estimate, low, high = _ratio(top, bottom, (bounds[0] * to_steps, bounds[1] * to_steps),
                                 (sum_noise1, count_noise1, sum_noise2, count_noise2), (1.0, float(c1), 0.0, 0.0),
                                 (0.0, 0.0, 1.0, float(c2)), level)
    return tuple(x / to_steps for x in (estimate, low, high))


def multi_select_intervals(named: np.ndarray, answered: np.ndarray, scale: Noise | float, level: float):
    """Percent of respondents naming each category (named: groups x K), each a ratio of two noisy counts.

    >>> est, low, high = multi_select_intervals(np.array([[30.0, 70.0]]), np.array([100.0]), 0.0, 0.95)
    >>> est.tolist(), low.tolist()
    ([[30.0, 70.0]], [[30.0, 70.0]])
    """
    named, answered = np.atleast_2d(np.asarray(named, dtype=float)), np.asarray(answered, dtype=float)
    parts = [_ratio(named[:, k], answered, (0.0, 1.0), (scale, scale), (1.0, 0.0), (0.0, 1.0), level) for k in range(named.shape[1])]
    return tuple(100.0 * np.column_stack([part[i] for part in parts]) for i in range(3))


def share_intervals(counts: np.ndarray, scale: Noise | float, level: float):
    """Percent per category of a single choice (counts: groups x K), each the ratio h_k / sum(h).

    >>> share, low, high = share_intervals(np.array([[50.0, 50.0]]), 0.0, 0.95); share.tolist(), low.tolist()
    ([[50.0, 50.0]], [[50.0, 50.0]])
    """
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    categories = counts.shape[1]
    total = counts.sum(axis=1)
    parts = []
    for k in range(categories):  # the pivot of category k, (e_k - theta 1).Z, has the same law for every k
        a = tuple(1.0 if j == k else 0.0 for j in range(categories))
        parts.append(_ratio(counts[:, k], total, (0.0, 1.0), (scale,) * categories, a, (1.0,) * categories, level))
    return tuple(100.0 * np.column_stack([part[i] for part in parts]) for i in range(3))


def balance(positive: np.ndarray, neutral: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Balance in percentage points: % positive minus % negative (NaN without answers).

    >>> balance(np.array([30.0]), np.array([50.0]), np.array([20.0])).tolist()
    [10.0]
    """
    total = positive + neutral + negative
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.where(total > 0, 100.0 * (positive - negative) / np.where(total > 0, total, 1.0), np.nan), -100.0, 100.0)


def balance_interval(positive, neutral, negative, scale: Noise | float, level: float):
    """Balance (P - N) / (P + U + N) in percentage points, with its interval; the pivot is (1-b) Z_P - b Z_U - (1+b) Z_N.

    >>> [round(float(x[0]), 1) for x in balance_interval(np.array([60.0]), np.array([30.0]), np.array([10.0]), 0.0, 0.95)]
    [50.0, 50.0, 50.0]
    """
    positive, neutral, negative = (np.asarray(x, dtype=float) for x in (positive, neutral, negative))
    estimate, low, high = _ratio(positive - negative, positive + neutral + negative, (-1.0, 1.0), (scale,) * 3,
                                 (1.0, 0.0, -1.0), (1.0, 1.0, 1.0), level)
    return 100.0 * estimate, 100.0 * low, 100.0 * high


@lru_cache(maxsize=64)
def _quantile_thresholds(edges: tuple[float, ...], probability: float, scale: Noise, level: float):
    edges_array = np.asarray(edges)
    grid = np.unique(np.concatenate([np.linspace(a, b, 9) for a, b in pairwise(edges_array)]))
    weights = _cumulative_weights(grid, edges_array) - probability
    return grid, noise_threshold((scale,) * (len(edges) - 1), weights, level)


def _cumulative_weights(q: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per q: the weight of each bin in the interpolated count of values up to q (1 below, a fraction inside, 0 above)."""
    low, high = edges[:-1][None, :], edges[1:][None, :]
    return np.clip((q[:, None] - low) / (high - low), 0.0, 1.0)


def quantile_interval(bins: np.ndarray, edges: list[float], probability: float, scale: Noise | float, level: float):
    """The p-quantile from a noisy histogram (groups x K bins), interpolated inside its bin, with its interval.

    Estimate: where the cumulative noisy histogram (clipped at 0) reaches p x
    total, linear inside that bin. Interval: every q for which the noisy
    interpolated count up to q minus p x the noisy total is within its noise
    quantile (the raw noisy bins, so that this is exactly noise under q).

    >>> est, low, high = quantile_interval(np.array([[10.0, 10.0, 10.0, 10.0]]), [0, 1, 2, 3, 4], 0.5, 0.0, 0.95)
    >>> est.tolist(), low.tolist(), high.tolist()
    ([2.0], [2.0], [2.0])
    """
    raw = np.atleast_2d(np.asarray(bins, dtype=float))
    clipped = np.maximum(raw, 0.0)
    edges_array = np.asarray(edges, dtype=float)
    total = clipped.sum(axis=1)
    cumulative = np.cumsum(clipped, axis=1)
    target = probability * total
    index = np.minimum((cumulative < target[:, None]).sum(axis=1), clipped.shape[1] - 1)
    rows = np.arange(clipped.shape[0])
    before = np.where(index > 0, cumulative[rows, np.maximum(index - 1, 0)], 0.0)
    inside = clipped[rows, index]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.clip(np.where(inside > 0, (target - before) / np.where(inside > 0, inside, 1.0), 0.0), 0.0, 1.0)
    estimate = np.where(total > 0, edges_array[index] + fraction * (edges_array[index + 1] - edges_array[index]), np.nan)
    grid, threshold = _quantile_thresholds(tuple(map(float, edges)), float(probability), as_noise(scale), float(level))
    raw_total = raw.sum(axis=1)

    def statistic(q: np.ndarray) -> np.ndarray:
        flat = q.reshape(-1)
        weights = _cumulative_weights(flat, edges_array).reshape(*q.shape, raw.shape[1])
        return np.einsum("gmk,gk->gm", weights, raw) - probability * raw_total[:, None]

    low, high = _invert(statistic, grid, threshold, estimate)
    valid = np.isfinite(estimate)
    return estimate, np.where(valid, low, np.nan), np.where(valid, high, np.nan)
