"""Analyst page: the policy pipeline and the released impact of each proposal (DIS), nationally and per sector,
province or size class."""

from datetime import date

import polars as pl
import streamlit as st

from accounts.service import record_event
from accounts.store import store
from content.proposals import list_proposals
from dashboards import auth
from dashboards.charts import group_bars, running_chart, show_chart
from dashboards.dis import (
    FIGURES,
    POSITION,
    figure_rows,
    figure_table,
    impact_releases,
    overview,
    phase_text,
    position_labels,
    released_proposals,
    running_releases,
    simulation_status,
)
from dashboards.formatting import INTERVAL_LINE, SUPPRESSED, nl_number
from dashboards.released import suppression_reasons
from dashboards.safe import csv_download

account = auth.require(*auth.STAFF)  # every page checks the role itself
BREAKDOWNS = {"nation": "Heel Nederland", "sector": "Per sector", "province": "Per provincie", "size_class": "Per grootteklasse"}

st.title("Impact van voorstellen")
st.write("Ondernemers schatten in wat een wetsvoorstel of beleidsmaatregel voor hun eigen bedrijf betekent. "
         "Hier ziet u de anonieme uitkomsten per voorstel. Er is een kleine, bekende hoeveelheid ruis toegevoegd; "
         "het interval laat zien hoe zeker een cijfer is.")

with store() as connection:
    proposals = {p.id: p for p in list_proposals(connection)}
today = date.today()

st.header("Beleidspijplijn")
if proposals:
    st.table(pl.DataFrame(  # a table wraps its text: every column stays visible on a narrow screen
        [{"Voorstel": p.title, "Ministerie": p.ministry, "Fase": phase_text(p), "Simulatie": simulation_status(p, today)} for p in proposals.values()],
        schema=["Voorstel", "Ministerie", "Fase", "Simulatie"], orient="row"), hide_index=True)
else:
    st.info("Er staan nog geen voorstellen in de beleidspijplijn.")

running = running_releases()
open_now = [pid for pid, p in proposals.items() if p.is_open(today)]
if open_now and not running.is_empty():
    st.header("Tussenstand van open voorstellen")
    st.write("Zolang een voorstel open staat, publiceren we elke dag een tussenstand: hoeveel bedrijven het tot nu toe "
             "hebben ingeschat. De band is het 95%-interval. De volledige cijfers komen na de sluitingsdatum.")
    for pid in open_now:
        series = running.filter((pl.col("proposal") == pid) & (pl.col("level") == "nation") & (pl.col("measure") == "respondents"))
        if series.is_empty():
            continue
        show_chart(running_chart(series.select("date", "estimate", "ci_low", "ci_high"), proposals[pid].title))  # a chart title is plain text, no Markdown

cells = impact_releases()
released = released_proposals(cells)
if not released:
    st.info("Er zijn nog geen gepubliceerde cijfers. De cijfers van een voorstel verschijnen nadat de simulatie is gesloten.")
    st.stop()

proposal = st.selectbox("Voorstel", released, format_func=lambda pid: proposals[pid].title if pid in proposals else pid, key="dis_impact_proposal")
level = st.radio("Uitsplitsing", list(BREAKDOWNS), format_func=BREAKDOWNS.get, horizontal=True, key="dis_impact_level")
firms = figure_table(cells, proposal, "nation", "cost_change_mean")["respondents"]  # responding firms, joined to every figure
if not firms.is_empty() and firms[0] is not None:
    st.metric("Bedrijven die dit voorstel inschatten (ongeveer)", nl_number(firms[0], 0))

measure = st.selectbox("Cijfer", list(FIGURES), format_func=lambda m: FIGURES[m][1], key="dis_impact_measure")
table = figure_table(cells, proposal, level, measure)
label, decimals = FIGURES[measure][1], FIGURES[measure][3]
breakdown = BREAKDOWNS[level][:1].lower() + BREAKDOWNS[level][1:]  # 'per sector', 'heel Nederland'
show_chart(group_bars(table, f"{label}, {breakdown}", label, decimals))
st.caption("De streep door elke balk is het 95%-interval: de echte waarde ligt met grote zekerheid tussen het begin en het eind "
           "van de streep. Hoe langer de streep, hoe onzekerder het cijfer. " + INTERVAL_LINE)
rows = figure_rows(table, decimals)
if (rows["Schatting"] == SUPPRESSED).any():
    st.table(rows, hide_index=True)
    st.caption("x = dit cijfer tonen we niet; de reden staat erbij. Bij zo weinig antwoorden is het cijfer te onzeker "
               "en zegt het te veel over losse bedrijven.")
else:
    st.table(rows.drop("Waarom x"), hide_index=True)

st.header("Concurrentiepositie")
st.write("Welk deel van de bedrijven verwacht dat hun concurrentiepositie verbetert, gelijk blijft of verslechtert.")
position = figure_table(cells, proposal, level, POSITION)
labels = position_labels()
rows = []
for name in position["name"].unique(maintain_order=True):
    group = position.filter(pl.col("name") == name)
    row = {"Groep": name}
    for category, category_label in labels.items():
        cell = group.filter(pl.col("category") == category)
        shown = not cell.is_empty() and not cell["suppressed"][0] and cell["estimate"][0] is not None
        row[category_label] = (f"{nl_number(cell['estimate'][0], 0)}% ({nl_number(cell['ci_low'][0], 0)} tot {nl_number(cell['ci_high'][0], 0)}%)"
                               if shown else SUPPRESSED)
    rows.append(row)
st.table(pl.DataFrame(rows, orient="row"), hide_index=True)
st.caption("Tussen haakjes staat het 95%-interval. x = dit cijfer tonen we niet" +
           (f" ({'; '.join(suppression_reasons(position))})" if suppression_reasons(position) else "") + ".")

table_all = overview(cells, proposal, level)


def _logged_download() -> None:
    with store() as connection:
        record_event(connection, account, "export", f"dis {proposal} {level}", {"page": "dis-impact", "format": "csv"})


st.download_button("Download alle cijfers van dit voorstel (CSV)", csv_download(table_all), file_name=f"impact_{proposal}_{level}.csv",
                   mime="text/csv", on_click=_logged_download, key="download_dis")
