"""The noise of a release: which vectors get noise, their sensitivity, and OpenDP's measurements.

Every measure of a spec becomes one or two *components*: an integer vector
of bounded sufficient statistics (one entry per group of every level, per
statistic) that receives discrete Laplace noise from one OpenDP measurement
(`make_laplace` on an integer vector under the L1 distance), or, for private
group keys, OpenDP's thresholded partition selection (`make_laplace_threshold`).

Sensitivity (neighbouring datasets differ by one unit, added or removed).
Let c be the rows one unit may contribute per period (`max_rows_per_unit`,
1 for every survey mart) and L the number of levels. A unit lies in exactly
one group per level, so its rows change only that group's entries, and per
level the change is:

| component | entries per group | L1 change per level |
|---|---|---|
| count | units | c |
| sum, mean: count | non-empty values | c |
| sum, mean: sum | sum of (value - centre), value clamped to the bounds and rounded to the resolution | c x B |
| quantiles | one count per bin | c (each value lies in one bin) |
| shares (single choice) | one count per category | c (each answer in one category) |
| shares (multi-select) | respondents + one count per category | c x (1 + s) |
| balance | positive, neutral, negative answers | c |

with B = max(upper - centre, centre - lower) in steps of the resolution and
s the selections counted per unit. Summed over the levels, a component's
sensitivity is L times its per-level change. Each component gets its share
of the release's epsilon (by measure weight, split evenly between a
measure's count and sum), its scale is sensitivity / epsilon, and OpenDP's
privacy map certifies the epsilon of exactly that measurement. The release
is the sequential composition of its components: its epsilon is their sum.

Private group keys: the count per observed key goes through OpenDP's
Laplace-threshold measurement (a unit touches at most c keys, at most c per
key); keys whose noisy count is under the threshold are dropped, the others
become the groups of the remaining measures. The threshold is the smallest
one whose delta fits the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import opendp.prelude as dp

from privacy.spec import Balance, Count, Mean, Quantiles, ReleaseSpec, Shares, Sum

dp.enable_features("contrib")

LAPLACE = "discrete Laplace (OpenDP make_laplace on an integer vector, L1 distance)"
THRESHOLD = "discrete Laplace with threshold (OpenDP make_laplace_threshold, partition selection)"


@dataclass(frozen=True)
class Component:
    """One noisy vector of a release: a part of one measure, with its sensitivity and share of epsilon."""

    measure: str
    part: str  # count | sum | bins | categories | sides
    columns: tuple[str, ...]  # sufficient-statistic columns, in vector order per group
    sensitivity_per_level: int
    levels: int
    epsilon: float  # allotted share of the release's epsilon

    @property
    def sensitivity(self) -> int:
        """L1 sensitivity of the whole vector (all levels) under adding or removing one unit."""
        return self.sensitivity_per_level * self.levels

    @property
    def scale(self) -> float:
        return self.sensitivity / self.epsilon


def numeric_steps(measure: Sum | Mean | Quantiles) -> tuple[int, int, int, int]:
    """Integer grid of a numeric measure: (lower, upper, centre, B), all in steps of the resolution.

    >>> from privacy.spec import Mean
    >>> numeric_steps(Mean(name="m", kind="mean", column="x", bounds=(1, 5), unit="points", rationale="a 1-5 scale"))
    (1, 5, 3, 2)
    """
    lower = round(measure.bounds[0] / measure.resolution)
    upper = round(measure.bounds[1] / measure.resolution)
    centre = (lower + upper) // 2
    return lower, upper, centre, max(upper - centre, centre - lower)


def stat_columns(measure) -> dict[str, tuple[str, ...]]:
    """The sufficient-statistic columns of a measure, by part."""
    name = measure.name
    if isinstance(measure, Count):
        return {"count": (f"{name}|n",)}
    if isinstance(measure, Sum | Mean):
        return {"count": (f"{name}|n",), "sum": (f"{name}|sum",)}
    if isinstance(measure, Quantiles):
        return {"bins": tuple(f"{name}|b{i}" for i in range(len(measure.bin_edges) - 1))}
    if isinstance(measure, Shares):
        categories = tuple(f"{name}|c{i}" for i in range(len(measure.categories)))
        return {"categories": ((f"{name}|n",) if measure.multi_select else ()) + categories}
    if isinstance(measure, Balance):
        return {"sides": (f"{name}|positive", f"{name}|neutral", f"{name}|negative")}
    raise TypeError(f"unknown measure kind {type(measure).__name__}")


def _per_level(measure, part: str, rows: int) -> int:
    if isinstance(measure, Sum | Mean | Quantiles) and part == "sum":
        return rows * numeric_steps(measure)[3]
    if isinstance(measure, Shares) and measure.multi_select:
        return rows * (1 + measure.selections)
    return rows


def plan(spec: ReleaseSpec) -> list[Component]:
    """The components of a release with their sensitivity and share of epsilon (see the module docstring)."""
    total_weight = sum(m.weight for m in spec.measures)
    rows, levels = spec.contribution.max_rows_per_unit, len(spec.groups.levels)
    components = []
    for measure in spec.measures:
        parts = stat_columns(measure)
        share = spec.privacy_loss.epsilon * measure.weight / total_weight / len(parts)
        components += [
            Component(measure.name, part, columns, _per_level(measure, part, rows), levels, share)
            for part, columns in parts.items()
        ]
    return components


def declared_sensitivity_problems(spec: ReleaseSpec) -> list[str]:
    """Where a spec's written `l1_sensitivity` differs from the engine's derivation (empty when they agree)."""
    problems = []
    for measure in spec.measures:
        if measure.l1_sensitivity is None:
            continue
        main = [c for c in plan(spec) if c.measure == measure.name][-1]  # the values vector (sum, bins, ...)
        if main.sensitivity != measure.l1_sensitivity:
            problems.append(
                f"measures.{measure.name}.l1_sensitivity: declared {measure.l1_sensitivity}, but {main.levels} levels x "
                f"{main.sensitivity_per_level} per level = {main.sensitivity}"
            )
    return problems


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
