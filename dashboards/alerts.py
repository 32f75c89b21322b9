"""Early warnings on the dashboards: the stored alerts (`data/exports/alerts/alerts.parquet`), for a series or the latest ones.

The alerts are made by the pipeline (`assets/alerts.py`, the rule in
`privacy/alerts.py`) from released figures only; here they are selected and
joined to what a page shows, never recomputed.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dashboards.released import released_files

ALERT_COLUMNS = ["period", "alert", "trigger", "change", "z", "reason"]


def stored_alerts(exports: Path | None = None) -> pl.DataFrame:
    """Every stored alert, alarms first, newest first (empty before the pipeline made any)."""
    return released_files("alerts/alerts.parquet", "SELECT * FROM {files} ORDER BY alert = 'alarm' DESC, period DESC, z DESC", exports)


def series_alerts(alerts: pl.DataFrame, source: str, measure: str, level: str, group: str | None) -> pl.DataFrame:
    """The alerts of one series: period, alert, trigger, change, z, reason (none when there are none).

    >>> a = pl.DataFrame({"source": ["cgc"], "measure": ["order_book"], "level": ["nation"], "group": [""], "period": ["2026-10"],
    ...                   "alert": ["alarm"], "trigger": ["strong"], "change": [-9.0], "z": [5.1], "reason": ["..."]})
    >>> series_alerts(a, "cgc", "order_book", "nation", None)["alert"].to_list()
    ['alarm']
    """
    if alerts.is_empty():
        return pl.DataFrame(schema={"period": pl.Utf8, "alert": pl.Utf8, "trigger": pl.Utf8, "change": pl.Float64, "z": pl.Float64,
                                    "reason": pl.Utf8})
    return alerts.filter((pl.col("source") == source) & (pl.col("measure") == measure) & (pl.col("level") == level)
                         & (pl.col("group") == (group or ""))).select(ALERT_COLUMNS)


def with_alerts(series: pl.DataFrame, marks: pl.DataFrame) -> pl.DataFrame:
    """A page's series with its alert per period ('' where none, and none where the figure is not shown)."""
    joined = series.drop("alert", "alert_reason", strict=False).join(
        marks.select("period", "alert", pl.col("reason").alias("alert_reason")), on="period", how="left")
    hidden = pl.col("suppressed") if "suppressed" in series.columns else pl.lit(False)
    return joined.with_columns(pl.when(hidden).then(pl.lit("")).otherwise(pl.col("alert").fill_null("")).alias("alert"))


def latest_alerts(alerts: pl.DataFrame, source: str, limit: int = 8) -> pl.DataFrame:
    """The alerts of the latest period that has any, alarms first, the largest first (at most `limit`)."""
    frame = alerts.filter(pl.col("source") == source) if not alerts.is_empty() else alerts
    if frame.is_empty():
        return frame
    latest = frame["period"].max()
    return frame.filter(pl.col("period") == latest).sort([pl.col("alert") == "alarm", "z"], descending=True).head(limit)


def top_alerts(alerts: pl.DataFrame, source: str, level: str | None = None, limit: int = 8) -> pl.DataFrame:
    """The strongest alerts of a source (and level), alarms first: for series whose periods have no calendar order (proposals)."""
    if alerts.is_empty():
        return alerts
    frame = alerts.filter((pl.col("source") == source) & ((pl.col("level") == level) if level else pl.lit(True)))
    return frame.sort([pl.col("alert") == "alarm", "z"], descending=True).head(limit)
