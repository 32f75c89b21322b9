"""Analyst page: the anti-escalation KPIs of small public debts, released with differential privacy (never per claim)."""

import altair as alt
import streamlit as st

from dashboards import auth
from dashboards.debt_figures import kpi_cells, kpi_table, months, outcome_trend
from dashboards.formatting import INTERVAL_LINE, wave_name

auth.require(*auth.STAFF)  # every page checks the role itself
st.title("Kleine schulden en anti-escalatie")
st.write(
    "Overheidsorganisaties en andere schuldeisers leveren elke maand hun openstaande vorderingen aan. Voor elke kleine schuld "
    "(minder dan 100 euro) geven de regels een advies: afschrijven, oplossen zonder incasso (een vriendelijke herinnering, "
    "een betalingsregeling of overleg met de schuldhulp), toch naar incasso, of even wachten. Hier ziet u hoeveel kleine schulden "
    "er waren en wat het advies was. U ziet nooit één persoon of één vordering: de cijfers zijn anoniem gemaakt met een beetje ruis."
)
cells = kpi_cells()
available = months(cells)
if not available:
    st.info("Er zijn nog geen cijfers over kleine schulden gepubliceerd.")
    st.stop()

month = st.selectbox("Maand", available, format_func=wave_name, key="debt_month")
st.subheader(f"Kleine schulden in {wave_name(month)}")
st.table(kpi_table(cells, month), hide_index=True)
st.caption(INTERVAL_LINE.replace("bedrijven", "personen") + " De besparing is het aantal voorkomen incassozaken maal 73 euro per zaak. "
           "Een persoon telt voor hoogstens 3 kleine schulden per maand.")

trend = outcome_trend(cells)
if trend.height:
    st.subheader("Advies per maand, heel Nederland")
    base = alt.Chart(trend.to_pandas()).encode(x=alt.X("maand:N", title="Maand"), color=alt.Color("uitkomst:N", title="Advies"))
    chart = base.mark_line(point=True).encode(y=alt.Y("aandeel:Q", title="Aandeel van de kleine schulden (%)")) + base.mark_errorbar().encode(
        y=alt.Y("laag:Q", title=""), y2="hoog:Q")
    st.altair_chart(chart, width="stretch")
