"""The DIS (impact simulations of proposals) on the dashboards: released figures per proposal, the respondent's
comparison with similar firms, and the cumulative burden of all proposals.

Everything here is post-processing of released figures; nothing is computed
from answers. The respondent's own answers are shown beside them as they
were typed (they are the respondent's own).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from core.sources import source
from dashboards.formatting import SUPPRESSED, nl_date, nl_interval, nl_number
from dashboards.groups import group_codes, group_name
from dashboards.released import release_cells, running_cells

IMPACT_RELEASE = "dis_impact"
RESPONDENTS = "respondents"
# Measure -> (statistic, Dutch label, the answer field it summarises, decimals)
FIGURES = {
    "cost_change_mean": ("mean", "Gemiddelde kostenverandering (euro per jaar)", "cost_change_euro", 0),
    "cost_change_median": ("p50", "Mediaan kostenverandering (euro per jaar)", "cost_change_euro", 0),
    "cost_change_percent_mean": ("mean", "Gemiddelde kostenverandering (% van de kosten)", "cost_change_percent", 1),
    "fte_mean": ("mean", "Gemiddeld effect op personeel (FTE per bedrijf)", "fte_change", 1),
    "fte_total": ("sum", "Totaal effect op personeel (FTE, alle bedrijven die antwoordden)", "fte_change", 1),
    "admin_hours_mean": ("mean", "Gemiddelde extra administratie (uur per maand)", "admin_hours_per_month", 1),
}
POSITION = "competitive_position"
# A peer figure is used only if its interval is at most this wide (half-width), per measure; else a larger group.
MAX_PEER_HALF_WIDTH = {"cost_change_mean": 10_000.0, "admin_hours_mean": 10.0, "fte_mean": 2.0}


RUNNING_RELEASE = "dis_running"
RUNNING_FIGURES = {"cost_change_mean": ("Kostenverandering (euro per jaar)", "cost_change_euro", 0),
                   "admin_hours_mean": ("Extra administratie (uur per maand)", "admin_hours_per_month", 1)}


def running_releases(exports: Path | None = None) -> pl.DataFrame:
    """Released days of the running series of open proposals (privacy/continual.py)."""
    return running_cells(RUNNING_RELEASE, exports)


@dataclass(frozen=True)
class RunningPeers:
    label: str
    day: object  # the date of the newest released day
    firms: float | None
    figures: pl.DataFrame  # measure, estimate, ci_low, ci_high, suppressed


def running_peers(cells: pl.DataFrame, proposal: str, size_class: str | None) -> RunningPeers | None:
    """The newest day of a proposal's running series: its size class when precise enough, else the nation."""
    if cells.is_empty():
        return None
    series = cells.filter(pl.col("proposal") == proposal)
    if series.is_empty():
        return None
    newest = series.filter(pl.col("day") == series["day"].max())
    candidates = [("size_class", size_class, f"bedrijven met {group_name('size_class', size_class)}")] if size_class else []
    for level, code, label in [*candidates, ("nation", None, "alle bedrijven in Nederland")]:
        frame = newest.filter(pl.col("level") == level)
        if code is not None:
            frame = frame.filter(pl.col("size_class") == code)
        figures = frame.filter(pl.col("measure").is_in(list(RUNNING_FIGURES))).select("measure", "estimate", "ci_low", "ci_high", "suppressed")
        count = frame.filter(pl.col("measure") == RESPONDENTS)
        precise = all(
            not row["suppressed"] and row["estimate"] is not None and (row["ci_high"] - row["ci_low"]) / 2 <= MAX_PEER_HALF_WIDTH[row["measure"]]
            for row in figures.iter_rows(named=True)
        )
        if level == "nation" or (figures.height and precise):
            firms = None if count.is_empty() or count["suppressed"][0] else count["estimate"][0]
            return RunningPeers(label, newest["date"][0], firms, figures)
    return None


def running_table(peers: RunningPeers, answers: dict) -> pl.DataFrame:
    rows = []
    for measure, (label, field, decimals) in RUNNING_FIGURES.items():
        own = answers.get(field)
        row = peers.figures.filter(pl.col("measure") == measure)
        shown = not row.is_empty() and not row["suppressed"][0] and row["estimate"][0] is not None
        rows.append({
            "Vraag": label,
            "Uw antwoord": "niet ingevuld" if own is None else nl_number(float(own), decimals, signed=True),
            "Tot nu toe gemiddeld": nl_number(row["estimate"][0], decimals, signed=True) if shown else SUPPRESSED,
            "95%-interval": nl_interval(row["ci_low"][0], row["ci_high"][0], decimals, signed=True) if shown else "",
        })
    return pl.DataFrame(rows, orient="row")


def impact_releases(exports: Path | None = None) -> pl.DataFrame:
    """Released cells of the DIS impact release (newest version per proposal)."""
    return release_cells(IMPACT_RELEASE, exports)


def released_proposals(cells: pl.DataFrame) -> list[str]:
    return [] if cells.is_empty() else sorted(cells["period"].unique().to_list())


def _level(cells: pl.DataFrame, proposal: str, level: str) -> pl.DataFrame:
    return cells.filter((pl.col("period") == proposal) & (pl.col("level") == level))


def simulation_status(proposal, today: date) -> str:
    """The simulation window of a proposal as a person says it: open until, closed, or opens on."""
    if proposal.is_open(today):
        return f"open tot en met {nl_date(proposal.simulation_closes)}"
    if proposal.is_closed(today):
        return f"gesloten, liep tot en met {nl_date(proposal.simulation_closes)}"
    return f"opent op {nl_date(proposal.simulation_opens)}"


def phase_text(proposal) -> str:
    """'Tweede Kamer, sinds 20 juli 2026' (the phase and the day it began, when known)."""
    since = proposal.phase_dates.get(proposal.phase)
    return f"{proposal.phase_name}, sinds {nl_date(since)}" if since else proposal.phase_name


def in_reference_order(frame: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
    """`frame` sorted by its group columns in their usual order (sectors A to U, size classes small to large, ...).

    `columns` maps a column of `frame` to the level whose codes it holds, e.g. {"group": "size_class"}.

    >>> in_reference_order(pl.DataFrame({"group": ["2-9", "10-49", "0-1"]}), {"group": "size_class"})["group"].to_list()
    ['0-1', '2-9', '10-49']
    """
    ranks = []
    for column, level in columns.items():
        order = {code: index for index, code in enumerate(group_codes(level))}
        ranks.append(pl.col(column).replace_strict(order, default=len(order), return_dtype=pl.Int64).alias(f"_rank_{column}"))
    if not ranks or frame.is_empty():
        return frame
    names = [rank.meta.output_name() for rank in ranks]
    return frame.with_columns(ranks).sort(names, maintain_order=True).drop(names)


def figure_table(cells: pl.DataFrame, proposal: str, level: str, measure: str) -> pl.DataFrame:
    """One measure of one proposal per group of a level: estimate, interval, suppression, firms.

    Columns: group, name, estimate, ci_low, ci_high, suppressed, suppression_reason, respondents.
    """
    frame = _level(cells, proposal, level)
    statistic = FIGURES[measure][0] if measure in FIGURES else "share"
    chosen = frame.filter((pl.col("measure") == measure) & (pl.col("statistic") == statistic))
    respondents = frame.filter((pl.col("measure") == RESPONDENTS) & (pl.col("statistic") == "count"))
    group = pl.lit(None, pl.Utf8) if level == "nation" else pl.col(level)
    keys = ["category"] if measure == POSITION else []
    table = chosen.select(group.alias("group"), *keys, "estimate", "ci_low", "ci_high", "suppressed", "suppression_reason")
    firms = respondents.select(group.alias("group"), pl.col("estimate").alias("respondents"))
    table = table.join(firms, on="group", how="left", nulls_equal=True)
    table = table.with_columns(pl.Series("name", [group_name(level, code) for code in table["group"]], dtype=pl.Utf8))
    return table if level == "nation" else in_reference_order(table, {"group": level})


def figure_rows(table: pl.DataFrame, decimals: int) -> pl.DataFrame:
    """`figure_table` of one measure as a Dutch table: estimate, interval and firms, 'x' and the reason where not shown."""
    rows = []
    for row in table.iter_rows(named=True):
        shown = not row["suppressed"] and row["estimate"] is not None
        rows.append({
            "Groep": row["name"],
            "Schatting": nl_number(row["estimate"], decimals, signed=True) if shown else SUPPRESSED,
            "95%-interval": nl_interval(row["ci_low"], row["ci_high"], decimals, signed=True) if shown else "",
            "Bedrijven (ongeveer)": SUPPRESSED if row["respondents"] is None else nl_number(row["respondents"], 0),
            "Waarom x": "" if shown else (row["suppression_reason"] or "geen cijfer"),
        })
    return pl.DataFrame(rows, schema=["Groep", "Schatting", "95%-interval", "Bedrijven (ongeveer)", "Waarom x"], orient="row")


def overview(cells: pl.DataFrame, proposal: str, level: str) -> pl.DataFrame:
    """Every figure of one proposal per group of a level, formatted for a table ('x' for what is not shown)."""
    rows = []
    for measure, (_, label, _, decimals) in FIGURES.items():
        for row in figure_table(cells, proposal, level, measure).iter_rows(named=True):
            shown = not row["suppressed"] and row["estimate"] is not None
            rows.append({"Groep": row["name"], "Cijfer": label,
                         "Schatting": nl_number(row["estimate"], decimals, signed=True) if shown else SUPPRESSED,
                         "95%-interval": nl_interval(row["ci_low"], row["ci_high"], decimals, signed=True) if shown else ""})
    return pl.DataFrame(rows, schema=["Groep", "Cijfer", "Schatting", "95%-interval"], orient="row")


@dataclass(frozen=True)
class PeerImpact:
    label: str  # "bedrijven in de sector Handel", ...
    level: str
    figures: pl.DataFrame  # measure, label, estimate, ci_low, ci_high, suppressed
    position: pl.DataFrame  # category, estimate, ci_low, ci_high, suppressed


def _precise(frame: pl.DataFrame) -> bool:
    for measure, limit in MAX_PEER_HALF_WIDTH.items():
        row = frame.filter(pl.col("measure") == measure)
        if row.is_empty() or row["suppressed"][0] or row["estimate"][0] is None or (row["ci_high"][0] - row["ci_low"][0]) / 2 > limit:
            return False
    return True


def peer_impact(cells: pl.DataFrame, proposal: str, sector: str, size_class: str) -> PeerImpact | None:
    """Released figures of the most specific group that is precise enough: sector, size class, else the nation."""
    candidates = [("sector", sector, f"bedrijven in de sector {group_name('sector', sector)}"),
                  ("size_class", size_class, f"bedrijven met {group_name('size_class', size_class)}"),
                  ("nation", None, "alle bedrijven in Nederland")]
    for level, code, label in candidates:
        frame = _level(cells, proposal, level)
        if code is not None:
            frame = frame.filter(pl.col(level) == code)
        if frame.is_empty():
            continue
        figures = frame.filter(pl.col("measure").is_in(list(FIGURES)) & (pl.col("statistic") == pl.col("measure").replace_strict(
            {m: s for m, (s, *_) in FIGURES.items()}, default=None)))
        if level == "nation" or _precise(figures):
            position = frame.filter((pl.col("measure") == POSITION) & (pl.col("statistic") == "share"))
            return PeerImpact(label, level, figures.select("measure", "estimate", "ci_low", "ci_high", "suppressed"),
                              position.select("category", "estimate", "ci_low", "ci_high", "suppressed"))
    return None


def comparison_table(peers: PeerImpact, answers: dict | None) -> pl.DataFrame:
    """The respondent's own answers beside the peer figures (the mean, with the interval); no answers: the figures only."""
    rows = []
    for measure, (_, label, field, decimals) in FIGURES.items():
        if measure in ("fte_total", "cost_change_median"):
            continue
        question = label.replace("Gemiddelde ", "").replace("Gemiddeld ", "")
        row = peers.figures.filter(pl.col("measure") == measure)
        shown = not row.is_empty() and not row["suppressed"][0] and row["estimate"][0] is not None
        own = {} if answers is None else {
            "Uw antwoord": "niet ingevuld" if answers.get(field) is None else nl_number(float(answers[field]), decimals, signed=True)}
        rows.append({
            "Vraag": question[:1].upper() + question[1:],  # not str.capitalize(): 'FTE' stays 'FTE'
            **own,
            "Vergelijkbare bedrijven (gemiddeld)": nl_number(row["estimate"][0], decimals, signed=True) if shown else SUPPRESSED,
            "95%-interval": nl_interval(row["ci_low"][0], row["ci_high"][0], decimals, signed=True) if shown else "",
        })
    return pl.DataFrame(rows, orient="row")


def position_labels() -> dict[str, str]:
    return source("dis").fields[POSITION].labels()


# --------------------------------------------------------------------------- cumulative burden

BURDEN_RELEASE = "dis_burden"
BURDEN_MEASURES = {"cost_change_mean": "kosten (euro per jaar)", "admin_hours_mean": "administratie (uur per maand)"}
SEGMENT_LEVELS = {"sector_size": "Per sector en grootteklasse", "province": "Per provincie"}


@dataclass(frozen=True)
class CostModel:
    """The standard cost model of regeldruk assessments (`config/regeldruk.yaml`)."""

    hourly_tariff_euro: float
    hourly_tariff_source: str
    frequency_per_year: int
    mkb_firms: int
    mkb_firms_source: str


def cost_model() -> CostModel:
    import yaml

    from core.settings import CONFIG_DIR

    with open(CONFIG_DIR / "regeldruk.yaml", encoding="utf-8") as handle:
        return CostModel(**yaml.safe_load(handle))


def burden_releases(exports: Path | None = None) -> pl.DataFrame:
    """Released cells of the DIS burden release (per sector x size class and per province; newest version per proposal)."""
    return release_cells(BURDEN_RELEASE, exports)


def _segment_firms(level: str, model: CostModel) -> pl.DataFrame:
    """Firms per segment in the population: the total split by the reference shares (sector x size class: their product)."""
    from core import reference

    if level == "province":
        shares = reference.provinces().select(pl.col("code").alias("province"), pl.col("population_share").alias("share"))
    else:
        shares = reference.sbi_sections().select(pl.col("code").alias("sector"), pl.col("population_share").alias("s")).join(
            reference.size_classes().select(pl.col("code").alias("size_class"), pl.col("population_share").alias("z")), how="cross"
        ).select("sector", "size_class", (pl.col("s") * pl.col("z")).alias("share"))
    return shares.with_columns((pl.col("share") * model.mkb_firms).round().alias("firms")).drop("share")


def cumulative_burden(cells: pl.DataFrame, phases: dict[str, str], level: str, model: CostModel) -> pl.DataFrame:
    """Per segment and phase, the summed mean cost change and extra hours per firm over all released proposals.

    The noise of different proposals is independent, so the 95 % half-widths add in quadrature (a normal
    approximation of the sum of independent errors). A sum with a part that is not shown ('x') is not shown
    either: the missing part could be anything within its bounds. Regulatory cost per firm per year =
    hours per month x frequency x hourly tariff; for the segment, x firms in the segment.
    Columns: the segment keys, phase, proposals, measure, estimate, half_width, shown.
    """
    keys = ["sector", "size_class"] if level == "sector_size" else ["province"]
    if cells.is_empty():
        return pl.DataFrame()
    frame = cells.filter((pl.col("level") == level) & pl.col("measure").is_in(list(BURDEN_MEASURES)) & (pl.col("statistic") == "mean"))
    frame = frame.with_columns(pl.col("period").replace_strict(phases, default=None).alias("phase")).filter(pl.col("phase").is_not_null())
    ok = ~pl.col("suppressed") & pl.col("estimate").is_not_null()
    half = (pl.col("ci_high") - pl.col("ci_low")) / 2
    summed = frame.group_by([*keys, "phase", "measure"]).agg(
        pl.col("period").n_unique().alias("proposals"),
        pl.col("estimate").sum().alias("estimate"),
        (half ** 2).sum().sqrt().alias("half_width"),
        ok.all().alias("shown"),
    )
    everything = frame.group_by([*keys, "measure"]).agg(
        pl.col("period").n_unique().alias("proposals"), pl.col("estimate").sum().alias("estimate"),
        (half ** 2).sum().sqrt().alias("half_width"), ok.all().alias("shown"),
    ).with_columns(pl.lit("alle fasen").alias("phase"))
    total = pl.concat([summed, everything.select(summed.columns)])
    hours = total.filter(pl.col("measure") == "admin_hours_mean").with_columns(
        pl.lit("regeldruk_euro").alias("measure"),
        pl.col("estimate") * model.frequency_per_year * model.hourly_tariff_euro,
        pl.col("half_width") * model.frequency_per_year * model.hourly_tariff_euro,
    )
    result = pl.concat([total, hours]).join(_segment_firms(level, model), on=keys, how="left")
    return in_reference_order(result.sort(["phase", "measure"]), {key: key for key in keys})


def segment_name(level: str, row: dict) -> str:
    if level == "province":
        return group_name("province", row["province"])
    return f"{group_name('sector', row['sector'])}, {row['size_class']}"
