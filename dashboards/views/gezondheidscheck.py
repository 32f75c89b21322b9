"""Analyst page: balance indicators of the CGC over the waves, nationally or per sector, province or size class."""

import polars as pl
import streamlit as st

from accounts.service import record_event
from accounts.store import store
from core.survey import cgc_survey
from dashboards import auth
from dashboards.alerts import latest_alerts, series_alerts, stored_alerts, with_alerts
from dashboards.cgc import balance_questions, balance_releases, balance_series, group_overview, overview_table
from dashboards.charts import balance_chart, show_chart
from dashboards.formatting import INTERVAL_LINE, nl_interval, nl_number, wave_name
from dashboards.groups import LEVEL_NAMES, group_codes, group_name
from dashboards.released import suppression_reasons
from dashboards.safe import csv_download, md
from privacy.alerts import alert_rule

account = auth.require(*auth.STAFF)  # every page checks the role itself, not only the menu

BREAKDOWNS = {"nation": "Heel Nederland", "sector": "Per sector", "province": "Per provincie", "size_class": "Per grootteklasse"}

st.title("Gezondheidscheck van het MKB")
st.write(
    "Hoe gaat het met het MKB? Elke maand beantwoorden ondernemers een korte vragenlijst. "
    "Het **saldo** is het percentage positieve antwoorden min het percentage negatieve antwoorden. "
    "Alle cijfers zijn anoniem gemaakt: er is een kleine, bekende hoeveelheid ruis toegevoegd."
)

cells = balance_releases()
if cells.is_empty():
    st.info("Er zijn nog geen gepubliceerde cijfers. Kom later terug.")
    st.stop()

survey = cgc_survey()
left, middle, right = st.columns(3)
question = left.selectbox("Onderwerp", balance_questions(), format_func=lambda q: survey.questions[q].short_label, key="question")
level = middle.selectbox("Uitsplitsing", list(BREAKDOWNS), format_func=BREAKDOWNS.get, key="level")
group = None
if level != "nation":
    group = right.selectbox(
        LEVEL_NAMES[level], group_codes(level), format_func=lambda g: group_name(level, g), key=f"group_{level}"
    )
topic, place = survey.questions[question].short_label, group_name(level, group)

alerts = stored_alerts()  # made by the pipeline from released figures (privacy/alerts.py)
series = with_alerts(balance_series(cells, question, level, group), series_alerts(alerts, "cgc", question, level, group))
shown = series.filter(~pl.col("suppressed"))
if shown.is_empty():
    reasons = "; ".join(suppression_reasons(series)) or "geen cijfers"
    st.warning(f"Voor {place} tonen we geen saldo: {reasons}. Kies een grotere groep.")
else:
    latest = shown.row(-1, named=True)
    previous = shown.row(-2, named=True) if shown.height > 1 else None
    a, b, c = st.columns(3)
    a.metric(
        f"Saldo {topic.lower()} ({wave_name(latest['period'])})",
        nl_number(latest["estimate"], 1, signed=True),
        None if previous is None
        else f"{nl_number(latest['estimate'] - previous['estimate'], 1, signed=True)} t.o.v. {wave_name(previous['period'])}",
        help="Procent positief min procent negatief, in procentpunten (van -100 tot +100).",
    )
    b.metric("95%-interval", nl_interval(latest["ci_low"], latest["ci_high"], 1, signed=True),
             help="Het saldo van alle bedrijven ligt met 95% zekerheid binnen dit interval. " + INTERVAL_LINE)
    c.metric("Aantal bedrijven (ongeveer)", nl_number(latest["respondents"], 0),
             help="Hoeveel bedrijven de vragenlijst invulden. Ook dit getal bevat een beetje ruis.")
    if latest["alert"]:
        # a warning, not an error: the page works; the figure tells something (the browser tests look for errors)
        st.warning(f"**{latest['alert'].capitalize()} in {wave_name(latest['period'])}.** {md(latest['alert_reason'])}")

    show_chart(balance_chart(series, f"Saldo {topic.lower()}, {place}"))
    st.caption(
        "De lichte band is het 95%-interval: daarbinnen ligt het saldo van alle bedrijven. " + INTERVAL_LINE + " "
        "Een gat in de lijn betekent: te weinig antwoorden in die meting. "
        "Een oranje driehoek is een **signaal**: het saldo ligt zoveel lager dan het gemiddelde van de 3 metingen ervoor, "
        "dat de ruis, de steekproef en de gewone schommelingen van maand tot maand het niet verklaren. "
        "Een rode driehoek is een **alarm**: de daling is groot, houdt twee metingen aan of gaat sneller. "
        "Wijs met de muis een driehoek aan om te lezen waarom."
    )

st.subheader("Laatste waarschuwingen")
newest = latest_alerts(alerts, "cgc")
if newest.is_empty():
    st.caption(f"Er zijn geen waarschuwingen. Een waarschuwing komt als een saldo meer daalt dan de ruis, de steekproef en de "
               f"gewone schommelingen verklaren; daarvoor zijn eerst {alert_rule().min_history + 1} metingen nodig.")
else:
    st.write(f"De nieuwste waarschuwingen, uit {wave_name(newest['period'][0])}, voor alle onderwerpen en groepen (alarmen eerst):")
    st.markdown("\n".join(f"- **{row['alert'].capitalize()}**: {md(row['reason'])}" for row in newest.iter_rows(named=True)))
    st.caption("Een waarschuwing rekent met de onzekerheid van elk cijfer: een kleine groep heeft een grote marge, "
               "dus daar moet een daling groter zijn voordat we waarschuwen.")


table_level = "sector" if level == "nation" else level
period = cells["period"].max()
overview = group_overview(cells, question, table_level, period)
st.header(f"{topic} {BREAKDOWNS[table_level].lower()} in {wave_name(period)}")
st.table(overview_table(overview, table_level), hide_index=True)
reasons = suppression_reasons(overview)
st.caption(
    "x = dit cijfer tonen we niet" + (f" ({'; '.join(reasons)})" if reasons else "") + ". "
    "Bij zo weinig antwoorden is het cijfer te onzeker en zegt het te veel over losse bedrijven."
)


def _logged_download() -> None:
    """Downloads of figures are exports: each one goes into the audit trail."""
    with store() as connection:
        record_event(connection, account, "export", f"{question} {table_level} {period}", {"page": "gezondheidscheck", "format": "csv"})


st.download_button(
    "Download deze tabel (CSV)",
    csv_download(overview_table(overview, table_level)),
    file_name=f"saldo_{question}_{table_level}_{period}.csv",
    mime="text/csv",
    on_click=_logged_download,
    key="download_overview",
)

