"""Altair charts of released figures, with Dutch labels and number notation."""

from __future__ import annotations

import altair as alt
import pandas as pd
import polars as pl

from dashboards.formatting import wave_name

# Decimal comma and thousands point in axes and tooltips.
DUTCH_NUMBERS = {"number": {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["€ ", ""]}}
BAND_COLOUR, LINE_COLOUR, DROP_COLOUR, SIGNAL_COLOUR = "#9ecae1", "#1f6fb4", "#c0392b", "#b35900"


def _dutch(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return chart.configure(locale=DUTCH_NUMBERS).configure_axis(labelFontSize=13, titleFontSize=13).configure_legend(
        labelFontSize=13, titleFontSize=13, orient="bottom"
    )


def _with_wave_names(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("period").map_elements(wave_name, return_dtype=pl.Utf8).alias("wave"))


def balance_chart(series: pl.DataFrame, title: str) -> alt.TopLevelMixin:
    """Balance per wave: the 95% band, the line, zero, and triangles at the early warnings (column `alert`; else at clear drops)."""
    data = _with_wave_names(series).to_pandas()
    order = data["wave"].tolist()
    x = alt.X("wave:N", title="Meting", sort=order, axis=alt.Axis(labelAngle=0))
    base = alt.Chart(data).encode(x=x)
    band = base.mark_area(opacity=0.35, color=BAND_COLOUR).encode(
        y=alt.Y("ci_low:Q", title="Saldo (procentpunten)", scale=alt.Scale(domain=[-100, 100])), y2="ci_high:Q"
    )
    tooltip = [
        alt.Tooltip("wave:N", title="Meting"),
        alt.Tooltip("estimate:Q", title="Saldo", format="+.1f"),
        alt.Tooltip("ci_low:Q", title="Interval van", format="+.1f"),
        alt.Tooltip("ci_high:Q", title="Interval tot", format="+.1f"),
        alt.Tooltip("respondents:Q", title="Bedrijven (ongeveer)", format=",.0f"),
    ]
    line = base.mark_line(point=True, color=LINE_COLOUR, strokeWidth=3).encode(y="estimate:Q", tooltip=tooltip)
    # A vertical interval per wave, so a wave between two gaps still shows its interval.
    whiskers = base.mark_rule(color=LINE_COLOUR, opacity=0.35, strokeWidth=2).encode(y="ci_low:Q", y2="ci_high:Q")
    if "alert" in data.columns:  # the early warnings (privacy/alerts.py): orange for a signaal, red for an alarm
        colour = alt.Color("alert:N", title="Waarschuwing", scale=alt.Scale(domain=["signaal", "alarm"], range=[SIGNAL_COLOUR, DROP_COLOUR]))
        drops = (
            base.transform_filter(alt.datum.alert != "")
            .mark_point(shape="triangle-down", size=260, filled=True, opacity=1)
            .encode(y="estimate:Q", color=colour, tooltip=[*tooltip, alt.Tooltip("alert_reason:N", title="Waarom")])
        )
    else:
        drops = (
            base.transform_filter(alt.datum.clear_drop)
            .mark_point(shape="triangle-down", size=260, filled=True, color=DROP_COLOUR, opacity=1)
            .encode(y="estimate:Q", tooltip=tooltip)
        )
    zero = alt.Chart(pd.DataFrame({"zero": [0]})).mark_rule(strokeDash=[4, 4], color="gray").encode(y=alt.datum(0))
    return _dutch((band + zero + whiskers + line + drops).properties(height=360, title=title))


def sentiment_chart(series: pl.DataFrame, title: str) -> alt.TopLevelMixin:
    """Mean and median sentiment per wave, each with its 95% band."""
    data = _with_wave_names(series).to_pandas()
    order = list(dict.fromkeys(data["wave"]))
    colour = alt.Color("figure:N", title=None, scale=alt.Scale(domain=["Gemiddelde", "Mediaan"], range=[LINE_COLOUR, "#e67e22"]))
    base = alt.Chart(data).encode(x=alt.X("wave:N", title="Meting", sort=order, axis=alt.Axis(labelAngle=0)), color=colour)
    band = base.mark_area(opacity=0.18).encode(
        y=alt.Y("ci_low:Q", title="Score (1 tot 5)", scale=alt.Scale(domain=[1, 6]), stack=None), y2="ci_high:Q"
    )
    line = base.mark_line(point=True, strokeWidth=3).encode(
        y="estimate:Q",
        tooltip=[
            alt.Tooltip("wave:N", title="Meting"),
            alt.Tooltip("figure:N", title="Maat"),
            alt.Tooltip("estimate:Q", title="Waarde", format=".2f"),
            alt.Tooltip("ci_low:Q", title="Interval van", format=".2f"),
            alt.Tooltip("ci_high:Q", title="Interval tot", format=".2f"),
        ],
    )
    return _dutch((band + line).properties(height=400, title=title))


def challenges_chart(shares: pl.DataFrame, title: str) -> alt.TopLevelMixin:
    """Share of firms naming each challenge: horizontal bars with the 95% interval as error bars."""
    data = shares.filter(~pl.col("suppressed")).to_pandas()
    y = alt.Y("label:N", title=None, sort=data["label"].tolist(), axis=alt.Axis(labelLimit=260))
    base = alt.Chart(data).encode(y=y)
    tooltip = [
        alt.Tooltip("label:N", title="Uitdaging"),
        alt.Tooltip("estimate:Q", title="Genoemd door (%)", format=".0f"),
        alt.Tooltip("ci_low:Q", title="Interval van (%)", format=".0f"),
        alt.Tooltip("ci_high:Q", title="Interval tot (%)", format=".0f"),
    ]
    bars = base.mark_bar(color=BAND_COLOUR).encode(
        x=alt.X("estimate:Q", title="Bedrijven die dit noemen (%)", scale=alt.Scale(domain=[0, 100])), tooltip=tooltip
    )
    errors = base.mark_errorbar(ticks=True, color="#333333").encode(
        x=alt.X("ci_low:Q", title="Bedrijven die dit noemen (%)"), x2="ci_high:Q"
    )
    return _dutch((bars + errors).properties(height=44 * len(data) + 100, title=title))


def budget_chart(budget: pl.DataFrame, title: str) -> alt.TopLevelMixin:
    """Privacy loss spent per wave (bars) against the budget per wave (red rule)."""
    data = _with_wave_names(budget).to_pandas()
    limit = float(data["epsilon_budget"].max())  # NaN when the dataset has no configured budget
    ceiling = max(0.0 if pd.isna(limit) else limit, float(data["epsilon_spent"].max())) * 1.15
    x = alt.X("wave:N", title="Meting", sort=data["wave"].tolist(), axis=alt.Axis(labelAngle=0))
    bars = alt.Chart(data).mark_bar(color=LINE_COLOUR, size=46).encode(
        x=x,
        y=alt.Y("epsilon_spent:Q", title="Verbruikt privacybudget (epsilon)", scale=alt.Scale(domain=[0, ceiling])),
        tooltip=[
            alt.Tooltip("wave:N", title="Meting"),
            alt.Tooltip("epsilon_spent:Q", title="Verbruikt", format=".2f"),
            alt.Tooltip("epsilon_budget:Q", title="Budget", format=".2f"),
            alt.Tooltip("releases:Q", title="Publicaties"),
        ],
    )
    one_row = pd.DataFrame({"budget": [limit]})
    rule = alt.Chart(one_row).mark_rule(color=DROP_COLOUR, strokeWidth=2, strokeDash=[6, 3]).encode(y=alt.datum(limit))
    label = alt.Chart(one_row).mark_text(align="left", dx=4, dy=-8, color=DROP_COLOUR, fontSize=13).encode(
        x=alt.value(0), y=alt.datum(limit), text=alt.value("budget per meting")
    )
    layers = bars if pd.isna(limit) else bars + rule + label
    return _dutch(layers.properties(height=300, title=title))


def group_bars(table: pl.DataFrame, title: str, axis_title: str, number_format: str = ",.0f") -> alt.TopLevelMixin:
    """One bar per group with its 95% interval as a whisker; groups not shown ('x') are left out and named in the caption.

    `table` has the columns name, estimate, ci_low, ci_high, suppressed; the bars keep its row order.
    """
    shown = table.filter(~pl.col("suppressed") & pl.col("estimate").is_not_null()).to_pandas()
    # Every group gets its own label: Vega would hide every other label when rows are thinner than the text.
    y = alt.Y("name:N", title=None, sort=shown["name"].tolist(), axis=alt.Axis(labelLimit=220, labelOverlap=False))
    tooltip = [
        alt.Tooltip("name:N", title="Groep"),
        alt.Tooltip("estimate:Q", title="Schatting", format=number_format),
        alt.Tooltip("ci_low:Q", title="Interval van", format=number_format),
        alt.Tooltip("ci_high:Q", title="Interval tot", format=number_format),
    ]
    base = alt.Chart(shown).encode(y=y)
    x = alt.X("estimate:Q", title=axis_title, axis=alt.Axis(tickCount=5))
    bars = base.mark_bar(color=BAND_COLOUR, height={"band": 0.7}).encode(x=x, tooltip=tooltip)
    whiskers = base.mark_errorbar(ticks=True, color=LINE_COLOUR, thickness=2).encode(
        x=alt.X("ci_low:Q", title=axis_title), x2="ci_high:Q", tooltip=tooltip)
    zero = alt.Chart(pd.DataFrame({"zero": [0]})).mark_rule(color="gray").encode(x=alt.datum(0))
    # The height is the whole chart: 34 px per group plus about 120 px for the title and the axis below.
    return _dutch((bars + whiskers + zero).properties(height=34 * len(shown) + 120, title=title))


def running_chart(series: pl.DataFrame, title: str) -> alt.TopLevelMixin:
    """The running number of responding firms per day of an open proposal, with its 95% band.

    `series` has the columns date, estimate, ci_low, ci_high.
    """
    data = series.to_pandas()
    x = alt.X("date:T", title="Dag", axis=alt.Axis(format="%d-%m"))
    tooltip = [alt.Tooltip("date:T", title="Dag", format="%d-%m-%Y"), alt.Tooltip("estimate:Q", title="Bedrijven (ongeveer)", format=",.0f"),
               alt.Tooltip("ci_low:Q", title="Interval van", format=",.0f"), alt.Tooltip("ci_high:Q", title="Interval tot", format=",.0f")]
    base = alt.Chart(data).encode(x=x)
    band = base.mark_area(opacity=0.35, color=BAND_COLOUR).encode(y=alt.Y("ci_low:Q", title="Bedrijven (tot nu toe)"), y2="ci_high:Q")
    line = base.mark_line(point=True, color=LINE_COLOUR, strokeWidth=3).encode(y="estimate:Q", tooltip=tooltip)
    return _dutch((band + line).properties(height=260, title=title))
