"""MKB Vitaliteitsmonitor: the one Streamlit entry point (`streamlit run dashboards/app.py`)."""

import logging
from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="MKB Vitaliteitsmonitor", page_icon="📊", layout="wide")

navigation = st.navigation(
    {
        "Voor beleidsmakers": [
            st.Page(PAGES / "gezondheidscheck.py", title="Gezondheidscheck", url_path="gezondheidscheck", default=True),
            st.Page(PAGES / "sentiment.py", title="Sentiment en uitdagingen", url_path="sentiment"),
            st.Page(PAGES / "privacy.py", title="Privacy en nauwkeurigheid", url_path="privacy"),
        ],
        "Voor ondernemers": [
            st.Page(PAGES / "invullen.py", title="Gezondheidscheck invullen", url_path="invullen"),
        ],
    }
)
try:
    navigation.run()
except Exception:  # noqa: BLE001 - users never see a traceback; st.stop and reruns are no Exception
    logging.getLogger(__name__).exception("page %s failed", navigation.title)
    st.error("Er ging iets mis bij het tonen van deze pagina. Probeer het later opnieuw.")
