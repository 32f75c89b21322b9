"""Altair charts of released figures, with Dutch labels and number notation, each with its text alternative.

Every chart function returns a `Chart`: the figure, one plain Dutch summary of what it shows (the latest value and its
direction, or the highest and lowest group) and the table behind it. `show_chart` puts all three on the page, so a
person who cannot see the chart (a screen reader reads the summary, which is also the chart's aria-label) loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import altair as alt
import pandas as pd
import polars as pl

from dashboards.formatting import SUPPRESSED, nl_date, nl_interval, nl_number, wave_name

# Decimal comma and thousands point in axes and tooltips.
DUTCH_NUMBERS = {"number": {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["€ ", ""]}}
# The band behind a line is a light tint; bars, lines and markers have at least 3:1 against white (WCAG 1.4.11), and a
# whisker on a bar is dark enough to stand out against the bar.
BAND_COLOUR, BAR_COLOUR, LINE_COLOUR, DROP_COLOUR, WHISKER_COLOUR = "#9ecae1", "#4a8cc7", "#1f6fb4", "#c0392b", "#222222"
MEDIAN_COLOUR = "#c25e00"
SIGNAL_COLOUR = "#b35900"  # an early warning's 'signaal' (an 'alarm' is DROP_COLOUR): 4.8:1 against white
TEXT_COLOUR = "#333333"  # axis labels, titles and legends: 12.6:1 against white
CATEGORY_COLOURS = ["#1f6fb4", "#c0392b", "#2e7d32", "#6a3d9a", "#8c564b"]  # each at least 5:1 against white


@dataclass(frozen=True)
class Chart:
    """A chart with its text alternative: `summary` is one or two plain Dutch sentences, `table` the figures as text."""

    figure: alt.TopLevelMixin
    summary: str
    table: pl.DataFrame


def show_chart(chart: Chart) -> None:
    """The chart, its summary as a line below it (and as its aria-label), and its table one click away."""
    import streamlit as st

    from dashboards.safe import md

    st.altair_chart(chart.figure.properties(description=chart.summary), width="stretch")
    st.markdown(md(chart.summary))  # titles can be a proposal's title: plain text, never Markdown
    with st.expander("Tabel bij deze grafiek"):
        st.dataframe(chart.table, hide_index=True, width="stretch")


def _change(latest: float, previous: float, decimals: int, unit: str = "") -> str:
    """'3,2 punten hoger', '0,10 lager', 'gelijk' (the change rounded as the figures are shown)."""
    change = round(latest - previous, decimals)
    if change == 0:
        return "gelijk"
    return f"{nl_number(abs(change), decimals)}{unit} {'hoger' if change > 0 else 'lager'}"


def _shown(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(~pl.col("suppressed") & pl.col("estimate").is_not_null())


def _cell(row: dict, column: str, decimals: int, signed: bool = False) -> str:
    return SUPPRESSED if row.get("suppressed") or row[column] is None else nl_number(row[column], decimals, signed)


def _interval_cell(row: dict, decimals: int, signed: bool = False) -> str:
    if row.get("suppressed") or row["ci_low"] is None or row["ci_high"] is None:
        return SUPPRESSED
    return nl_interval(row["ci_low"], row["ci_high"], decimals, signed)


def _dutch(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Dutch number notation, and text large and dark enough to read (Vega's grey labels are 3.5:1 against white; 4.5:1 is the rule)."""
    return chart.configure(locale=DUTCH_NUMBERS).configure_axis(
        labelFontSize=13, titleFontSize=13, labelColor=TEXT_COLOUR, titleColor=TEXT_COLOUR
    ).configure_legend(labelFontSize=13, titleFontSize=13, labelColor=TEXT_COLOUR, titleColor=TEXT_COLOUR, orient="bottom").configure_title(
        color=TEXT_COLOUR
    )


def _with_wave_names(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("period").map_elements(wave_name, return_dtype=pl.Utf8).alias("wave"))


def balance_summary(series: pl.DataFrame, title: str) -> str:
    """The latest shown balance with its interval, and how it moved since the wave shown before it.

    >>> s = pl.DataFrame({"period": ["2026-09", "2026-10"], "estimate": [5.0, -2.25], "ci_low": [1.0, -6.0], "ci_high": [9.0, 1.5],
    ...                   "suppressed": [False, False], "clear_drop": [False, True]})
    >>> balance_summary(s, "Saldo orderportefeuille, Heel Nederland")
    'Saldo orderportefeuille, Heel Nederland. In okt 2026 is het saldo -2,2 (95%-interval -6,0 tot +1,5). Dat is 7,2 punten lager dan in sep 2026: een duidelijke daling.'
    """
    shown = _shown(series)
    if shown.is_empty():
        return f"{title}. Er zijn geen saldo's om te tonen."
    latest = shown.row(-1, named=True)
    text = (f"{title}. In {wave_name(latest['period'])} is het saldo {nl_number(latest['estimate'], 1, signed=True)} "
            f"(95%-interval {nl_interval(latest['ci_low'], latest['ci_high'], 1, signed=True)}).")
    if shown.height > 1:
        previous = shown.row(-2, named=True)
        text += f" Dat is {_change(latest['estimate'], previous['estimate'], 1, ' punten')} dan in {wave_name(previous['period'])}"
        if latest.get("alert"):
            text += f": een {latest['alert']} (vroege waarschuwing)."
        else:
            text += ": een duidelijke daling." if latest.get("clear_drop") and "alert" not in latest else "."
    return text


def balance_table(series: pl.DataFrame) -> pl.DataFrame:
    rows = [{"Meting": wave_name(row["period"]), "Saldo": _cell(row, "estimate", 1, signed=True),
             "95%-interval": _interval_cell(row, 1, signed=True),
             "Bedrijven (ongeveer)": nl_number(row["respondents"], 0) if row.get("respondents") is not None else SUPPRESSED,
             "Waarschuwing": (row.get("alert") or "") if "alert" in series.columns else ("duidelijke daling" if row.get("clear_drop") else "")}
            for row in series.iter_rows(named=True)]
    return pl.DataFrame(rows, schema=["Meting", "Saldo", "95%-interval", "Bedrijven (ongeveer)", "Waarschuwing"], orient="row")


def balance_chart(series: pl.DataFrame, title: str) -> Chart:
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
    zero = alt.Chart(pd.DataFrame({"zero": [0]})).mark_rule(strokeDash=[4, 4], color="gray", aria=False).encode(y=alt.datum(0))
    layers = band + zero + whiskers + line
    if "alert" in data.columns and (data["alert"].fillna("") != "").any():  # early warnings (privacy/alerts.py): orange signaal, red alarm
        colour = alt.Color("alert:N", title="Waarschuwing", scale=alt.Scale(domain=["signaal", "alarm"], range=[SIGNAL_COLOUR, DROP_COLOUR]))
        layers += (
            base.transform_filter(alt.datum.alert != "")
            .mark_point(shape="triangle-down", size=260, filled=True, opacity=1)
            .encode(y="estimate:Q", color=colour, tooltip=[*tooltip, alt.Tooltip("alert_reason:N", title="Waarom")])
        )
    elif "alert" not in data.columns and data["clear_drop"].any():  # a layer without points would be an unnamed graphic for a screen reader
        layers += (
            base.transform_filter(alt.datum.clear_drop)
            .mark_point(shape="triangle-down", size=260, filled=True, color=DROP_COLOUR, opacity=1)
            .encode(y="estimate:Q", tooltip=tooltip)
        )
    figure = _dutch(layers.properties(height=360, title=title))
    return Chart(figure, balance_summary(series, title), balance_table(series))


def sentiment_summary(series: pl.DataFrame, title: str) -> str:
    """The latest mean sentiment with its interval and direction, and the latest median."""
    shown = _shown(series)
    means, medians = shown.filter(pl.col("figure") == "Gemiddelde"), shown.filter(pl.col("figure") == "Mediaan")
    if means.is_empty() and medians.is_empty():
        return f"{title}. Er zijn geen cijfers om te tonen."
    text = f"{title}."
    if means.height:
        latest = means.row(-1, named=True)
        text += (f" In {wave_name(latest['period'])} is het gemiddelde {nl_number(latest['estimate'], 2)} op een schaal van 1 tot 5 "
                 f"(95%-interval {nl_interval(latest['ci_low'], latest['ci_high'], 2)}).")
        if means.height > 1:
            previous = means.row(-2, named=True)
            text += f" Dat is {_change(latest['estimate'], previous['estimate'], 2)} dan in {wave_name(previous['period'])}."
    if medians.height:
        median = medians.row(-1, named=True)
        text += f" De mediaan is {nl_number(median['estimate'], 2)}."
    return text


def sentiment_table(series: pl.DataFrame) -> pl.DataFrame:
    rows = [{"Meting": wave_name(row["period"]), "Maat": row["figure"], "Waarde": _cell(row, "estimate", 2),
             "95%-interval": _interval_cell(row, 2)} for row in series.iter_rows(named=True)]
    return pl.DataFrame(rows, schema=["Meting", "Maat", "Waarde", "95%-interval"], orient="row")


def sentiment_chart(series: pl.DataFrame, title: str) -> Chart:
    """Mean and median sentiment per wave, each with its 95% band."""
    data = _with_wave_names(series).to_pandas()
    order = list(dict.fromkeys(data["wave"]))
    colour = alt.Color("figure:N", title=None, scale=alt.Scale(domain=["Gemiddelde", "Mediaan"], range=[LINE_COLOUR, MEDIAN_COLOUR]))
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
    figure = _dutch((band + line).properties(height=400, title=title))
    return Chart(figure, sentiment_summary(series, title), sentiment_table(series))


def ranking_summary(table: pl.DataFrame, title: str, decimals: int = 0, unit: str = "", label: str = "name") -> str:
    """The highest and the lowest shown group, and how many groups are not shown.

    >>> t = pl.DataFrame({"name": ["A", "B", "C"], "estimate": [10.0, 30.0, None], "suppressed": [False, False, True]})
    >>> ranking_summary(t, "Kosten per sector")
    'Kosten per sector. Het hoogst is B (30), het laagst A (10). 1 groep tonen we niet (x).'
    """
    shown = _shown(table).sort("estimate", descending=True, maintain_order=True)
    hidden = table.height - shown.height
    if shown.is_empty():
        text = f"{title}. Er zijn geen cijfers om te tonen."
    elif shown.height == 1:
        text = f"{title}. {shown[label][0]}: {nl_number(shown['estimate'][0], decimals)}{unit}."
    else:
        high, low = shown.row(0, named=True), shown.row(-1, named=True)
        text = (f"{title}. Het hoogst is {high[label]} ({nl_number(high['estimate'], decimals)}{unit}), "
                f"het laagst {low[label]} ({nl_number(low['estimate'], decimals)}{unit}).")
    if hidden:
        text += f" {hidden} {'groep' if hidden == 1 else 'groepen'} tonen we niet (x)."
    return text


def challenges_chart(shares: pl.DataFrame, title: str) -> Chart:
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
    bars = base.mark_bar(color=BAR_COLOUR).encode(
        x=alt.X("estimate:Q", title="Bedrijven die dit noemen (%)", scale=alt.Scale(domain=[0, 100])), tooltip=tooltip
    )
    errors = base.mark_errorbar(ticks=True, color=WHISKER_COLOUR).encode(
        x=alt.X("ci_low:Q", title="Bedrijven die dit noemen (%)"), x2="ci_high:Q"
    )
    figure = _dutch((bars + errors).properties(height=44 * len(data) + 100, title=title))
    rows = [{"Uitdaging": row["label"], "Genoemd door": SUPPRESSED if row["suppressed"] else f"{nl_number(row['estimate'], 0)}%",
             "95%-interval": _interval_cell(row, 0)} for row in shares.iter_rows(named=True)]
    table = pl.DataFrame(rows, schema=["Uitdaging", "Genoemd door", "95%-interval"], orient="row")
    summary = ranking_summary(shares, title, 0, "%", label="label").replace("Het hoogst is", "Het vaakst genoemd:").replace(
        ", het laagst", "; het minst").replace("groep tonen", "uitdaging tonen").replace("groepen tonen", "uitdagingen tonen")
    return Chart(figure, summary, table)


def budget_chart(budget: pl.DataFrame, title: str) -> Chart:
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
    rule = alt.Chart(one_row).mark_rule(color=DROP_COLOUR, strokeWidth=2, strokeDash=[6, 3],
                                        description=f"Budget per meting: {nl_number(limit, 2)}").encode(y=alt.datum(limit))
    label = alt.Chart(one_row).mark_text(align="left", dx=4, dy=-8, color=DROP_COLOUR, fontSize=13).encode(
        x=alt.value(0), y=alt.datum(limit), text=alt.value("budget per meting")
    )
    layers = bars if pd.isna(limit) else bars + rule + label
    latest = budget.row(-1, named=True)
    summary = (f"{title}. In {wave_name(latest['period'])} is {nl_number(latest['epsilon_spent'], 2)} verbruikt"
               + ("." if latest["epsilon_budget"] is None else f" van het budget van {nl_number(latest['epsilon_budget'], 2)}.")
               + f" Het meeste in één meting: {nl_number(budget['epsilon_spent'].max(), 2)}.")
    rows = [{"Meting": wave_name(row["period"]), "Verbruikt (epsilon)": nl_number(row["epsilon_spent"], 2),
             "Budget (epsilon)": nl_number(row["epsilon_budget"], 2), "Publicaties": str(row["releases"])} for row in budget.iter_rows(named=True)]
    table = pl.DataFrame(rows, schema=["Meting", "Verbruikt (epsilon)", "Budget (epsilon)", "Publicaties"], orient="row")
    return Chart(_dutch(layers.properties(height=300, title=title)), summary, table)


def group_bars(table: pl.DataFrame, title: str, axis_title: str, decimals: int = 0) -> Chart:
    """One bar per group with its 95% interval as a whisker; groups not shown ('x') are left out and named in the caption.

    `table` has the columns name, estimate, ci_low, ci_high, suppressed; the bars keep its row order.
    """
    number_format = f",.{decimals}f"
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
    bars = base.mark_bar(color=BAR_COLOUR, height={"band": 0.7}).encode(x=x, tooltip=tooltip)
    whiskers = base.mark_errorbar(ticks=True, color=WHISKER_COLOUR, thickness=2).encode(
        x=alt.X("ci_low:Q", title=axis_title), x2="ci_high:Q", tooltip=tooltip)
    zero = alt.Chart(pd.DataFrame({"zero": [0]})).mark_rule(color="gray", aria=False).encode(x=alt.datum(0))  # decorative
    # The height is the whole chart: 34 px per group plus about 120 px for the title and the axis below.
    figure = _dutch((bars + whiskers + zero).properties(height=34 * len(shown) + 120, title=title))
    rows = [{"Groep": row["name"], axis_title: _cell(row, "estimate", decimals), "95%-interval": _interval_cell(row, decimals)}
            for row in table.iter_rows(named=True)]
    return Chart(figure, ranking_summary(table, title, decimals),
                 pl.DataFrame(rows, schema=["Groep", axis_title, "95%-interval"], orient="row"))


def _day(value) -> str:
    return nl_date(value) if isinstance(value, date) else str(value)


def running_chart(series: pl.DataFrame, title: str) -> Chart:
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
    figure = _dutch((band + line).properties(height=260, title=title))
    rows = [{"Dag": _day(row["date"]), "Bedrijven (ongeveer)": nl_number(row["estimate"], 0), "95%-interval": _interval_cell(row, 0)}
            for row in series.iter_rows(named=True)]
    if series.is_empty():
        summary = f"{title}. Er is nog geen tussenstand."
    else:
        latest, first = series.row(-1, named=True), series.row(0, named=True)
        summary = (f"{title}. Op {_day(latest['date'])} hebben ongeveer {nl_number(latest['estimate'], 0)} bedrijven dit voorstel "
                   f"ingeschat (95%-interval {nl_interval(latest['ci_low'], latest['ci_high'], 0)})."
                   + (f" Op {_day(first['date'])} waren het er ongeveer {nl_number(first['estimate'], 0)}." if series.height > 1 else ""))
    return Chart(figure, summary, pl.DataFrame(rows, schema=["Dag", "Bedrijven (ongeveer)", "95%-interval"], orient="row"))


def outcome_trend_chart(trend: pl.DataFrame, title: str) -> Chart:
    """Share of the small debts per advice per month (the nation), with 95% intervals as error bars.

    `trend` has the columns maand, uitkomst, aandeel, laag, hoog (dashboards.debt_figures.outcome_trend).
    """
    data = trend.with_columns(pl.col("maand").map_elements(wave_name, return_dtype=pl.Utf8).alias("meting")).to_pandas()
    order = list(dict.fromkeys(data["meting"]))
    base = alt.Chart(data).encode(x=alt.X("meting:N", title="Maand", sort=order, axis=alt.Axis(labelAngle=0)),
                                  color=alt.Color("uitkomst:N", title="Advies", scale=alt.Scale(range=CATEGORY_COLOURS)))
    tooltip = [alt.Tooltip("meting:N", title="Maand"), alt.Tooltip("uitkomst:N", title="Advies"),
               alt.Tooltip("aandeel:Q", title="Aandeel (%)", format=".0f"), alt.Tooltip("laag:Q", title="Interval van (%)", format=".0f"),
               alt.Tooltip("hoog:Q", title="Interval tot (%)", format=".0f")]
    lines = base.mark_line(point=True, strokeWidth=3).encode(y=alt.Y("aandeel:Q", title="Aandeel van de kleine schulden (%)"), tooltip=tooltip)
    errors = base.mark_errorbar(ticks=True).encode(y=alt.Y("laag:Q", title="Aandeel van de kleine schulden (%)"), y2="hoog:Q")
    figure = _dutch((lines + errors).properties(height=320, title=title))
    latest_month = trend["maand"].max()
    latest = trend.filter(pl.col("maand") == latest_month).sort("aandeel", descending=True)
    summary = f"{title}. In {wave_name(latest_month)}: " + ", ".join(
        f"{row['uitkomst'].lower()} {nl_number(row['aandeel'], 0)}%" for row in latest.iter_rows(named=True)) + "."
    rows = [{"Maand": wave_name(row["maand"]), "Advies": row["uitkomst"], "Aandeel": f"{nl_number(row['aandeel'], 0)}%",
             "95%-interval": f"{nl_interval(row['laag'], row['hoog'], 0)}%"} for row in trend.iter_rows(named=True)]
    return Chart(figure, summary, pl.DataFrame(rows, schema=["Maand", "Advies", "Aandeel", "95%-interval"], orient="row"))
