"""The claim contract: one row per open claim of one creditor on one person (pseudonymised), and the engine's output.

`CLAIMS_SCHEMA` is the one place the columns and their types are written;
`claims_frame` checks a polars frame or a DuckDB relation against it and
`claims_ddl` gives the same contract as a DuckDB table, so a creditor
delivery, a test fixture and the benchmark all share it. Stages and creditor
types are polars Enums: an unknown value is refused when the frame is read,
and a stage's physical index is its place in the collection order.
"""

from __future__ import annotations

import polars as pl

STAGES = ("herinnering", "aanmaning", "incasso", "deurwaarder")
"""Collection stages in the order a claim goes through them (index 0..3)."""

COLLECTION_STAGES = ("incasso", "deurwaarder")
"""Stages in which a claim counts as 'in collection' (stacking prevention)."""

CREDITOR_TYPES = (
    "gemeente", "cjib", "cak", "duo", "zorgverzekeraar", "uwv", "belastingdienst_toeslagen", "energieleverancier", "woningcorporatie",
)

DEBT_TYPES = (
    "parkeerboete", "verkeersboete", "wmo_eigen_bijdrage", "huurachterstand", "energie", "zorgpremie", "studieschuld",
    "terugvordering_toeslag", "belasting", "terugvordering_uitkering", "gemeentelijke_belasting",
)
"""Known debt types (examples for synthetic data and documentation; the column stays free text)."""

MONEY = pl.Decimal(12, 2)
"""Euros as they arrive (DuckDB DECIMAL(12,2)); the engine computes in integer cents (Int64)."""

MONEY_COLUMNS = ("original_amount", "current_amount", "costs_so_far")

CLAIMS_SCHEMA = pl.Schema(
    {
        "claim_id": pl.String,
        "person_id": pl.String,  # already a pseudonym (keyed hash of the BSN), never the BSN itself
        "creditor": pl.String,  # organisation code: a CBS municipality code 'GM0935', or 'cjib', 'cak', ...
        "creditor_type": pl.Enum(CREDITOR_TYPES),
        "debt_type": pl.String,
        "original_amount": MONEY,  # euros: the claim when it was opened (the original fine for CJIB)
        "current_amount": MONEY,  # euros: the principal still open, without collection costs
        "costs_so_far": MONEY,  # euros: collection costs (and Wahv increments) already charged
        "stage": pl.Enum(STAGES),
        "reminders_sent": pl.Int32,
        "opened_on": pl.Date,
        "last_action_on": pl.Date,
        "in_debt_counselling": pl.Boolean,  # schuldhulp, as known to this creditor
        "under_administration": pl.Boolean,  # beschermingsbewind, as known to this creditor
        "payment_problems": pl.Boolean,  # documented payment problems, as known to this creditor
        "municipality": pl.String,  # CBS code GMxxxx of where the person lives
    }
)
"""Input contract of `debts.rules.evaluate_claims` (and of a creditor delivery)."""

ACTIONS = ("afschrijven", "afstemmen_met_schuldhulp", "vriendelijke_herinnering", "betalingsregeling_aanbieden", "pauzeren", "bundelen",
           "doorgaan")
"""Recommended actions, in order of precedence (the first rule that applies wins); labels in `debts.labels`."""

REASON_CODES = ("onder_bagatelgrens", "tijdelijke_crisisgrens", "kosten_al_hoog", "niet_rendabel", "herinneringen_verstuurd",
                "betalingsproblemen", "in_schuldhulp", "onder_bewind", "klein_totaal", "stapeling", "meerdere_vorderingen")
"""Reason codes, in the order a claim's `reasons` lists them; explanations in `debts.labels.REASONS`."""

ADVICE_SCHEMA = pl.Schema(
    {
        "claim_id": pl.String,
        "person_id": pl.String,
        "creditor": pl.String,
        "action": pl.Enum(ACTIONS),
        "reasons": pl.List(pl.Enum(REASON_CODES)),  # reason codes, explained in `debts.labels.REASONS`
        "letter_group": pl.String,  # claims with the same value go in one letter; null: no letter to the person
        "projected_cost_cents": pl.Int64,  # total collection costs if collection goes on to the bailiff (so far + still to come)
        "projected_saving_cents": pl.Int64,  # collection costs the recommended action avoids
        "small_debts_elsewhere": pl.Boolean,  # the person also has small claims at another organisation (nothing more)
        "in_debt_counselling_anywhere": pl.Boolean,  # some organisation knows the person is in debt counselling
    }
)
"""Output contract: one row per input claim."""


class ClaimsContractError(ValueError):
    """A claims frame does not fit `CLAIMS_SCHEMA`; the message names the column, what it is and what it should be."""


def _check_columns(schema: pl.Schema) -> None:
    missing = [name for name in CLAIMS_SCHEMA if name not in schema]
    if missing:
        raise ClaimsContractError(f"Kolommen ontbreken: {', '.join(missing)} (regel: elke vordering heeft alle kolommen van CLAIMS_SCHEMA)")
    for name in MONEY_COLUMNS:
        dtype = schema[name]
        if not (isinstance(dtype, pl.Decimal) and (dtype.scale or 0) <= 2):
            raise ClaimsContractError(
                f"{name}: type {dtype} (regel: bedragen zijn Decimal met hoogstens 2 decimalen, nooit float, zodat centen exact blijven)"
            )


def claims_frame(claims: pl.LazyFrame | pl.DataFrame | object) -> pl.LazyFrame:
    """`claims` (a polars frame or a DuckDB relation) checked against the contract and cast to `CLAIMS_SCHEMA`.

    Missing columns and float money are refused at once; an unknown stage or
    creditor type is refused by the Enum cast when the frame is collected.

    >>> import duckdb
    >>> relation = duckdb.sql("SELECT 1.5::DOUBLE AS original_amount")
    >>> claims_frame(relation)
    Traceback (most recent call last):
    ...
    debts.schema.ClaimsContractError: Kolommen ontbreken: claim_id, ...
    """
    if isinstance(claims, pl.DataFrame):
        claims = claims.lazy()
    elif not isinstance(claims, pl.LazyFrame):
        claims = claims.pl(lazy=True)  # a DuckDB relation: Arrow batches, DECIMAL(12,2) arrives as Decimal(12,2)
    _check_columns(claims.collect_schema())
    return claims.select(pl.col(name).cast(dtype, strict=True) for name, dtype in CLAIMS_SCHEMA.items())


_DUCKDB_TYPES = {pl.String: "VARCHAR", pl.Int32: "INTEGER", pl.Date: "DATE", pl.Boolean: "BOOLEAN"}


def claims_ddl(table: str = "claims") -> str:
    """A DuckDB `CREATE TABLE` for the contract (Enums as VARCHAR with a CHECK), generated from `CLAIMS_SCHEMA`.

    >>> print(claims_ddl().splitlines()[6])
      original_amount DECIMAL(12,2) NOT NULL,
    """
    lines = []
    for name, dtype in CLAIMS_SCHEMA.items():
        if isinstance(dtype, pl.Enum):
            allowed = ", ".join(f"'{value}'" for value in dtype.categories)
            lines.append(f"  {name} VARCHAR NOT NULL CHECK ({name} IN ({allowed}))")
        elif isinstance(dtype, pl.Decimal):
            lines.append(f"  {name} DECIMAL({dtype.precision},{dtype.scale}) NOT NULL")
        else:
            lines.append(f"  {name} {_DUCKDB_TYPES[dtype]} NOT NULL")
    return f"CREATE TABLE {table} (\n" + ",\n".join(lines) + ",\n  PRIMARY KEY (claim_id)\n)"
