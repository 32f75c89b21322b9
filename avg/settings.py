"""Retention periods (bewaartermijnen) per source, from `config/retention.yaml`: read, checked, explained in Dutch.

Plain settings only (no warehouse): the administrators' page shows them, and
`avg.retention` applies them. Every period is a whole number of calendar
months (days for an inzage export), at least 1 and at most 120; a source
left out takes the defaults, a source may set any of the three periods. A
landing file is kept at least as long as the rows made from it
(`landing_months >= raw_months` and `>= quarantine_months`), because
`mkbvm rekey` and a rebuild of the warehouse read the file again. Errors
name the field, the value and the rule, in Dutch.

>>> settings = retention_settings()
>>> settings.for_source("cgc").raw_months, settings.for_source("debt_signal").quarantine_months
(24, 3)
"""

from __future__ import annotations

import calendar
import os
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.settings import CONFIG_DIR
from core.sources import sources

RETENTION_CONFIG_ENV = "MKB_RETENTION_CONFIG"
RETENTION_FILE = CONFIG_DIR / "retention.yaml"
MAX_MONTHS = 120

LABELS = {
    "landing_months": "landingsbestanden",
    "raw_months": "ingelezen rijen (raw)",
    "quarantine_months": "afgekeurde rijen (quarantaine)",
    "months_after_close": "documenten bij reacties, na het sluiten van het voorstel",
    "days": "inzage-overzicht om te downloaden",
}


def cutoff(now: datetime, months: int) -> datetime:
    """`now` minus whole calendar months; the day is clamped to the shorter month (31 March - 1 month = 28 February).

    >>> cutoff(datetime(2026, 3, 31, 5, 30), 1)
    datetime.datetime(2026, 2, 28, 5, 30)
    """
    index = now.year * 12 + now.month - 1 - months
    year, month = divmod(index, 12)
    return now.replace(year=year, month=month + 1, day=min(now.day, calendar.monthrange(year, month + 1)[1]))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Months = Field(ge=1, le=MAX_MONTHS)


class SourceRetention(_Strict):
    """The three periods of one source, in months since its landing file was loaded."""

    landing_months: int = Months
    raw_months: int = Months
    quarantine_months: int = Months

    @model_validator(mode="after")
    def _landing_outlives_its_rows(self) -> SourceRetention:
        for field in ("raw_months", "quarantine_months"):
            if getattr(self, field) > self.landing_months:
                raise ValueError(
                    f"{field}: {getattr(self, field)} is langer dan landing_months ({self.landing_months}); een landingsbestand "
                    "wordt bewaard zolang er rijen uit bewaard worden (opnieuw sleutelen en herbouwen lezen het opnieuw)"
                )
        return self


class SourceOverride(_Strict):
    """What one source sets itself; the rest comes from the defaults."""

    landing_months: int | None = Field(default=None, ge=1, le=MAX_MONTHS)
    raw_months: int | None = Field(default=None, ge=1, le=MAX_MONTHS)
    quarantine_months: int | None = Field(default=None, ge=1, le=MAX_MONTHS)


class UploadRetention(_Strict):
    months_after_close: int = Months


class InzageRetention(_Strict):
    days: int = Field(ge=1, le=365)


class RetentionSettings(_Strict):
    defaults: SourceRetention
    sources: dict[str, SourceOverride] = Field(default_factory=dict)
    uploads: UploadRetention
    inzage: InzageRetention

    @model_validator(mode="after")
    def _known_sources(self) -> RetentionSettings:
        unknown = sorted(set(self.sources) - set(sources()))
        if unknown:
            raise ValueError(f"sources: {', '.join(unknown)} is geen bron (bekend: {', '.join(sources())})")
        for name in self.sources:
            self.for_source(name)  # the merged periods must keep the rule too
        return self

    def for_source(self, name: str) -> SourceRetention:
        """The periods of source `name`: its own where it sets them, else the defaults."""
        override = self.sources.get(name)
        merged = self.defaults.model_dump() | ({k: v for k, v in override.model_dump().items() if v is not None} if override else {})
        try:
            return SourceRetention.model_validate(merged)
        except ValidationError as error:
            raise ValueError(f"sources.{name}.{_problems(error)[0]}") from None


class RetentionSettingsError(ValueError):
    """`config/retention.yaml` breaks a rule; the message names the file, the field, the value and the rule, in Dutch."""


def _unit(field: str, count: int) -> str:
    if field == "days":
        return "dag" if count == 1 else "dagen"
    return "maand" if count == 1 else "maanden"


def _rule(item: dict[str, Any]) -> str:
    kind, context, value = item["type"], item.get("ctx", {}), item.get("input")
    field = str(item["loc"][-1]) if item["loc"] else ""
    if kind == "missing":
        return "ontbreekt; vul een aantal in"
    if kind == "extra_forbidden":
        return f"is geen instelling van de bewaartermijnen (bekend: {', '.join(LABELS)}, defaults, sources, uploads, inzage)"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"'{value}' is geen heel getal"
    if kind == "greater_than_equal":
        return f"{value} kan niet: een bewaartermijn is minstens {context['ge']} {_unit(field, context['ge'])}"
    if kind == "less_than_equal":
        return f"{value} is te lang: een bewaartermijn is hoogstens {context['le']} {_unit(field, context['le'])}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "moet een lijst van instellingen zijn (naam: waarde)"
    return str(item.get("msg", "")).removeprefix("Value error, ")


def _problems(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        label = LABELS.get(str(item["loc"][-1])) if item["loc"] else None
        lines.append(f"{where}{f' ({label})' if label else ''}: {_rule(item)}" if where else _rule(item))
    return lines


def load_retention_settings(path: Path | None = None) -> RetentionSettings:
    """Read and check a retention file; `RetentionSettingsError` names everything that is wrong with it."""
    path = path or Path(os.environ.get(RETENTION_CONFIG_ENV) or RETENTION_FILE)
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    try:
        return RetentionSettings.model_validate(data)
    except ValidationError as error:
        raise RetentionSettingsError(f"{path.name}: " + "; ".join(_problems(error))) from None


@cache
def _settings_at(path: str) -> RetentionSettings:
    return load_retention_settings(Path(path))


def retention_settings() -> RetentionSettings:
    """The installation's retention periods (`config/retention.yaml`, or the file in MKB_RETENTION_CONFIG)."""
    return _settings_at(os.environ.get(RETENTION_CONFIG_ENV) or str(RETENTION_FILE))
