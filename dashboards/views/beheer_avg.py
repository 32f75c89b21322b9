"""Administrators: erase a firm, a person or an account everywhere (recht op verwijdering), follow the requests, see the bewaartermijnen.

The page only writes a request into the account store (avg/requests.py says why): the pipeline carries it out within a
minute and rebuilds the marts without it. No identifier is ever shown again: not in the list, not in the logboek.
"""

import polars as pl
import streamlit as st

from accounts.service import AccountError, PermissionDenied
from accounts.store import store
from avg.deletions import WHAT
from avg.requests import RequestError, kind_name, list_requests, request_erasure
from avg.settings import retention_settings
from core.sources import sources
from dashboards import auth
from dashboards.formatting import nl_date
from dashboards.safe import md

admin = auth.require("administrator")  # every page checks the role itself
st.title("AVG-verzoeken")
st.write("Vraagt een ondernemer, een persoon of een gebruiker om verwijdering van zijn gegevens? Dan zet u hier een verzoek klaar. "
         "De pijplijn verwijdert de gegevens overal: de aangeleverde bestanden, de ingelezen en de afgekeurde rijen, de documenten, "
         "de accounts en de bestanden voor schuldeisers en consultants. Daarna rekent zij de tussentabellen opnieuw uit. "
         "Gepubliceerde cijfers blijven staan: daarin zit ruis en ze gaan over veel bedrijven of personen samen.")

st.header("Gegevens verwijderen")
CHOICES = {"kvk": "Een bedrijf (KvK-nummer): antwoorden, aanleveringen van partners, documenten en de accounts van het bedrijf",
           "bsn": "Een persoon (BSN): alle schuldsignalen over deze persoon",
           "email": "Eén account (e-mailadres): het account en wat erbij hoort; de gegevens van het bedrijf blijven"}
with st.form("erasure", clear_on_submit=True):
    kind = st.radio("Wat wilt u verwijderen?", list(CHOICES), format_func=CHOICES.get, key="erasure_kind")
    value = st.text_input("KvK-nummer, BSN of e-mailadres", key="erasure_value")
    again = st.text_input("Typ het nog een keer ter controle", key="erasure_again")
    sure = st.checkbox("Ik weet dat verwijderen niet ongedaan kan worden gemaakt.", key="erasure_sure")
    if st.form_submit_button("Verwijderen aanvragen", type="primary"):
        if not sure:
            st.error("Zet eerst het vinkje: verwijderen kan niet ongedaan worden gemaakt.")
        else:
            with store() as connection:
                try:
                    number = request_erasure(connection, admin, kind, value, again)
                except (RequestError, AccountError, PermissionDenied) as error:
                    st.error(f"Niet aangevraagd: {md(error)}.")
                else:
                    st.success(f"Verzoek {number} staat klaar. De pijplijn voert het binnen een minuut uit; hieronder ziet u wanneer het klaar is.")

st.header("Verzoeken")
with store() as connection:
    requests = list_requests(connection, admin)
if not requests:
    st.info("Er zijn nog geen verzoeken.")
else:
    def outcome(request) -> str:
        if request.status != "done":
            return ""
        if request.kind == "inzage":
            return f"overzicht met {sum(request.summary.get('rijen', {}).values())} rijen"
        deleted = request.summary.get("verwijderd", {})
        return "; ".join(f"{WHAT.get(what, what)}: {count}" for what, count in deleted.items()) or "niets (er was niets meer van)"

    st.table(pl.DataFrame([[str(r.id), kind_name(r), md(r.requested_by), f"{nl_date(r.requested_at)} {r.requested_at:%H:%M}", r.status_name,
                            outcome(r)] for r in requests], schema=["Nummer", "Soort", "Gevraagd door", "Gevraagd op", "Stand", "Verwijderd of gemaakt"],
                           orient="row"), hide_index=True)
    st.caption("Het nummer, de naam of het adres waar een verzoek over ging, bewaren we niet: ook niet in het logboek.")

st.header("Bewaartermijnen")
settings = retention_settings()
st.write("Wat ouder is dan zijn bewaartermijn, verwijdert de pijplijn elke nacht vanzelf. De termijn telt vanaf het moment waarop een "
         "bestand is ingelezen.")
st.table(pl.DataFrame([[declared.title, f"{periods.landing_months} maanden", f"{periods.raw_months} maanden", f"{periods.quarantine_months} maanden"]
                       for declared in sources().values() for periods in [settings.for_source(declared.name)]],
                      schema=["Bron", "Aangeleverde bestanden", "Ingelezen rijen", "Afgekeurde rijen"], orient="row"), hide_index=True)
st.caption(f"Documenten bij reacties: {settings.uploads.months_after_close} maanden nadat het voorstel sloot. "
           f"Een inzage-overzicht voor een ondernemer: {settings.inzage.days} dagen. De termijnen staan in config/retention.yaml.")
