"""MKB Vitaliteitsmonitor: the one Streamlit entry point (`streamlit run dashboards/app.py`)."""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="MKB Vitaliteitsmonitor", page_icon="📊", layout="wide")

navigation = st.navigation(
    {
        "Voor beleidsmakers": [
            st.Page(PAGES / "gezondheidscheck.py", title="Gezondheidscheck", url_path="gezondheidscheck", default=True),
            st.Page(PAGES / "privacy.py", title="Privacy en nauwkeurigheid", url_path="privacy"),
        ],
        "Voor ondernemers": [
            st.Page(PAGES / "invullen.py", title="Gezondheidscheck invullen", url_path="invullen"),
        ],
    }
)
navigation.run()
