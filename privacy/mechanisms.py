"""The noise of a release: OpenDP's measurements for the components `privacy.sensitivity` derives.

Each component of a release (an integer vector of bounded sufficient
statistics, with its L1 sensitivity and share of epsilon; the derivation of
every sensitivity is in `privacy/sensitivity.py`) receives discrete Laplace
noise from one OpenDP measurement (`make_laplace` on an integer vector under
the L1 distance) at scale sensitivity / epsilon, and OpenDP's privacy map
certifies the epsilon of exactly that measurement.

Private group keys: the count per observed key goes through OpenDP's
Laplace-threshold measurement (`make_laplace_threshold`; a unit touches at
most c keys, at most c per key); keys whose noisy count is under the
threshold are dropped, the others become the groups of the remaining
measures. The threshold is the smallest one whose delta fits the spec.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import opendp.prelude as dp

from privacy.sensitivity import Component

dp.enable_features("contrib")

LAPLACE = "discrete Laplace (OpenDP make_laplace on an integer vector, L1 distance)"
THRESHOLD = "discrete Laplace with threshold (OpenDP make_laplace_threshold, partition selection)"


# --------------------------------------------------------------------------- OpenDP measurements


@cache
def vector_measurement(scale: float) -> dp.Measurement:
    """Discrete Laplace noise on a vector of 64-bit integers (L1 metric)."""
    domain = dp.vector_domain(dp.atom_domain(T="i64"))
    return dp.m.make_laplace(domain, dp.l1_distance(T="i64"), scale=scale)


def certified_epsilon(component: Component) -> float:
    """The epsilon OpenDP's privacy map gives for this component's measurement and sensitivity."""
    return float(vector_measurement(component.scale).map(component.sensitivity))


def noisy_vector(values: np.ndarray, component: Component) -> np.ndarray:
    """The vector with OpenDP's discrete Laplace noise at the component's scale."""
    if values.size == 0:
        return values.astype(np.int64)
    return np.asarray(vector_measurement(component.scale)(values.astype(np.int64)), dtype=np.int64)


def count_accuracy(scale: float, alpha: float) -> float:
    """Half-width a with P(|noise| > a) <= alpha for one discrete Laplace draw (OpenDP's accuracy).

    >>> round(count_accuracy(9.0, 0.05), 2), count_accuracy(0.0, 0.05)
    (27.45, 0.0)
    """
    if scale == 0:  # no noise at all (an infinite privacy loss, used by the exactness tests)
        return 0.0
    return float(dp.discrete_laplacian_scale_to_accuracy(scale=scale, alpha=alpha))


# --------------------------------------------------------------------------- private keys


def threshold_measurement(scale: float, threshold: int) -> dp.Measurement:
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T="i64"))
    metric = dp.l01inf_distance(dp.absolute_distance(T="i64"))
    return dp.m.make_laplace_threshold(domain, metric, scale=scale, threshold=threshold)


def selection_threshold(component: Component, delta: float) -> int:
    """The smallest threshold whose delta (OpenDP's map) is at most `delta` for this count component."""
    rows = component.sensitivity_per_level
    distance = (rows, rows, rows)  # keys touched, total change, change per key
    low, high = rows, rows + 1
    while threshold_measurement(component.scale, high).map(distance)[1] > delta:
        low, high = high, high * 2
        if high > 10**9:
            raise ValueError(f"no threshold reaches delta {delta} at scale {component.scale}")
    while high - low > 1:  # binary search: delta falls as the threshold rises
        middle = (low + high) // 2
        if threshold_measurement(component.scale, middle).map(distance)[1] <= delta:
            high = middle
        else:
            low = middle
    return high


def certified_selection(component: Component, threshold: int) -> tuple[float, float]:
    """(epsilon, delta) of the partition selection, from OpenDP's map."""
    rows = component.sensitivity_per_level
    epsilon, delta = threshold_measurement(component.scale, threshold).map((rows, rows, rows))
    return float(epsilon), float(delta)


def select_keys(counts: dict[str, int], component: Component, threshold: int) -> dict[str, int]:
    """Noisy counts of the keys that pass the threshold (OpenDP drops the others)."""
    return dict(threshold_measurement(component.scale, threshold)(counts))
