"""Early warnings on what is released: the CGC balances and the DIS cumulative burden, read from the export files.

Post-processing only: the released Parquet files of `cgc_balance` and
`dis_burden` (the newest version of each period, as the dashboards read
them) go through `privacy.alerts`; no budget is spent and no raw row or mart
is read. One frame, one row per series per period that got a `signaal` or
an `alarm`:

* CGC balances (order book, investment, staff shortage, sentiment), the
  nation and every province, sector and size class, per wave: lower is
  worse; `mode="levels"` (noise from the released intervals plus the series'
  own normal movement).
* DIS cumulative burden (mean extra administrative hours and cost change per
  firm) per sector x size class and per province, over the proposals in the
  order their simulations closed: higher is worse; each proposal's own
  released figure is its increment (`mode="increments"`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from core import reference
from core.survey import cgc_survey
from privacy.alerts import AlertRule, Wording, alert_rule, series_alerts

BALANCE_RELEASE, BURDEN_RELEASE = "cgc_balance", "dis_burden"
BURDEN_UNITS = {"admin_hours_mean": ("administratieve lasten", "uur per maand", 1), "cost_change_mean": ("kosten", "euro per jaar", 0)}
GROUP_COLUMNS = {"nation": [], "province": ["province"], "sector": ["sector"], "size_class": ["size_class"],
                 "sector_size": ["sector", "size_class"]}
SCHEMA = {
    "source": pl.Utf8, "release": pl.Utf8, "measure": pl.Utf8, "level": pl.Utf8, "group": pl.Utf8, "series": pl.Utf8,
    "period": pl.Utf8, "estimate": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "alert": pl.Utf8, "trigger": pl.Utf8,
    "change": pl.Float64, "change_se": pl.Float64, "z": pl.Float64, "unit": pl.Utf8, "reason": pl.Utf8,
}


def newest_cells(exports: Path, name: str) -> pl.DataFrame:
    """Every released cell of one release, the newest version per period only (empty when nothing is released)."""
    files = sorted((exports / name).glob(f"{name}_*.parquet"))
    if not files:
        return pl.DataFrame()
    cells = pl.concat([pl.read_parquet(file) for file in files], how="diagonal_relaxed")
    return cells.filter(pl.col("version") == pl.col("version").max().over("period"))


def group_label(level: str, group: str) -> str:
    """Dutch name of a group: 'Heel Nederland', 'Utrecht', 'Bouwnijverheid, 2-9 werkzame personen'.

    >>> group_label("province", "PV26"), group_label("nation", "")
    ('Utrecht', 'Heel Nederland')
    """
    if level == "nation":
        return "Heel Nederland"
    names = [reference.domain_labels(column).get(code, code) for column, code in zip(GROUP_COLUMNS[level], group.split("|"), strict=True)]
    return ", ".join(names)


def _with_group(cells: pl.DataFrame, level: str) -> pl.DataFrame:
    columns = GROUP_COLUMNS[level]
    group = pl.concat_str([pl.col(c) for c in columns], separator="|") if columns else pl.lit("")
    return cells.filter(pl.col("level") == level).with_columns(group.alias("group"))


def _run(frame: pl.DataFrame, keys: dict, label: str, order: list[str] | None, *, worse, mode, rule, wording) -> pl.DataFrame:
    series = frame.select("period", "estimate", "ci_low", "ci_high", "suppressed").unique("period")
    if order is None:
        series = series.sort("period")
    else:
        rank = {period: index for index, period in enumerate(order)}
        series = series.filter(pl.col("period").is_in(order)).sort(pl.col("period").replace_strict(rank, return_dtype=pl.Int64))
    if series.is_empty():
        return pl.DataFrame(schema=SCHEMA)
    # a release never publishes an estimate for a suppressed cell; treat one as not shown all the same
    series = series.with_columns(pl.when(pl.col("suppressed")).then(None).otherwise(pl.col("estimate")).alias("estimate"))
    flagged = series.join(series_alerts(series, worse=worse, mode=mode, rule=rule, wording=wording), on="period").filter(pl.col("alert") != "")
    return flagged.select(
        *(pl.lit(value).alias(name) for name, value in keys.items()),
        pl.lit(label).alias("series"),
        "period", "estimate", "ci_low", "ci_high", "alert", "trigger", "change", "change_se", "z",
        pl.lit(wording.unit).alias("unit"),
        pl.concat_str([pl.lit(f"{label}, "), pl.col("period"), pl.lit(": "), pl.col("reason")]).alias("reason"),
    ).cast(SCHEMA)


def balance_alerts(cells: pl.DataFrame, rule: AlertRule | None = None) -> pl.DataFrame:
    """Alerts on every released CGC balance series (question x level x group), waves in order."""
    rule = rule or alert_rule()
    if cells.is_empty():
        return pl.DataFrame(schema=SCHEMA)
    questions = cgc_survey().questions
    balances = cells.filter(pl.col("statistic") == "balance")
    parts = []
    for level in [lv for lv in ("nation", "province", "sector", "size_class") if lv in set(balances["level"].to_list())]:
        frame = _with_group(balances, level)
        for (measure, group), series in frame.group_by(["measure", "group"], maintain_order=True):
            topic = questions[measure].short_label if measure in questions else measure
            label = f"Saldo {topic.lower()}, {group_label(level, group)}"
            keys = {"source": "cgc", "release": BALANCE_RELEASE, "measure": measure, "level": level, "group": group}
            parts.append(_run(series, keys, label, None, worse="lower", mode="levels", rule=rule, wording=Wording()))
    return pl.concat(parts) if parts else pl.DataFrame(schema=SCHEMA)


def burden_alerts(cells: pl.DataFrame, closing: dict[str, date], rule: AlertRule | None = None) -> pl.DataFrame:
    """Alerts on the cumulative burden per segment: each proposal's released mean (hours, costs) as its increment.

    `closing` gives each proposal's last simulation day; proposals are taken in that order (those without a
    date last, by name).
    """
    rule = rule or alert_rule()
    if cells.is_empty():
        return pl.DataFrame(schema=SCHEMA)
    means = cells.filter(pl.col("measure").is_in(list(BURDEN_UNITS)) & (pl.col("statistic") == "mean"))
    order = sorted(set(means["period"].to_list()), key=lambda p: (closing.get(p) or date.max, p))
    parts = []
    for level in [lv for lv in ("sector_size", "province") if lv in set(means["level"].to_list())]:
        frame = _with_group(means, level)
        for (measure, group), series in frame.group_by(["measure", "group"], maintain_order=True):
            what, unit, decimals = BURDEN_UNITS[measure]
            label = f"Stapeling van regeldruk ({what}), {group_label(level, group)}"
            keys = {"source": "dis", "release": BURDEN_RELEASE, "measure": measure, "level": level, "group": group}
            wording = Wording(unit=unit, period_word="voorstel", period_plural="voorstellen", article="het", decimals=decimals)
            parts.append(_run(series, keys, label, order, worse="higher", mode="increments", rule=rule, wording=wording))
    return pl.concat(parts) if parts else pl.DataFrame(schema=SCHEMA)


def released_alerts(exports: Path, closing: dict[str, date], rule: AlertRule | None = None) -> pl.DataFrame:
    """Every alert on the released series in `exports/`, alarms first, then by period (newest first) and size."""
    rule = rule or alert_rule()
    frame = pl.concat([balance_alerts(newest_cells(exports, BALANCE_RELEASE), rule),
                       burden_alerts(newest_cells(exports, BURDEN_RELEASE), closing, rule)])
    return frame.sort([pl.col("alert") == "alarm", "period", "z"], descending=[True, True, True])
