"""From delivered debt signals to advice per claim and to the mart the anti-escalation KPIs are released from.

    marts.debt_claim_month  (one row per claim per month: its latest delivery that month; sources/debt_signal)
      -> operational.debt_advice   per claim per month: the rules' recommended action, reasons, letter group, costs
                                   (operational, never released: a creditor sees its own claims' rows only)
      -> marts.debt_small_claims   per small claim (< 100 euros) per month: creditor type, KPI outcome, avoided case
                                   (private; config/releases/debt_kpis.yaml releases it with differential privacy)
      -> marts.debt_person_risk    per signalled person per month: municipality, province, risk class, repeat signal
                                   (private; config/releases/debt_risk.yaml, the early warning)
      -> marts.debt_whatif         per small claim per month per what-if grid point: the outcome at that point
                                   (private; config/releases/debt_whatif.yaml)
      -> marts.debt_collection     per claim per month: creditor type, collection costs and principal collected
                                   (private; config/releases/debt_collection_cost.yaml: costs per euro collected)

Each month is evaluated on its own (all claims of a person in that month in
one call, as `debts.rules.evaluate_claims` needs), on the month's last day or
today, whichever comes first (a crisis threshold counts on that day). So a
build makes again only the months whose claims, evaluation day, rules or code
changed since the last one (`core.fingerprints`, scope `debt_months`: per
month a hash of those); the next month's run evaluates the new month and the running one, not
two years of the nation's claims. What the risk classes need of a month's
claims is kept per person per month (`marts.debt_person_month`); the classes
(a repeat signal looks back across months) are made again from those rows.
The rows are built beside the old ones and swapped in together in one
transaction: a crash leaves the old ones.

Delivered amounts: a creditor delivers `current_amount` as what is owed now,
costs included (sources/debt_signal/source.yaml); the rules read the
principal still open, `current_amount - costs_so_far` (never below 0). A flag
the creditor left empty (not known) counts as false: the rules never assume
debt counselling or payment problems nobody reported.

KPI outcome of a small claim, from its recommended action (one of four, so
detected = written off + without collection + to collection + still open):

| outcome | actions |
|---|---|
| `afgeschreven` (written off) | afschrijven |
| `zonder_incasso` (resolved without collection) | vriendelijke_herinnering, betalingsregeling_aanbieden, afstemmen_met_schuldhulp |
| `naar_incasso` (sent to collection: collection goes on) | bundelen, doorgaan |
| `open` (still open: collection paused, stacking) | pauzeren |

An *avoided collection case* is a small claim whose outcome is
`afgeschreven` or `zonder_incasso` while it is still before the collection
stages (herinnering, aanmaning): without the rules it would have gone to
incasso. Its saving is `cost_per_avoided_case` (config/debts/kpis.yaml).

Collected so far, per claim: the principal paid off, `original_amount` minus
the principal still open (never below 0); its collection costs are
`costs_so_far`. "Collection costs per euro collected" (seed, KPIs per
organisation) is the sum of the one over the sum of the other, per kind of
creditor: how many euros of costs collecting a euro of debt has cost.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import NamedTuple

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from core import fingerprints, reference
from core.settings import CONFIG_DIR
from debts.rules import evaluate_claims
from debts.schema import CLAIMS_SCHEMA, COLLECTION_STAGES
from debts.settings import read_config, rules_settings

SOURCE_MART = "marts.debt_claim_month"
FACTS_TABLE = "marts.debt_person_month"  # per person per month: person_month_facts (private; what the risk classes need)
FINGERPRINT_SCOPE = "debt_months"  # in core.fingerprints.TABLE: per month of the source mart, what its rows were made from
ADVICE_TABLE = "operational.debt_advice"
SMALL_CLAIMS_MART = "marts.debt_small_claims"
COLLECTION_MART = "marts.debt_collection"
RISK_MART = "marts.debt_person_risk"
WHATIF_MART = "marts.debt_whatif"
RISK_CLASSES = ("rood", "oranje", "groen")
OUTCOMES = {
    "afschrijven": "afgeschreven",
    "vriendelijke_herinnering": "zonder_incasso",
    "betalingsregeling_aanbieden": "zonder_incasso",
    "afstemmen_met_schuldhulp": "zonder_incasso",
    "bundelen": "naar_incasso",
    "doorgaan": "naar_incasso",
    "pauzeren": "open",
}
OUTCOME_ORDER = ("afgeschreven", "zonder_incasso", "naar_incasso", "open")


class RiskSettings(BaseModel):
    """The early-warning classes (config/debts/kpis.yaml `risk`, where each threshold is explained)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    essential_debt_types: list[str] = Field(min_length=1)
    red_creditors: int = Field(ge=2)
    red_essential: int = Field(ge=1)
    orange_creditors: int = Field(ge=1)
    orange_essential: int = Field(ge=1)
    orange_small_claims: int = Field(ge=1)
    repeat_months: int = Field(ge=1, le=24)


class WhatIfSettings(BaseModel):
    """The what-if grid (config/debts/kpis.yaml `whatif`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bagatelle_thresholds: list[Decimal] = Field(min_length=1, max_length=6)
    cost_ratios: list[Decimal] = Field(min_length=1, max_length=4)

    def points(self) -> list[tuple[str, Decimal, Decimal]]:
        """(code, threshold, ratio) per grid point; the code is what the release groups by.

        >>> WhatIfSettings(bagatelle_thresholds=[Decimal("25.00")], cost_ratios=[Decimal("3")]).points()
        [('b25_r3', Decimal('25.00'), Decimal('3'))]
        """
        return [(f"b{threshold.normalize():f}_r{ratio.normalize():f}".replace(".", "_"), threshold, ratio)
                for threshold in self.bagatelle_thresholds for ratio in self.cost_ratios]


class KpiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    risk: RiskSettings
    whatif: WhatIfSettings
    small_claim_limit: Decimal = Field(gt=0, max_digits=12, decimal_places=2, description="euros: a claim under this is small")
    cost_per_avoided_case: Decimal = Field(ge=0, max_digits=12, decimal_places=2, description="euros saved per avoided case")


def load_kpi_settings(path: Path | None = None) -> KpiSettings:
    """config/debts/kpis.yaml; its small-claim limit must equal the rules' (one meaning of 'small')."""
    path = path or CONFIG_DIR / "debts" / "kpis.yaml"
    settings = read_config(path, KpiSettings)
    rules_limit = rules_settings().defaults.small_claim_limit
    if settings.small_claim_limit != rules_limit:
        raise ValueError(f"{path.name}: small_claim_limit: {settings.small_claim_limit} is niet gelijk aan de grens voor kleine "
                         f"vorderingen in organisations.yaml ({rules_limit}); één grens voor 'klein'")
    return settings


@cache
def kpi_settings() -> KpiSettings:
    return load_kpi_settings()


def evaluation_day(month: str, today: date) -> date:
    """The month's last day, or today while the month runs.

    >>> evaluation_day("2026-02", date(2026, 12, 1)), evaluation_day("2026-12", date(2026, 12, 1))
    (datetime.date(2026, 2, 28), datetime.date(2026, 12, 1))
    """
    year, number = map(int, month.split("-"))
    return min(date(year, number, calendar.monthrange(year, number)[1]), today)


CLAIMS_PER_PART = 75_000  # claims of one month in memory at a time, about (each also has its what-if grid); the nation has some 2 million a month


def _claims(connection: duckdb.DuckDBPyConnection, month: str, part: int = 0, parts: int = 1) -> pl.DataFrame:
    """The month's claims in the rules' contract (principal without costs; unknown flags false); of `parts` parts by
    person (`hash(person_id)`), part `part`: every claim of a person in the same part, as the rules need."""
    columns = ", ".join(f'"{name}"' for name in CLAIMS_SCHEMA if name not in {"current_amount", "in_debt_counselling",
                                                                              "under_administration", "payment_problems"})
    return connection.execute(f"""
        SELECT {columns}, stage AS stage_text,
               GREATEST(current_amount - costs_so_far, 0)::DECIMAL(12,2) AS current_amount,
               COALESCE(in_debt_counselling, false) AS in_debt_counselling,
               COALESCE(under_administration, false) AS under_administration,
               COALESCE(payment_problems, false) AS payment_problems
        FROM {SOURCE_MART} WHERE month = ? AND hash(person_id) % ? = ?""", [month, parts, part]).pl()


def _principal_cents() -> pl.Expr:
    return (pl.col("current_amount").cast(pl.Decimal(14, 2)) * 100).cast(pl.Int64)


def advice_of_month(claims: pl.DataFrame, month: str, today: date) -> pl.DataFrame:
    """Advice per claim of one month's claims (`_claims`), with the claim's month, creditor type, stage and principal (cents)."""
    advice = evaluate_claims(claims.drop("stage_text"), evaluation_day(month, today)).collect()
    facts = claims.select("claim_id", "creditor_type", "debt_type", "municipality", pl.col("stage_text").alias("stage"),
                          _principal_cents().alias("principal_cents"))
    return advice.join(facts, on="claim_id", how="left").with_columns(pl.lit(month).alias("month")).with_columns(
        pl.col("action").cast(pl.Utf8), pl.col("reasons").cast(pl.List(pl.Utf8)), pl.col("creditor_type").cast(pl.Utf8))


def small_claims(advice: pl.DataFrame, settings: KpiSettings | None = None) -> pl.DataFrame:
    """The KPI mart from the advice: one row per small claim per month (see the module docstring)."""
    settings = settings or kpi_settings()
    limit = int(settings.small_claim_limit * 100)
    small = advice.filter(pl.col("principal_cents") < limit)
    outcome = pl.col("action").replace_strict(OUTCOMES, return_dtype=pl.Utf8)
    before_collection = ~pl.col("stage").is_in(list(COLLECTION_STAGES))
    return small.select(
        "person_id", "month", "claim_id", "creditor_type", "municipality", outcome.alias("outcome"),
        (outcome.is_in(["afgeschreven", "zonder_incasso"]) & before_collection).cast(pl.Int64).alias("avoided_case"),
    ).sort("month", "person_id", "claim_id")


COLLECTION_SCHEMA = {"person_id": pl.Utf8, "month": pl.Utf8, "claim_id": pl.Utf8, "creditor_type": pl.Utf8,
                     "costs_euro": pl.Decimal(12, 2), "collected_euro": pl.Decimal(12, 2)}


def collection(claims: pl.DataFrame, month: str) -> pl.DataFrame:
    """One row per claim of one month's claims (`_claims`): its collection costs and the principal collected so far (euros)."""
    collected = pl.max_horizontal(pl.col("original_amount") - pl.col("current_amount"), pl.lit(0)).cast(pl.Decimal(12, 2))
    return claims.select("person_id", pl.lit(month).alias("month"), "claim_id", pl.col("creditor_type").cast(pl.Utf8),
                         pl.col("costs_so_far").cast(pl.Decimal(12, 2)).alias("costs_euro"), collected.alias("collected_euro"))


def grid_codes() -> list[str]:
    """The what-if grid points (a public domain: reference/domains.yaml `debt_whatif_point`)."""
    return [code for code, _, _ in kpi_settings().whatif.points()]


def grid_labels() -> dict[str, str]:
    """Grid point -> its Dutch name: 'bagatelgrens 50 euro, kosten meer dan 3 x de schuld'."""
    return {code: f"bagatelgrens {threshold.normalize():f} euro, kosten meer dan {ratio.normalize():f} x de schuld".replace(".", ",")
            for code, threshold, ratio in kpi_settings().whatif.points()}


def whatif_rules(threshold: Decimal, ratio: Decimal):
    """The configured rules with one bagatelle threshold and cost ratio for everyone (own thresholds and crises left out)."""
    rules = rules_settings()
    cleared = {"bagatelle_threshold": None, "cost_ratio": None}
    return rules.model_copy(update={
        "defaults": rules.defaults.model_copy(update={"bagatelle_threshold": threshold, "cost_ratio": ratio}),
        "organisation_types": {k: v.model_copy(update=cleared) for k, v in rules.organisation_types.items()},
        "organisations": {k: v.model_copy(update={**cleared, "crisis": None}) for k, v in rules.organisations.items()},
    })


WHATIF_SCHEMA = {"person_id": pl.Utf8, "month": pl.Utf8, "debt_whatif_point": pl.Utf8, "claim_id": pl.Utf8, "outcome": pl.Utf8}


def whatif_of_month(claims: pl.DataFrame, month: str, today: date, settings: KpiSettings | None = None) -> pl.DataFrame:
    """One row per small claim of one month's claims (`_claims`) per grid point: the outcome the rules would give there."""
    settings = settings or kpi_settings()
    small = claims.filter(_principal_cents() < int(settings.small_claim_limit * 100))
    claims = claims.join(small.select("person_id").unique(), on="person_id")  # the persons' other claims too: the rules look across them
    parts = [
        evaluate_claims(claims.drop("stage_text"), evaluation_day(month, today), rules=whatif_rules(threshold, ratio)).collect()
        .join(small.select("claim_id"), on="claim_id")
        .select("person_id", pl.lit(month).alias("month"), pl.lit(code).alias("debt_whatif_point"), "claim_id",
                pl.col("action").cast(pl.Utf8).replace_strict(OUTCOMES, return_dtype=pl.Utf8).alias("outcome"))
        for code, threshold, ratio in settings.whatif.points()
    ]
    return pl.concat(parts) if parts else pl.DataFrame(schema=WHATIF_SCHEMA)


RISK_SCHEMA = {"person_id": pl.Utf8, "month": pl.Utf8, "municipality": pl.Utf8, "province": pl.Utf8, "risk": pl.Utf8,
               "repeat_signal": pl.Int64}


def person_month_facts(advice: pl.DataFrame, settings: KpiSettings | None = None) -> pl.DataFrame:
    """Per person per month of `advice` (any months): creditors, essential kinds of debt, small claims, municipality.

    The part of `person_risk` that needs the claims; what is left needs only these rows, so a build keeps them
    and lets each month's claims go (`build`)."""
    settings = settings or kpi_settings()
    risk, limit = settings.risk, int(settings.small_claim_limit * 100)
    return advice.group_by("person_id", "month").agg(
        pl.col("creditor").n_unique().alias("creditors"),
        pl.col("debt_type").filter(pl.col("debt_type").is_in(risk.essential_debt_types)).n_unique().alias("essential"),
        (pl.col("principal_cents") < limit).sum().alias("small_claims"),
        pl.col("municipality").mode().sort().first().alias("municipality"),
    )


def person_risk(advice: pl.DataFrame, settings: KpiSettings | None = None) -> pl.DataFrame:
    """One row per signalled person per month: where the person lives, the risk class and whether the signal repeats.

    Post-processing of every creditor's claims of the person in that month
    (thresholds in config/debts/kpis.yaml `risk`). The municipality is the
    one most of the month's claims name (ties: the lowest code); its province
    comes from reference/municipalities.csv. A repeat signal: the person was
    also signalled in one of the `repeat_months` months before.
    """
    connection = duckdb.connect()
    try:
        connection.register("debt_person_facts", person_month_facts(advice, settings).to_arrow())
        with _provinces(connection):
            return connection.execute(risk_of_facts("debt_person_facts", settings)).pl().cast(RISK_SCHEMA)
    finally:
        connection.close()


@contextmanager
def _provinces(connection: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """`debt_provinces` (municipality, province) from the reference, known to `connection` while inside."""
    connection.register("debt_provinces", reference.municipalities().select(
        pl.col("code").alias("municipality"), pl.col("province_code").alias("province")).to_arrow())
    try:
        yield
    finally:
        connection.unregister("debt_provinces")


def risk_of_facts(facts: str, settings: KpiSettings | None = None) -> str:
    """The query of `person_risk` over `facts`, rows of `person_month_facts` (of every month: a repeat signal looks
    back), and `debt_provinces` (`_provinces`). In DuckDB, not in polars: at national size the facts of two years
    are tens of millions of rows, which DuckDB sorts within its memory limit and polars would hold three times."""
    risk = (settings or kpi_settings()).risk
    return f"""
        WITH classed AS (
            SELECT person_id, month, municipality,
                   CASE WHEN creditors >= {int(risk.red_creditors)} OR essential >= {int(risk.red_essential)} THEN 'rood'
                        WHEN creditors >= {int(risk.orange_creditors)} OR essential >= {int(risk.orange_essential)}
                             OR small_claims >= {int(risk.orange_small_claims)} THEN 'oranje'
                        ELSE 'groen' END AS risk,
                   CAST(substr(month, 1, 4) AS INTEGER) * 12 + CAST(substr(month, 6, 2) AS INTEGER) AS month_index
            FROM {facts})
        SELECT person_id, month, municipality, debt_provinces.province, risk,
               CAST(coalesce(gap >= 1 AND gap <= {int(risk.repeat_months)}, false) AS BIGINT) AS repeat_signal
        FROM (SELECT *, month_index - lag(month_index) OVER (PARTITION BY person_id ORDER BY month_index) AS gap FROM classed)
        LEFT JOIN debt_provinces USING (municipality)
        ORDER BY month, person_id"""


def _code_and_settings() -> str:
    """What every month's rows are made by: this package's code, its configuration and the settings as loaded."""
    files = sorted(Path(__file__).parent.glob("*.py")) + sorted((CONFIG_DIR / "debts").glob("*.yaml"))
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in files))
    digest.update(f"{rules_settings()!r}|{kpi_settings()!r}".encode())
    return digest.hexdigest()


def month_fingerprints(connection: duckdb.DuckDBPyConnection, today: date) -> dict[str, str]:
    """Month -> a hash of its claims in the source mart (their count and the sum of their row hashes), its evaluation
    day and `_code_and_settings()`: equal only when a build would make the same rows for that month."""
    made_by = _code_and_settings()
    return {month: fingerprints.fingerprint(made_by, rows, total, evaluation_day(month, today))
            for month, (rows, total) in fingerprints.row_hashes(connection, SOURCE_MART, "month").items()}


def _exists(connection: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return connection.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, name]).fetchone()[0] > 0


MONTH_TABLES = (ADVICE_TABLE, SMALL_CLAIMS_MART, WHATIF_MART, COLLECTION_MART, FACTS_TABLE)  # one month's rows made from its claims only


class Built(NamedTuple):
    """What `build` left: the rows in each table, and the months it made again (every month when it made them whole)."""

    advice: int
    small_claims: int
    person_months: int  # signalled persons per month (marts.debt_person_risk)
    whatif: int
    collection: int
    made_again: tuple[str, ...]


def build(connection: duckdb.DuckDBPyConnection, today: date | None = None, *, whole: bool = False) -> Built:
    """Make operational.debt_advice and the four debt marts from the source mart, all swapped in at once.

    Only the months whose fingerprint changed are made again (all of them when a table is missing, when every month
    changed or with `whole`). One part of a month at a time (`CLAIMS_PER_PART` claims,
    about, every claim of a person in the same part): its claims are read once, serve the advice, the what-if grid
    and the collection rows, and are written before the next part is read, so memory holds one part, never a month
    of the nation's claims. The risk classes (across months) are made in DuckDB from the facts per person per month."""
    today = today or date.today()
    current, recorded = month_fingerprints(connection, today), fingerprints.recorded(connection, FINGERPRINT_SCOPE)
    changed = fingerprints.changed(current, recorded)
    whole = whole or not recorded or set(changed) >= recorded.keys() or not all(_exists(connection, t) for t in (*MONTH_TABLES, RISK_MART))
    months = [(month, rows) for month, rows in connection.execute(
        f"SELECT month, count(*) FROM {SOURCE_MART} GROUP BY 1 ORDER BY 1").fetchall() if whole or month in changed]
    if whole or changed:
        _build_months(connection, months, today)
        facts, parameters = f"{FACTS_TABLE}{NEXT}", []
        if not whole:  # the other months' facts, as kept: the repeat signals of the new months look back at them
            facts = (f"(SELECT * FROM {FACTS_TABLE} WHERE NOT list_contains(?::VARCHAR[], month) "
                     f"UNION ALL BY NAME SELECT * FROM {FACTS_TABLE}{NEXT})")
            parameters = [changed]
        with _provinces(connection):
            connection.execute(f"CREATE OR REPLACE TABLE {RISK_MART}{NEXT} AS {risk_of_facts(facts)}", parameters)
        _swap_in(connection, changed, current, whole=whole)
    counts = [connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
              for table in (ADVICE_TABLE, SMALL_CLAIMS_MART, RISK_MART, WHATIF_MART, COLLECTION_MART)]
    return Built(*counts, made_again=tuple(month for month, _ in months) if whole else tuple(changed))


def _build_months(connection: duckdb.DuckDBPyConnection, months: list[tuple[str, int]], today: date) -> None:
    """The rows of `months` ((month, claims)) into `<table>__next` for each of MONTH_TABLES (their facts too).

    Every part is committed to a table beside the old one; `_swap_in` then takes them in one transaction. A crash
    leaves the old tables whole (and a `__next` the next build replaces). One transaction around the parts would
    hold every uncommitted row in memory: at 120,000 firms a peak of 1.45 GB that way, 0.77 GB this way; at 1.2
    million firms 9.5 GB that way."""
    empty = {ADVICE_TABLE: _empty_advice(), SMALL_CLAIMS_MART: small_claims(_empty_advice()), WHATIF_MART: pl.DataFrame(schema=WHATIF_SCHEMA),
             COLLECTION_MART: pl.DataFrame(schema=COLLECTION_SCHEMA), FACTS_TABLE: person_month_facts(_empty_advice())}
    created: set[str] = set()  # each table is made anew from its first part's rows (their types), then appended to
    for month, claims in _claim_parts(connection, months):
        advice = advice_of_month(claims, month, today)
        tables = {ADVICE_TABLE: advice, SMALL_CLAIMS_MART: small_claims(advice),
                  WHATIF_MART: whatif_of_month(claims, month, today).sort("month", "person_id", "claim_id", "debt_whatif_point"),
                  COLLECTION_MART: collection(claims, month).sort("month", "person_id", "claim_id"), FACTS_TABLE: person_month_facts(advice)}
        del claims, advice
        for table, frame in tables.items():
            _write(connection, table, frame, replace=table not in created)
            created.add(table)
        del tables
    for table in empty.keys() - created:  # no claims in these months: empty tables with their columns
        _write(connection, table, empty[table], replace=True)


def _swap_in(connection: duckdb.DuckDBPyConnection, changed: list[str], made_from: dict[str, str], *, whole: bool) -> None:
    """In one transaction: the `__next` tables in place of the old ones (`whole`), or their months in place of the
    changed months' rows; the new risk classes; the fingerprints they were made from."""
    connection.execute("BEGIN TRANSACTION")
    try:
        for table in MONTH_TABLES:
            if whole:
                connection.execute(f"DROP TABLE IF EXISTS {table}")
                connection.execute(f"ALTER TABLE {table}{NEXT} RENAME TO {table.split('.')[1]}")
            else:
                connection.execute(f"DELETE FROM {table} WHERE list_contains(?, month)", [changed])
                connection.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {table}{NEXT}")
                connection.execute(f"DROP TABLE {table}{NEXT}")
        connection.execute(f"DROP TABLE IF EXISTS {RISK_MART}")
        connection.execute(f"ALTER TABLE {RISK_MART}{NEXT} RENAME TO {RISK_MART.split('.')[1]}")
        fingerprints.record(connection, FINGERPRINT_SCOPE, made_from)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


NEXT = "__next"  # the suffix of a table being built, until `build` swaps it in


def _claim_parts(connection: duckdb.DuckDBPyConnection, months: list[tuple[str, int]]) -> Iterator[tuple[str, pl.DataFrame]]:
    """(month, claims) of every part of every month of `months` ((month, claims that month)): months in order, and
    within a month part after part, each part sorted as a whole month was before."""
    for month, rows in months:
        parts = -(-rows // CLAIMS_PER_PART)
        for part in range(parts):
            claims = _claims(connection, month, part, parts)
            if not claims.is_empty():
                yield month, claims


def _write(connection: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, *, replace: bool) -> None:
    """`frame` as the next version of table `table` (`replace`: anew) or appended to it; committed."""
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
    connection.register("debt_frame", frame.to_arrow())
    try:
        connection.execute(f"CREATE OR REPLACE TABLE {table}{NEXT} AS SELECT * FROM debt_frame" if replace
                           else f"INSERT INTO {table}{NEXT} BY NAME SELECT * FROM debt_frame")
    finally:
        connection.unregister("debt_frame")


def _empty_advice() -> pl.DataFrame:
    return pl.DataFrame(schema={
        "claim_id": pl.Utf8, "person_id": pl.Utf8, "creditor": pl.Utf8, "action": pl.Utf8, "reasons": pl.List(pl.Utf8),
        "letter_group": pl.Utf8, "projected_cost_cents": pl.Int64, "projected_saving_cents": pl.Int64, "small_debts_elsewhere": pl.Boolean,
        "in_debt_counselling_anywhere": pl.Boolean, "creditor_type": pl.Utf8, "debt_type": pl.Utf8, "municipality": pl.Utf8,
        "stage": pl.Utf8, "principal_cents": pl.Int64, "month": pl.Utf8,
    })
