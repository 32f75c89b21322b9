"""The anti-escalation KPIs of small public debts on the dashboards: post-processing of the released `debt_kpis` only.

(Not `dashboards/debts.py`: Streamlit puts `dashboards/` first on sys.path, so a module of that name hid the `debts`
package from every page in a real server.)

Nothing here reads a claim: the figures are the released cells (differentially
private, with their intervals) of config/releases/debt_kpis.yaml. The saving
is the released number of avoided collection cases times the configured cost
per case (config/debts/kpis.yaml): a fixed factor, so its interval is the
cases' interval times that factor.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dashboards.formatting import SUPPRESSED, nl_interval, nl_number
from dashboards.groups import group_name
from dashboards.released import release_cells
from debts.pipeline import OUTCOME_ORDER, kpi_settings

KPI_RELEASE = "debt_kpis"
OUTCOME_LABELS = {
    "afgeschreven": "Afgeschreven (kwijtgescholden)",
    "zonder_incasso": "Opgelost zonder incasso",
    "naar_incasso": "Naar incasso",
    "open": "Nog open (gepauzeerd)",
}


def kpi_cells(exports: Path | None = None) -> pl.DataFrame:
    return release_cells(KPI_RELEASE, exports)


def months(cells: pl.DataFrame) -> list[str]:
    return sorted(cells["period"].unique().to_list(), reverse=True) if not cells.is_empty() else []


def _figure(cell: pl.DataFrame, decimals: int, unit: str = "", factor: float = 1.0) -> str:
    """'estimate (low tot high)' with its unit, or 'x' with the reason."""
    if cell.is_empty():
        return SUPPRESSED
    row = cell.row(0, named=True)
    if row["suppressed"] or row["estimate"] is None:
        return f"{SUPPRESSED} ({row['suppression_reason']})" if row["suppression_reason"] else SUPPRESSED
    return (f"{nl_number(row['estimate'] * factor, decimals)}{unit} "
            f"({nl_interval(row['ci_low'] * factor, row['ci_high'] * factor, decimals)}{unit})")


def _cell(group: pl.DataFrame, measure: str, category: str | None = None) -> pl.DataFrame:
    category_matches = pl.col("category").is_null() if category is None else pl.col("category") == category
    return group.filter((pl.col("measure") == measure) & category_matches)


def kpi_table(cells: pl.DataFrame, month: str) -> pl.DataFrame:
    """One row for the nation and one per kind of creditor: small claims, the four outcomes, avoided cases and their saving."""
    frame = cells.filter(pl.col("period") == month)
    cost = float(kpi_settings().cost_per_avoided_case)
    groups = [("nation", None, "Heel Nederland")] + [
        ("creditor_type", code, group_name("creditor_type", code))
        for code in sorted(frame.filter(pl.col("level") == "creditor_type")["creditor_type"].drop_nulls().unique().to_list())
    ]
    rows = []
    for level, code, label in groups:
        group = frame.filter(pl.col("level") == level)
        if code is not None:
            group = group.filter(pl.col("creditor_type") == code)
        row = {"Schuldeiser": label, "Kleine schulden": _figure(_cell(group, "small_claims"), 0)}
        row |= {OUTCOME_LABELS[o]: _figure(_cell(group, "outcome", o), 0, "%") for o in OUTCOME_ORDER}
        row["Voorkomen incassozaken"] = _figure(_cell(group, "avoided_cases"), 0)
        row["Besparing (euro)"] = _figure(_cell(group, "avoided_cases"), 0, factor=cost)
        rows.append(row)
    return pl.DataFrame(rows, orient="row")


def outcome_trend(cells: pl.DataFrame) -> pl.DataFrame:
    """The nation's outcome shares per month with their intervals (shown cells only), for a chart."""
    if cells.is_empty():
        return pl.DataFrame()
    return (
        cells.filter((pl.col("level") == "nation") & (pl.col("measure") == "outcome") & ~pl.col("suppressed"))
        .select(pl.col("period").alias("maand"), pl.col("category").replace_strict(OUTCOME_LABELS).alias("uitkomst"),
                pl.col("estimate").alias("aandeel"), pl.col("ci_low").alias("laag"), pl.col("ci_high").alias("hoog"))
        .sort("maand", "uitkomst")
    )
