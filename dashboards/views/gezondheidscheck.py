"""Analyst page: balance indicators of the CGC over the waves, nationally or per sector."""

import altair as alt
import polars as pl
import streamlit as st

from core import reference
from core.survey import cgc_survey
from dashboards.data import balance_releases, national_series
from privacy.config import privacy_config

st.title("Gezondheidscheck van het MKB")
st.write(
    "Hoe gaat het met het MKB? Elke maand beantwoorden ondernemers een korte vragenlijst. "
    "Het **saldo** is het percentage positieve antwoorden min het percentage negatieve antwoorden. "
    "Alle cijfers zijn anoniem gemaakt met differentiële privacy: er is een kleine, bekende hoeveelheid ruis toegevoegd."
)

releases = balance_releases()
if releases.is_empty():
    st.info("Er zijn nog geen gepubliceerde cijfers. Start de pipeline (`mkbvm run`) en kom daarna terug.")
    st.stop()

release_config = privacy_config().releases["cgc_balance"]
survey = cgc_survey()
sector_names = reference.sector_names()
left, right = st.columns(2)
question = left.selectbox(
    "Onderwerp", release_config.questions, format_func=lambda q: survey.questions[q].short_label, key="question"
)
sector_choice = right.selectbox(
    "Sector",
    ["NL", *reference.sector_codes()],
    format_func=lambda s: "Heel Nederland" if s == "NL" else f"{s} – {sector_names[s]}",
    key="sector",
)
sector = None if sector_choice == "NL" else sector_choice
series = national_series(releases, question, sector)
shown = series.filter(~pl.col("suppressed"))
place = "Nederland" if sector is None else sector_names[sector]

if shown.is_empty():
    st.warning(f"Voor {place} zijn te weinig antwoorden om cijfers te tonen (minder dan {release_config.suppression_threshold} bedrijven per meting).")
    st.stop()

latest = shown.row(-1, named=True)
previous = shown.row(-2, named=True) if shown.height > 1 else None
a, b, c = st.columns(3)
a.metric(
    f"Saldo {survey.questions[question].short_label.lower()} ({latest['wave']})",
    f"{latest['balance']:+.1f}",
    None if previous is None else f"{latest['balance'] - previous['balance']:+.1f} t.o.v. {previous['wave']}",
)
b.metric("95%-interval", f"{latest['balance_ci_low']:+.1f} tot {latest['balance_ci_high']:+.1f}")
c.metric("Aantal bedrijven (ongeveer)", f"{latest['respondents']:,}".replace(",", "."))

chart_data = series.select("wave", "balance", "balance_ci_low", "balance_ci_high", "respondents").to_pandas()
base = alt.Chart(chart_data).encode(x=alt.X("wave:N", title="Meting"))
band = base.mark_area(opacity=0.25).encode(y=alt.Y("balance_ci_low:Q", title="Saldo (procentpunten)"), y2="balance_ci_high:Q")
line = base.mark_line(point=True).encode(
    y="balance:Q",
    tooltip=[
        alt.Tooltip("wave:N", title="Meting"),
        alt.Tooltip("balance:Q", title="Saldo", format="+.1f"),
        alt.Tooltip("balance_ci_low:Q", title="Interval van", format="+.1f"),
        alt.Tooltip("balance_ci_high:Q", title="Interval tot", format="+.1f"),
        alt.Tooltip("respondents:Q", title="Bedrijven"),
    ],
)
zero = alt.Chart().mark_rule(strokeDash=[4, 4], color="gray").encode(y=alt.datum(0))
st.altair_chart((band + line + zero).properties(height=380, title=f"Saldo {survey.questions[question].short_label.lower()}, {place}"), width="stretch")
st.caption(
    "De band is het 95%-betrouwbaarheidsinterval van de privacyruis: het exacte saldo onder de deelnemers ligt daar met 95% zekerheid binnen. "
    "Een onderbreking in de lijn betekent: te weinig antwoorden in die meting."
)

st.subheader(f"Per sector in {latest['wave']}")
per_sector = releases.filter((pl.col("level") == "sector") & (pl.col("question") == question) & (pl.col("wave") == latest["wave"]))
table = per_sector.select(
    pl.col("sector").replace_strict(sector_names, default=None).alias("Sector"),
    pl.when(pl.col("suppressed")).then(pl.lit("x")).otherwise(pl.col("balance").round(1).cast(pl.Utf8)).alias("Saldo"),
    pl.when(pl.col("suppressed")).then(pl.lit("x"))
    .otherwise(pl.format("{} tot {}", pl.col("balance_ci_low").round(1), pl.col("balance_ci_high").round(1))).alias("95%-interval"),
    pl.col("respondents").alias("Bedrijven (ongeveer)"),
)
st.dataframe(table, hide_index=True, width="stretch")
st.caption("x = niet getoond: te weinig bedrijven om een betrouwbaar en anoniem cijfer te geven.")
