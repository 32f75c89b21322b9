"""A creditor's own claims on 'Mijn vorderingen': the file the pipeline wrote for the logged-in account's organisation.

The web app never reads the warehouse. The pipeline writes one file per
organisation (`data/operational/<creditor>/advice.parquet`,
debts/creditor_files.py); this module opens only the file of the account's
own organisation (the code bound to the account, checked against the public
domain again, never a page's input), through an in-memory DuckDB whose file
access is locked to that one organisation's folder: another organisation's
file is refused by DuckDB itself, even if a path were built wrongly.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from accounts.service import Account, own_organisation
from core.private_parquet import add_key, read_private_parquet
from core.settings import paths
from core.sources import sources
from dashboards.formatting import nl_euro, nl_number
from debts.creditor_files import ADVICE_FILE, CREDITOR_COLUMNS, organisation_folder

ALL_ACTIONS = "alle"
YES_NO = {True: "ja", False: "nee"}


def locked_to(folder: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that may read files in `folder` only (also the consultants' caseloads, dashboards/consultant.py)."""
    connection = duckdb.connect(":memory:")
    connection.execute("SET allowed_directories = [?]", [f"{folder}/"])
    connection.execute("SET enable_external_access = false")
    add_key(connection)  # the files are encrypted (core.private_parquet)
    connection.execute("SET lock_configuration = true")
    return connection


def own_advice(account: Account, operational: Path | None = None) -> pl.DataFrame:
    """The rows of the account's own organisation's file (one per claim per month); empty when there is none yet."""
    folder = organisation_folder((operational or paths().operational).resolve(), own_organisation(account))
    if not (folder / ADVICE_FILE).is_file():
        return pl.DataFrame(schema=CREDITOR_COLUMNS)
    connection = locked_to(folder)
    try:
        return read_private_parquet(connection, folder / ADVICE_FILE)
    finally:
        connection.close()


def months(advice: pl.DataFrame) -> list[str]:
    """The months with advice, newest first."""
    return sorted(advice["month"].unique().to_list(), reverse=True)


def of_month(advice: pl.DataFrame, month: str, action: str = ALL_ACTIONS) -> pl.DataFrame:
    frame = advice.filter(pl.col("month") == month)
    return frame if action == ALL_ACTIONS else frame.filter(pl.col("action") == action)


def summary(claims: pl.DataFrame) -> dict[str, str]:
    """Key figures of a month's claims: how many, how many letters after bundling, the projected saving (euros)."""
    with_letter = claims.filter(pl.col("letter").is_not_null())
    return {
        "Vorderingen": f"{claims.height:,}".replace(",", "."),
        "Brieven na bundelen": f"{with_letter['letter'].n_unique():,}".replace(",", "."),
        "Verwachte besparing": nl_euro(claims["projected_saving_cents"].sum() / 100),
    }


def claims_table(claims: pl.DataFrame) -> pl.DataFrame:
    """The claims as the page shows and downloads them: Dutch column names and words, euros with cents."""
    fields = sources()["debt_signal"].fields
    debt_types, stages = fields["debt_type"].labels(), fields["stage"].labels()
    euros = {"principal_cents": "Bedrag (euro)", "projected_cost_cents": "Verwachte kosten bij doorgaan (euro)",
             "projected_saving_cents": "Besparing (euro)"}
    return claims.sort("claim_id").select(
        pl.col("claim_id").alias("Vordering"),
        pl.col("debt_type").replace_strict(debt_types, default=pl.col("debt_type")).alias("Soort schuld"),
        pl.col("stage").replace_strict(stages, default=pl.col("stage")).alias("Fase"),
        pl.col("principal_cents").truediv(100).alias(euros["principal_cents"]),
        pl.col("action_label").alias("Advies"),
        pl.col("reason_texts").list.join(" ").alias("Waarom"),
        pl.col("letter").alias("Brief"),
        pl.col("small_debts_elsewhere").replace_strict(YES_NO, return_dtype=pl.Utf8).alias("Ook kleine schulden bij andere organisaties"),
        pl.col("in_debt_counselling_anywhere").replace_strict(YES_NO, return_dtype=pl.Utf8).alias("In schuldhulp"),
        pl.col("projected_cost_cents").truediv(100).alias(euros["projected_cost_cents"]),
        pl.col("projected_saving_cents").truediv(100).alias(euros["projected_saving_cents"]),
        pl.col("reasons").list.join(",").alias("Redencodes"),
    )


EURO_COLUMNS = ("Bedrag (euro)", "Verwachte kosten bij doorgaan (euro)", "Besparing (euro)")


def shown_table(table: pl.DataFrame) -> pl.DataFrame:
    """`claims_table` as the page shows it: amounts written the Dutch way (65,50), without the reason codes.

    The download keeps the numbers as numbers (a spreadsheet computes with them).

    >>> shown_table(pl.DataFrame({"Bedrag (euro)": [65.5, 1234.0], "Redencodes": ["a", "b"]})).to_dicts()
    [{'Bedrag (euro)': '65,50'}, {'Bedrag (euro)': '1.234,00'}]
    """
    present = [name for name in EURO_COLUMNS if name in table.columns]
    return table.drop("Redencodes", strict=False).with_columns(
        pl.col(name).map_elements(lambda v: nl_number(v, 2), return_dtype=pl.Utf8) for name in present)
