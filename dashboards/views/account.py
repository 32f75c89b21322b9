"""My account (every role): change the password, turn on the app code, new recovery codes."""

import io

import segno
import streamlit as st

from accounts.service import (
    AccountError,
    change_password,
    enable_second_factor,
    new_recovery_codes,
    new_totp_secret,
    provisioning_uri,
)
from accounts.settings import account_settings
from accounts.store import store
from dashboards import auth

account = auth.require("respondent", "analyst", "administrator")  # every page checks the role itself
st.title("Mijn account")
st.write(f"**{account.name}** · {account.email} · {account.role_name}")

st.subheader("Wachtwoord wijzigen")
with st.form("password", clear_on_submit=True):
    current = st.text_input("Huidig wachtwoord", type="password", key="current_password")
    new = st.text_input("Nieuw wachtwoord (minstens 12 tekens)", type="password", key="new_password")
    if st.form_submit_button("Wachtwoord wijzigen"):
        with store() as connection:
            try:
                change_password(connection, account, current or "", new or "")
            except AccountError as error:
                st.error(f"Niet gewijzigd: {error}.")
            else:
                st.success("Uw wachtwoord is gewijzigd.")

st.subheader("Inloggen met een code uit een app")
required = account_settings().needs_second_factor(account.role)
if account.has_second_factor:
    st.write("Deze tweede stap staat aan" + (" (verplicht voor uw rol)." if required else "."))
    if st.button("Nieuwe herstelcodes maken", help="De oude herstelcodes werken daarna niet meer."):
        with store() as connection:
            codes = new_recovery_codes(connection, account)
        st.warning("Bewaar deze herstelcodes op een veilige plek. We laten ze maar één keer zien.")
        st.code("\n".join(codes), language=None)
else:
    st.write("Extra veilig: log in met uw wachtwoord én een code uit een app op uw telefoon. Dit is niet verplicht.")
    secret = st.session_state.setdefault("account_totp_secret", new_totp_secret())
    image = io.BytesIO()
    segno.make(provisioning_uri(account, secret)).save(image, kind="png", scale=5, border=2)
    st.image(image.getvalue(), width=200)
    st.caption(f"Sleutel om in te typen: {secret}")
    with st.form("second_factor_setup"):
        code = st.text_input("Code uit de app (6 cijfers)", key="setup_code")
        if st.form_submit_button("Aanzetten"):
            with store() as connection:
                try:
                    codes = enable_second_factor(connection, account, secret, code or "")
                except AccountError as error:
                    st.error(f"Niet aangezet: {error}.")
                else:
                    st.session_state.pop("account_totp_secret", None)
                    st.success("De tweede stap staat aan. Bewaar deze herstelcodes op een veilige plek:")
                    st.code("\n".join(codes), language=None)
