"""What a release specification and a privacy budget may say: the declarations and their rules.

A release is one YAML file in `config/releases/` (see its README): the source
mart, the privacy unit, the group keys, the measures with their bounds, the
privacy loss and the suppression threshold. Budgets per dataset per period
live in `config/privacy.yaml`. Adding a release for a new question is one
spec file and no Python; `privacy.loading` reads the files, so an invalid
spec fails at load time with an error that names the file, the field and
the rule.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core import reference

IDENTIFIER = r"^[a-z_][a-z0-9_]*$"
RELATION = r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- budgets


class Budget(Strict):
    """Total privacy loss allowed per period of a dataset, over all its releases."""

    epsilon: float = Field(gt=0, le=20)
    delta: float = Field(ge=0, lt=1e-4, default=0.0)


UNIT_KINDS = ("firm", "person")


class DatasetUnit(Strict):
    """Whose participation a dataset's budget protects: every release of the dataset uses this unit column."""

    kind: Literal["firm", "person"] = Field(description="kind of unit: its yearly cap (annual_caps) holds over every dataset of this kind")
    column: str = Field(pattern=IDENTIFIER, description="column holding the pseudonymised unit in every source of the dataset")
    label: str = Field(min_length=3, description="who is protected, in words")


class DatasetBudget(Strict):
    period: Literal["wave", "month", "quarter", "proposal"] = Field(description="what one budget period is")
    title_nl: str = Field(min_length=2, description="the dataset's name as users see it")
    budget_per_period: Budget
    privacy_unit: DatasetUnit
    sources: list[str] = Field(min_length=1, description="the marts (schema.table) its releases may read; a mart belongs to one dataset")

    @field_validator("sources")
    @classmethod
    def _sources_are_marts(cls, sources: list[str]) -> list[str]:
        for relation in sources:
            if not re.match(RELATION, relation) or not relation.startswith("marts."):
                raise ValueError(f"sources: '{relation}' is no mart (marts.<table>): releases read only marts, "
                                 "whose grain is one row per unit per period")
        if len(set(sources)) != len(sources):
            raise ValueError("sources: each mart may appear once")
        return sources


class AnnualCap(Strict):
    """The most one unit may lose over any 12 months, over every dataset it can be in (composed; see privacy.ledger)."""

    epsilon: float = Field(gt=0, le=200)
    delta: float = Field(ge=0, lt=1e-3, default=0.0)


class PrivacySettings(Strict):
    annual_caps: dict[Literal["firm", "person"], AnnualCap] = Field(min_length=1, description="per kind of unit")
    datasets: dict[str, DatasetBudget] = Field(min_length=1)

    @model_validator(mode="after")
    def _every_unit_capped_and_every_mart_in_one_dataset(self) -> PrivacySettings:
        owner: dict[str, str] = {}
        for name, dataset in self.datasets.items():
            if dataset.privacy_unit.kind not in self.annual_caps:
                raise ValueError(f"datasets.{name}.privacy_unit.kind: '{dataset.privacy_unit.kind}' has no yearly cap in annual_caps")
            for relation in dataset.sources:
                if relation in owner:  # a second dataset over the same mart would be a second budget for the same answers
                    raise ValueError(f"datasets.{name}.sources: '{relation}' already belongs to dataset '{owner[relation]}'; "
                                     "a mart belongs to one dataset")
                owner[relation] = name
        return self

    def unit_kind(self, dataset: str) -> str:
        return self.datasets[dataset].privacy_unit.kind


# --------------------------------------------------------------------------- the parts of a spec


class PrivacyUnit(Strict):
    column: str = Field(pattern=IDENTIFIER, description="column holding the pseudonymised unit")
    label: str = Field(min_length=3, description="who is protected, in words")
    plural_nl: str = Field(min_length=3, description="the units in Dutch, plural, as suppression reasons name them: bedrijven, personen")


class Contribution(Strict):
    """How much one unit may contribute per period, and why."""

    max_rows_per_unit: int = Field(ge=1, le=1000, description="rows of one unit kept per period")
    source_grain: list[str] | None = Field(
        default=None,
        description="columns the source is unique on, when its producer guarantees one row per unit per period",
    )
    keep: str | None = Field(
        default=None,
        pattern=r"^[a-z_][a-z0-9_]*( (ASC|DESC))?$",
        description="which rows to keep when a unit has more than max_rows_per_unit (e.g. 'amount DESC')",
    )
    rationale: str = Field(min_length=10, description="why this bound")


class Groups(Strict):
    """Group keys: public domains (`reference/domains.yaml`), or private keys chosen by partition selection.

    A public key column is named after its domain: its groups are the codes the
    reference data lists, never the values units happen to have.
    """

    keys: Literal["public", "private"] = "public"
    levels: dict[str, list[str]] = Field(min_length=1, description="level name -> key columns; [] is the whole population")

    @model_validator(mode="after")
    def _levels_are_well_formed(self) -> Groups:
        public = reference.domains()
        for name, dims in self.levels.items():
            if not re.match(IDENTIFIER, name):
                raise ValueError(f"levels.{name}: a level name uses only a-z, 0-9 and _")
            if len(set(dims)) != len(dims):
                raise ValueError(f"levels.{name}: a key column may appear once")
            for dim in dims:
                if self.keys == "public" and dim not in public:
                    raise ValueError(
                        f"levels.{name}: '{dim}' is no public domain (reference/domains.yaml lists {', '.join(public)}); "
                        "use keys: private for keys that are not public"
                    )
                if not re.match(IDENTIFIER, dim):
                    raise ValueError(f"levels.{name}: '{dim}' is no valid column name")
        if self.keys == "private" and (len(self.levels) != 1 or len(next(iter(self.levels.values()))) != 1):
            raise ValueError("levels: with private keys there is exactly one level with one key column")
        return self

    @property
    def dimensions(self) -> list[str]:
        """Every key column over all levels, in first-seen order (the finest cell)."""
        seen: list[str] = []
        for dims in self.levels.values():
            seen += [d for d in dims if d not in seen]
        return seen


class _Measure(Strict):
    name: str = Field(pattern=IDENTIFIER)
    weight: float = Field(gt=0, default=1.0, description="share of the release's epsilon, relative to the other measures")
    l1_sensitivity: int | None = Field(
        default=None, ge=1, description="the derivation written beside the spec; checked against the engine's"
    )


class Count(_Measure):
    """Number of units (rows after bounding) per group."""

    kind: Literal["count"]


class _Numeric(_Measure):
    column: str = Field(pattern=IDENTIFIER)
    bounds: tuple[float, float] = Field(description="values are clamped into [lower, upper]")
    resolution: float = Field(gt=0, default=1.0, description="values are rounded to multiples of this (in the column's unit)")
    unit: str = Field(min_length=1, description="unit of the column: euro, hours per month, FTE, points ...")
    rationale: str = Field(min_length=10, description="why these bounds")

    @model_validator(mode="after")
    def _bounds_are_ordered(self):
        if not all(math.isfinite(v) for v in (*self.bounds, self.resolution, *getattr(self, "bin_edges", ()), *getattr(self, "probabilities", ()))):
            raise ValueError("bounds: every number (bounds, resolution, bin edges, probabilities) must be finite")
        lower, upper = self.bounds
        if not lower < upper:
            raise ValueError(f"bounds: lower bound {lower} must be below upper bound {upper}")
        steps = (upper - lower) / self.resolution
        if steps > 1e9:
            raise ValueError(f"resolution: {self.resolution} gives {steps:.3g} steps between the bounds; at most 1e9")
        for bound in (lower, upper):
            if not math.isclose(bound / self.resolution, round(bound / self.resolution), abs_tol=1e-9):
                raise ValueError(f"bounds: {bound} is not a multiple of the resolution {self.resolution}")
        return self


class Sum(_Numeric):
    """Sum of a clamped numeric column per group (the unit column never; it is the privacy unit)."""

    kind: Literal["sum"]


class Mean(_Numeric):
    """Mean of a clamped numeric column per group: a noisy sum over a noisy count."""

    kind: Literal["mean"]
    sum_of_squares: bool = Field(
        default=False,
        description="also release the bounded sum of squares, so the mean's sampling error is estimated from the data "
        "(it costs a third of the measure's epsilon: count, sum and squares share it); without it the sampling "
        "error is the largest any values within the bounds could have (Bhatia-Davis bound)",
    )


class Quantiles(_Numeric):
    """Quantiles (median and others) of a clamped column, from a noisy histogram over declared bins."""

    kind: Literal["quantiles"]
    bin_edges: list[float] = Field(min_length=3, description="edges from the lower to the upper bound; the last bin includes it")
    probabilities: list[float] = Field(min_length=1, description="e.g. [0.5] for the median")

    @model_validator(mode="after")
    def _bins_cover_the_bounds(self) -> Quantiles:
        edges = self.bin_edges
        if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValueError("bin_edges: edges must increase strictly")
        if edges[0] != self.bounds[0] or edges[-1] != self.bounds[1]:
            raise ValueError(f"bin_edges: must run from the lower bound {self.bounds[0]} to the upper bound {self.bounds[1]}")
        if any(not 0 < p < 1 for p in self.probabilities):
            raise ValueError("probabilities: each must lie strictly between 0 and 1")
        return self


class Shares(_Measure):
    """Percent of answers per category (single choice), or of respondents naming it (multi-select)."""

    kind: Literal["shares"]
    column: str = Field(pattern=IDENTIFIER)
    categories: list[str] = Field(min_length=2)
    multi_select: bool = False
    separator: str = Field(default=";", min_length=1, max_length=3)
    max_selections: int | None = Field(default=None, ge=1, description="multi-select: choices of one unit counted at most")
    rationale: str | None = Field(default=None, min_length=10, description="why max_selections is what it is")
    counts: bool = Field(
        default=False,
        description="also release the noisy number of units per category (statistic 'count'): post-processing of the same noise, free",
    )

    @model_validator(mode="after")
    def _categories_are_unique(self) -> Shares:
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("categories: each category may appear once")
        if self.max_selections is not None and not self.multi_select:
            raise ValueError("max_selections: only for multi_select: true")
        if self.max_selections is not None and self.rationale is None:
            raise ValueError("rationale: say why a unit's choices are capped at max_selections")
        return self

    @property
    def selections(self) -> int:
        return min(self.max_selections or len(self.categories), len(self.categories))


class Balance(_Measure):
    """Balance indicator: % positive minus % negative answers (percentage points), as CBS publishes it."""

    kind: Literal["balance"]
    column: str = Field(pattern=IDENTIFIER)
    positive: list[str] = Field(min_length=1)
    negative: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _sides_are_disjoint(self) -> Balance:
        overlap = set(self.positive) & set(self.negative)
        if overlap:
            raise ValueError(f"positive/negative: {sorted(overlap)} is on both sides")
        return self


Measure = Annotated[Count | Sum | Mean | Quantiles | Shares | Balance, Field(discriminator="kind")]


class PrivacyLoss(Strict):
    """A release's privacy loss: `epsilon` (pure DP, discrete Laplace noise) or `rho` (zCDP, discrete Gaussian noise).

    zCDP suits releases with many figures: the Gaussian's noise grows with the
    square root of the number of levels instead of linearly. Its rho adds over
    releases and is turned into (epsilon, delta) by OpenDP where a budget or
    cap is checked (`privacy.ledger`).
    """

    epsilon: float | None = Field(default=None, gt=0, le=10, description="pure DP: discrete Laplace noise")
    rho: float | None = Field(default=None, gt=0, le=5, description="zCDP: discrete Gaussian noise")
    delta: float = Field(ge=0, lt=1e-4, default=0.0)

    @model_validator(mode="after")
    def _one_kind_of_loss(self) -> PrivacyLoss:
        if (self.epsilon is None) == (self.rho is None):
            raise ValueError("privacy_loss: give either epsilon (Laplace noise, pure DP) or rho (Gaussian noise, zCDP), not both or neither")
        if self.rho is not None and self.delta != 0:
            raise ValueError("privacy_loss.delta: must be 0 with rho (a zCDP release has no delta of its own; "
                             "the ledger converts rho to (epsilon, delta) with the dataset's delta)")
        return self

    @property
    def mechanism(self) -> str:
        return "gaussian" if self.rho is not None else "laplace"


class Ratio(Strict):
    """A ratio of two sums of the same release (collection costs per euro collected): post-processing, no budget of its own.

    Its interval inverts the joint noise law of both sums and their counts
    (`privacy.accuracy.ratio_of_sums_interval`); the ratio is searched within
    `bounds`, so a denominator near zero gives a wide interval, never a wrong one.
    """

    name: str = Field(pattern=IDENTIFIER)
    numerator: str = Field(pattern=IDENTIFIER, description="a sum measure of this release")
    denominator: str = Field(pattern=IDENTIFIER, description="another sum measure of this release")
    bounds: tuple[float, float] = Field(description="where the ratio can lie; its interval never leaves them")
    unit: str = Field(min_length=1)
    rationale: str = Field(min_length=10, description="what the ratio means and why these bounds")

    @model_validator(mode="after")
    def _bounds_are_ordered(self) -> Ratio:
        lower, upper = self.bounds
        if not (math.isfinite(lower) and math.isfinite(upper) and 0 <= lower < upper):
            raise ValueError(f"ratios.{self.name}.bounds: need 0 <= lower < upper, finite; got {list(self.bounds)}")
        return self


# --------------------------------------------------------------------------- the spec


class ReleaseSpec(Strict):
    """One declared release: what is released from which mart, with which privacy loss."""

    name: str = Field(pattern=IDENTIFIER)
    title: str = Field(min_length=3, description="Dutch title shown on dashboards")
    description: str = Field(min_length=10)
    dataset: str = Field(pattern=IDENTIFIER, description="the budget this release is charged to")
    source: str = Field(pattern=RELATION, description="schema.table of the private mart")
    privacy_unit: PrivacyUnit
    period: str = Field(pattern=IDENTIFIER, description="column holding the budget period (wave, month, proposal)")
    contribution: Contribution
    groups: Groups
    measures: list[Measure] = Field(min_length=1)
    ratios: list[Ratio] = Field(default_factory=list, description="ratios of two sum measures, released as post-processing")
    privacy_loss: PrivacyLoss
    suppression_threshold: int = Field(ge=0, default=10, description="cells with a noisy count below this are suppressed")
    confidence_level: float = Field(gt=0.5, lt=1.0, default=0.95)

    @field_validator("measures")
    @classmethod
    def _measure_names_are_unique(cls, measures: list) -> list:
        names = [m.name for m in measures]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"measure names must be unique: {duplicates} appear more than once")
        return measures

    @model_validator(mode="after")
    def _rules_across_fields(self) -> ReleaseSpec:
        unit, contribution = self.privacy_unit.column, self.contribution
        grain = contribution.source_grain
        if grain is not None and set(grain) != {unit, self.period}:
            raise ValueError(f"contribution.source_grain: must be the unit and period columns [{unit}, {self.period}]")
        if grain is not None and contribution.max_rows_per_unit != 1:
            raise ValueError("contribution.source_grain: only with max_rows_per_unit: 1")
        if grain is None and contribution.keep is None:
            raise ValueError("contribution.keep: say which rows to keep (e.g. 'amount DESC') when the source may hold "
                             "more rows per unit than max_rows_per_unit")
        if self.groups.keys == "private":
            if self.privacy_loss.rho is not None:
                raise ValueError("privacy_loss.rho: private group keys need epsilon and delta (the partition selection is a Laplace threshold)")
            if self.privacy_loss.delta <= 0:
                raise ValueError("privacy_loss.delta: private group keys need delta > 0 (thresholded partition selection)")
            if not any(isinstance(m, Count) for m in self.measures):
                raise ValueError("measures: private group keys need a count measure (it selects the groups)")
        elif self.privacy_loss.delta != 0:
            raise ValueError("privacy_loss.delta: must be 0 when all group keys are public (Laplace noise is pure DP)")
        for measure in self.measures:
            if getattr(measure, "column", None) in (unit, self.period):
                raise ValueError(f"measures.{measure.name}.column: the unit and period columns are not measures")
        sums = {m.name for m in self.measures if isinstance(m, Sum)}
        taken = {m.name for m in self.measures}
        for ratio in self.ratios:
            for side in ("numerator", "denominator"):
                if getattr(ratio, side) not in sums:
                    raise ValueError(f"ratios.{ratio.name}.{side}: '{getattr(ratio, side)}' is not a sum measure of this release "
                                     f"(sums: {sorted(sums)})")
            if ratio.numerator == ratio.denominator:
                raise ValueError(f"ratios.{ratio.name}: numerator and denominator must be two different sums")
            if ratio.name in taken:
                raise ValueError(f"ratios.{ratio.name}: the name is taken by another measure or ratio")
            taken.add(ratio.name)
        return self

    def semantic_hash(self) -> str:
        """Hash of everything that changes what the numbers mean; titles and rationales do not count."""
        data = self.model_dump(mode="json", exclude={"title", "description"})
        data["contribution"].pop("rationale")
        for measure in data["measures"]:
            measure.pop("rationale", None)
            if measure.get("sum_of_squares") is False:  # a spec without the option keeps the hash it had before it existed
                measure.pop("sum_of_squares")
        if not data["ratios"]:  # a spec without ratios keeps the hash it had before they existed
            data.pop("ratios")
        else:
            for ratio in data["ratios"]:
                ratio.pop("rationale")
        for key in ("epsilon", "rho"):  # a spec keeps the hash it had before rho existed
            if data["privacy_loss"].get(key) is None:
                data["privacy_loss"].pop(key, None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def measure(self, name: str):
        return next(m for m in self.measures if m.name == name)
