"""The CGC (Gezondheidscheck) on the dashboards: its released figures, the respondent's comparison, the form.

Everything here is post-processing of released figures (balances, sentiment,
challenges): selecting, joining, comparing and formatting them; nothing is
recomputed from answers. The one write is `submit_cgc`: a respondent's own
submission, as a new file in the landing zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from core.survey import cgc_survey
from dashboards.formatting import SUPPRESSED, nl_interval, nl_number, nl_percent
from dashboards.groups import LEVEL_NAMES, group_codes, group_name
from dashboards.released import release_cells
from dashboards.submissions import submit
from privacy.loading import release_specs

BALANCE_RELEASE = "cgc_balance"
PROFILE_RELEASE = "cgc_profile"
RESPONDENTS = "respondents"  # the count measure of both releases: responding firms per group
SENTIMENT_MEAN, SENTIMENT_MEDIAN, CHALLENGES = "sentiment_mean", "sentiment_median", "challenges"
# A peer group is shown only if its balances are known within +-25 points;
# otherwise the comparison falls back to a larger group (sector, size class, nation).
MAX_PEER_HALF_WIDTH = 25.0


# --------------------------------------------------------------------------- released cells and questions


def balance_releases(exports: Path | None = None) -> pl.DataFrame:
    """Released cells of the CGC balance release (newest version per wave)."""
    return release_cells(BALANCE_RELEASE, exports)


def profile_releases(exports: Path | None = None) -> pl.DataFrame:
    """Released cells of the CGC sentiment and challenges release (newest version per wave)."""
    return release_cells(PROFILE_RELEASE, exports)


def _group(cells: pl.DataFrame, level: str, keys: dict[str, str] | None = None) -> pl.DataFrame:
    frame = cells.filter(pl.col("level") == level)
    for column, value in (keys or {}).items():
        frame = frame.filter(pl.col(column) == value)
    return frame


def _keys(level: str, group: str | None) -> dict[str, str]:
    return {} if level == "nation" or group is None else {level: group}


def balance_questions() -> list[str]:
    """The questions with a released balance, in the order of the release spec."""
    return [m.column for m in release_specs()[BALANCE_RELEASE].measures if m.kind == "balance"]


# --------------------------------------------------------------------------- balance indicators


def balance_series(cells: pl.DataFrame, question: str, level: str = "nation", group: str | None = None) -> pl.DataFrame:
    """Balance of one question per wave for one group, with its interval, responding firms and clear drops.

    Columns: period, estimate, ci_low, ci_high, suppressed, suppression_reason, respondents, clear_drop.
    """
    frame = _group(cells, level, _keys(level, group))
    balance = frame.filter((pl.col("measure") == question) & (pl.col("statistic") == "balance")).select(
        "period", "estimate", "ci_low", "ci_high", "suppressed", "suppression_reason"
    )
    respondents = frame.filter((pl.col("measure") == RESPONDENTS) & (pl.col("statistic") == "count")).select(
        "period", pl.col("estimate").alias("respondents")
    )
    return mark_clear_drops(balance.join(respondents, on="period", how="left").sort("period"))


def mark_clear_drops(series: pl.DataFrame) -> pl.DataFrame:
    """Flag a wave as a clear drop when its interval lies wholly below that of the previous shown wave.

    The trend page used this rule before the early warnings (`privacy/alerts.py`), which beat it on the
    backtest (`benchmarks/ALERTS.md`); it stays as the backtest's baseline.

    Two intervals that do not overlap differ by more than the noise can explain;
    suppressed waves are skipped, so the comparison is with the last wave shown.

    >>> s = pl.DataFrame({"period": ["a", "b", "c"], "ci_low": [10.0, -30.0, -35.0], "ci_high": [30.0, 5.0, 0.0],
    ...                   "suppressed": [False, False, False]})
    >>> mark_clear_drops(s)["clear_drop"].to_list()
    [False, True, False]
    """
    shown = series.filter(~pl.col("suppressed")).select(
        "period", (pl.col("ci_high") < pl.col("ci_low").shift(1)).fill_null(False).alias("clear_drop")
    )
    return series.drop("clear_drop", strict=False).join(shown, on="period", how="left").with_columns(
        pl.col("clear_drop").fill_null(False)
    )


def group_overview(cells: pl.DataFrame, question: str, level: str, period: str) -> pl.DataFrame:
    """Balance of one question in one wave for every group of a level (code, name, figures, suppression)."""
    column = level
    frame = cells.filter((pl.col("level") == level) & (pl.col("period") == period))
    balance = frame.filter((pl.col("measure") == question) & (pl.col("statistic") == "balance")).select(
        pl.col(column).alias("group"), "estimate", "ci_low", "ci_high", "suppressed", "suppression_reason"
    )
    respondents = frame.filter((pl.col("measure") == RESPONDENTS) & (pl.col("statistic") == "count")).select(
        pl.col(column).alias("group"), pl.col("estimate").alias("respondents")
    )
    order = {code: index for index, code in enumerate(group_codes(level))}
    return (
        balance.join(respondents, on="group", how="left")
        .with_columns(
            pl.col("group").map_elements(lambda code: group_name(level, code), return_dtype=pl.Utf8).alias("name"),
            pl.col("group").replace_strict(order, default=len(order)).alias("_order"),
        )
        .sort("_order")
        .drop("_order")
    )


def overview_table(overview: pl.DataFrame, level: str) -> pl.DataFrame:
    """`group_overview` as a Dutch table: 'x' for cells that are not published."""
    rows = []
    for row in overview.iter_rows(named=True):
        hidden = row["suppressed"]
        rows.append(
            {
                LEVEL_NAMES[level]: row["name"],
                "Saldo": SUPPRESSED if hidden else nl_number(row["estimate"], 1, signed=True),
                "95%-interval": SUPPRESSED if hidden else nl_interval(row["ci_low"], row["ci_high"], 1, signed=True),
                "Bedrijven (ongeveer)": SUPPRESSED if row["respondents"] is None else nl_number(row["respondents"], 0),
            }
        )
    return pl.DataFrame(rows, schema=[LEVEL_NAMES[level], "Saldo", "95%-interval", "Bedrijven (ongeveer)"], orient="row")


# --------------------------------------------------------------------------- sentiment and challenges


def sentiment_series(cells: pl.DataFrame, sector: str | None = None) -> pl.DataFrame:
    """Mean and median sentiment per wave (nation, or one sector), long: period, figure, estimate, interval, respondents."""
    level = "nation" if sector is None else "sector"
    frame = _group(cells, level, _keys(level, sector))
    figures = frame.filter(
        ((pl.col("measure") == SENTIMENT_MEAN) & (pl.col("statistic") == "mean"))
        | ((pl.col("measure") == SENTIMENT_MEDIAN) & (pl.col("statistic") == "p50"))
    ).select(
        "period",
        pl.when(pl.col("measure") == SENTIMENT_MEAN).then(pl.lit("Gemiddelde")).otherwise(pl.lit("Mediaan")).alias("figure"),
        "estimate", "ci_low", "ci_high", "suppressed", "suppression_reason",
    )
    respondents = frame.filter((pl.col("measure") == RESPONDENTS) & (pl.col("statistic") == "count")).select(
        "period", pl.col("estimate").alias("respondents")
    )
    return figures.join(respondents, on="period", how="left").sort("period", "figure")


def challenge_shares(cells: pl.DataFrame, sector: str | None = None, period: str | None = None) -> pl.DataFrame:
    """Share of firms naming each challenge in one wave (default: the latest), with Dutch labels, largest first."""
    level = "nation" if sector is None else "sector"
    frame = _group(cells, level, _keys(level, sector)).filter(
        (pl.col("measure") == CHALLENGES) & (pl.col("statistic") == "share")
    )
    if frame.is_empty():
        return frame
    period = period or frame["period"].max()
    labels = cgc_survey().multi_select[CHALLENGES].options
    return (
        frame.filter(pl.col("period") == period)
        .select(
            "period", "category",
            pl.col("category").replace_strict(labels, default=pl.col("category")).alias("label"),
            "estimate", "ci_low", "ci_high", "basis", "suppressed", "suppression_reason",
        )
        .sort("estimate", descending=True, nulls_last=True)
    )


def median_answer(value: float | None) -> str:
    """The answer a released median falls in: bins run [1, 2) = 'Zeer negatief' ... [5, 6] = 'Zeer positief'."""
    if value is None:
        return SUPPRESSED
    options = cgc_survey().questions["sentiment"].options
    return options.get(str(min(max(int(value), 1), 5)), "")


# --------------------------------------------------------------------------- the respondent's comparison


@dataclass(frozen=True)
class PeerFigures:
    """Released figures of a respondent's peer group for the latest wave."""

    figures: pl.DataFrame  # question, balance, ci_low, ci_high, positive, negative, suppressed
    label: str  # who the peers are, in Dutch
    period: str
    precise: bool  # every balance known within +-MAX_PEER_HALF_WIDTH


def _peer_frame(latest: pl.DataFrame, level: str, keys: dict[str, str]) -> pl.DataFrame:
    group = _group(latest, level, keys)
    rows = []
    for question in balance_questions():
        cells = group.filter(pl.col("measure") == question)
        balance = cells.filter(pl.col("statistic") == "balance")
        if balance.is_empty():
            continue
        share = {c["category"]: c["estimate"] for c in cells.filter(pl.col("statistic") == "share").iter_rows(named=True)}
        row = balance.row(0, named=True)
        rows.append(
            {
                "question": question, "balance": row["estimate"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                "positive": share.get("positive"), "negative": share.get("negative"), "suppressed": row["suppressed"],
            }
        )
    schema = {"question": pl.Utf8, "balance": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
              "positive": pl.Float64, "negative": pl.Float64, "suppressed": pl.Boolean}
    return pl.DataFrame(rows, schema=schema)


def _is_precise(frame: pl.DataFrame) -> bool:
    if frame.is_empty() or frame["suppressed"].any():
        return False
    widest = ((frame["ci_high"] - frame["ci_low"]) / 2).max()
    return widest is not None and widest <= MAX_PEER_HALF_WIDTH


def peer_figures(cells: pl.DataFrame, sector: str, size_class: str) -> PeerFigures:
    """Latest released figures of the respondent's peers: same sector, else same size class, else the nation.

    A group is used only if none of its balances is suppressed and each is known
    within +-MAX_PEER_HALF_WIDTH points; if no group qualifies, the nation is shown
    with `precise=False`.
    """
    period = cells["period"].max()
    latest = cells.filter(pl.col("period") == period)
    sector_name = group_name("sector", sector)
    candidates = [
        ("sector", {"sector": sector}, f"alle bedrijven in {sector_name}"),
        ("size_class", {"size_class": size_class}, f"alle bedrijven met {size_class} werkzame personen"),
        ("nation", {}, "alle bedrijven in Nederland"),
    ]
    for level, keys, label in candidates:
        frame = _peer_frame(latest, level, keys)
        if _is_precise(frame):
            return PeerFigures(frame, label, period, True)
    return PeerFigures(frame, label, period, False)


def peer_table(peers: PeerFigures, answers: dict) -> pl.DataFrame:
    """The respondent's own answers beside the peers' released shares and balance, as a Dutch table."""
    survey = cgc_survey()
    rows = []
    for figure in peers.figures.iter_rows(named=True):
        question = figure["question"]
        hidden = figure["suppressed"]
        rows.append(
            {
                "Vraag": survey.questions[question].short_label,
                "Uw antwoord": option_label(question, answers.get(question)),
                "Positief": SUPPRESSED if hidden else nl_percent(figure["positive"]),
                "Negatief": SUPPRESSED if hidden else nl_percent(figure["negative"]),
                "Saldo (95%-interval)": SUPPRESSED if hidden else (
                    f"{nl_number(figure['balance'], 0, signed=True)} "
                    f"({nl_interval(figure['ci_low'], figure['ci_high'], 0, signed=True)})"
                ),
            }
        )
    return pl.DataFrame(rows, schema=["Vraag", "Uw antwoord", "Positief", "Negatief", "Saldo (95%-interval)"], orient="row")


def peer_challenges(cells: pl.DataFrame, sector: str, chosen: list[str]) -> tuple[pl.DataFrame, str]:
    """Share of firms naming each challenge the respondent chose, in their sector (nationally if not published there)."""
    for shares, label in ((challenge_shares(cells, sector), f"alle bedrijven in {group_name('sector', sector)}"),
                          (challenge_shares(cells), "alle bedrijven in Nederland")):
        chosen_shares = shares.filter(pl.col("category").is_in(chosen)) if not shares.is_empty() else shares
        if not chosen_shares.is_empty() and not chosen_shares["suppressed"].any():
            break
    table = pl.DataFrame(
        [
            {"Uitdaging": row["label"], "Genoemd door": SUPPRESSED if row["suppressed"] else
             f"{nl_percent(row['estimate'])} ({nl_interval(row['ci_low'], row['ci_high'], 0)}%)"}
            for row in chosen_shares.iter_rows(named=True)
        ],
        schema=["Uitdaging", "Genoemd door"],
        orient="row",
    )
    return table, label


# --------------------------------------------------------------------------- the form


def submit_cgc(answers: dict[str, object], kvk_number: str, landing: Path | None = None, now: datetime | None = None) -> dict:
    """Validate a CGC form submission for the respondent's own firm and write it durably (`dashboards.submissions.submit`)."""
    return submit("cgc", answers, kvk_number, landing, now)


def option_label(question: str, code: str | None) -> str:
    """Dutch label of an answer code ('niet beantwoord' when empty)."""
    if code is None:
        return "niet beantwoord"
    return cgc_survey().questions[question].options.get(str(code), str(code))
