"""Public reference data: the group keys every release is built on.

The CSV files in `reference/` are versioned with the code. They are public
domains (SBI sections, size classes, provinces, municipalities, survey waves),
so a group in a release never exists only because a respondent does.
`reference/domains.yaml` names them; `domain_codes(name)` and
`domain_labels(name)` read any of them, so a new domain is a CSV file and a
YAML entry.
"""

from __future__ import annotations

import importlib
from datetime import date
from functools import cache

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.settings import REFERENCE_DIR


class Domain(BaseModel):
    """One public domain of `reference/domains.yaml`: a CSV file with its code and Dutch label columns, or a
    provider (`module:function`) for a domain that changes while the platform runs (the proposals)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str | None = None
    code: str | None = None
    label: str | None = None
    provider: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_.]*:[a-z_][a-z0-9_]*$", description="codes, read fresh each time")
    labels: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_.]*:[a-z_][a-z0-9_]*$", description="code -> label")
    nested_in_period: bool = Field(default=False, description="codes are '<period>/...': a release's grid per period holds that period's codes only")
    description: str

    @model_validator(mode="after")
    def _one_kind(self) -> Domain:
        if (self.file is None) == (self.provider is None):
            raise ValueError("a domain is either a file (with code and label) or a provider (with labels)")
        if self.file and not (self.code and self.label):
            raise ValueError("a file domain names its code and label columns")
        if self.provider and not self.labels:
            raise ValueError("a provider domain names its labels function too")
        return self

    @property
    def dynamic(self) -> bool:
        """Its codes may change while a process runs: never cached."""
        return self.provider is not None


def _call(reference_to: str):
    module, function = reference_to.split(":")
    return getattr(importlib.import_module(module), function)()


@cache
def domains() -> dict[str, Domain]:
    """Every public domain by name (`sector`, `size_class`, `province`, ...), from `reference/domains.yaml`."""
    with open(REFERENCE_DIR / "domains.yaml", encoding="utf-8") as handle:
        return {name: Domain.model_validate(entry) for name, entry in yaml.safe_load(handle).items()}


class UnknownDomain(KeyError):
    """A name that `reference/domains.yaml` does not list."""


def _domain(name: str) -> Domain:
    try:
        return domains()[name]
    except KeyError:
        raise UnknownDomain(f"'{name}' is no public domain (known: {', '.join(domains())})") from None


@cache
def _domain_frame(name: str) -> pl.DataFrame:
    entry = _domain(name)
    return pl.read_csv(REFERENCE_DIR / entry.file, infer_schema=False).select(
        pl.col(entry.code).alias("code"), pl.col(entry.label).alias("label")
    )


def nested_in_period(name: str) -> bool:
    """Whether the codes of domain `name` belong to one period each ('<proposal>/<article>')."""
    return _domain(name).nested_in_period


def domain_codes(name: str) -> list[str]:
    """The codes of a public domain, in the order of its file (or as its provider gives them).

    >>> domain_codes("size_class")
    ['0-1', '2-9', '10-49', '50-249']
    """
    entry = _domain(name)
    if entry.dynamic:
        return list(_call(entry.provider))
    return _domain_frame(name)["code"].to_list()


def domain_labels(name: str) -> dict[str, str]:
    """Code -> Dutch label of a public domain.

    >>> domain_labels("province")["PV26"]
    'Utrecht'
    """
    entry = _domain(name)
    if entry.dynamic:
        return dict(_call(entry.labels))
    frame = _domain_frame(name)
    return dict(zip(frame["code"], frame["label"], strict=True))


def dynamic_codes(names: list[str]) -> tuple[tuple[str, ...], ...]:
    """The current codes of those of `names` that are dynamic domains (a cache key for what is built from them)."""
    return tuple(tuple(domain_codes(name)) for name in names if _domain(name).dynamic)


@cache
def sbi_sections() -> pl.DataFrame:
    """SBI 2008 sections A-U: `code`, `name_nl`, `population_share`."""
    return pl.read_csv(REFERENCE_DIR / "sbi_sections.csv")


@cache
def size_classes() -> pl.DataFrame:
    """MKB size classes by persons employed: `code`, `label_nl`, bounds, `population_share`."""
    return pl.read_csv(REFERENCE_DIR / "size_classes.csv")


@cache
def provinces() -> pl.DataFrame:
    """The 12 provinces: `code` (PV20-PV31), `name`, `population_share`."""
    return pl.read_csv(REFERENCE_DIR / "provinces.csv")


@cache
def municipalities() -> pl.DataFrame:
    """Municipalities (1 January 2025) with their province: `code`, `name`, `province_code`."""
    return pl.read_csv(REFERENCE_DIR / "municipalities.csv")


@cache
def waves() -> pl.DataFrame:
    """Monthly CGC waves: `wave` ('2025-01'), `opens` and `closes` (dates, inclusive)."""
    return pl.read_csv(REFERENCE_DIR / "cgc_waves.csv", try_parse_dates=True)


def sector_codes() -> list[str]:
    return domain_codes("sector")


def sector_names() -> dict[str, str]:
    return domain_labels("sector")


def size_class_codes() -> list[str]:
    return domain_codes("size_class")


def province_codes() -> list[str]:
    return domain_codes("province")


def province_names() -> dict[str, str]:
    return domain_labels("province")


def wave_codes() -> list[str]:
    return domain_codes("wave")


def wave_of(day: date) -> str:
    """The wave a submission on `day` belongs to (waves are calendar months).

    >>> wave_of(date(2026, 11, 22))
    '2026-11'
    """
    return f"{day.year:04d}-{day.month:02d}"


def closed_waves(today: date) -> list[str]:
    """Waves whose fieldwork ended before `today`: only these are released."""
    frame = waves().filter(pl.col("closes") < today)
    return frame["wave"].to_list()
