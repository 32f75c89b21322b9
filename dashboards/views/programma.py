"""Programme page (analysts and administrators): the Limburg SME support programme's funnel, flow and learning ecosystem.

The funders (province, municipalities) and the programme team use analyst
accounts: everything here is a differentially private release, which any
analyst may see, so a separate role would protect nothing and add a menu to
keep up. The page filters by region and partner instead.
"""

import polars as pl
import streamlit as st

from accounts.service import record_event
from accounts.store import store
from dashboards import auth
from dashboards import programme_figures as figures
from dashboards.charts import group_bars, show_chart
from dashboards.formatting import INTERVAL_LINE, nl_interval, nl_number
from dashboards.programme_themes import render_need_themes
from dashboards.safe import csv_download, parquet_download

account = auth.require(*auth.STAFF)  # every page checks the role itself
st.title("MKB-aanpak Limburg")
st.write(
    "Frontdesks van gemeenten, de Rabobank en ondernemersorganisaties zoeken MKB-bedrijven met een groei- of innovatieambitie. "
    "Na een intake krijgen zij een intensief supportproces van 25 tot 35 sessies met een MKB-consultant. Het doel: 75 tot 100 "
    "financierbare bedrijfsplannen. Hier ziet u per kwartaal hoe ver het programma is, per regio en per partner. U ziet nooit één "
    "bedrijf: de cijfers zijn anoniem gemaakt met een beetje ruis."
)
conversion, funnel = figures.cells(figures.CONVERSION), figures.cells(figures.FUNNEL)
flow, ecosystem = figures.cells(figures.FLOW), figures.cells(figures.ECOSYSTEM)
available = figures.quarters(conversion)
if not available:
    st.info("Er zijn nog geen cijfers over de MKB-aanpak gepubliceerd. Ze komen na afloop van het eerste kwartaal.")
    st.stop()

st.header("Op weg naar het doel")
progress = figures.target_progress(conversion)
if progress is not None:
    left, right = st.columns(2)
    reached = progress.reached
    if reached and not reached["suppressed"] and reached["estimate"] is not None:
        left.metric(f"Financierbare plannen tot en met {figures.quarter_name(progress.quarter)}", nl_number(reached["estimate"], 0),
                    help="Aantal bedrijven met een financierbaar bedrijfsplan sinds de start, met ruis.")
        left.caption(f"95%-interval: {nl_interval(reached['ci_low'], reached['ci_high'], 0)}. Doel: 75 tot 100.")
    else:
        left.write("Het aantal financierbare plannen is nog te onzeker om te tonen (x).")
    if progress.pace is not None:
        pace = progress.pace
        right.metric("Tempo: financierbare plannen per kwartaal", nl_number(pace[0], 1))
        right.caption(f"95%-interval: {nl_interval(max(pace[1], 0.0), pace[2], 1)} per kwartaal, over de laatste kwartalen.")
    st.write(f"**75 plannen**: {progress.reached_at[75]}. **100 plannen**: {progress.reached_at[100]}.")
    st.caption("De verwachting gaat uit van het tempo van de laatste vier kwartalen. De marge telt de ruis en het toeval in hoeveel "
               "plannen per kwartaal klaar zijn.")

st.header("De trechter")
left, right = st.columns(2)
quarter = left.selectbox("Kwartaal", available, format_func=figures.quarter_name, key="programme_quarter")
choices = figures.groups(figures.FUNNEL, funnel) or [figures.Group("programme", None, "Hele programma")]
group = right.selectbox("Voor wie", choices, format_func=lambda g: g.label, key="programme_group")
conversion_group = group if group.level in ("programme", "region") else figures.Group("programme", None, "Hele programma")
steps = figures.funnel_steps(conversion, quarter, conversion_group)
show_chart(group_bars(steps.select("name", "estimate", "ci_low", "ci_high", "suppressed"),
                      f"Bedrijven per stap tot en met {figures.quarter_name(quarter)} ({conversion_group.label})", "Bedrijven"))
st.table(steps.select(pl.col("name").alias("Stap"), "Bedrijven tot nu toe", "Doorstroom vanaf de vorige stap"), hide_index=True)
if conversion_group is not group:
    st.caption("De doorstroom tussen de stappen is er voor het hele programma en per regio, niet per partner: per partner zijn er te "
               "weinig bedrijven. Hieronder staan de stappen van deze partner.")
st.subheader(f"Waar staan de bedrijven aan het eind van {figures.quarter_name(quarter)}?")
stages = figures.stage_table(funnel, quarter, group)
st.table(stages, hide_index=True)
st.caption(INTERVAL_LINE + " Een bedrijf staat altijd in precies één stap.")

st.header("Doorlooptijd, sessies en doorverwijzingen")
flow_group = conversion_group
st.table(figures.flow_table(flow, quarter, flow_group), hide_index=True)
st.subheader("Doorverwezen naar andere initiatieven (tot nu toe)")
st.table(figures.referral_table(flow, quarter, flow_group), hide_index=True)
st.caption(f"Cijfers van {figures.quarter_name(quarter)}, {flow_group.label.lower()}. " + INTERVAL_LINE)

st.header("Lerend ecosysteem: welk aanbod gebruiken bedrijven?")
eco_choices = figures.groups(figures.ECOSYSTEM, ecosystem) or [figures.Group("programme", None, "Hele programma")]
eco_group = st.selectbox("Voor wie", eco_choices, format_func=lambda g: g.label, key="programme_eco_group")
offers = figures.offer_table(ecosystem, quarter, eco_group)
st.table(offers, hide_index=True)
st.caption("Het deel van de bedrijven die het platform gebruikten in dit kwartaal. Aanbod onderaan de lijst gebruiken weinig bedrijven: "
           "misschien is het niet nodig, of niet bekend. " + INTERVAL_LINE)
st.subheader("Wat ontbreekt nog?")
st.write("Vragen op het kennisplein zonder antwoord en behoeften waar nog geen aanbod voor is, per onderwerp. Dit is de korte lijst "
         "voor het programmateam.")
st.table(figures.needs_table(ecosystem, quarter, eco_group), hide_index=True)
render_need_themes(quarter)


def _logged_download(kind: str) -> None:
    with store() as connection:
        record_event(connection, account, "export", f"mkb-aanpak {quarter}", {"page": "programma", "format": kind})


st.header("Downloaden")
shown = pl.concat([stages.rename({"Stap": "Onderwerp"}).with_columns(pl.lit("trechter").alias("Tabel")),
                   offers.rename({"Aanbod": "Onderwerp"}).with_columns(pl.lit("aanbod").alias("Tabel"))], how="diagonal")
released = pl.concat([frame.filter(pl.col("period") == quarter) for frame in (funnel, conversion, flow, ecosystem) if not frame.is_empty()],
                     how="diagonal")
left, right = st.columns(2)
left.download_button("Download de tabellen (CSV)", csv_download(shown), file_name=f"mkb_aanpak_{quarter}.csv", mime="text/csv",
                     on_click=_logged_download, args=("csv",), key="download_programme_csv")
right.download_button("Download de gepubliceerde cijfers (Parquet)", parquet_download(released), file_name=f"mkb_aanpak_{quarter}.parquet",
                      mime="application/vnd.apache.parquet", on_click=_logged_download, args=("parquet",), key="download_programme_parquet")
