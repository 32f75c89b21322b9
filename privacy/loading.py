"""Reading release specifications and budgets from `config/`: validated, checked, cached.

`load_spec` reads one file of `config/releases/` and `load_settings` reads
`config/privacy.yaml`; a file that breaks a rule of `privacy.spec`, reads a
source its dataset does not declare, protects another unit column than its
dataset's, spends more than its dataset's budget per period or writes an
`l1_sensitivity` that differs from the derivation (`privacy.sensitivity`) is
refused with an error that names the file, the field and the rule.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from core.settings import CONFIG_DIR
from privacy.ledger import epsilon_alone
from privacy.sensitivity import declared_sensitivity_problems
from privacy.spec import PrivacySettings, ReleaseSpec


class ReleaseSpecError(ValueError):
    """A release specification or budget breaks a rule; the message names the file, the field and the rule."""


KINDS = {"count", "sum", "mean", "quantiles", "shares", "balance"}


def _explain(error: ValidationError, data: object = None) -> str:
    """'field.path: rule' per problem; a measure is named by its name, a model rule's own field is appended."""
    lines = []
    for problem in error.errors():
        parts, node = [], data
        for part in problem["loc"]:
            if part in KINDS and parts and parts[-1].startswith("measures."):
                continue  # the discriminator tag pydantic adds
            if isinstance(part, int) and isinstance(node, list) and part < len(node) and isinstance(node[part], dict) and "name" in node[part]:
                parts.append(f"{parts.pop()}.{node[part]['name']}" if parts else str(node[part]["name"]))
            else:
                parts.append(str(part))
            node = node[part] if isinstance(node, dict | list) and _has(node, part) else None
        message = problem["msg"].removeprefix("Value error, ")
        own_field = re.match(r"^([a-z_][a-z0-9_.]*): (.*)$", message, re.DOTALL)
        if own_field:
            parts.append(own_field.group(1))
            message = own_field.group(2)
        lines.append(f"{'.'.join(parts) or '(spec)'}: {message}")
    return "; ".join(lines)


def _has(node: dict | list, part: object) -> bool:
    return part in node if isinstance(node, dict) else isinstance(part, int) and part < len(node)


def _read_yaml(path: Path) -> object:
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except yaml.YAMLError as error:
        raise ReleaseSpecError(f"{path.name}: not valid YAML ({error})") from None


def load_settings(path: Path | None = None) -> PrivacySettings:
    """Budgets per dataset per period from `config/privacy.yaml`."""
    path = path or CONFIG_DIR / "privacy.yaml"
    try:
        return PrivacySettings.model_validate(_read_yaml(path))
    except ValidationError as error:
        raise ReleaseSpecError(f"{path.name}: {_explain(error)}") from None


def load_spec(path: Path, settings: PrivacySettings | None = None) -> ReleaseSpec:
    """One release specification; its name is the file name.

    >>> spec = load_spec(CONFIG_DIR / "releases" / "cgc_balance.yaml")
    >>> spec.name, spec.dataset, spec.privacy_loss.rho
    ('cgc_balance', 'cgc', 0.08)
    """
    settings = settings or load_settings()
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ReleaseSpecError(f"{path.name}: a release specification is a YAML mapping")
    if "name" in data and data["name"] != path.stem:
        raise ReleaseSpecError(f"{path.name}: name: '{data['name']}' must equal the file name '{path.stem}'")
    try:
        spec = ReleaseSpec.model_validate({**data, "name": path.stem})
    except ValidationError as error:
        raise ReleaseSpecError(f"{path.name}: {_explain(error, data)}") from None
    if spec.dataset not in settings.datasets:
        raise ReleaseSpecError(f"{path.name}: dataset: '{spec.dataset}' has no budget in privacy.yaml (known: {', '.join(settings.datasets)})")
    dataset = settings.datasets[spec.dataset]
    if spec.source not in dataset.sources:
        raise ReleaseSpecError(
            f"{path.name}: source: '{spec.source}' is not a source of dataset '{spec.dataset}' (privacy.yaml lists "
            f"{', '.join(dataset.sources)}); a release reads only the marts its dataset declares"
        )
    if spec.privacy_unit.column != dataset.privacy_unit.column:
        raise ReleaseSpecError(
            f"{path.name}: privacy_unit.column: '{spec.privacy_unit.column}' is not the unit of dataset '{spec.dataset}' "
            f"('{dataset.privacy_unit.column}', {dataset.privacy_unit.label}); the budget protects that unit only"
        )
    budget, loss = dataset.budget_per_period, spec.privacy_loss
    if loss.rho is not None and budget.delta <= 0:
        raise ReleaseSpecError(
            f"{path.name}: privacy_loss.rho: the budget per period of '{spec.dataset}' has delta 0; a zCDP release needs a "
            "delta there (its rho is checked as (epsilon, delta) at that delta)"
        )
    alone = epsilon_alone(loss.epsilon, loss.rho, budget.delta)
    if alone > budget.epsilon or loss.delta > budget.delta:
        said = f"epsilon {loss.epsilon} / delta {loss.delta}" if loss.rho is None else f"rho {loss.rho} (epsilon {alone:.3g} at delta {budget.delta:g})"
        raise ReleaseSpecError(
            f"{path.name}: privacy_loss: {said} exceeds the budget per period of '{spec.dataset}' (epsilon {budget.epsilon} / delta {budget.delta})"
        )
    problems = declared_sensitivity_problems(spec)
    if problems:
        raise ReleaseSpecError(f"{path.name}: " + "; ".join(problems))
    return spec


def release_epsilon(spec: ReleaseSpec, settings: PrivacySettings | None = None) -> float:
    """The epsilon of one release of `spec` alone: its epsilon, or its rho as (epsilon, delta) at its dataset's delta per period."""
    loss = spec.privacy_loss
    delta = 0.0 if loss.rho is None else (settings or privacy_settings()).datasets[spec.dataset].budget_per_period.delta
    return epsilon_alone(loss.epsilon, loss.rho, delta)


def load_specs(folder: Path | None = None, settings: PrivacySettings | None = None) -> dict[str, ReleaseSpec]:
    """Every release specification in `folder` (default `config/releases/`), by name."""
    folder = folder or CONFIG_DIR / "releases"
    settings = settings or load_settings()
    return {path.stem: load_spec(path, settings) for path in sorted(folder.glob("*.yaml"))}


@cache
def release_specs() -> dict[str, ReleaseSpec]:
    """The configured releases (cached for the process)."""
    return load_specs()


@cache
def privacy_settings() -> PrivacySettings:
    """The configured budgets (cached for the process)."""
    return load_settings()
