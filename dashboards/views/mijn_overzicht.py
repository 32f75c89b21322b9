"""Respondents' home ('Mijn overzicht'): what waits for the firm, what it sent, how SMEs are doing, messages for it, and its own data.

Everything here is the firm's own (content/own_work.py) or released (the
national sentiment, differentially private); nothing about other firms. One
column, so it reads on a phone (375 px). "Uw gegevens" asks the pipeline for
everything it holds of the firm (recht op inzage, avg/requests.py) and hands
out the answer to this account only, each download in the audit trail.
"""

import json
import logging
import time
from datetime import date

import polars as pl
import streamlit as st

from accounts.settings import account_settings
from accounts.store import store
from avg.requests import document_rows, inzage_document, latest_inzage, request_inzage
from avg.settings import retention_settings
from content.own_work import open_tasks, own_answer, own_answers
from content.proposals import list_proposals
from dashboards import auth
from dashboards.announcements import show_for
from dashboards.cgc import profile_releases
from dashboards.comparisons import show_comparison, show_dis_comparison
from dashboards.formatting import nl_date, nl_interval, nl_number, wave_name
from dashboards.safe import csv_download, md

account = auth.require("respondent")  # every page checks the role itself
ICONS = {"cgc": "📝", "dis": "🧮", "consultation": "🗣️"}
KINDS = {"cgc": "Gezondheidscheck", "dis": "Impactinschatting", "consultation": "Reactie op een voorstel"}

st.title("Mijn overzicht")
st.write(f"Welkom, {md(account.name)}. Hier ziet u wat er voor uw bedrijf klaarstaat en wat u eerder heeft ingevuld.")

today = date.today()
with store() as connection:
    tasks = open_tasks(connection, account, today)
    answers = own_answers(connection, account, limit=5)
    titles = {p.id: p for p in list_proposals(connection)}

show_for(account)  # messages and working-group invitations for this firm

st.header("Wat staat er voor u klaar?")
if not tasks:
    st.success("U heeft alles ingevuld wat nu openstaat. Dank u wel!")
ACTIONS = {"cgc": "Gezondheidscheck invullen", "dis": "Impact inschatten", "consultation": "Reageren"}
for task in tasks:
    with st.container(border=True):  # the text wraps on a phone; a link's label would be cut off
        st.markdown(md(task.text))
        st.page_link(auth.view_file(task.page), label=ACTIONS[task.kind], icon=ICONS[task.kind])

st.header("Hoe gaat het met het MKB?")
profiles = profile_releases()
nation = (profiles.filter((pl.col("level") == "nation") & (pl.col("measure") == "sentiment_mean") & ~pl.col("suppressed"))
          if not profiles.is_empty() else profiles)
if nation.is_empty():
    st.info("Er zijn nog geen cijfers van de Gezondheidscheck gepubliceerd.")
else:
    latest = nation.sort("period").row(-1, named=True)
    st.metric(f"Stemming onder ondernemers ({wave_name(latest['period'])})", f"{nl_number(latest['estimate'], 1)} op 5",
              help="Het gemiddelde antwoord op 'Hoe kijkt u naar de komende maanden?' van 1 (zeer somber) tot 5 (zeer positief).")
    st.caption(f"95%-interval: {nl_interval(latest['ci_low'], latest['ci_high'], 1)}. Anoniem gemaakt met een beetje ruis.")

st.header("Wat u eerder invulde")
if not answers:
    st.write("U heeft nog niets ingevuld via het platform.")
for number, answer in enumerate(answers):
    proposal = titles.get(answer.proposal_id) if answer.proposal_id else None
    about = wave_name(answer.period) if answer.source == "cgc" else (proposal.title if proposal else answer.proposal_id or "")
    label = f"{KINDS[answer.source]}: {about} · {nl_date(answer.submitted_at)}"
    with st.expander(md(label), expanded=False):
        if answer.source == "consultation":
            st.write("Uw reactie is opgeslagen. Na de sluitingsdatum ziet u hoe anderen op dit onderdeel reageerden.")
            st.page_link(auth.view_file("consultatie"), label="Naar de consultaties", icon=ICONS["consultation"])
            continue
        if st.button("Toon de vergelijking", key=f"compare_{number}"):
            with store() as connection:
                record = own_answer(connection, account, answer)
            if record is None:
                st.info("Dit antwoord is er niet meer (het is na de bewaartermijn verwijderd).")
                continue
            try:
                if answer.source == "cgc":
                    show_comparison(record)
                else:
                    show_dis_comparison(record, proposal.simulation_closes if proposal else None)
            except Exception:
                logging.getLogger(__name__).exception("showing a comparison on the home page failed")
                st.error("De vergelijking kan nu niet worden getoond. Probeer het later opnieuw.")

st.header("Uw gegevens")
st.write("U mag altijd zien welke gegevens wij van uw bedrijf bewaren (recht op inzage). Vraag een overzicht aan. Na ongeveer een "
         "minuut kunt u het hier downloaden: als JSON-bestand, of als CSV-bestand voor Excel.")
with store() as connection:
    inzage = latest_inzage(connection, account)
if inzage is not None and inzage.status == "pending":
    st.info("Uw overzicht wordt gemaakt. Kom over een minuut terug of laad de pagina opnieuw.")
elif inzage is not None and inzage.status == "failed":
    st.error("Uw overzicht kon niet worden gemaakt. Vraag het opnieuw aan, of neem contact op met de beheerder.")
elif inzage is not None and inzage.has_result:
    st.success(f"Uw overzicht van {nl_date(inzage.done_at)} staat klaar.")
    deadline = time.time() + account_settings().session.inactivity_minutes * 60  # the click must come within this session's time

    def handed_out(file_format: str):
        """What a download button runs at the click: refused once this session would have ended; audited, then the file."""
        def data() -> bytes:
            if time.time() > deadline:
                raise PermissionError("session idle")
            document = inzage_document(account.id, account.credential_version, inzage.id, file_format)
            if file_format == "csv":
                return csv_download(document_rows(document))
            return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        return data

    st.download_button("Download als JSON", data=handed_out("json"), file_name="mijn-gegevens.json", mime="application/json",
                       on_click="ignore", icon="📥", key="inzage_json")
    st.download_button("Download als CSV (Excel)", data=handed_out("csv"), file_name="mijn-gegevens.csv", mime="text/csv",
                       on_click="ignore", icon="📥", key="inzage_csv")
if (inzage is None or inzage.status != "pending") and st.button("Overzicht van mijn gegevens aanvragen", key="inzage_request"):
    with store() as connection:
        request_inzage(connection, account)
    st.info("Uw overzicht wordt gemaakt. Kom over een minuut terug of laad de pagina opnieuw.")
periods = retention_settings()
st.caption(f"Wij bewaren uw antwoorden {periods.for_source('cgc').raw_months} maanden nadat wij ze hebben ontvangen; daarna verwijderen we ze. "
           "Wilt u dat wij alle gegevens van uw bedrijf nu al verwijderen (recht op verwijdering)? Vraag het aan de beheerder van het "
           "platform. Cijfers die al zijn gepubliceerd, blijven bestaan: ze gaan over veel bedrijven samen en bevatten ruis, zodat "
           "niemand er uw antwoorden uit kan halen.")
