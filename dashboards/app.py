"""MKB Vitaliteitsmonitor: the one Streamlit entry point (`streamlit run dashboards/app.py`).

Every page is registered, but the menu shows only the pages of the logged-in
role; a page opened by its URL is checked here before it runs (and checks
the role again itself). Without a login only the login and activation pages run.
"""

import logging
from pathlib import Path

import streamlit as st

from core.files import restrict_new_files
from dashboards import auth

restrict_new_files()  # the web app's files (landing zone, account store and its WAL) are owner-only

VIEWS = Path(__file__).parent / "views"

st.set_page_config(page_title="MKB Vitaliteitsmonitor", page_icon="📊", layout="wide")


def start() -> None:
    """The address without a page: each role lands on its own first page."""
    account = auth.current_account()
    if account is not None:
        st.switch_page(PAGES[auth.HOME[account.role]])


PAGES = {
    "start": st.Page(start, title="Start", url_path="start", default=True),
    "gezondheidscheck": st.Page(VIEWS / "gezondheidscheck.py", title="Gezondheidscheck", url_path="gezondheidscheck", icon="📈"),
    "sentiment": st.Page(VIEWS / "sentiment.py", title="Sentiment en uitdagingen", url_path="sentiment", icon="💬"),
    "privacy": st.Page(VIEWS / "privacy.py", title="Privacy en nauwkeurigheid", url_path="privacy", icon="🔒"),
    "invullen": st.Page(VIEWS / "invullen.py", title="Gezondheidscheck invullen", url_path="invullen", icon="📝"),
    "account": st.Page(VIEWS / "account.py", title="Mijn account", url_path="account", icon="👤"),
    "beheer-accounts": st.Page(VIEWS / "beheer_accounts.py", title="Accounts beheren", url_path="beheer-accounts", icon="👥"),
    "beheer-berichten": st.Page(VIEWS / "beheer_berichten.py", title="Verstuurde berichten", url_path="beheer-berichten", icon="✉️"),
    "beheer-audit": st.Page(VIEWS / "beheer_audit.py", title="Logboek", url_path="beheer-audit", icon="📜"),
    "activeren": st.Page(VIEWS / "activeren.py", title="Account activeren", url_path="activeren"),
}

page = st.navigation(list(PAGES.values()), position="hidden")
try:
    account = auth.current_account()
    if page.url_path == "activeren":
        page.run()
    elif account is None:
        auth.login_page()
    else:
        auth.sidebar(account, PAGES)
        if auth.may_open(account, page.url_path):
            page.run()
        else:
            st.error(auth.refusal(account, page.url_path))
except Exception:  # noqa: BLE001 - users never see a traceback; st.stop, st.rerun and st.switch_page are no Exception
    logging.getLogger(__name__).exception("page %s failed", page.title)
    st.error("Er ging iets mis bij het tonen van deze pagina. Probeer het later opnieuw.")
