"""Administrators: who has an account, invite one person or a member list, change roles, block accounts."""

import polars as pl
import streamlit as st

from accounts.mail import mailer
from accounts.service import (
    ROLE_NAMES,
    AccountError,
    PermissionDenied,
    bound_name,
    change_role,
    consultant_names,
    import_members,
    invite,
    list_accounts,
    organisation_names,
    record_event,
    reset_access,
    set_active,
)
from accounts.store import store
from dashboards import auth
from dashboards.safe import csv_download, md

admin = auth.require("administrator")  # every page checks the role itself
st.title("Accounts beheren")

with store() as connection:
    accounts = list_accounts(connection)
organisations, consultants = organisation_names(), consultant_names()
overview = pl.DataFrame(  # Organisatie: a creditor's organisation, or the consultant an MKB consultant is (bound_name)
    [{"Naam": a.name, "E-mailadres": a.email, "Rol": a.role_name, "Organisatie": bound_name(a),
      "Code uit app": "ja" if a.has_second_factor else "nee", "Status": "actief" if a.active else "geblokkeerd"} for a in accounts],
    schema=["Naam", "E-mailadres", "Rol", "Organisatie", "Code uit app", "Status"], orient="row",
)
st.dataframe(overview, hide_index=True, width="stretch")


def _logged_download() -> None:
    with store() as connection:
        record_event(connection, admin, "export", "accountlijst", {"page": "beheer-accounts", "format": "csv", "rows": overview.height})


st.download_button("Accountlijst downloaden (CSV)", csv_download(overview), file_name="accounts.csv", mime="text/csv",
                   on_click=_logged_download, key="download_accounts")


def _done(action, success: str) -> None:
    """Run an account change and say in Dutch what happened (never a traceback)."""
    with store() as connection:
        try:
            action(connection)
        except (AccountError, PermissionDenied) as error:
            st.error(f"Niet gelukt: {md(error)}.")
            return
    st.success(success)  # callers escape what users typed


st.header("Iemand uitnodigen")
with st.form("invite", clear_on_submit=True):
    left, right = st.columns(2)
    name = left.text_input("Naam", key="invite_name")
    email = right.text_input("E-mailadres", key="invite_email")
    role = left.selectbox("Rol", list(ROLE_NAMES), format_func=ROLE_NAMES.get, key="invite_role")
    kvk = right.text_input("KvK-nummer (alleen voor een ondernemer)", max_chars=8, key="invite_kvk")
    organisation = right.selectbox("Organisatie (alleen voor een medewerker schuldeiser)", list(organisations), index=None,
                                   format_func=lambda code: f"{organisations[code]} ({code})", placeholder="Kies een organisatie",
                                   key="invite_organisation")
    consultant = right.selectbox("Consultantcode (alleen voor een MKB-consultant)", list(consultants), index=None,
                                 format_func=lambda code: f"{consultants[code]} ({code})", placeholder="Kies een consultant",
                                 key="invite_consultant")
    if st.form_submit_button("Uitnodiging versturen", type="primary"):
        member = {"name": name, "email": email, "role": role, "kvk_number": kvk or None, "organisation": organisation,
                  "consultant": consultant}
        _done(lambda c: invite(c, admin, member, mailer()), f"Uitnodiging voor {md(email)} staat klaar bij de verstuurde berichten.")

st.header("Ledenlijst inlezen")
st.write("Een CSV-bestand met de kolommen `name`, `email`, `kvk_number` en `role` (respondent, analyst, administrator, creditor "
         "of consultant), voor medewerkers van een schuldeiser de kolom `organisation` (de code uit de lijst van organisaties, "
         "zoals GM0363) en voor MKB-consultants de kolom `consultant` (hun eigen code, zoals mc01). "
         "Iedereen krijgt een eigen uitnodiging; regels met een fout worden genoemd en niet ingelezen.")
upload = st.file_uploader("Ledenlijst (CSV)", type=["csv"], key="members_csv")
if upload is not None and st.button("Ledenlijst inlezen", key="import_members"):
    with store() as connection:
        try:
            report = import_members(connection, admin, upload.getvalue().decode("utf-8", errors="replace"), mailer())
        except AccountError as error:
            st.error(f"Niet ingelezen: {md(error)}.")
        else:
            st.success(f"{len(report.invited)} uitnodigingen klaargezet.")
            if report.skipped:
                st.warning("Deze regels zijn niet ingelezen:\n\n" + "\n".join(f"- {md(line)}" for line in report.skipped))

st.header("Rol of status wijzigen")
others = [a for a in accounts if a.id != admin.id]
if others:
    chosen = st.selectbox("Account", others, format_func=lambda a: f"{a.name} ({a.email}, {a.role_name})", key="manage_account")
    left, middle, right = st.columns(3)
    name = md(chosen.name)
    if chosen.role in ("analyst", "administrator"):
        new_role = "administrator" if chosen.role == "analyst" else "analyst"
        if left.button(f"Maak {ROLE_NAMES[new_role]}", key="change_role"):
            _done(lambda c: change_role(c, admin, chosen.id, new_role), f"{name} is nu {ROLE_NAMES[new_role]}.")
    if middle.button("Deblokkeren" if not chosen.active else "Blokkeren", key="toggle_active"):
        _done(lambda c: set_active(c, admin, chosen.id, not chosen.active), f"{name} is {'gedeblokkeerd' if not chosen.active else 'geblokkeerd'}.")
    if right.button("Toegang herstellen", key="reset_access",
                    help="Telefoon of wachtwoord kwijt? Het oude wachtwoord en de app-code werken dan niet meer; "
                         "de persoon krijgt een nieuwe link om ze opnieuw in te stellen."):
        _done(lambda c: reset_access(c, admin, chosen.id, mailer()),
              f"De toegang van {name} is hersteld: alle sessies zijn beëindigd en er staat een nieuwe link klaar.")
    st.caption("Blokkeren, een andere rol en toegang herstellen beëindigen meteen alle open sessies van dat account.")
