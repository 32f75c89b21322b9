"""Public page: finish an account from the one-time invitation link (password, and the app code for staff)."""

import io

import segno
import streamlit as st

from accounts.service import AccountError, accept_invitation, new_totp_secret, open_invitation, provisioning_uri
from accounts.settings import account_settings
from accounts.store import store
from dashboards import auth
from dashboards.safe import md

rules = account_settings().password
st.title("Account activeren")
code = st.query_params.get("code")
if not code:
    st.info("Open de link uit uw uitnodiging om uw account af te maken.")
    st.stop()

with store() as connection:
    try:
        invitation = open_invitation(connection, code)
    except AccountError as error:
        st.error(str(error))
        st.stop()
account = invitation.account
st.write(f"Welkom, **{md(account.name)}**. U krijgt toegang als **{account.role_name}** met het e-mailadres {md(account.email)}.")

secret = None
if invitation.needs_second_factor:
    secret = st.session_state.setdefault("activation_totp_secret", new_totp_secret())
    st.header("Stap 1: de app voor inlogcodes")
    st.write("Voor uw rol logt u in met uw wachtwoord én een code uit een app op uw telefoon "
             "(bijvoorbeeld Google Authenticator of Microsoft Authenticator). Scan deze QR-code met de app:")
    image = io.BytesIO()
    segno.make(provisioning_uri(account, secret)).save(image, kind="png", scale=5, border=2)
    st.image(image.getvalue(), width=220, alt="QR-code om de app voor inlogcodes aan uw account te koppelen. Lukt scannen niet? "
             "Typ dan de sleutel hieronder in de app.")
    st.caption(f"Lukt scannen niet? Typ dan deze sleutel in de app: {secret}")

st.header("Stap 2: uw wachtwoord" if secret else "Kies uw wachtwoord")
with st.form("activate"):
    password = st.text_input(f"Wachtwoord ({rules.min_length} tot {rules.max_length} tekens, moeilijk te raden)", max_chars=rules.max_length,
                             type="password", key="activate_password", autocomplete="new-password")
    repeated = st.text_input("Wachtwoord nog een keer", type="password", key="activate_repeat", autocomplete="new-password")
    totp_code = st.text_input("Code uit de app (6 cijfers)", key="activate_code") if secret else None
    sent = st.form_submit_button("Account activeren", type="primary")

if sent:
    if password != repeated:
        st.error("Wachtwoord: de twee wachtwoorden zijn niet gelijk.")
        st.stop()
    with store() as connection:
        try:
            codes = accept_invitation(connection, code, password or "", secret, totp_code)
        except AccountError as error:
            st.error(f"Uw account is nog niet actief. {md(str(error)[:1].upper() + str(error)[1:])}.")
            st.stop()
    st.session_state.pop("activation_totp_secret", None)
    st.success("Uw account is klaar. U kunt nu inloggen.")
    if codes:
        st.warning("Bewaar deze herstelcodes op een veilige plek. Met elk ervan kunt u één keer inloggen als u uw telefoon kwijt bent. "
                   "We laten ze maar één keer zien.")
        st.code("\n".join(codes), language=None)
    st.page_link(auth.view_file("start"), label="Naar inloggen", icon="➡️")
