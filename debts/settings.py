"""Reading `config/debts/`: the statutory cost scales (`escalation.yaml`) and the rules per organisation (`organisations.yaml`).

Both files are validated by pydantic models; a file that breaks a rule is
refused with one Dutch line per problem that names the field (its path in
the file), the value and the rule, like `privacy.loading` does for release
specifications. YAML numbers are read as Decimal, never as float, so a
configured 0.1 euro stays exactly ten cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.settings import CONFIG_DIR
from debts.money import basis_points, euros_to_cents
from debts.schema import CREDITOR_TYPES

DEBTS_CONFIG_DIR = CONFIG_DIR / "debts"

Euros = Annotated[Decimal, Field(ge=0, decimal_places=2, allow_inf_nan=False)]
"""An amount in euros, at most 2 decimals (whole cents)."""
Percent = Annotated[Decimal, Field(ge=0, le=1000, decimal_places=2, allow_inf_nan=False)]
"""A percentage with at most 2 decimals (a whole number of basis points)."""
Ratio = Annotated[Decimal, Field(gt=0, decimal_places=2, allow_inf_nan=False)]
"""A multiple of the debt (3 means three times), at most 2 decimals."""
CreditorType = Literal[CREDITOR_TYPES]


class DebtSettingsError(ValueError):
    """A file of `config/debts/` breaks a rule; the message names the file, the field, the value and the rule."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- escalation.yaml ---------------------------------------------------------------------------------------------------


class WikBracket(_Strict):
    """One bracket of the WIK scale: `percent` of the principal between the previous bracket's `up_to` and this one's."""

    up_to: Euros | None  # None: the open top bracket
    percent: Percent


class WikScale(_Strict):
    """Besluit vergoeding voor buitengerechtelijke incassokosten, art. 2 (see escalation.yaml)."""

    brackets: list[WikBracket] = Field(min_length=1)
    minimum: Euros
    maximum: Euros
    rounding: Literal["half_up_per_bracket"]

    @model_validator(mode="after")
    def _brackets_ascend(self) -> WikScale:
        bounds = [bracket.up_to for bracket in self.brackets]
        if any(bound is None for bound in bounds[:-1]):
            raise ValueError("brackets: alleen de laatste schijf mag geen bovengrens (up_to: null) hebben")
        closed = [bound for bound in bounds if bound is not None]
        for index, (lower, upper) in enumerate(zip([Decimal(0), *closed], closed)):
            if upper <= lower:
                raise ValueError(f"brackets.{index}.up_to: '{upper}' moet hoger zijn dan de vorige grens '{lower}' (schijven lopen op)")
        if self.minimum > self.maximum:
            raise ValueError(f"minimum: '{self.minimum}' is hoger dan maximum '{self.maximum}' (minimum is ten hoogste het maximum)")
        return self

    def bands_cents(self) -> list[tuple[int, int | None, int]]:
        """(lower, upper or None, basis points) per bracket, in cents."""
        bands, lower = [], 0
        for bracket in self.brackets:
            upper = None if bracket.up_to is None else euros_to_cents(bracket.up_to)
            bands.append((lower, upper, basis_points(bracket.percent)))
            lower = upper if upper is not None else lower
        return bands


class MulderIncrements(_Strict):
    """Wahv art. 23 and 27: increments of a CJIB sanction, each a percentage of the original sanction."""

    first_reminder_percent: Percent
    second_reminder_percent: Percent


class BailiffCosts(_Strict):
    """Bailiff costs per act (an assumption, see escalation.yaml): on entering the stage, and for an attachment after it."""

    entry_cost: Euros
    execution_cost: Euros


class EscalationSettings(_Strict):
    """The whole of `config/debts/escalation.yaml`."""

    wik: WikScale
    mulder: MulderIncrements
    bailiff: BailiffCosts


# --- organisations.yaml ------------------------------------------------------------------------------------------------


class CrisisOverride(_Strict):
    """A temporary, higher bagatelle threshold from `start` to `end` (both inclusive)."""

    bagatelle_threshold: Annotated[Decimal, Field(gt=0, decimal_places=2, allow_inf_nan=False)]
    start: date
    end: date
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _end_after_start(self) -> CrisisOverride:
        if self.end < self.start:
            raise ValueError(f"end: '{self.end}' ligt vóór start '{self.start}' (een crisisperiode eindigt op of na haar begin)")
        return self

    def active_on(self, day: date) -> bool:
        """Whether `day` falls within the crisis period."""
        return self.start <= day <= self.end


CAN_BE_SWITCHED_OFF = frozenset({"max_claims_in_collection", "crisis"})
"""Values an organisation may set to null to switch off what its type sets (every other null is inherited)."""


class RuleValues(_Strict):
    """Values an organisation type or an organisation may set; a missing value is inherited (organisation > type > defaults)."""

    bagatelle_threshold: Euros | None = None
    cost_ratio: Ratio | None = None
    costs_already_ratio: Ratio | None = None
    reminders_before_write_off: Annotated[int, Field(ge=0, le=100)] | None = None
    payment_plan_limit: Euros | None = None
    small_claim_limit: Euros | None = None
    max_claims_in_collection: Annotated[int, Field(ge=1)] | None = None
    crisis: CrisisOverride | None = None


class DefaultRules(RuleValues):
    """The defaults: every value but the cap and the crisis is required."""

    bagatelle_threshold: Euros
    cost_ratio: Ratio
    costs_already_ratio: Ratio
    reminders_before_write_off: Annotated[int, Field(ge=0, le=100)]
    payment_plan_limit: Euros
    small_claim_limit: Euros


class OrganisationRules(RuleValues):
    """Overrides of one organisation; it names its type, so its missing values are inherited from that type."""

    creditor_type: CreditorType


@dataclass(frozen=True)
class ResolvedRules:
    """The rules that apply to one organisation (or type) on one day, in cents and hundredths of a ratio."""

    bagatelle_threshold_cents: int  # the crisis threshold when a crisis is on and higher than the ordinary one
    ordinary_bagatelle_threshold_cents: int
    cost_ratio_hundredths: int
    costs_already_ratio_hundredths: int
    reminders_before_write_off: int
    payment_plan_limit_cents: int
    small_claim_limit_cents: int
    max_claims_in_collection: int | None


class RulesSettings(_Strict):
    """The whole of `config/debts/organisations.yaml`."""

    defaults: DefaultRules
    organisation_types: dict[CreditorType, RuleValues] = {}
    organisations: dict[Annotated[str, Field(pattern=r"^(GM[0-9]{4}|[a-z][a-z0-9_]*)$")], OrganisationRules] = {}

    def resolve(self, on: date, creditor_type: str, creditor: str | None = None) -> ResolvedRules:
        """The rules for `creditor` (or for its type when it has no overrides) on day `on`.

        A crisis threshold never lowers the ordinary one: it applies only when higher.
        """
        levels: list[RuleValues] = [self.defaults, self.organisation_types.get(creditor_type, RuleValues())]
        if creditor in self.organisations:
            levels.append(self.organisations[creditor])

        def pick(field: str) -> Any:
            # A value left out, or null, is inherited; but a null cap or crisis is a value: "none here".
            for level in reversed(levels):
                value = getattr(level, field)
                if level is self.defaults or (field in level.model_fields_set and (value is not None or field in CAN_BE_SWITCHED_OFF)):
                    return value
            return None

        ordinary = euros_to_cents(pick("bagatelle_threshold"))
        crisis: CrisisOverride | None = pick("crisis")
        effective = max(ordinary, euros_to_cents(crisis.bagatelle_threshold)) if crisis and crisis.active_on(on) else ordinary
        return ResolvedRules(
            bagatelle_threshold_cents=effective,
            ordinary_bagatelle_threshold_cents=ordinary,
            cost_ratio_hundredths=int(pick("cost_ratio") * 100),
            costs_already_ratio_hundredths=int(pick("costs_already_ratio") * 100),
            reminders_before_write_off=pick("reminders_before_write_off"),
            payment_plan_limit_cents=euros_to_cents(pick("payment_plan_limit")),
            small_claim_limit_cents=euros_to_cents(pick("small_claim_limit")),
            max_claims_in_collection=pick("max_claims_in_collection"),
        )


# --- reading and Dutch errors ------------------------------------------------------------------------------------------

_DUTCH_RULES = {
    "missing": "ontbreekt (verplicht)",
    "extra_forbidden": "'{input}' is geen bekend veld (controleer de spelling)",
    "decimal_parsing": "'{input}' is geen bedrag of getal",
    "decimal_type": "'{input}' is geen bedrag of getal",
    "decimal_max_places": "'{input}' heeft meer dan {decimal_places} cijfers achter de komma (hele centen of basispunten)",
    "finite_number": "'{input}' is geen eindig getal",
    "greater_than_equal": "'{input}' moet {ge} of meer zijn",
    "greater_than": "'{input}' moet meer dan {gt} zijn",
    "less_than_equal": "'{input}' moet {le} of minder zijn",
    "int_parsing": "'{input}' is geen geheel getal",
    "int_from_float": "'{input}' is geen geheel getal",
    "int_type": "'{input}' is geen geheel getal",
    "date_from_datetime_parsing": "'{input}' is geen datum (schrijf JJJJ-MM-DD)",
    "date_parsing": "'{input}' is geen datum (schrijf JJJJ-MM-DD)",
    "date_type": "'{input}' is geen datum (schrijf JJJJ-MM-DD)",
    "literal_error": "'{input}' is niet toegestaan (kies uit {expected})",
    "string_pattern_mismatch": "'{input}' is geen organisatiecode (GM gevolgd door 4 cijfers, of kleine letters zoals 'cjib')",
    "string_too_short": "mag niet leeg zijn",
    "too_short": "heeft te weinig onderdelen (ten minste {min_length})",
    "dict_type": "moet velden met waarden bevatten (een YAML-mapping), niet '{input}'",
    "model_type": "moet velden met waarden bevatten (een YAML-mapping), niet '{input}'",
    "list_type": "moet een lijst zijn, niet '{input}'",
}


def dutch_settings_problems(error: ValidationError) -> list[str]:
    """'path.in.file: rule' per problem, in Dutch; a model rule that names its own field has that field appended.

    >>> try:
    ...     CrisisOverride.model_validate({"bagatelle_threshold": "-5", "start": "2026-01-01", "end": "2026-02-30", "reason": "x"})
    ... except ValidationError as error:
    ...     print(dutch_settings_problems(error))
    ["bagatelle_threshold: '-5' moet meer dan 0 zijn", "end: '2026-02-30' is geen datum (schrijf JJJJ-MM-DD)"]
    """
    lines = []
    for problem in error.errors():
        path = [str(part) for part in problem["loc"] if not str(part).startswith("function-")]
        if problem["type"] == "value_error":
            message = str(problem["msg"]).removeprefix("Value error, ")
            own, _, rule = message.partition(": ")
            if rule and " " not in own:
                path.append(own)
                message = rule
        else:
            template = _DUTCH_RULES.get(problem["type"], "'{input}' klopt niet ({msg})")
            message = template.format(input=problem.get("input"), msg=problem["msg"], **(problem.get("ctx") or {}))
        lines.append(f"{'.'.join(path) or '(bestand)'}: {message}")
    return lines


class _DecimalLoader(yaml.SafeLoader):
    """YAML with numbers with a decimal point read as Decimal (from their text), so no euro amount passes through a float."""


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", lambda loader, node: Decimal(loader.construct_scalar(node)))


def read_config(path: Path, model: type[BaseModel]) -> Any:
    """A YAML file of config/debts/ read with Decimal numbers and validated by `model`; Dutch errors naming field, value, rule."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_DecimalLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as error:
        raise DebtSettingsError(f"{path.name}: geen geldige YAML ({error})") from None
    except OSError as error:
        raise DebtSettingsError(f"{path.name}: kan het bestand niet lezen ({error.strerror})") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise DebtSettingsError(f"{path.name}: " + "; ".join(dutch_settings_problems(error))) from None


def load_escalation(path: Path | None = None) -> EscalationSettings:
    """The cost scales of `config/debts/escalation.yaml` (or `path`).

    >>> load_escalation().wik.maximum
    Decimal('6775.00')
    """
    return read_config(path or DEBTS_CONFIG_DIR / "escalation.yaml", EscalationSettings)


def load_rules(path: Path | None = None) -> RulesSettings:
    """The rules of `config/debts/organisations.yaml` (or `path`).

    >>> rules = load_rules()
    >>> rules.resolve(date(2026, 2, 1), "gemeente", "GM0599").bagatelle_threshold_cents  # in the crisis period
    15000
    >>> rules.resolve(date(2026, 4, 1), "gemeente", "GM0599").bagatelle_threshold_cents
    5000
    """
    return read_config(path or DEBTS_CONFIG_DIR / "organisations.yaml", RulesSettings)


@cache
def escalation_settings() -> EscalationSettings:
    """The configured cost scales (cached for the process)."""
    return load_escalation()


@cache
def rules_settings() -> RulesSettings:
    """The configured rules (cached for the process)."""
    return load_rules()
