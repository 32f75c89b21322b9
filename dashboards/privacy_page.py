"""The privacy page's figures in Dutch: budget spent per dataset and period, one firm's loss per year, the ledger, the accuracy of balances."""

from __future__ import annotations

import polars as pl

from dashboards.formatting import SUPPRESSED, nl_number, wave_name
from dashboards.groups import LEVEL_NAMES
from privacy.loading import privacy_settings, release_specs


def dataset_names() -> dict[str, str]:
    """Dataset code -> its Dutch name (config/privacy.yaml)."""
    return {name: dataset.title_nl for name, dataset in privacy_settings().datasets.items()}


def protected_units() -> dict[str, str]:
    """Release name -> whom it protects, in Dutch (the spec's unit, plural)."""
    return {name: spec.privacy_unit.plural_nl for name, spec in release_specs().items()}


def budget_chart_data(budget: pl.DataFrame) -> pl.DataFrame:
    """Per dataset and period: spent and remaining epsilon, with Dutch dataset names."""
    return budget.select(
        pl.col("dataset").replace_strict(dataset_names(), default=pl.col("dataset")).alias("dataset_name"),
        "period", "epsilon_spent", "epsilon_budget", "releases",
        (pl.col("epsilon_budget") - pl.col("epsilon_spent")).clip(lower_bound=0).alias("epsilon_left"),
    )


def _mechanism_in_dutch(text: str) -> str:
    parts = []
    for part in (text or "").split("; "):
        if part.startswith("discrete Laplace"):
            parts.append("Laplace-ruis (OpenDP)")
        elif part.startswith("discrete Gaussian"):
            parts.append("Gauss-ruis (OpenDP, zCDP)")
        elif "threshold" in part.lower():
            parts.append("drempel op de ruis voor het kiezen van groepen (OpenDP)")
        else:
            parts.append(part)
    return "; ".join(parts)


def ledger_table(ledger: pl.DataFrame) -> pl.DataFrame:
    """The ledger as a Dutch table (no query text: that names internal tables)."""
    titles = {name: spec.title for name, spec in release_specs().items()}
    return ledger.select(
        pl.col("release_name").replace_strict(titles, default=pl.col("release_name")).alias("Publicatie"),
        pl.col("period").map_elements(wave_name, return_dtype=pl.Utf8).alias("Meting"),
        pl.col("version").alias("Versie"),
        pl.col("epsilon").map_elements(lambda v: nl_number(v, 2), return_dtype=pl.Utf8).alias("Epsilon"),
        pl.col("delta").map_elements(lambda v: nl_number(v, 0) if v == 0 else f"{v:.0e}", return_dtype=pl.Utf8).alias("Delta"),
        # zCDP releases: their rho (epsilon is then that rho alone at the dataset's delta; rho adds up over releases)
        pl.col("rho").map_elements(lambda v: nl_number(v, 4) if v > 0 else "-", return_dtype=pl.Utf8).alias("Rho"),
        pl.col("mechanism").map_elements(_mechanism_in_dutch, return_dtype=pl.Utf8).alias("Mechanisme"),
        pl.col("release_name").replace_strict(protected_units(), default=pl.col("privacy_unit")).alias("Beschermde eenheid"),
        pl.col("created_at").dt.strftime("%d-%m-%Y").alias("Gemaakt op"),
    )


def accuracy_overview(cells: pl.DataFrame, period: str) -> pl.DataFrame:
    """Per breakdown in one wave: how many balance cells are published and their typical margin (median half-width)."""
    balances = cells.filter(
        (pl.col("period") == period) & (pl.col("statistic") == "balance") & pl.col("level").is_in(list(LEVEL_NAMES))
    )
    summary = (
        balances.group_by("level")
        .agg(
            pl.len().alias("cells"),
            (~pl.col("suppressed")).sum().alias("shown"),
            ((pl.col("ci_high") - pl.col("ci_low")) / 2).median().alias("margin"),
        )
        .with_columns(pl.col("level").replace_strict({k: i for i, k in enumerate(LEVEL_NAMES)}).alias("_order"))
        .sort("_order")
    )
    return pl.DataFrame(
        [
            {
                "Uitsplitsing": LEVEL_NAMES[row["level"]],
                "Getoonde cijfers": f"{row['shown']} van {row['cells']}",
                "Typische marge (± procentpunten)": SUPPRESSED if row["margin"] is None else nl_number(row["margin"], 0),
            }
            for row in summary.iter_rows(named=True)
        ],
        schema=["Uitsplitsing", "Getoonde cijfers", "Typische marge (± procentpunten)"],
        orient="row",
    )


UNIT_NAMES = {"firm": ("bedrijf", "bedrijven"), "person": ("persoon", "personen")}


def _date_nl(day) -> str:
    return f"{day:%d-%m-%Y}"


def yearly_loss_sentence(loss: pl.DataFrame, kind: str = "firm") -> str | None:
    """One plain sentence on the latest 12 months: how much one unit that took part in everything lost, against the cap."""
    mine = loss.filter(pl.col("unit_kind") == kind) if not loss.is_empty() else loss
    if mine.is_empty():
        return None
    latest = mine.sort("window_end").row(-1, named=True)
    worst = mine.sort("epsilon").row(-1, named=True)
    one = UNIT_NAMES.get(kind, (kind, kind))[0]
    text = (
        f"In de 12 maanden tot en met {_date_nl(latest['window_end'])} verloor een {one} dat overal aan meedeed "
        f"samen epsilon {nl_number(latest['epsilon'], 1)}. De grens is {nl_number(latest['epsilon_cap'], 0)} per 12 maanden."
    )
    if worst["window_end"] != latest["window_end"]:
        text += (f" Het meeste was het in de 12 maanden tot en met {_date_nl(worst['window_end'])}: "
                 f"epsilon {nl_number(worst['epsilon'], 1)}.")
    return text


def yearly_loss_table(loss: pl.DataFrame, kind: str = "firm", rows: int = 12) -> pl.DataFrame:
    """The newest 12-month windows of one kind of unit as a Dutch table: up to when, publications, loss, cap, left."""
    columns = ["12 maanden tot en met", "Publicaties", "Gegevens", "Epsilon samen", "Grens", "Nog over"]
    mine = loss.filter(pl.col("unit_kind") == kind) if not loss.is_empty() else loss
    if mine.is_empty():
        return pl.DataFrame(schema=columns)
    names = dataset_names()
    return pl.DataFrame(
        [
            {
                "12 maanden tot en met": _date_nl(r["window_end"]),
                "Publicaties": str(r["releases"]),
                "Gegevens": ", ".join(names.get(d, d) for d in (r["datasets"] or "").split(", ") if d),
                "Epsilon samen": nl_number(r["epsilon"], 1),
                "Grens": nl_number(r["epsilon_cap"], 0),
                "Nog over": nl_number(r["epsilon_left"], 1),
            }
            for r in mine.sort("window_end", descending=True).head(rows).iter_rows(named=True)
        ],
        schema=columns,
        orient="row",
    )
