"""Public page: the unsubscribe link in an update's e-mail turns e-mail off, without logging in.

The link only opens this page; the click on the button turns e-mail off (a mail program or virus scanner that opens
links by itself does not unsubscribe anyone).
"""

import streamlit as st

from accounts.preferences import unsubscribe
from accounts.service import AccountError
from accounts.store import store

st.title("Geen e-mail meer over berichten")
code = st.query_params.get("code", "")
if not code:
    st.error("In deze link ontbreekt de code. Gebruik de link uit de e-mail, of log in en zet e-mail uit op 'Mijn account'.")
    st.stop()
if st.session_state.get("unsubscribed") == code:
    st.success("Klaar: u krijgt geen berichten meer per e-mail. De berichten staan nog wel op uw startpagina als u inlogt. "
               "Wilt u ze later toch weer per e-mail? Zet dat aan op 'Mijn account'.")
    st.stop()
st.write("Wilt u geen berichten en uitnodigingen van de MKB Vitaliteitsmonitor meer per e-mail krijgen? Klik dan op de knop.")
if st.button("Ja, stuur mij geen e-mail meer", type="primary"):
    with store() as connection:
        try:
            unsubscribe(connection, code)
        except AccountError as error:
            st.error(str(error))
        else:
            st.session_state["unsubscribed"] = code
            st.rerun()
