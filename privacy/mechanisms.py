"""The noise of a release: OpenDP's measurements for the components `privacy.sensitivity` derives.

Each component of a release (an integer vector of bounded sufficient
statistics, with its sensitivity and share of the release's privacy loss;
the derivation of every sensitivity is in `privacy/sensitivity.py`) receives
noise from one OpenDP measurement:

* pure DP (`privacy_loss.epsilon`): discrete Laplace (`make_laplace` on an
  integer vector under the L1 distance) at scale L1 / epsilon; OpenDP's
  privacy map certifies the epsilon of exactly that measurement;
* zCDP (`privacy_loss.rho`): discrete Gaussian (`make_gaussian` on an integer
  vector under the L2 distance) at scale L2 / sqrt(2 rho); OpenDP's map
  certifies rho. Its map is rho = d^2 / (2 scale^2) and takes whole-number
  distances, so an L2 sensitivity that is no whole number (sqrt(2) for two
  levels) is certified as OpenDP's rho at distance 1 times the squared
  sensitivity (a whole number), rounded up.

`Noise` names the law and scale of one noisy vector: the intervals
(`privacy.accuracy`) are derived from exactly that law.

Private group keys: the count per observed key goes through OpenDP's
Laplace-threshold measurement (`make_laplace_threshold`; a unit touches at
most c keys, at most c per key); keys whose noisy count is under the
threshold are dropped, the others become the groups of the remaining
measures. The threshold is the smallest one whose delta fits the spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

import numpy as np
import opendp.prelude as dp

if TYPE_CHECKING:
    from privacy.sensitivity import Component

dp.enable_features("contrib")

LAPLACE = "discrete Laplace (OpenDP make_laplace on an integer vector, L1 distance)"
GAUSSIAN = "discrete Gaussian (OpenDP make_gaussian on an integer vector, L2 distance; zCDP)"
THRESHOLD = "discrete Laplace with threshold (OpenDP make_laplace_threshold, partition selection)"


@dataclass(frozen=True)
class Noise:
    """The law of the noise on one vector: discrete Laplace (P(k) ~ exp(-|k| / scale)) or discrete Gaussian (~ exp(-k^2 / 2 scale^2))."""

    law: Literal["laplace", "gaussian"]
    scale: float


def as_noise(noise: Noise | float) -> Noise:
    """A bare number is a discrete Laplace scale (the law of every pure-DP release).

    >>> as_noise(3), as_noise(Noise("gaussian", 2.0)).law
    (Noise(law='laplace', scale=3.0), 'gaussian')
    """
    return noise if isinstance(noise, Noise) else Noise("laplace", float(noise))


# --------------------------------------------------------------------------- OpenDP measurements


@cache
def vector_measurement(scale: float) -> dp.Measurement:
    """Discrete Laplace noise on a vector of 64-bit integers (L1 metric)."""
    domain = dp.vector_domain(dp.atom_domain(T="i64"))
    return dp.m.make_laplace(domain, dp.l1_distance(T="i64"), scale=scale)


@cache
def gaussian_vector_measurement(scale: float) -> dp.Measurement:
    """Discrete Gaussian noise on a vector of 64-bit integers (L2 metric), rho-zCDP."""
    domain = dp.vector_domain(dp.atom_domain(T="i64"))
    return dp.m.make_gaussian(domain, dp.l2_distance(T="i64"), scale=scale)


def _measurement(component: Component) -> dp.Measurement:
    if component.mechanism == "gaussian":
        return gaussian_vector_measurement(component.scale)
    return vector_measurement(component.scale)


def certified_epsilon(component: Component) -> float:
    """The epsilon OpenDP's privacy map gives for this (Laplace) component's measurement and sensitivity."""
    if component.mechanism != "laplace":
        raise ValueError(f"{component.measure}.{component.part}: a {component.mechanism} component has a rho, not an epsilon")
    return float(vector_measurement(component.scale).map(component.sensitivity))


def certified_rho(component: Component) -> float:
    """The rho OpenDP's privacy map gives for this (Gaussian) component's measurement at its L2 sensitivity.

    >>> from privacy.sensitivity import Component
    >>> two_levels = Component("m", "sides", ("a", "b", "c"), 1, 2, 0.0, rho=0.04)
    >>> round(two_levels.scale, 4), round(certified_rho(two_levels), 6)
    (5.0, 0.04)
    """
    if component.mechanism != "gaussian":
        raise ValueError(f"{component.measure}.{component.part}: a {component.mechanism} component has an epsilon, not a rho")
    measurement = gaussian_vector_measurement(component.scale)
    squared = component.l2_squared
    root = math.isqrt(squared)
    if root * root == squared:
        return float(measurement.map(root))
    return math.nextafter(float(measurement.map(1)) * squared, math.inf)  # the map is d^2 / (2 scale^2): exact in d^2


def noisy_vector(values: np.ndarray, component: Component) -> np.ndarray:
    """The vector with OpenDP's noise (the component's law) at the component's scale."""
    if values.size == 0:
        return values.astype(np.int64)
    return np.asarray(_measurement(component)(values.astype(np.int64)), dtype=np.int64)


def count_accuracy(scale: Noise | float, alpha: float) -> float:
    """Half-width a with P(|noise| > a) <= alpha for one noise draw (OpenDP's accuracy for that law).

    >>> round(count_accuracy(9.0, 0.05), 2), count_accuracy(0.0, 0.05), count_accuracy(Noise("gaussian", 10.0), 0.05)
    (27.45, 0.0, 21.0)
    """
    noise = as_noise(scale)
    if noise.scale == 0:  # no noise at all (an infinite privacy loss, used by the exactness tests)
        return 0.0
    if noise.law == "gaussian":
        return float(dp.discrete_gaussian_scale_to_accuracy(scale=noise.scale, alpha=alpha))
    return float(dp.discrete_laplacian_scale_to_accuracy(scale=noise.scale, alpha=alpha))


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
