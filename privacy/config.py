"""Privacy budgets and release settings from `config/privacy.yaml`, validated at load time."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from core.settings import CONFIG_DIR

LEVELS = {"nation": (), "sector": ("sector",), "sector_size": ("sector", "size_class"), "province": ("province",)}


class PrivacyLoss(BaseModel):
    epsilon: float = Field(gt=0, le=10, description="total epsilon per period")
    delta: float = Field(ge=0, lt=1e-5, default=0.0)


class DatasetConfig(BaseModel):
    budget_per_period: PrivacyLoss


class BalanceReleaseConfig(BaseModel):
    """A balance-indicator release of a survey: counts per group and per answer side."""

    dataset: str
    epsilon: float = Field(gt=0, le=10)
    suppression_threshold: int = Field(ge=0, default=10)
    confidence_level: float = Field(gt=0.5, lt=1.0, default=0.95)
    questions: list[str] = Field(min_length=1)
    levels: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def levels_are_known(self) -> BalanceReleaseConfig:
        for level in self.levels:
            if level not in LEVELS:
                raise ValueError(f"levels: '{level}' is not one of {sorted(LEVELS)}")
        if len(set(self.levels)) != len(self.levels):
            raise ValueError("levels: each level may appear once")
        return self

    def spec_hash(self) -> str:
        """Hash of everything that changes what a release means; a new spec needs a new version."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:16]


class PrivacyConfig(BaseModel):
    datasets: dict[str, DatasetConfig]
    releases: dict[str, BalanceReleaseConfig]

    @model_validator(mode="after")
    def releases_have_budgets(self) -> PrivacyConfig:
        for name, release in self.releases.items():
            if release.dataset not in self.datasets:
                raise ValueError(f"releases.{name}.dataset: '{release.dataset}' has no budget under datasets")
            budget = self.datasets[release.dataset].budget_per_period.epsilon
            if release.epsilon > budget:
                raise ValueError(f"releases.{name}.epsilon: {release.epsilon} exceeds the period budget {budget}")
        return self


class PrivacyConfigError(ValueError):
    """The privacy configuration breaks a rule; the message names the field."""


def load_privacy_config(path: Path | None = None) -> PrivacyConfig:
    path = path or CONFIG_DIR / "privacy.yaml"
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    try:
        return PrivacyConfig.model_validate(data)
    except ValidationError as error:
        lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        raise PrivacyConfigError(f"{path.name}: " + "; ".join(lines)) from None


@cache
def privacy_config() -> PrivacyConfig:
    return load_privacy_config()
