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

from functools import cache
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


def creditor_groups(cells: pl.DataFrame, month: str) -> list[tuple[str, pl.DataFrame]]:
    """A month's cells of the nation, then of each kind of creditor (by code), with their Dutch names."""
    frame = cells.filter(pl.col("period") == month)
    kinds = sorted(frame.filter(pl.col("level") == "creditor_type")["creditor_type"].drop_nulls().unique().to_list())
    return [("Heel Nederland", frame.filter(pl.col("level") == "nation"))] + [
        (group_name("creditor_type", code), frame.filter((pl.col("level") == "creditor_type") & (pl.col("creditor_type") == code)))
        for code in kinds
    ]


def kpi_table(cells: pl.DataFrame, month: str) -> pl.DataFrame:
    """One row for the nation and one per kind of creditor: small claims, the four outcomes, avoided cases and their saving."""
    cost = float(kpi_settings().cost_per_avoided_case)
    rows = []
    for label, group in creditor_groups(cells, month):
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


COST_RELEASE = "debt_collection_cost"


def cost_cells(exports: Path | None = None) -> pl.DataFrame:
    return release_cells(COST_RELEASE, exports)


def cost_table(cells: pl.DataFrame, month: str) -> pl.DataFrame:
    """Per kind of creditor (and the nation): collection costs, principal collected and the costs per euro collected."""
    rows = []
    for label, group in creditor_groups(cells, month):
        rows.append({"Schuldeiser": label, "Invorderingskosten (euro)": _figure(_cell(group, "costs"), 0),
                     "Geïnd (euro)": _figure(_cell(group, "collected"), 0),
                     "Kosten per geïnde euro": _figure(_cell(group, "cost_per_euro"), 2, " euro")})
    return pl.DataFrame(rows, orient="row")


RISK_RELEASE = "debt_risk"
RISK_LABELS = {"rood": "Rood", "oranje": "Oranje", "groen": "Groen"}


def risk_cells(exports: Path | None = None) -> pl.DataFrame:
    return release_cells(RISK_RELEASE, exports)


@cache
def inhabitants(level: str) -> dict[str | None, int]:
    """Inhabitants per municipality or province (reference/municipal_population.csv, approximate), and of the nation (key None)."""
    from core import reference

    population = pl.read_csv(reference.REFERENCE_DIR / "municipal_population.csv").join(
        reference.municipalities().select("code", "province_code"), on="code")
    if level == "nation":
        return {None: int(population["population"].sum())}
    key = "code" if level == "municipality" else "province_code"
    return dict(population.group_by(key).agg(pl.col("population").sum()).iter_rows())


def risk_table(cells: pl.DataFrame, month: str, level: str) -> pl.DataFrame:
    """Per group of `level` (nation, province, municipality): signalled persons, per 1,000 inhabitants, the three risk
    classes and the repeat signals; 'x' with the reason where a figure is too uncertain (small municipalities)."""
    frame = cells.filter((pl.col("period") == month) & (pl.col("level") == level))
    dim = None if level == "nation" else level
    codes = [None] if dim is None else sorted(frame[dim].drop_nulls().unique().to_list())
    people = inhabitants(level)
    rows = []
    for code in codes:
        group = frame if dim is None else frame.filter(pl.col(dim) == code)
        count = _cell(group, "persons")
        per_thousand = 1000.0 / people[code] if people.get(code) else None
        row = {"Gebied": "Heel Nederland" if code is None else group_name(dim, code), "Personen met signalen": _figure(count, 0),
               "Per 1.000 inwoners": _figure(count, 1, factor=per_thousand) if per_thousand else SUPPRESSED}
        row |= {label: _figure(_cell(group, "risk", code_), 0, "%") for code_, label in RISK_LABELS.items()}
        row["Opnieuw gesignaleerd (6 maanden)"] = _figure(_cell(group, "repeat_signals"), 0)
        rows.append(row)
    return pl.DataFrame(rows, orient="row")


WHATIF_RELEASE = "debt_whatif"


def whatif_cells(exports: Path | None = None) -> pl.DataFrame:
    return release_cells(WHATIF_RELEASE, exports)


def whatif_choices() -> tuple[list, list]:
    """The grid's bagatelle thresholds and cost ratios, as the analyst picks them."""
    grid = kpi_settings().whatif
    return list(grid.bagatelle_thresholds), list(grid.cost_ratios)


def whatif_point(threshold, ratio) -> str:
    from debts.pipeline import WhatIfSettings

    ((code, _, _),) = WhatIfSettings(bagatelle_thresholds=[threshold], cost_ratios=[ratio]).points()
    return code


def whatif_table(whatif: pl.DataFrame, kpis: pl.DataFrame, month: str, point: str) -> pl.DataFrame:
    """Per outcome: its share at the chosen grid point beside its share under today's rules (both released, with intervals)."""
    chosen = whatif.filter((pl.col("period") == month) & (pl.col("debt_whatif_point") == point))
    today = kpis.filter((pl.col("period") == month) & (pl.col("level") == "nation")) if not kpis.is_empty() else kpis
    return pl.DataFrame([
        {"Advies": OUTCOME_LABELS[o], "Met deze keuze": _figure(_cell(chosen, "outcome", o), 0, "%"),
         "Met de regels van nu": _figure(_cell(today, "outcome", o), 0, "%") if not today.is_empty() else SUPPRESSED}
        for o in OUTCOME_ORDER
    ], orient="row")
