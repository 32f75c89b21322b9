"""MKB Vitaliteitsmonitor: the one Streamlit entry point (`streamlit run dashboards/app.py`).

Every page is registered, but the menu shows only the pages of the logged-in
role; a page opened by its URL is checked here before it runs (and checks
the role again itself). Without a login only the login, activation and unsubscribe pages run.
"""

import logging
from pathlib import Path

import streamlit as st

from core.files import restrict_new_files
from dashboards import auth
from dashboards.pages import WITHOUT_LOGIN, all_pages

restrict_new_files()  # the web app's files (landing zone, account store and its WAL) are owner-only

st.set_page_config(page_title="MKB Vitaliteitsmonitor", page_icon="📊", layout="wide")
# WCAG 3.1.1: the page is in Dutch, so screen readers read it as Dutch. Streamlit's own index.html says lang="en" and has
# no setting for it: the app sets it in the browser (a constant script of the app's own, never user text).
st.html("<style>.stElementContainer:has(#page-language) { display: none; }</style>")  # no empty line above every page
st.html("<script id='page-language'>document.documentElement.lang = 'nl';</script>", unsafe_allow_javascript=True)


HERE = Path(__file__).parent

# Every page is registered (dashboards/pages.py: the app's own, and each source's from its declaration).
PAGES = {
    info.url: st.Page(HERE / info.file, title=info.title, url_path=info.url, icon=info.icon, default=info.url == "start")
    for info in all_pages()
}

page = st.navigation(list(PAGES.values()), position="hidden")
try:
    account = auth.current_account()
    if page.url_path in WITHOUT_LOGIN:  # activation and unsubscribe links work without logging in
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
