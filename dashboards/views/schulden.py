"""Analyst page: the anti-escalation KPIs of small public debts, released with differential privacy (never per claim)."""

import streamlit as st

from dashboards import auth
from dashboards.charts import outcome_trend_chart, show_chart
from dashboards.debt_figures import (
    cost_cells,
    cost_table,
    kpi_cells,
    kpi_table,
    months,
    outcome_trend,
    risk_cells,
    risk_table,
    whatif_cells,
    whatif_choices,
    whatif_point,
    whatif_table,
)
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
st.header(f"Kleine schulden in {wave_name(month)}")  # h2, as "Wat als?" and "Vroegsignalering" below: headings in order
st.table(kpi_table(cells, month), hide_index=True)
st.caption(INTERVAL_LINE.replace("bedrijven", "personen") + " De besparing is het aantal voorkomen incassozaken maal 73 euro per zaak. "
           "Een persoon telt voor hoogstens 3 kleine schulden per maand.")

trend = outcome_trend(cells)
if trend.height:
    st.subheader("Advies per maand, heel Nederland")  # h3 under "Kleine schulden in ..."
    show_chart(outcome_trend_chart(trend, "Advies per maand, heel Nederland"))

costs = cost_cells()
if not costs.is_empty():
    st.subheader("Invorderingskosten per geïnde euro")
    st.write("Hoeveel incassokosten staan er op de vorderingen, tegenover het bedrag dat al is betaald? Een lager bedrag per geïnde "
             "euro is beter: er gaat dan minder geld op aan invorderen.")
    cost_month = month if month in months(costs) else months(costs)[0]
    st.table(cost_table(costs, cost_month), hide_index=True)
    st.caption(f"Cijfers van {wave_name(cost_month)}. Per vordering tellen we hoogstens 200 euro kosten en 600 euro betaald bedrag, "
               "en per persoon hoogstens 3 vorderingen. " + INTERVAL_LINE.replace("bedrijven", "personen"))

st.header("Wat als?")
st.write(
    "Wat gebeurt er met de kleine schulden als alle organisaties dezelfde bagatelgrens en kostengrens gebruiken? Kies een "
    "bagatelgrens (schulden daaronder krijgen geen incasso) en een kostengrens (stoppen als de incassokosten hoger worden dan zoveel "
    "keer de schuld). De cijfers zijn vooraf berekend voor elke keuze en anoniem gemaakt."
)
scenarios = whatif_cells()
if scenarios.is_empty():
    st.info("Er zijn nog geen wat-als-cijfers gepubliceerd.")
else:
    thresholds, ratios = whatif_choices()
    left, middle, right = st.columns(3)
    scenario_month = left.selectbox("Maand", months(scenarios), format_func=wave_name, key="whatif_month")
    threshold = middle.select_slider("Bagatelgrens (euro)", thresholds, value=thresholds[len(thresholds) // 2], key="whatif_threshold",
                                     format_func=lambda v: f"{v.normalize():f}")
    ratio = right.select_slider("Kostengrens (x de schuld)", ratios, value=ratios[-1], key="whatif_ratio",
                                format_func=lambda v: f"{v.normalize():f}")
    st.table(whatif_table(scenarios, cells, scenario_month, whatif_point(threshold, ratio)), hide_index=True)
    st.caption("Met deze keuze telt een persoon voor hoogstens 2 kleine schulden per maand, met de regels van nu voor 3. "
               + INTERVAL_LINE.replace("bedrijven", "personen"))

st.header("Vroegsignalering")
st.write(
    "Voor elke persoon met schuldsignalen kijken we naar de signalen van alle schuldeisers samen. **Rood**: signalen van 3 of meer "
    "schuldeisers, of achterstanden bij 2 soorten vaste lasten (huur, energie, zorgverzekering). **Oranje**: 2 schuldeisers, "
    "een achterstand bij vaste lasten, of 3 of meer kleine schulden tegelijk. **Groen**: de rest. Kleine gemeenten tonen we niet "
    "(x): hun personen tellen mee in de provincie."
)
risks = risk_cells()
if risks.is_empty():
    st.info("Er zijn nog geen cijfers over vroegsignalering gepubliceerd.")
else:
    risk_month = st.selectbox("Maand", months(risks), format_func=wave_name, key="risk_month")
    levels = {"nation": "Heel Nederland", "province": "Per provincie", "municipality": "Per gemeente"}
    level = st.radio("Uitsplitsing", list(levels), format_func=levels.get, horizontal=True, key="risk_level")
    st.table(risk_table(risks, risk_month, level), hide_index=True)
    st.caption(INTERVAL_LINE.replace("bedrijven", "personen") + " Per 1.000 inwoners: met het aantal inwoners van CBS (ongeveer, zie "
               "reference/municipal_population.csv).")
