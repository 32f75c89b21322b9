"""Small temporary warehouses and specs for the privacy tests (real DuckDB, real OpenDP)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from core import reference
from core.warehouse import connect as warehouse_connect
from privacy.loading import release_specs
from privacy.spec import PrivacyLoss, PrivacySettings, ReleaseSpec

SURVEY_ANSWERS = {
    "order_book": ["grown", "same", "shrunk"],
    "investment": ["up", "same", "down"],
    "staff_shortage": ["none", "some", "severe"],
}
CHALLENGES = ["personeel", "energie", "regeldruk", "financiering", "vraag", "concurrentie", "grondstoffen", "loonkosten"]


FIRM = {"kind": "firm", "column": "firm_id", "label": "firm (pseudonymised KvK number)"}
PERSON = {"kind": "person", "column": "person_id", "label": "person (pseudonymised BSN)"}


def settings(epsilon: float = 3.0, delta: float = 1e-6, annual_epsilon: float = 200.0, **datasets: float) -> PrivacySettings:
    """Budgets: 'cgc' per wave at (epsilon, delta) over its mart and a test mart of themes, plus any dataset given as name=epsilon (per month, about persons:
    sources marts.<name>_claims and marts.<name>_person_month); a yearly cap per kind of unit of `annual_epsilon`."""
    data = {"cgc": {"period": "wave", "title_nl": "Gezondheidscheck", "privacy_unit": FIRM, "sources": ["marts.cgc_firm_wave", "marts.cgc_themes"],
                    "budget_per_period": {"epsilon": epsilon, "delta": delta}}}
    for name, budget in datasets.items():
        data[name] = {"period": "month", "title_nl": name, "privacy_unit": PERSON, "sources": [f"marts.{name}_claims", f"marts.{name}_person_month"],
                      "budget_per_period": {"epsilon": budget, "delta": 1e-5}}
    caps = {kind: {"epsilon": annual_epsilon, "delta": 1e-4} for kind in ("firm", "person")}
    return PrivacySettings.model_validate({"annual_caps": caps, "datasets": data})


def unlimited_settings() -> PrivacySettings:
    """Budgets that never refuse (built without validation: only tests may do this)."""
    budget = {"epsilon": math.inf, "delta": 1.0}
    return PrivacySettings.model_construct(
        annual_caps={kind: cap.model_copy(update=budget) for kind, cap in settings().annual_caps.items()},
        datasets={
            name: d.model_copy(update={"budget_per_period": d.budget_per_period.model_copy(update=budget)})
            for name, d in settings(debt=1.0).datasets.items()
        }
    )


def noiseless(components: list) -> list:
    """The same components with scale 0 (no noise, whatever their law): the exact figures, for comparison."""
    return [replace(c, epsilon=math.inf, rho=0.0) for c in components]


def without_noise(spec: ReleaseSpec) -> ReleaseSpec:
    """The same spec with an infinite privacy loss: OpenDP's noise scale becomes 0, the logic must be exact."""
    return spec.model_copy(update={"privacy_loss": PrivacyLoss.model_construct(epsilon=math.inf, delta=spec.privacy_loss.delta)})


def cgc_spec(name: str = "cgc_balance", epsilon: float | None = None) -> ReleaseSpec:
    """A configured spec, optionally with another privacy loss (so tests do not depend on the configured one)."""
    spec = release_specs()[name]
    return spec if epsilon is None else spec.model_copy(update={"privacy_loss": PrivacyLoss(epsilon=epsilon)})


def firms_frame(firms: int, waves: list[str], seed: int = 1, answer_rate: float = 0.9) -> pl.DataFrame:
    """A bounded CGC mart: one row per firm per wave, answers drawn at random (test data, not noise)."""
    rng = np.random.default_rng(seed)
    sectors, sizes, provinces = reference.sector_codes(), reference.size_class_codes(), reference.province_codes()
    sector_weights = np.linspace(3, 1, len(sectors)) / np.linspace(3, 1, len(sectors)).sum()
    rows = firms * len(waves)

    def answers(options: list[str]) -> list[str | None]:
        chosen = rng.choice(options, size=rows).astype(object)
        chosen[rng.random(rows) > answer_rate] = None
        return list(chosen)

    sentiment = rng.integers(1, 6, size=rows).astype(float)
    sentiment[rng.random(rows) > answer_rate] = np.nan
    named = [";".join(rng.choice(CHALLENGES, size=rng.integers(0, 5), replace=False)) or None for _ in range(rows)]
    return pl.DataFrame(
        {
            "firm_id": [f"firm{f:06d}" for _ in waves for f in range(firms)],
            "wave": [w for w in waves for _ in range(firms)],
            "sector": list(np.tile(rng.choice(sectors, size=firms, p=sector_weights), len(waves))),
            "size_class": list(np.tile(rng.choice(sizes, size=firms, p=[0.5, 0.3, 0.15, 0.05]), len(waves))),
            "province": list(np.tile(rng.choice(provinces, size=firms), len(waves))),
            **{question: answers(options) for question, options in SURVEY_ANSWERS.items()},
            "sentiment": pl.Series(sentiment).cast(pl.Int32, strict=False),
            "challenges": named,
        }
    )


def make_mart(connection: duckdb.DuckDBPyConnection, frame: pl.DataFrame, table: str = "marts.cgc_firm_wave") -> None:
    schema = table.split(".")[0]
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    connection.register("mart_frame", frame)
    connection.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM mart_frame")
    connection.unregister("mart_frame")


def warehouse_with(path: Path, frame: pl.DataFrame, table: str = "marts.cgc_firm_wave") -> Path:
    with warehouse_connect(path) as connection:
        make_mart(connection, frame, table)
    return path


# A process that waits for the file argv[2], then releases cgc_balance for three waves (version argv[3]) on the warehouse
# argv[1] against a budget of 1.5 per wave (each release costs 1.0): races test that only one per wave is made.
RACER = """
import json, sys, time
from pathlib import Path
from core.warehouse import connect
from privacy.engine import release
from tests.privacy_support import cgc_spec, settings

warehouse, go, version = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
with connect(warehouse) as connection:
    outcomes = release(connection, cgc_spec(epsilon=1.0), ["2025-01", "2025-02", "2025-03"], version=version, settings=settings(epsilon=1.5))
print(json.dumps([[o.period, o.status, o.message] for o in outcomes]))
"""
