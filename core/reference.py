"""Public reference data: the group keys every release is built on.

The CSV files in `reference/` are versioned with the code. They are public
domains (SBI sections, size classes, provinces, municipalities, survey waves),
so a group in a release never exists only because a respondent does.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import polars as pl

from core.settings import REFERENCE_DIR


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
    return sbi_sections()["code"].to_list()


def sector_names() -> dict[str, str]:
    return dict(zip(sbi_sections()["code"], sbi_sections()["name_nl"], strict=True))


def size_class_codes() -> list[str]:
    return size_classes()["code"].to_list()


def province_codes() -> list[str]:
    return provinces()["code"].to_list()


def province_names() -> dict[str, str]:
    return dict(zip(provinces()["code"], provinces()["name"], strict=True))


def wave_codes() -> list[str]:
    return waves()["wave"].to_list()


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
