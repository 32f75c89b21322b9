"""Analyst page: the policy pipeline and the released impact of each proposal (DIS), nationally and per sector,
province or size class."""

from datetime import date

import polars as pl
import streamlit as st

from accounts.service import record_event
from accounts.store import store
from content.proposals import list_proposals
from dashboards import auth
from dashboards.charts import group_bars
from dashboards.dis import FIGURES, POSITION, figure_table, impact_releases, overview, position_labels, released_proposals
from dashboards.formatting import SUPPRESSED, nl_date, nl_number
from dashboards.groups import LEVEL_NAMES
from dashboards.released import suppression_reasons
from dashboards.safe import csv_download, md

account = auth.require(*auth.STAFF)  # every page checks the role itself
BREAKDOWNS = {"nation": "Heel Nederland", "sector": "Per sector", "province": "Per provincie", "size_class": "Per grootteklasse"}

st.title("Impact van voorstellen")
st.write("Ondernemers schatten in wat een wetsvoorstel of beleidsmaatregel voor hun eigen bedrijf betekent. "
         "Hier ziet u de anonieme uitkomsten per voorstel. Er is een kleine, bekende hoeveelheid ruis toegevoegd; "
         "het interval laat zien hoe zeker een cijfer is.")

with store() as connection:
    proposals = {p.id: p for p in list_proposals(connection)}
today = date.today()

st.subheader("Beleidspijplijn")
if proposals:
    st.dataframe(pl.DataFrame(
        [{"Voorstel": p.title, "Ministerie": p.ministry, "Fase": p.phase_name, "Sinds": nl_date(p.phase_dates[p.phase]) if p.phase in p.phase_dates else "",
          "Simulatie": f"{nl_date(p.simulation_opens)} t/m {nl_date(p.simulation_closes)}",
          "Status": "open" if p.is_open(today) else ("gesloten" if p.is_closed(today) else "nog niet open")} for p in proposals.values()],
        schema=["Voorstel", "Ministerie", "Fase", "Sinds", "Simulatie", "Status"], orient="row"), hide_index=True, width="stretch")
else:
    st.info("Er staan nog geen voorstellen in de beleidspijplijn.")

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
decimals = FIGURES[measure][3]
st.altair_chart(group_bars(table, FIGURES[measure][1], FIGURES[measure][1], ",.0f" if decimals == 0 else ",.1f"), width="stretch")
hidden = table.filter(pl.col("suppressed") | pl.col("estimate").is_null())
if hidden.height:
    st.caption(f"Niet getoond ({SUPPRESSED}): {', '.join(md(n) for n in hidden['name'])}. " + "; ".join(suppression_reasons(table)))

st.subheader("Concurrentiepositie")
position = figure_table(cells, proposal, level, POSITION)
labels = position_labels()
rows = []
for name in position["name"].unique(maintain_order=True):
    group = position.filter(pl.col("name") == name)
    row = {"Groep": name}
    for category, label in labels.items():
        cell = group.filter(pl.col("category") == category)
        shown = not cell.is_empty() and not cell["suppressed"][0] and cell["estimate"][0] is not None
        row[label] = f"{nl_number(cell['estimate'][0], 0)}%" if shown else SUPPRESSED
    rows.append(row)
st.table(pl.DataFrame(rows, orient="row"), hide_index=True)

st.subheader(f"Alle cijfers {LEVEL_NAMES.get(level, '').lower() if level != 'nation' else 'voor heel Nederland'}")
table_all = overview(cells, proposal, level)
st.dataframe(table_all, hide_index=True, width="stretch")


def _logged_download() -> None:
    with store() as connection:
        record_event(connection, account, "export", f"dis {proposal} {level}", {"page": "dis-impact", "format": "csv"})


st.download_button("Download deze tabel (CSV)", csv_download(table_all), file_name=f"impact_{proposal}_{level}.csv", mime="text/csv",
                   on_click=_logged_download, key="download_dis")
st.caption("x = dit cijfer tonen we niet: bij zo weinig antwoorden is het te onzeker en zegt het te veel over losse bedrijven.")
