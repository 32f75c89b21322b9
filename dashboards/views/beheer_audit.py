"""Administrators: the audit trail (logins, failed logins, role changes, content changes, exports) and its chain check."""

import json

import polars as pl
import streamlit as st

from accounts import audit
from accounts.store import store
from dashboards import auth

auth.require("administrator")  # every page checks the role itself
st.title("Logboek")
with store() as connection:
    check = audit.verify_chain(connection)
    entries = audit.entries(connection)
if check.intact:
    st.success(f"Het logboek is onveranderd: alle {check.entries} regels sluiten op elkaar aan.")
elif check.broken_at is None:
    st.error("Let op: de nieuwste regels van het logboek ontbreken. Iemand heeft ze verwijderd buiten de applicatie om.")
else:
    st.error(f"Let op: het logboek is aangepast. Regel {check.broken_at} sluit niet aan op de regel ervoor. "
             "Iemand heeft regels gewijzigd of verwijderd buiten de applicatie om.")
ACTIONS = {
    "login": "ingelogd", "login_failed": "inloggen mislukt", "second_factor_failed": "verkeerde code", "logout": "uitgelogd",
    "session_expired": "sessie verlopen", "account_invited": "uitgenodigd", "account_created": "account gemaakt",
    "invitation_accepted": "account geactiveerd", "role_changed": "rol gewijzigd", "account_blocked": "geblokkeerd",
    "account_unblocked": "gedeblokkeerd", "password_changed": "wachtwoord gewijzigd", "second_factor_enabled": "app-code aangezet",
    "recovery_code_used": "herstelcode gebruikt", "recovery_codes_renewed": "nieuwe herstelcodes", "members_imported": "ledenlijst ingelezen",
    "export": "cijfers gedownload", "access_reset": "toegang hersteld", "recovery_codes_refused": "herstelcodes geweigerd",
    "session_ended_by_change": "sessie beëindigd na wijziging", "proposal_added": "voorstel toegevoegd",
    "proposal_changed": "voorstel gewijzigd", "password_change_failed": "wachtwoord wijzigen mislukt",
    "upload_stored": "document ontvangen", "upload_refused": "document geweigerd", "upload_downloaded": "document gedownload",
    "view": "gegevens bekeken", "programme_entry": "sessie of besluit ingevoerd",
}
st.dataframe(
    pl.DataFrame(
        [{"Nr": e["seq"], "Tijd": e["at"].replace("T", " "), "Wie": e["actor"], "Wat": ACTIONS.get(e["action"], e["action"]),
          "Over": e["subject"], "Details": ", ".join(f"{k}: {v}" for k, v in json.loads(e["details"]).items())} for e in entries],
        schema=["Nr", "Tijd", "Wie", "Wat", "Over", "Details"], orient="row",
    ),
    hide_index=True, width="stretch",
)
