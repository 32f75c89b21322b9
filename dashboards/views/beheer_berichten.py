"""Administrators: the messages the platform sent (invitations), as they sit in the outbox."""

import streamlit as st

from accounts.mail import outbox
from dashboards import auth

auth.require("administrator")  # every page checks the role itself
st.title("Verstuurde berichten")
st.write("Er is hier geen mailserver: berichten komen in deze postbus te staan (map `data/outbox/`). "
         "Met een mailserver (MKB_SMTP_HOST) gaan ze echt de deur uit.")
messages = outbox()
if not messages:
    st.info("Er zijn nog geen berichten verstuurd.")
for message in messages:
    with st.expander(f"{message.date} · aan {message.to} · {message.subject}"):
        st.text(message.body)
