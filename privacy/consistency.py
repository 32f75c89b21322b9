"""Consistency across levels: generalised least squares over the noisy counts of nation and its margins.

A release has noisy counts of the same statistic at several levels: the
nation (one group) and margins that each partition it (provinces, sectors,
size classes). Each level got its own noise, so the provinces need not add
up to the nation. Because the true counts do add up, the noisy ones can be
combined: every margin's sum is a second (noisier) measurement of the
national count, and the national count tells each margin how far its sum is
off. The best linear unbiased combination is the GLS projection onto the
consistent counts:

    x = y - S A' (A S A')^-1 A y,    Cov(x) = S - S A' (A S A')^-1 A S

with y the stacked noisy counts (nation first, then each margin's groups),
S = diag of their noise variances (known exactly: the noise scale of every
entry is public) and A one row per margin, "sum of its groups minus the
nation". The adjusted counts add up exactly at every level, are unbiased,
and have the smallest variance of all linear unbiased estimates from these
measurements (Gauss-Markov). This is post-processing of released numbers
only: it costs no budget.

How much it gains depends on the shape: with equal noise per entry, the
national count combines 1 + 1/12 + 1/21 + 1/4 measurements' worth of
information (variance x 0.72, half-width x 0.85); a margin with K groups
gains little per group (each group's correction is spread over K), e.g. a
size class about 6 %, a sector under 1 %. The gains are measured in
`benchmarks/accuracy.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ConsistentCounts", "consistent_margins", "discrete_laplace_variance"]


@dataclass(frozen=True)
class ConsistentCounts:
    """Adjusted counts per level (groups x columns) and the variance of each adjusted entry (per group)."""

    values: dict[str, np.ndarray]
    variances: dict[str, np.ndarray]


def discrete_laplace_variance(scale: float) -> float:
    """Variance of OpenDP's discrete Laplace noise at `scale`: 2 e^(-1/s) / (1 - e^(-1/s))^2 (about 2 s^2).

    >>> round(discrete_laplace_variance(12.0), 2), discrete_laplace_variance(0.0)
    (287.83, 0.0)
    """
    if scale == 0:
        return 0.0
    q = np.exp(-1.0 / scale)
    return float(2.0 * q / (1.0 - q) ** 2)


def consistent_margins(
    nation: np.ndarray | None, margins: dict[str, np.ndarray], variances: dict[str, float | np.ndarray]
) -> ConsistentCounts:
    """GLS-consistent counts: every margin sums exactly to the nation (see the module docstring).

    `nation` has shape (columns,) or (1, columns), or is None when the
    nation was not released itself (it is then the common sum of the
    adjusted margins); each margin (groups x columns); `variances` the noise
    variance per entry of each level ('nation' and every margin name), a
    number or one per group. Columns are independent statistics (answer
    sides, periods) adjusted in one solve.

    >>> adjusted = consistent_margins(np.array([100.0]), {"size": np.array([[30.0], [60.0]])}, {"nation": 1.0, "size": 1.0})
    >>> adjusted.values["nation"].ravel().tolist(), adjusted.values["size"].ravel().tolist()
    ([96.66666666666667], [33.333333333333336, 63.333333333333336])
    >>> [round(float(v), 4) for v in adjusted.variances["size"]]  # 1 - 1/3 each; the nation 1 - 1/3 too
    [0.6667, 0.6667]
    >>> derived = consistent_margins(None, {"a": np.array([[40.0], [50.0]]), "b": np.array([[100.0]])}, {"a": 1.0, "b": 1.0})
    >>> derived.values["nation"].ravel().tolist(), [round(float(v), 4) for v in derived.variances["nation"]]  # (90/2 + 100/1) / (1/2 + 1)
    ([96.66666666666667], [0.6667])
    """
    names = list(margins)
    levels = names if nation is None else ["nation", *names]
    blocks = [np.asarray(margins[name], dtype=float) for name in names]
    if nation is not None:
        blocks.insert(0, np.atleast_2d(np.asarray(nation, dtype=float)))
    sizes = [block.shape[0] for block in blocks]
    if any(block.shape[1] != blocks[0].shape[1] for block in blocks):
        raise ValueError("margins: every level must have the same columns as the nation")
    y = np.vstack(blocks)
    noise = np.concatenate(
        [np.broadcast_to(np.asarray(variances[name], dtype=float), (size,)) for name, size in zip(levels, sizes, strict=True)]
    )
    if np.any(noise < 0):
        raise ValueError("variances: a noise variance cannot be negative")
    bounds = np.cumsum([0, *sizes])
    constraints = np.zeros((len(sizes) - 1, y.shape[0]))
    for row in range(len(sizes) - 1):  # level 0 (the nation, or the first margin) minus each other level
        constraints[row, bounds[0] : bounds[1]] = -1.0
        constraints[row, bounds[row + 1] : bounds[row + 2]] = 1.0
    weighted = constraints * noise  # A S
    system = weighted @ constraints.T  # A S A'
    covariance = np.diag(noise)
    if np.linalg.matrix_rank(system) == system.shape[0]:  # with no noise at all the counts are exact already
        gain = np.linalg.solve(system, weighted).T  # S A' (A S A')^-1
        y = y - gain @ (constraints @ y)
        covariance = covariance - gain @ weighted
    values = {name: y[bounds[i] : bounds[i + 1]] for i, name in enumerate(levels)}
    spread = {name: np.maximum(np.diag(covariance)[bounds[i] : bounds[i + 1]], 0.0) for i, name in enumerate(levels)}
    if nation is None:
        values["nation"] = values[names[0]].sum(axis=0, keepdims=True)
        spread["nation"] = np.array([max(float(covariance[bounds[0] : bounds[1], bounds[0] : bounds[1]].sum()), 0.0)])
    return ConsistentCounts(values, spread)
