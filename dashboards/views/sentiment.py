"""Analyst page: economic sentiment (mean and median) over the waves, and the challenges firms name."""

import polars as pl
import streamlit as st

from core import reference
from dashboards import auth
from dashboards.cgc import challenge_shares, median_answer, profile_releases, sentiment_series
from dashboards.charts import challenges_chart, sentiment_chart, show_chart
from dashboards.formatting import INTERVAL_LINE, nl_interval, nl_number, wave_name
from dashboards.groups import group_name
from dashboards.released import suppression_reasons

auth.require(*auth.STAFF)  # every page checks the role itself, not only the menu

st.title("Sentiment en uitdagingen")
st.write(
    "Hoe kijken ondernemers naar de economie voor hun bedrijf, de komende drie maanden? "
    "Ze geven een score van 1 (zeer negatief) tot 5 (zeer positief). "
    "Daarnaast noemen ze de grootste uitdagingen voor hun bedrijf."
)

cells = profile_releases()
if cells.is_empty():
    st.info("Er zijn nog geen gepubliceerde cijfers. Kom later terug.")
    st.stop()

choice = st.selectbox("Groep", ["NL", *reference.sector_codes()], key="profile_group",
                      format_func=lambda s: "Heel Nederland" if s == "NL" else group_name("sector", s))
sector = None if choice == "NL" else choice
place = group_name("sector", sector)

series = sentiment_series(cells, sector)
shown = series.filter(~pl.col("suppressed"))
if shown.is_empty():
    st.warning(f"Voor {place} tonen we geen sentiment: {'; '.join(suppression_reasons(series)) or 'geen cijfers'}.")
else:
    means, medians = shown.filter(pl.col("figure") == "Gemiddelde"), shown.filter(pl.col("figure") == "Mediaan")
    a, b, c = st.columns(3)
    if means.height:
        latest = means.row(-1, named=True)
        previous = means.row(-2, named=True) if means.height > 1 else None
        a.metric(f"Gemiddeld sentiment ({wave_name(latest['period'])})", nl_number(latest["estimate"], 2),
                 None if previous is None else
                 f"{nl_number(latest['estimate'] - previous['estimate'], 2, signed=True)} t.o.v. {wave_name(previous['period'])}",
                 help=f"Op een schaal van 1 tot 5. 95%-interval: {nl_interval(latest['ci_low'], latest['ci_high'], 2)}.")
    if medians.height:
        median = medians.row(-1, named=True)
        b.metric(f"Middelste antwoord ({wave_name(median['period'])})", median_answer(median["estimate"]),
                 help=f"De mediaan is {nl_number(median['estimate'], 2)} "
                      f"(95%-interval {nl_interval(median['ci_low'], median['ci_high'], 2)}).")
    respondents = shown["respondents"].drop_nulls()
    if respondents.len():
        c.metric("Aantal bedrijven (ongeveer)", nl_number(respondents[-1], 0))
    show_chart(sentiment_chart(series, f"Economisch sentiment, {place}"))
    st.caption(
        "De banden zijn de 95%-intervallen. " + INTERVAL_LINE + " De mediaan is berekend over klassen: een waarde van 4 tot 5 betekent "
        "dat het middelste antwoord 'Positief' is. Vergelijk de mediaan daarom niet direct met het gemiddelde."
    )

shares = challenge_shares(cells, sector)
if shares.is_empty() or shares["suppressed"].all():
    st.warning(f"Voor {place} tonen we geen uitdagingen: te weinig antwoorden.")
else:
    period = shares["period"][0]
    st.header(f"Grootste uitdagingen in {wave_name(period)}")
    show_chart(challenges_chart(shares, f"Bedrijven die deze uitdaging noemen, {place}"))
    hidden = shares.filter(pl.col("suppressed"))["label"].to_list()
    st.caption(
        "Een bedrijf kan meer uitdagingen noemen; de percentages tellen dus niet op tot 100. "
        "De zwarte streepjes zijn de 95%-intervallen."
        + (f" Niet getoond (x): {', '.join(hidden)}." if hidden else "")
    )
