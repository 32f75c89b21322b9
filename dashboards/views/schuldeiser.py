"""Creditors' staff: their own organisation's claims with the rules' advice (never another organisation's claims)."""

import streamlit as st

from accounts.service import PermissionDenied, organisation_names, own_organisation, record_event
from accounts.store import store
from dashboards import auth
from dashboards.creditor import ALL_ACTIONS, claims_table, months, of_month, own_advice, shown_table, summary
from dashboards.formatting import wave_name
from dashboards.pages import CREDITOR
from dashboards.safe import csv_download
from debts.labels import ACTION_LABELS

account = auth.require(CREDITOR)  # every page checks the role itself
try:
    organisation = organisation_names()[own_organisation(account)]  # the account's own, checked against the domain
except PermissionDenied as refused:
    st.error(str(refused))
    st.stop()
st.title("Mijn vorderingen")
st.write(
    f"Dit zijn de openstaande vorderingen van **{organisation}**, met het advies van de regels tegen onnodige "
    "incassokosten. Per vordering ziet u wat u het beste kunt doen en waarom. Vorderingen met hetzelfde briefnummer "
    "stuurt u samen in één brief."
)
st.caption(
    "Over andere organisaties ziet u alleen wat nodig is voor het advies: of deze persoon ook kleine schulden heeft bij "
    "andere organisaties, en of deze persoon hulp krijgt bij schulden. U ziet nooit hun bedragen of namen."
)

advice = own_advice(account)
available = months(advice)
if not available:
    st.info("Er zijn nog geen adviezen voor uw organisatie. Ze komen hier zodra uw eerste levering is verwerkt.")
    st.stop()

left, right = st.columns(2)
month = left.selectbox("Maand", available, format_func=wave_name, key="creditor_month")  # the newest month first
present = [code for code in ACTION_LABELS if code in set(of_month(advice, month)["action"].to_list())]
action = right.selectbox("Advies", [ALL_ACTIONS, *present], format_func=lambda code: "Alle adviezen" if code == ALL_ACTIONS else ACTION_LABELS[code],
                         key="creditor_action")
claims = of_month(advice, month, action)

seen = st.session_state.setdefault("creditor_months_seen", set())
if month not in seen:  # personal data of one organisation's debtors was shown: audited once per month per session
    with store() as connection:
        record_event(connection, account, "view", f"vorderingen {account.organisation} {month}",
                     {"page": "mijn-vorderingen", "rows": of_month(advice, month).height})
    seen.add(month)

for column, (label, value) in zip(st.columns(3), summary(claims).items(), strict=True):
    column.metric(label, value)
st.caption("Brieven na bundelen: zoveel brieven stuurt u als u alle kleine vorderingen van één persoon in één brief zet. "
           "Vorderingen waarvoor u eerst overlegt met de schuldhulp krijgen geen brief. De besparing is de incassokosten "
           "die u niet maakt als u het advies volgt.")

table = claims_table(claims)
st.dataframe(shown_table(table), hide_index=True, width="stretch")


def _logged_download() -> None:
    """Claims on persons leave the platform here: each download goes into the audit trail."""
    with store() as connection:
        record_event(connection, account, "export", f"vorderingen {account.organisation} {month}",
                     {"page": "mijn-vorderingen", "format": "csv", "rows": table.height, "action": action})


st.download_button("Download deze vorderingen (CSV)", csv_download(table), file_name=f"vorderingen_{account.organisation}_{month}.csv",
                   mime="text/csv", on_click=_logged_download, key="download_claims")
