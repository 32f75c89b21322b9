"""My account (every role): change the password, turn on the app code, new recovery codes; respondents: updates by e-mail."""

import io

import segno
import streamlit as st

from accounts.preferences import set_email_updates, wants_email
from accounts.service import (
    AccountError,
    bound_name,
    change_password,
    enable_second_factor,
    new_recovery_codes,
    new_totp_secret,
    provisioning_uri,
)
from accounts.settings import account_settings
from accounts.store import store
from dashboards import auth
from dashboards.pages import EVERYONE
from dashboards.safe import md

account = auth.require(*EVERYONE)  # every page checks the role itself
rules = account_settings().password
st.title("Mijn account")
st.write(f"**{md(account.name)}** · {md(account.email)} · {account.role_name}"
         + (f" · {md(bound_name(account))}" if account.organisation else ""))

if account.role == "respondent":  # updates and working-group invitations are for respondents
    st.header("Berichten per e-mail")
    with store() as connection:
        wanted = wants_email(connection, account.id)
    st.write("Beleidsmakers sturen soms een bericht aan bedrijven zoals het uwe, bijvoorbeeld over wat er met de reacties is gedaan, "
             "of een uitnodiging voor een werkgroep. U ziet die altijd op uw startpagina. Wilt u ze ook per e-mail krijgen?")
    with st.form("email_updates"):
        choice = st.checkbox("Stuur mij berichten en uitnodigingen ook per e-mail", value=wanted, key="email_updates_choice")
        if st.form_submit_button("Opslaan"):
            with store() as connection:
                set_email_updates(connection, account, choice)
            st.success("Opgeslagen: u krijgt berichten " + ("ook per e-mail." if choice else "alleen op uw startpagina, niet per e-mail."))
    st.caption("In elke e-mail staat een link om e-mail weer uit te zetten, ook zonder in te loggen.")

st.header("Wachtwoord wijzigen")
st.caption("Als u uw wachtwoord wijzigt, wordt u overal anders uitgelogd (op andere computers en in andere tabbladen).")
with st.form("password", clear_on_submit=True):
    current = st.text_input("Huidig wachtwoord", type="password", key="current_password")
    new = st.text_input(f"Nieuw wachtwoord ({rules.min_length} tot {rules.max_length} tekens, moeilijk te raden)", type="password",
                        key="new_password", max_chars=rules.max_length)
    if st.form_submit_button("Wachtwoord wijzigen"):
        with store() as connection:
            try:
                version = change_password(connection, account, current or "", new or "")
            except AccountError as error:
                st.error(f"Niet gewijzigd: {md(error)}.")
            else:
                auth.keep_session(version)
                st.success("Uw wachtwoord is gewijzigd. Andere sessies van uw account zijn beëindigd.")

st.header("Inloggen met een code uit een app")
required = account_settings().needs_second_factor(account.role)
if account.has_second_factor:
    st.write("Deze tweede stap staat aan" + (" (verplicht voor uw rol)." if required else "."))
    with st.form("recovery_codes", clear_on_submit=True):
        st.write("Nieuwe herstelcodes maken? De oude herstelcodes werken daarna niet meer.")
        password = st.text_input("Uw wachtwoord (ter controle)", type="password", key="recovery_password")
        renew = st.form_submit_button("Nieuwe herstelcodes maken")
    if renew:
        with store() as connection:
            try:
                codes = new_recovery_codes(connection, account, password or "")
            except AccountError as error:
                st.error(f"Geen nieuwe herstelcodes gemaakt: {md(error)}.")
            else:
                st.warning("Bewaar deze herstelcodes op een veilige plek. We laten ze maar één keer zien.")
                st.code("\n".join(codes), language=None)
else:
    st.write("Extra veilig: log in met uw wachtwoord én een code uit een app op uw telefoon. Dit is niet verplicht.")
    secret = st.session_state.setdefault("account_totp_secret", new_totp_secret())
    image = io.BytesIO()
    segno.make(provisioning_uri(account, secret)).save(image, kind="png", scale=5, border=2)
    st.image(image.getvalue(), width=200, alt="QR-code om de app voor inlogcodes aan uw account te koppelen. Lukt scannen niet? "
             "Typ dan de sleutel hieronder in de app.")
    st.caption(f"Sleutel om in te typen: {secret}")
    with st.form("second_factor_setup"):
        code = st.text_input("Code uit de app (6 cijfers)", key="setup_code")
        if st.form_submit_button("Aanzetten"):
            with store() as connection:
                try:
                    codes, version = enable_second_factor(connection, account, secret, code or "")
                except AccountError as error:
                    st.error(f"Niet aangezet: {md(error)}.")
                else:
                    auth.keep_session(version)
                    st.session_state.pop("account_totp_secret", None)
                    st.success("De tweede stap staat aan. Bewaar deze herstelcodes op een veilige plek:")
                    st.code("\n".join(codes), language=None)
