"""Privacy page: the privacy budget per dataset per wave, the public ledger, one firm's loss per 12 months, how accurate the figures are, and what is kept how long (bewaartermijnen, verwijderen, inzage)."""

import polars as pl
import streamlit as st

from avg.settings import retention_settings
from dashboards import auth
from dashboards.cgc import balance_releases
from dashboards.charts import budget_chart, show_chart
from dashboards.formatting import nl_number, wave_name
from dashboards.privacy_page import accuracy_overview, budget_chart_data, ledger_table, yearly_loss_sentence, yearly_loss_table
from dashboards.released import privacy_budget, privacy_ledger, privacy_yearly_loss

auth.require(*auth.STAFF)  # every page checks the role itself, not only the menu

st.title("Privacy en nauwkeurigheid")
st.markdown(
    """
- **Ruis.** Aan elk cijfer voegen we een beetje toevallige ruis toe. Zo kan niemand uit de cijfers afleiden wat één bedrijf heeft geantwoord.
- **Epsilon.** Epsilon (ε) zegt hoeveel een publicatie over één bedrijf kan verraden. Hoe kleiner epsilon, hoe beter het bedrijf is beschermd, maar hoe meer ruis.
- **Rho.** De cijfers van de Gezondheidscheck krijgen Gauss-ruis. Daarbij meten we het verlies met rho (ρ). Rho van meerdere publicaties mogen we gewoon optellen. Daarna rekenen we het totaal om naar epsilon, met een heel kleine kans delta (δ) dat de bescherming minder is. Zo krijgt u nauwkeurigere cijfers voor hetzelfde verlies.
- **Budget per meting.** Alle publicaties over één meting samen mogen niet meer kosten dan het budget. Is het budget op, dan publiceren we over die meting niets meer.
- **Eén keer maken.** Een publicatie maken we één keer en slaan we op. Daarna tonen we steeds dezelfde cijfers. Vaak kijken levert dus geen nieuwe ruis op om weg te middelen.
- **x in een tabel.** Dit cijfer tonen we niet, omdat te weinig bedrijven antwoord gaven. Het cijfer zou dan te onzeker zijn en te veel zeggen over losse bedrijven.
"""
)

st.header("Bewaren, verwijderen en inzien")
retention = retention_settings()
cgc = retention.for_source("cgc")
st.markdown(
    f"""
- **Bewaartermijnen.** Wij bewaren gegevens niet langer dan nodig. Antwoorden en aanleveringen bewaren we {cgc.raw_months} maanden,
  afgekeurde rijen {cgc.quarantine_months} maanden, schuldsignalen {retention.for_source('debt_signal').raw_months} maanden en
  documenten bij reacties {retention.uploads.months_after_close} maanden nadat het voorstel sloot. Wat ouder is, verwijdert de
  pijplijn elke nacht vanzelf. Wat er is verwijderd, houden we bij (alleen aantallen, nooit wie).
- **Recht op verwijdering.** Vraagt een bedrijf, een persoon of een gebruiker om verwijdering, dan verwijdert de beheerder alle
  gegevens: de aangeleverde bestanden, de ingelezen en afgekeurde rijen, de documenten en de accounts. Daarna rekenen we de
  tussentabellen opnieuw uit, zonder die gegevens. In het logboek staat wie het verzoek deed, niet over wie het ging.
- **Gepubliceerde cijfers blijven.** Cijfers die al zijn gepubliceerd, veranderen niet. Ze gaan over veel bedrijven of personen
  samen en er zit ruis in (differentiële privacy). Daardoor is er uit een gepubliceerd cijfer niets over één bedrijf of persoon
  af te leiden, ook niet over wie later om verwijdering vroeg.
- **Recht op inzage.** Een ondernemer kan op zijn eigen startpagina een overzicht downloaden van alle gegevens die wij van zijn
  bedrijf bewaren.
"""
)

budget = privacy_budget()
ledger = privacy_ledger()
if budget.is_empty() or ledger.is_empty():
    st.info("Er zijn nog geen publicaties.")
    st.stop()

st.header("Verbruikt privacybudget per meting")
chart_data = budget_chart_data(budget)
for name in chart_data["dataset_name"].unique(maintain_order=True):
    part = chart_data.filter(pl.col("dataset_name") == name)
    latest = part.row(-1, named=True)
    show_chart(budget_chart(part, f"{name} (rode lijn: budget per meting)"))
    releases = f"{latest['releases']} {'publicatie' if latest['releases'] == 1 else 'publicaties'}"
    st.caption(
        f"In {wave_name(latest['period'])} is {nl_number(latest['epsilon_spent'], 1)} van het budget van "
        f"{nl_number(latest['epsilon_budget'], 1)} gebruikt, door {releases}."
    )

st.header("Alle publicaties")
st.table(ledger_table(ledger), hide_index=True)

st.header("Wat verliest één bedrijf in een jaar?")
st.markdown(
    """
Een bedrijf doet vaak mee: elke maand aan de Gezondheidscheck, en ook aan simulaties en consultaties.
Elke publicatie over die gegevens kost een beetje privacy. Over een jaar tellen we alles op wat we
publiceerden over gegevens uit die 12 maanden, voor een bedrijf dat overal aan meedeed.

- **Samen tellen.** Het verlies van alle publicaties samen is het verlies van zo'n bedrijf in die 12 maanden.
  Epsilon van publicaties met Laplace-ruis tellen we op. Rho van publicaties met Gauss-ruis tellen we op
  en rekenen we daarna om naar epsilon. Dat totaal is lager dan wanneer we elke publicatie apart zouden omrekenen.
- **Grens per jaar.** Komt een nieuwe publicatie boven de grens, dan maken we die niet.
- **Wat betekent het getal?** Eén meting met epsilon 2,5 beschermt een bedrijf goed. Over een heel jaar
  is de bescherming veel zwakker: wie alle cijfers van een jaar naast elkaar legt, leert meer over
  een bedrijf dat elke maand meedeed. Daarom houden we het jaartotaal bij en zetten we er een grens op.
"""
)
yearly = privacy_yearly_loss()
sentence = yearly_loss_sentence(yearly)
if sentence is None:
    st.info("Er is nog niets gepubliceerd over bedrijven.")
else:
    st.markdown(sentence)
    st.table(yearly_loss_table(yearly), hide_index=True)
    st.caption("Elke rij is een periode van 12 maanden die eindigt op de laatste dag van een meting of voorstel.")

balances = balance_releases()
if not balances.is_empty():
    period = balances["period"].max()
    st.header(f"Hoe nauwkeurig zijn de saldo's in {wave_name(period)}?")
    st.table(accuracy_overview(balances, period), hide_index=True)
    st.caption(
        "De marge is de helft van het 95%-interval. Hoe kleiner de groep, hoe groter de marge. "
        "De marge gaat alleen over de ruis, niet over welke bedrijven toevallig meededen."
    )
