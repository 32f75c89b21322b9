"""The sensitivity of a release: which vectors get noise, and how far one unit can move each.

Every measure of a spec becomes one or two *components*: an integer vector
of bounded sufficient statistics (one entry per group of every level, per
statistic) that receives noise from one OpenDP measurement
(`privacy.mechanisms`).

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
| mean with `sum_of_squares`: squares | sum of (value - centre)^2, in steps | c x B^2 |
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

zCDP releases (`privacy_loss.rho`, discrete Gaussian noise) use the L2
sensitivity instead: per level the change vector has L2 norm at most its L1
norm (c, c x B, c x B^2), and sqrt(1 + s) per row for multi-select (one in
the respondent count and one in each of at most s categories, so c x
sqrt(1 + s)). The levels touch disjoint entries, so the squares add:
L2^2 = L x (per level)^2, a whole number. A component's share of rho goes by
the same weights (rho adds under composition), its scale is
L2 / sqrt(2 rho), and OpenDP's map certifies its rho; the release's rho is
their sum.

Private group keys: the count per observed key goes through OpenDP's
Laplace-threshold measurement; a unit touches at most c keys, at most c per
key (the count component's per-level change).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from privacy.mechanisms import Noise
from privacy.spec import Balance, Count, Mean, Quantiles, ReleaseSpec, Shares, Sum


@dataclass(frozen=True)
class Component:
    """One noisy vector of a release: a part of one measure, with its sensitivity and share of epsilon."""

    measure: str
    part: str  # count | sum | bins | categories | sides
    columns: tuple[str, ...]  # sufficient-statistic columns, in vector order per group
    sensitivity_per_level: int
    levels: int
    epsilon: float  # allotted share of the release's epsilon (pure DP, discrete Laplace)
    rho: float = 0.0  # allotted share of the release's rho (zCDP, discrete Gaussian); 0 for Laplace components
    l2_squared_per_level: int = 0  # squared L2 change per level (zCDP only; see the module docstring)

    @property
    def mechanism(self) -> str:
        return "gaussian" if self.rho > 0 else "laplace"

    @property
    def sensitivity(self) -> int:
        """L1 sensitivity of the whole vector (all levels) under adding or removing one unit."""
        return self.sensitivity_per_level * self.levels

    @property
    def l2_squared(self) -> int:
        """Squared L2 sensitivity of the whole vector (the levels touch disjoint entries, so squares add)."""
        return (self.l2_squared_per_level or self.sensitivity_per_level**2) * self.levels

    @property
    def scale(self) -> float:
        if self.mechanism == "gaussian":
            return math.sqrt(self.l2_squared / (2.0 * self.rho))
        return self.sensitivity / self.epsilon

    @property
    def noise(self) -> Noise:
        return Noise(self.mechanism, self.scale)


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
    if isinstance(measure, Mean) and measure.sum_of_squares:  # the values part (sum) stays last
        return {"count": (f"{name}|n",), "squares": (f"{name}|sq",), "sum": (f"{name}|sum",)}
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
    if part == "squares":  # (value - centre)^2 <= B^2 in steps
        return rows * numeric_steps(measure)[3] ** 2
    if isinstance(measure, Shares) and measure.multi_select:
        return rows * (1 + measure.selections)
    return rows


def _l2_squared_per_level(measure, part: str, rows: int) -> int:
    if isinstance(measure, Shares) and measure.multi_select:
        return rows * rows * (1 + measure.selections)  # (c x sqrt(1 + s))^2
    return _per_level(measure, part, rows) ** 2


def plan(spec: ReleaseSpec) -> list[Component]:
    """The components of a release with their sensitivity and share of epsilon or rho (see the module docstring)."""
    total_weight = sum(m.weight for m in spec.measures)
    rows, levels = spec.contribution.max_rows_per_unit, len(spec.groups.levels)
    loss = spec.privacy_loss
    components = []
    for measure in spec.measures:
        parts = stat_columns(measure)
        fraction = measure.weight / total_weight / len(parts)
        for part, columns in parts.items():
            if loss.rho is not None:
                components.append(Component(measure.name, part, columns, _per_level(measure, part, rows), levels, 0.0,
                                            rho=loss.rho * fraction, l2_squared_per_level=_l2_squared_per_level(measure, part, rows)))
            else:
                components.append(Component(measure.name, part, columns, _per_level(measure, part, rows), levels, loss.epsilon * fraction))
    return components


def declared_sensitivity_problems(spec: ReleaseSpec) -> list[str]:
    """Where a spec's written `l1_sensitivity` differs from the derivation above (empty when they agree)."""
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
