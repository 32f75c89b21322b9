"""Differentially private balance indicators of a pulse survey, per wave.

What is released, per wave and per group of each level (nation; SBI
section; section x size class): the number of responding firms and, per
question, the balance indicator (% positive minus % negative answers, as
CBS and the EU business surveys publish it) with 95 % intervals.

How, and why it is private:
1. Contribution bounding. The private mart has one row per firm per wave
   (a SQLMesh audit checks it, and the query below keeps one row per firm
   again), so a firm gives at most one answer per question per wave.
2. Exact sufficient statistics in DuckDB: per group, the respondents and,
   per question, the positive, neutral and negative answer counts. Group
   keys are public (reference data), every group is released, empty or not.
3. One OpenDP measurement: discrete Laplace noise (`make_laplace` on an
   integer vector under the L1 distance) over the whole vector of counts.
   Sensitivity: adding or removing one firm changes, in each level, its
   group's respondent count by 1 and, per question it answered, exactly one
   of the three answer counts by 1. So the L1 distance between neighbouring
   vectors is at most levels x (1 + questions): 3 x (1 + 2) = 9 for the
   standard release. OpenDP's privacy map turns that into the epsilon the
   ledger is charged.
4. Post-processing (free): counts clipped at 0; balance and shares computed
   from noisy counts; intervals from OpenDP's accuracy; groups whose noisy
   respondent count is under the threshold suppressed, as CBS marks 'x'.
   Levels are released independently: sectors need not add up to the nation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import product

import duckdb
import opendp.prelude as dp
import polars as pl

from core import reference
from core.survey import cgc_survey
from privacy import ledger
from privacy.accuracy import balance, balance_interval, count_half_width
from privacy.config import LEVELS, BalanceReleaseConfig, privacy_config

dp.enable_features("contrib")

RELEASE_NAME = "cgc_balance"
MART = "marts.cgc_firm_wave"
PRIVACY_UNIT = "firm (pseudonymised KvK number); one answer per question per wave"
MECHANISM = "discrete Laplace (OpenDP make_laplace on a vector of counts)"
SIDES = ("positive", "neutral", "negative")

RELEASE_DDL = """
CREATE SCHEMA IF NOT EXISTS releases;
CREATE TABLE IF NOT EXISTS releases.cgc_balance (
    release_id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    wave VARCHAR NOT NULL,
    level VARCHAR NOT NULL,          -- nation | sector | sector_size
    sector VARCHAR,                  -- SBI section, null at nation level
    size_class VARCHAR,              -- null unless level = sector_size
    question VARCHAR NOT NULL,
    respondents BIGINT,              -- noisy number of responding firms in the group
    respondents_ci_low DOUBLE,
    respondents_ci_high DOUBLE,
    answered BIGINT,                 -- noisy number of firms that answered this question
    pct_positive DOUBLE,             -- percent of answers on the positive side
    pct_negative DOUBLE,
    balance DOUBLE,                  -- pct_positive - pct_negative, percentage points
    balance_ci_low DOUBLE,
    balance_ci_high DOUBLE,
    suppressed BOOLEAN NOT NULL,
    suppression_reason VARCHAR,
    epsilon DOUBLE NOT NULL,
    confidence_level DOUBLE NOT NULL,
    released_at TIMESTAMP NOT NULL
);
"""


@dataclass(frozen=True)
class ReleaseOutcome:
    release_id: str
    wave: str
    version: int
    status: str  # 'released' (new noise, charged) or 'reused' (stored release served again)
    epsilon: float
    table: pl.DataFrame


class SpecChanged(RuntimeError):
    """A stored release was made with another specification; ask for a new version."""


def release_id(wave: str, version: int) -> str:
    return f"{RELEASE_NAME}/{wave}/v{version}"


def sensitivity(config: BalanceReleaseConfig) -> int:
    """L1 sensitivity of the count vector under adding or removing one firm (see module docstring)."""
    return len(config.levels) * (1 + len(config.questions))


def make_measurement(noise_scale: float) -> dp.Measurement:
    """Discrete Laplace noise on a vector of integer counts (L1 metric)."""
    domain = dp.vector_domain(dp.atom_domain(T=int))
    return dp.m.make_laplace(domain, dp.l1_distance(T=int), scale=noise_scale)


def noise_scale(config: BalanceReleaseConfig) -> float:
    return sensitivity(config) / config.epsilon


def _side_expressions(config: BalanceReleaseConfig) -> list[str]:
    survey = cgc_survey()
    parts = []
    for question in config.questions:
        spec = survey.questions[question]
        column = f"CAST({question} AS VARCHAR)"
        positive = ", ".join(f"'{code}'" for code in spec.positive)
        negative = ", ".join(f"'{code}'" for code in spec.negative)
        parts += [
            f"COUNT(*) FILTER (WHERE {column} IN ({positive})) AS \"{question}:positive\"",
            f"COUNT(*) FILTER (WHERE {column} IS NOT NULL AND {column} NOT IN ({positive}, {negative})) AS \"{question}:neutral\"",
            f"COUNT(*) FILTER (WHERE {column} IN ({negative})) AS \"{question}:negative\"",
        ]
    return parts


def sufficient_statistics(connection: duckdb.DuckDBPyConnection, wave: str, config: BalanceReleaseConfig) -> pl.DataFrame:
    """Exact counts per finest cell (sector x size class x province) of one wave."""
    sql = f"""
        WITH bounded AS (  -- one row per firm per wave, whatever the mart holds
            SELECT * FROM {MART} WHERE wave = ?
            QUALIFY ROW_NUMBER() OVER (PARTITION BY firm_id ORDER BY firm_id) = 1
        )
        SELECT sector, size_class, province, COUNT(*) AS respondents, {", ".join(_side_expressions(config))}
        FROM bounded GROUP BY sector, size_class, province
    """
    return connection.execute(sql, [wave]).pl()


def measures(config: BalanceReleaseConfig) -> list[str]:
    return ["respondents", *(f"{q}:{side}" for q in config.questions for side in SIDES)]


def _key_grid(dims: list[str]) -> pl.DataFrame:
    domains = {"sector": reference.sector_codes(), "size_class": reference.size_class_codes(), "province": reference.province_codes()}
    if not dims:
        return pl.DataFrame({"_all": [0]})
    return pl.DataFrame(list(product(*(domains[d] for d in dims))), schema=dims, orient="row")


def exact_counts(stats: pl.DataFrame, config: BalanceReleaseConfig) -> pl.DataFrame:
    """Every public group of every level with its exact counts (0 for empty groups), in a fixed order."""
    columns = measures(config)
    frames = []
    for level_name in config.levels:
        dims = list(LEVELS[level_name])
        grid = _key_grid(dims)
        if dims:
            summed = stats.group_by(dims).agg(pl.col(columns).sum())
            level = grid.join(summed, on=dims, how="left")
        else:
            level = grid.with_columns([pl.lit(stats[c].sum() if stats.height else 0).alias(c) for c in columns]).drop("_all")
        level = level.with_columns(pl.col(columns).fill_null(0).cast(pl.Int64), level=pl.lit(level_name))
        for dim in ("sector", "size_class"):
            if dim not in level.columns:
                level = level.with_columns(pl.lit(None, pl.Utf8).alias(dim))
        frames.append(level.select("level", "sector", "size_class", *columns))
    return pl.concat(frames)


def add_noise(counts: pl.DataFrame, config: BalanceReleaseConfig) -> tuple[pl.DataFrame, float]:
    """Noisy counts (one OpenDP measurement over the whole vector) and the epsilon OpenDP certifies."""
    columns = measures(config)
    measurement = make_measurement(noise_scale(config))
    epsilon = float(measurement.map(sensitivity(config)))
    vector = counts.select(columns).to_numpy().ravel().astype(int).tolist()
    noisy = measurement(vector)
    shaped = pl.DataFrame([noisy[i : i + len(columns)] for i in range(0, len(noisy), len(columns))], schema=columns, orient="row")
    return pl.concat([counts.drop(columns), shaped], how="horizontal"), epsilon


def post_process(noisy: pl.DataFrame, config: BalanceReleaseConfig) -> pl.DataFrame:
    """Clip, compute balances and intervals, suppress small groups: released numbers only."""
    alpha = 1 - config.confidence_level
    scale = noise_scale(config)
    count_width = count_half_width(scale, alpha)
    side_width = count_half_width(scale, alpha / 3)  # union bound over the three answer counts
    threshold = config.suppression_threshold
    rows = []
    for group in noisy.iter_rows(named=True):
        respondents = max(int(group["respondents"]), 0)
        for question in config.questions:
            positive, neutral, negative = (max(int(group[f"{question}:{side}"]), 0) for side in SIDES)
            answered = positive + neutral + negative
            reason = None
            if respondents < threshold:
                reason = f"minder dan {threshold} bedrijven in deze groep"
            elif answered < threshold:
                reason = f"minder dan {threshold} antwoorden op deze vraag"
            low, high = balance_interval(positive, neutral, negative, side_width)
            rows.append(
                {
                    "level": group["level"],
                    "sector": group["sector"],
                    "size_class": group["size_class"],
                    "question": question,
                    "respondents": respondents,
                    "respondents_ci_low": max(respondents - count_width, 0.0),
                    "respondents_ci_high": respondents + count_width,
                    "answered": None if reason else answered,
                    "pct_positive": None if reason else 100.0 * positive / answered,
                    "pct_negative": None if reason else 100.0 * negative / answered,
                    "balance": None if reason else balance(positive, neutral, negative),
                    "balance_ci_low": None if reason else low,
                    "balance_ci_high": None if reason else high,
                    "suppressed": reason is not None,
                    "suppression_reason": reason,
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None)


def stored_release(connection: duckdb.DuckDBPyConnection, rid: str) -> pl.DataFrame:
    connection.execute(RELEASE_DDL)
    return connection.execute("SELECT * FROM releases.cgc_balance WHERE release_id = ? ORDER BY level, sector, size_class, question", [rid]).pl()


def release_wave(
    connection: duckdb.DuckDBPyConnection,
    wave: str,
    version: int = 1,
    config: BalanceReleaseConfig | None = None,
) -> ReleaseOutcome:
    """Release one wave, or serve the stored release of this version again (no new noise, no charge)."""
    config = config or privacy_config().releases[RELEASE_NAME]
    budget = privacy_config().datasets[config.dataset].budget_per_period.epsilon
    ledger.ensure_ledger(connection)
    connection.execute(RELEASE_DDL)
    rid = release_id(wave, version)
    existing = ledger.find(connection, rid)
    if existing is not None:
        if existing["spec_hash"] != config.spec_hash():
            raise SpecChanged(
                f"{rid} was released with another specification ({existing['spec_hash']}); "
                f"release version {version + 1} to use the new one (it is charged again)"
            )
        return ReleaseOutcome(rid, wave, version, "reused", existing["epsilon"], stored_release(connection, rid))
    ledger.check(connection, config.dataset, wave, budget, config.epsilon)

    counts = exact_counts(sufficient_statistics(connection, wave, config), config)
    noisy, epsilon = add_noise(counts, config)
    now = datetime.now().replace(microsecond=0)
    table = post_process(noisy, config).with_columns(
        release_id=pl.lit(rid), version=pl.lit(version), wave=pl.lit(wave), epsilon=pl.lit(epsilon),
        confidence_level=pl.lit(config.confidence_level), released_at=pl.lit(now),
    )
    entry = ledger.Charge(
        release_id=rid, release_name=RELEASE_NAME, dataset=config.dataset, period=wave, version=version,
        measures=", ".join(measures(config)) + f" per {' / '.join(config.levels)}",
        privacy_unit=PRIVACY_UNIT, epsilon=epsilon, delta=0.0, mechanism=MECHANISM,
        sensitivity=float(sensitivity(config)), noise_scale=noise_scale(config), spec_hash=config.spec_hash(), created_at=now,
    )
    connection.execute("BEGIN TRANSACTION")
    try:
        ledger.charge(connection, entry, budget)
        connection.register("release_rows", table)
        connection.execute("INSERT INTO releases.cgc_balance BY NAME SELECT * FROM release_rows")
        connection.unregister("release_rows")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return ReleaseOutcome(rid, wave, version, "released", epsilon, stored_release(connection, rid))


def releasable_waves(connection: duckdb.DuckDBPyConnection, today) -> list[str]:
    """Closed waves (fieldwork over) that have answers in the mart: only these are released."""
    closed = set(reference.closed_waves(today))
    present = [row[0] for row in connection.execute(f"SELECT DISTINCT wave FROM {MART} ORDER BY wave").fetchall()]
    return [wave for wave in present if wave in closed]
