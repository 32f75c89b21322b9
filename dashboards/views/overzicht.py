"""Analysts' home: the state of SMEs at a glance, from released figures only (dashboards/overview.py)."""

from datetime import date

import polars as pl
import streamlit as st

from accounts.service import record_event
from accounts.store import store
from content.proposals import PHASES, list_proposals
from core.survey import cgc_survey
from dashboards import auth
from dashboards.alerts import latest_alerts, stored_alerts, top_alerts
from dashboards.cgc import balance_questions, balance_releases
from dashboards.debt_figures import kpi_cells
from dashboards.dis import impact_releases
from dashboards.formatting import INTERVAL_LINE, SUPPRESSED, wave_name
from dashboards.overview import balance_state, debt_headline, pipeline_table
from dashboards.safe import csv_download, md, parquet_download
from debts.pipeline import kpi_settings
from privacy.weighting import weighted_release

account = auth.require(*auth.STAFF)  # every page checks the role itself


def downloads(frame: pl.DataFrame, name: str, key: str) -> None:
    """The table as CSV and as Parquet; each download goes into the audit trail."""

    def logged(kind: str):
        def record() -> None:
            with store() as connection:
                record_event(connection, account, "export", f"overzicht {name}", {"page": "overzicht", "format": kind})
        return record

    left, right = st.columns(2)
    left.download_button("Download als CSV", csv_download(frame), file_name=f"overzicht_{name}_{date.today():%Y%m%d}.csv",
                         mime="text/csv", on_click=logged("csv"), key=f"{key}_csv")
    right.download_button("Download als Parquet", parquet_download(frame), file_name=f"overzicht_{name}_{date.today():%Y%m%d}.parquet",
                          mime="application/octet-stream", on_click=logged("parquet"), key=f"{key}_parquet")


st.title("Overzicht")
st.write("Hoe gaat het met het MKB, wat komt er aan regels aan, en hoe gaat het met kleine schulden? Alle cijfers zijn anoniem "
         "gemaakt met een beetje ruis; tussen haakjes of na ± staat hoe zeker ze zijn.")

st.header("Hoe gaat het met het MKB?")
cells = balance_releases()
if cells.is_empty():
    st.info("Er zijn nog geen cijfers van de Gezondheidscheck gepubliceerd.")
else:
    survey = cgc_survey()
    labels = {q: survey.questions[q].short_label for q in balance_questions()}
    try:
        weighted = weighted_release(cells)
    except (KeyError, ValueError):  # no size-class level in this release: show the unweighted figures only
        weighted = None
    state = balance_state(cells, labels, weighted)
    st.table(state.select("Onderwerp", "Meting", "Saldo", "95%-interval", "Richting", "Gewogen saldo", "Gewogen interval"),
             hide_index=True)
    st.caption(
        "Saldo = procent positieve min procent negatieve antwoorden. Richting: hoger of lager dan de meting ervoor, alleen als het "
        "verschil groter is dan de onzekerheid van beide metingen. Gewogen: zoals alle bedrijven in Nederland verdeeld zijn over "
        f"de grootteklassen (CBS). {SUPPRESSED} = niet getoond, te onzeker. " + INTERVAL_LINE
    )
    downloads(state, "gezondheidscheck", "state")
    st.page_link(auth.view_file("gezondheidscheck"), label="Meer over de Gezondheidscheck: per sector, provincie en grootte", icon="📈")

st.header("Vroege waarschuwingen")
alerts = stored_alerts()  # made by the pipeline from released figures only (privacy/alerts.py)
newest = latest_alerts(alerts, "cgc", limit=5)
if newest.is_empty():
    st.write("Er zijn nu geen waarschuwingen: geen saldo daalt meer dan de ruis, de steekproef en de gewone schommelingen verklaren.")
else:
    st.write(f"De nieuwste waarschuwingen, uit {wave_name(newest['period'][0])} (alarmen eerst):")
    st.markdown("\n".join(f"- **{row['alert'].capitalize()}**: {md(row['reason'])}" for row in newest.iter_rows(named=True)))
    downloads(newest.select("source", "period", "level", "measure", "alert", "reason"), "waarschuwingen", "alerts")
burden_alerts = top_alerts(alerts, "dis", limit=3)
if not burden_alerts.is_empty():
    st.write("Stapeling van regeldruk, de sterkste waarschuwingen:")
    st.markdown("\n".join(f"- **{row['alert'].capitalize()}**: {md(row['reason'])}" for row in burden_alerts.iter_rows(named=True)))

st.header("Beleidspijplijn")
with store() as connection:
    proposals = list_proposals(connection)
if not proposals:
    st.info("Er staan nog geen voorstellen in de beleidspijplijn.")
else:
    pipeline = pipeline_table(proposals, impact_releases(), PHASES)
    st.table(pipeline, hide_index=True)
    st.caption("Per fase: de voorstellen, en hun gevolgen samen voor een gemiddeld bedrijf in Nederland (alleen voorstellen met "
               "gepubliceerde cijfers). ± is de marge van het 95%-interval; de marges tellen op als onafhankelijke fouten.")
    downloads(pipeline, "beleidspijplijn", "pipeline")
    st.page_link(auth.view_file("dis-stapeling"), label="Stapeling per sector, grootteklasse en provincie", icon="📚")

st.header("Kleine schulden")
headline = debt_headline(kpi_cells(), float(kpi_settings().cost_per_avoided_case))
if headline is None:
    st.info("Er zijn nog geen cijfers over kleine schulden gepubliceerd.")
else:
    table = pl.DataFrame([headline])
    st.table(table, hide_index=True)
    st.caption("Heel Nederland, de nieuwste maand: kleine schulden (minder dan 100 euro) en wat de regels ermee deden. "
               "Tussen haakjes het 95%-interval.")
    downloads(table, "kleine_schulden", "debts")
    st.page_link(auth.view_file("schulden"), label="Meer over kleine schulden en vroegsignalering", icon="💶")
