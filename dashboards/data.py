"""Released data for the dashboards, and the one write they may do (a form submission).

Dashboards read only the released Parquet files in `data/exports/`, through an
in-memory DuckDB whose file access is locked to that folder: the warehouse,
the landing zone and every other path are refused by DuckDB itself. The only
write is a respondent's own submission, as a new file in the landing zone.

Releases are in long format (one row per period x level x group x measure x
statistic x category; see the codebook next to each release). Everything here
is post-processing of released figures: selecting, joining, comparing and
formatting them. Nothing is recomputed from answers.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from core import reference
from core.contracts import SubmissionError, validate_submission
from core.files import public_dir
from core.jsonlines import json_lines
from core.landing import write_atomically
from core.settings import paths
from core.survey import cgc_survey
from privacy.loading import privacy_settings, release_specs

BALANCE_RELEASE = "cgc_balance"
PROFILE_RELEASE = "cgc_profile"
RESPONDENTS = "respondents"  # the count measure of both releases: responding firms per group
SENTIMENT_MEAN, SENTIMENT_MEDIAN, CHALLENGES = "sentiment_mean", "sentiment_median", "challenges"
# A peer group is shown only if its balances are known within +-25 points;
# otherwise the comparison falls back to a larger group (sector, size class, nation).
MAX_PEER_HALF_WIDTH = 25.0

LEVEL_NAMES = {"nation": "Heel Nederland", "sector": "Sector", "province": "Provincie", "size_class": "Grootteklasse"}
SUPPRESSED = "x"


# --------------------------------------------------------------------------- reading released files


def _exports(exports: Path | None) -> Path:
    return (exports or paths().exports).resolve()


def released_connection(exports: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read files under `exports/` and nothing else."""
    folder = _exports(exports)
    public_dir(folder, top=folder)
    connection = duckdb.connect(":memory:")
    connection.execute("SET allowed_directories = [?]", [f"{folder}/"])
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def _read(exports: Path | None, pattern: str, sql: str) -> pl.DataFrame:
    """Run `sql` over the Parquet files matching `pattern` (relative to the exports folder); empty if none."""
    folder = _exports(exports)
    if not any(folder.glob(pattern)):
        return pl.DataFrame()
    connection = released_connection(exports)
    try:
        return connection.execute(sql.format(files=f"read_parquet('{folder}/{pattern}', union_by_name = true)")).pl()
    finally:
        connection.close()


def release_cells(name: str, exports: Path | None = None) -> pl.DataFrame:
    """All released cells of one release spec, the newest version per period only."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a release name: {name!r}")
    return _read(
        exports,
        f"{name}/{name}_*.parquet",
        "SELECT * FROM {files} QUALIFY version = MAX(version) OVER (PARTITION BY period) "
        "ORDER BY period, level, measure, statistic, category",
    )


def balance_releases(exports: Path | None = None) -> pl.DataFrame:
    """Released cells of the CGC balance release (newest version per wave)."""
    return release_cells(BALANCE_RELEASE, exports)


def profile_releases(exports: Path | None = None) -> pl.DataFrame:
    """Released cells of the CGC sentiment and challenges release (newest version per wave)."""
    return release_cells(PROFILE_RELEASE, exports)


def privacy_ledger(exports: Path | None = None) -> pl.DataFrame:
    """The public ledger: one row per release (every version), newest period first."""
    return _read(exports, "privacy_ledger.parquet", "SELECT * FROM {files} ORDER BY period DESC, release_name, version DESC")


def privacy_budget(exports: Path | None = None) -> pl.DataFrame:
    """Privacy loss spent per dataset per period, beside the configured budget per period."""
    spent = _read(exports, "privacy_budget.parquet", "SELECT * FROM {files} ORDER BY dataset, period")
    if spent.is_empty():
        return spent
    budgets = pl.DataFrame(
        [
            {"dataset": name, "epsilon_budget": d.budget_per_period.epsilon, "delta_budget": d.budget_per_period.delta}
            for name, d in privacy_settings().datasets.items()
        ]
    )
    return spent.join(budgets, on="dataset", how="left")


# --------------------------------------------------------------------------- groups and labels


def dataset_names() -> dict[str, str]:
    """Dataset code -> its Dutch name (config/privacy.yaml)."""
    return {name: dataset.title_nl for name, dataset in privacy_settings().datasets.items()}


def protected_units() -> dict[str, str]:
    """Release name -> whom it protects, in Dutch (the spec's unit, plural)."""
    return {name: spec.privacy_unit.plural_nl for name, spec in release_specs().items()}


def group_codes(level: str) -> list[str]:
    """The public groups of a level (reference data), in their usual order."""
    return {
        "sector": reference.sector_codes,
        "province": reference.province_codes,
        "size_class": reference.size_class_codes,
    }.get(level, list)()


def group_name(level: str, code: str | None) -> str:
    """Dutch name of a group: 'Heel Nederland', a sector, a province or a size class."""
    if level == "nation" or code is None:
        return "Heel Nederland"
    if level == "sector":
        return reference.sector_names().get(code, code)
    if level == "province":
        return reference.province_names().get(code, code)
    return f"{code} werkzame personen"


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


def suppression_reasons(frame: pl.DataFrame) -> list[str]:
    """The distinct reasons why cells are not published, in the order they occur."""
    if frame.is_empty() or "suppression_reason" not in frame.columns:
        return []
    return frame.filter(pl.col("suppressed"))["suppression_reason"].drop_nulls().unique(maintain_order=True).to_list()


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


# --------------------------------------------------------------------------- privacy page


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


# --------------------------------------------------------------------------- Dutch number formatting


def nl_number(value: float | None, decimals: int = 1, signed: bool = False) -> str:
    """A number the Dutch way: decimal comma, thousands point.

    >>> nl_number(1234.56), nl_number(-3.26, 1, signed=True), nl_number(-0.2, 0, signed=True)
    ('1.234,6', '-3,3', '0')
    """
    if value is None:
        return SUPPRESSED
    rounded = round(value, decimals) or 0.0  # no '-0'
    text = f"{rounded:{'+' if signed and rounded != 0 else ''},.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def nl_interval(low: float | None, high: float | None, decimals: int = 1, signed: bool = False) -> str:
    """'low tot high' in Dutch notation."""
    return f"{nl_number(low, decimals, signed)} tot {nl_number(high, decimals, signed)}"


MONTHS = ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]


def wave_name(period: str) -> str:
    """A wave the way people say it.

    >>> wave_name("2026-10")
    'okt 2026'
    """
    match = re.fullmatch(r"(\d{4})-(\d{2})", period or "")
    return f"{MONTHS[int(match[2]) - 1]} {match[1]}" if match and 1 <= int(match[2]) <= 12 else str(period)


def nl_percent(value: float | None) -> str:
    return SUPPRESSED if value is None else f"{nl_number(value, 0)}%"


# --------------------------------------------------------------------------- the form


def submit_cgc(answers: dict[str, object], kvk_number: str, landing: Path | None = None, now: datetime | None = None) -> dict:
    """Validate a form submission for the respondent's own firm and write it durably to the landing zone.

    `kvk_number` comes from the logged-in respondent's account; answers that try
    to name a firm themselves are refused. Returns the stored record; raises
    `core.contracts.SubmissionError` (Dutch lines naming field and rule) for invalid input.
    """
    if "kvk_number" in answers or "firm_id" in answers:
        raise SubmissionError(["KvK-nummer: komt uit uw account; u kunt niet voor een ander bedrijf invullen"])
    now = (now or datetime.now()).replace(microsecond=0)
    record = {
        "response_id": f"web-{uuid.uuid4().hex}",
        "submitted_at": now.strftime("%Y-%m-%dT%H:%M:%S"),
        "wave": reference.wave_of(now.date()),
        "kvk_number": kvk_number,
        **answers,
    }
    validate_submission(record)
    # One record, one line, whatever the free text holds: ingestion reads a line as a submission.
    content = json_lines([record])
    write_atomically((landing or paths().landing) / "cgc", f"form_{record['response_id']}.jsonl", content)
    return record


def option_label(question: str, code: str | None) -> str:
    """Dutch label of an answer code ('niet beantwoord' when empty)."""
    if code is None:
        return "niet beantwoord"
    return cgc_survey().questions[question].options.get(str(code), str(code))
