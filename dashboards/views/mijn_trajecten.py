"""MKB consultants: their own cases (never another consultant's), and a form to enter a session or a stage decision."""

import logging
from datetime import date

import streamlit as st

from accounts.service import PermissionDenied, bound_name, own_consultant, record_event
from accounts.store import store
from core.contracts import SubmissionError
from core.sources import source
from dashboards import auth
from dashboards.consultant import (
    DECISIONS,
    SESSIONS,
    caseload_table,
    decision_answers,
    enter,
    own_caseload,
    phase_summary,
    session_answers,
)
from dashboards.pages import CONSULTANT
from dashboards.safe import csv_download, md

account = auth.require(CONSULTANT)  # every page checks the role itself
try:
    code = own_consultant(account)  # the account's own code, checked against the domain
except PermissionDenied as refused:
    st.error(str(refused))
    st.stop()
st.title("Mijn trajecten")
st.write(f"Dit zijn de trajecten van **{md(bound_name(account))}**: de bedrijven waarvan u de laatste sessie of het laatste "
         "besluit heeft gedaan. U ziet alleen uw eigen trajecten. Nieuwe sessies en besluiten ziet u hier na de volgende verwerking.")

caseload = own_caseload(account)
seen = st.session_state.setdefault("consultant_caseload_seen", False)
if not seen:  # the cases of firms were shown: audited once per session
    with store() as connection:
        record_event(connection, account, "view", f"trajecten {code}", {"page": "mijn-trajecten", "rows": caseload.height})
    st.session_state["consultant_caseload_seen"] = True
if caseload.is_empty():
    st.info("U heeft nog geen trajecten. Ze komen hier zodra een sessie of besluit van u is verwerkt.")
    st.stop()

summary = phase_summary(caseload)
columns = st.columns(min(len(summary) + 1, 6))
columns[0].metric("Trajecten", caseload.height)
for column, (phase, count) in zip(columns[1:], summary.iter_rows(), strict=False):
    column.metric(phase, count)
table = caseload_table(caseload)
st.dataframe(table, hide_index=True, width="stretch")


def _logged_download() -> None:
    """The cases of firms leave the platform here: each download goes into the audit trail."""
    with store() as connection:
        record_event(connection, account, "export", f"trajecten {code}", {"page": "mijn-trajecten", "format": "csv", "rows": table.height})


st.download_button("Download mijn trajecten (CSV)", csv_download(table), file_name=f"trajecten_{code}.csv", mime="text/csv",
                   on_click=_logged_download, key="download_caseload")

cases = caseload["registration_id"].sort().to_list()
CASE_LABEL = "Dossiernummer"
KVK_HELP = "Neem het KvK-nummer over uit het dossier van het bedrijf (8 cijfers). Het wordt niet getoond en alleen versleuteld bewaard."


def _save(name: str, make_answers, noun: str) -> None:
    """Validate, write the landing file, audit; thank only after the file is safe. `noun` with its article ('de sessie')."""
    try:
        answers, kvk_number = make_answers()
        stored = enter(account, name, answers, kvk_number)
    except SubmissionError as error:
        st.error(f"{noun.capitalize()} is nog niet opgeslagen. Controleer deze punten:\n\n" + "\n".join(f"- {md(p)}" for p in error.problems))
        return
    except Exception:
        logging.getLogger(__name__).exception("saving a %s entry failed", name)
        st.error(f"{noun.capitalize()} kon niet worden opgeslagen. Probeer het over een paar minuten opnieuw.")
        return
    key = source(name).key
    with store() as connection:  # no KvK number in the audit trail: the case number says enough
        record_event(connection, account, "programme_entry", f"traject {stored['registration_id']}", {"source": name, "record": stored[key]})
    st.success(f"Bedankt. {noun.capitalize()} voor dossier {md(stored['registration_id'])} is veilig opgeslagen.")


st.header("Sessie invoeren")
statuses = source(SESSIONS).fields["status"].labels()
with st.form("session_form", clear_on_submit=True):
    left, right = st.columns(2)
    session_case = left.selectbox(CASE_LABEL, cases, index=None, placeholder="Kies een traject", key="session_case")
    session_kvk = right.text_input("KvK-nummer van het bedrijf", max_chars=12, help=KVK_HELP, key="session_kvk")
    held_on = left.date_input("Datum van de sessie", value=None, max_value=date.today(), format="DD-MM-YYYY", key="session_on")
    minutes = right.number_input("Duur in minuten", min_value=0, max_value=480, value=60, step=5, key="session_minutes")
    status = st.radio("Gehouden of niet", list(statuses), format_func=statuses.get, horizontal=True, key="session_status")
    if st.form_submit_button("Sessie opslaan", type="primary"):
        _save(SESSIONS, lambda: session_answers(caseload, session_case, session_kvk, held_on, minutes, status), "de sessie")

st.header("Besluit invoeren")
fields = source(DECISIONS).fields
phases, verdicts, reasons = fields["phase"].labels(), fields["decision"].labels(), fields["stop_reason"].labels()
with st.form("decision_form", clear_on_submit=True):
    left, right = st.columns(2)
    decision_case = left.selectbox(CASE_LABEL, cases, index=None, placeholder="Kies een traject", key="decision_case")
    decision_kvk = right.text_input("KvK-nummer van het bedrijf", max_chars=12, help=KVK_HELP, key="decision_kvk")
    decided_on = left.date_input("Datum van het besluit", value=None, max_value=date.today(), format="DD-MM-YYYY", key="decided_on")
    phase = right.selectbox("Fase die afgerond is", list(phases), index=None, format_func=phases.get, placeholder="Kies de fase",
                            key="decision_phase")
    decision = left.radio("Besluit", list(verdicts), format_func=verdicts.get, horizontal=True, key="decision_verdict")
    stop_reason = right.selectbox("Reden om te stoppen (alleen bij Stoppen)", list(reasons), index=None, format_func=reasons.get,
                                  placeholder="Kies een reden", key="decision_reason")
    if st.form_submit_button("Besluit opslaan", type="primary"):
        _save(DECISIONS, lambda: decision_answers(caseload, decision_case, decision_kvk, decided_on, phase, decision, stop_reason),
              "het besluit")
