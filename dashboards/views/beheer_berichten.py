"""Administrators: the messages the platform sent (invitations), as they sit in the outbox."""

import streamlit as st

from accounts.mail import outbox
from dashboards import auth
from dashboards.safe import md

auth.require("administrator")  # every page checks the role itself
st.title("Verstuurde berichten")
st.write("Er is hier geen mailserver: berichten komen in deze postbus te staan (map `data/outbox/`). "
         "Met een mailserver (MKB_SMTP_HOST) gaan ze echt de deur uit. De code in een activeringslink ziet u hier niet: "
         "die staat alleen in het bericht aan de ontvanger zelf. Updates en uitnodigingen voor werkgroepen aan een groep bedrijven "
         "staan hier niet: wie ze kreeg, blijft voor iedereen verborgen.")
messages = outbox()
if not messages:
    st.info("Er zijn nog geen berichten verstuurd.")
for message in messages:
    with st.expander(f"{md(message.date)} · aan {md(message.to)} · {md(message.subject)}"):
        st.text(message.body)
