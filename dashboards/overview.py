"""The analysts' home ('Overzicht'): the state of SMEs at a glance, from released figures only (post-processing, no budget).

Four blocks, each a small table the page shows and offers for download:

* `balance_state`: per CGC question the latest national balance with its
  interval, its direction against the wave before, and the national figure
  weighted to the business population by size class (`privacy.weighting`);
* `pipeline_table`: the proposals in the policy pipeline per phase, with the
  summed national mean cost change and extra administration hours per firm
  of the proposals whose figures are released (their half-widths add in
  quadrature: independent noise and samples);
* `debt_headline`: the anti-escalation headline of the newest month;
* the latest early warnings come from the alerts export (`dashboards.alerts`), when there are any.

A direction is 'hoger' or 'lager' only when the change is larger than both
waves' uncertainty explains: |difference| > z x sqrt(se1^2 + se2^2), each se
read from its 95 % interval as half-width / z (a normal approximation of the
released interval, as the weighting does). Otherwise 'gelijk (binnen de
marge)'.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import polars as pl

from dashboards.formatting import SUPPRESSED, nl_euro, nl_interval, nl_number, wave_name

Z95 = NormalDist().inv_cdf(0.975)
UP, DOWN, SAME = "hoger", "lager", "gelijk (binnen de marge)"


def direction(latest: dict, previous: dict | None, z: float = Z95) -> str:
    """'hoger', 'lager' or 'gelijk (binnen de marge)': is the change larger than the two intervals explain?

    >>> direction({"estimate": 10.0, "ci_low": 8.0, "ci_high": 12.0}, {"estimate": 4.0, "ci_low": 2.0, "ci_high": 6.0})
    'hoger'
    >>> direction({"estimate": 10.0, "ci_low": 5.0, "ci_high": 15.0}, {"estimate": 8.0, "ci_low": 3.0, "ci_high": 13.0})
    'gelijk (binnen de marge)'
    """
    if previous is None:
        return ""
    se = [(row["ci_high"] - row["ci_low"]) / (2 * z) for row in (latest, previous)]
    change = latest["estimate"] - previous["estimate"]
    if abs(change) <= z * math.hypot(*se):
        return SAME
    return UP if change > 0 else DOWN


def balance_state(cells: pl.DataFrame, labels: dict[str, str], weighted: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per question (in `labels` order): the newest shown national balance, its interval and direction, and the weighted figure.

    Columns: question, Onderwerp, Meting, Saldo, 95%-interval, Richting, Gewogen saldo, Gewogen interval, and the
    numbers behind them (estimate, ci_low, ci_high, weighted_estimate, weighted_low, weighted_high) for the download.
    """
    rows = []
    nation = cells.filter((pl.col("level") == "nation") & (pl.col("statistic") == "balance")) if not cells.is_empty() else cells
    for question, label in labels.items():
        series = nation.filter((pl.col("measure") == question) & ~pl.col("suppressed")).sort("period") if not nation.is_empty() else nation
        if series.is_empty():
            rows.append({"question": question, "Onderwerp": label, "Meting": "", "Saldo": SUPPRESSED, "95%-interval": "",
                         "Richting": "", "Gewogen saldo": SUPPRESSED, "Gewogen interval": ""})
            continue
        latest = series.row(-1, named=True)
        previous = series.row(-2, named=True) if series.height > 1 else None
        row = {"question": question, "Onderwerp": label, "Meting": wave_name(latest["period"]),
               "Saldo": nl_number(latest["estimate"], 1, signed=True),
               "95%-interval": nl_interval(latest["ci_low"], latest["ci_high"], 1, signed=True),
               "Richting": direction(latest, previous), "estimate": latest["estimate"], "ci_low": latest["ci_low"],
               "ci_high": latest["ci_high"]}
        figure = _weighted(weighted, question, latest["period"])
        if figure is None:
            row |= {"Gewogen saldo": SUPPRESSED, "Gewogen interval": ""}
        else:
            row |= {"Gewogen saldo": nl_number(figure[0], 1, signed=True), "Gewogen interval": nl_interval(figure[1], figure[2], 1, signed=True),
                    "weighted_estimate": figure[0], "weighted_low": figure[1], "weighted_high": figure[2]}
        rows.append(row)
    numbers = {name: pl.Float64 for name in ("estimate", "ci_low", "ci_high", "weighted_estimate", "weighted_low", "weighted_high")}
    schema = {name: pl.Utf8 for name in ("question", "Onderwerp", "Meting", "Saldo", "95%-interval", "Richting", "Gewogen saldo",
                                         "Gewogen interval")} | numbers
    return pl.DataFrame([{name: row.get(name) for name in schema} for row in rows], schema=schema, orient="row")


def _weighted(weighted: pl.DataFrame | None, question: str, period: str) -> tuple[float, float, float] | None:
    if weighted is None or weighted.is_empty():
        return None
    match = weighted.filter((pl.col("period") == period) & (pl.col("measure") == question) & (pl.col("statistic") == "balance"))
    if match.is_empty():
        return None
    row = match.row(0, named=True)
    if any(row[name] is None or not math.isfinite(row[name]) for name in ("estimate", "ci_low", "ci_high")):
        return None
    return row["estimate"], row["ci_low"], row["ci_high"]


BURDEN = {"cost_change_mean": "Kosten per bedrijf (euro per jaar)", "admin_hours_mean": "Administratie per bedrijf (uur per maand)"}


def pipeline_table(proposals: list, impact: pl.DataFrame, phases: dict[str, str]) -> pl.DataFrame:
    """Per phase (in pipeline order): how many proposals, their titles, and the summed national burden per firm of those released.

    A sum with a figure not shown ('x') is not shown either (the missing part could be anything within its bounds).
    """
    nation = (impact.filter((pl.col("level") == "nation") & (pl.col("statistic") == "mean") & pl.col("measure").is_in(list(BURDEN)))
              if not impact.is_empty() else impact)
    rows = []
    for phase, phase_name in phases.items():
        chosen = [p for p in proposals if p.phase == phase]
        if not chosen:
            continue
        row = {"Fase": phase_name, "Voorstellen": len(chosen), "Titels": "; ".join(p.title for p in chosen)}
        ids = {p.id for p in chosen}
        released = nation.filter(pl.col("period").is_in(list(ids))) if not nation.is_empty() else nation
        row["Met cijfers"] = released["period"].n_unique() if not released.is_empty() else 0
        for measure, column in BURDEN.items():
            part = released.filter(pl.col("measure") == measure) if not released.is_empty() else released
            if part.is_empty():
                row[column] = ""
            elif part["suppressed"].any() or part["estimate"].is_null().any():
                row[column] = SUPPRESSED
            else:
                half = math.sqrt(float(((part["ci_high"] - part["ci_low"]) / 2).pow(2).sum()))
                decimals = 0 if measure == "cost_change_mean" else 1
                total = float(part["estimate"].sum())
                row[column] = (f"{nl_euro(total)} ± {nl_number(half, 0)}" if decimals == 0 else
                               f"{nl_number(total, 1, signed=True)} ± {nl_number(half, 1)}")
        rows.append(row)
    columns = ["Fase", "Voorstellen", "Met cijfers", *BURDEN.values(), "Titels"]
    return pl.DataFrame([{c: r.get(c, "") for c in columns} for r in rows], schema={c: (pl.Int64 if c in ("Voorstellen", "Met cijfers")
                                                                                     else pl.Utf8) for c in columns}, orient="row")


def debt_headline(cells: pl.DataFrame, cost_per_case: float) -> dict[str, str] | None:
    """The newest month's national anti-escalation figures: small debts, shares kept out of collection, avoided cases, saving."""
    if cells.is_empty():
        return None
    nation = cells.filter(pl.col("level") == "nation")
    month = nation["period"].max()
    latest = nation.filter(pl.col("period") == month)

    def figure(measure: str, category: str | None = None, decimals: int = 0, unit: str = "", factor: float = 1.0) -> str:
        match = latest.filter((pl.col("measure") == measure) & (pl.col("category").is_null() if category is None else pl.col("category") == category))
        if match.is_empty() or match["suppressed"][0] or match["estimate"][0] is None:
            return SUPPRESSED
        row = match.row(0, named=True)
        return (f"{nl_number(row['estimate'] * factor, decimals)}{unit} "
                f"({nl_interval(row['ci_low'] * factor, row['ci_high'] * factor, decimals)}{unit})")

    return {
        "Maand": wave_name(month),
        "Kleine schulden": figure("small_claims"),
        "Afgeschreven": figure("outcome", "afgeschreven", unit="%"),
        "Opgelost zonder incasso": figure("outcome", "zonder_incasso", unit="%"),
        "Voorkomen incassozaken": figure("avoided_cases"),
        "Besparing (euro)": figure("avoided_cases", factor=cost_per_case),
    }
