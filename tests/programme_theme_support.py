"""Small warehouses for the programme's theme tests: platform texts in raw.programme_platform (real DuckDB, real OpenDP)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import polars as pl

from core import theme_pipeline
from core.theme_pipeline import PROGRAMME
from privacy.engine import release
from privacy.loading import release_specs

NEED_RELEASES = (PROGRAMME.terms, PROGRAMME.pairs, PROGRAMME.themes)


def platform_rows(groups: list[tuple[int, str, str]], day: date = date(2026, 5, 12), first: int = 0) -> pl.DataFrame:
    """raw.programme_platform rows: (number of firms, kind, text) per group, one event per firm, on `day`."""
    rows, firm = [], first
    for count, kind, text in groups:
        for _ in range(count):
            rows.append((f"firm{firm:05d}", f"EV-{firm:06d}", datetime(2026, 6, 30, 12), datetime(2026, 7, 1, 8), "h", firm, day, kind,
                         text, False if kind == "vraag" else None))
            firm += 1
    return pl.DataFrame(rows, schema={"firm_id": pl.Utf8, "event_id": pl.Utf8, "delivered_at": pl.Datetime, "loaded_at": pl.Datetime,
                                      "file_hash": pl.Utf8, "row_number": pl.Int64, "event_on": pl.Date, "kind": pl.Utf8, "text": pl.Utf8,
                                      "answered": pl.Boolean}, orient="row")


def raw_platform(connection: duckdb.DuckDBPyConnection, events: pl.DataFrame) -> None:
    """The columns of raw.programme_platform that the programme's theme set reads."""
    connection.execute("CREATE SCHEMA IF NOT EXISTS raw")
    connection.register("platform_frame", events.to_arrow())
    connection.execute("CREATE OR REPLACE TABLE raw.programme_platform AS SELECT * FROM platform_frame")
    connection.unregister("platform_frame")


def run_need_themes(connection: duckdb.DuckDBPyConnection, quarters: list[str], specs: dict | None = None, settings=None) -> dict:
    """The programme's theme steps as the Dagster assets run them: each mart, then its release; the outcomes per release."""
    specs = specs or release_specs()
    outcomes = {}
    for build, name in ((theme_pipeline.build_firm_words, PROGRAMME.terms), (theme_pipeline.build_firm_pairs, PROGRAMME.pairs),
                        (theme_pipeline.build_firm_themes, PROGRAMME.themes)):
        build(connection, PROGRAMME)
        outcomes[name] = release(connection, specs[name], quarters, settings=settings)
    return outcomes


def unlimited_programme_settings():
    """The configured budgets with an unlimited one for 'programme' (test code only)."""
    import math

    from privacy.loading import privacy_settings

    configured = privacy_settings()
    programme = configured.datasets["programme"]
    budget = programme.budget_per_period.model_copy(update={"epsilon": math.inf, "delta": 1.0})
    update = {"datasets": {**configured.datasets, "programme": programme.model_copy(update={"budget_per_period": budget})}}
    caps = getattr(configured, "annual_caps", None)
    if caps is not None:
        update["annual_caps"] = {kind: cap.model_copy(update={"epsilon": math.inf, "delta": 1.0}) for kind, cap in caps.items()}
    return configured.model_copy(update=update)


def match_planted_quarter(connection: duckdb.DuckDBPyConnection, planted: pl.DataFrame, quarter: str, min_firms: int) -> tuple[float, float, dict]:
    """Precision and recall of one quarter's released themes against the planted ones, matched by the firms they hold.

    `planted`: (firm_id, quarter, planted) per text. A released theme matches the planted theme most of its firms
    carry, when at least half of them do; precision = matched released themes / released themes; recall = planted
    themes of at least `min_firms` firms that a released theme matches / those planted themes.
    """
    counts = theme_pipeline.released_theme_counts(connection, PROGRAMME).get(quarter, {})
    assigned = connection.execute(f"SELECT firm_id, theme FROM {PROGRAMME.themes_mart} WHERE quarter = ?", [quarter]).pl()
    truth = planted.filter(pl.col("quarter") == quarter).select("firm_id", "planted").unique()
    matches = {}
    for theme in counts:
        firms = assigned.filter(pl.col("theme") == theme).select("firm_id").unique()
        carried = truth.join(firms, on="firm_id").group_by("planted").len().sort("len", "planted", descending=[True, False])
        if carried.height and carried["len"][0] >= 0.5 * firms.height:
            matches[theme] = carried["planted"][0]
    raised = truth.group_by("planted").len().filter(pl.col("len") >= min_firms)["planted"].to_list()
    precision = len(matches) / len(counts) if counts else 1.0
    recall = len(set(matches.values()) & set(raised)) / len(raised) if raised else 1.0
    return precision, recall, {"released": counts, "matches": matches, "raised": sorted(raised)}
