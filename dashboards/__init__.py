"""The Streamlit app: one entry point (`app.py`), one file per page (`views/`), released data from `released.py`,
figures per source (`cgc.py`) and for the privacy page (`privacy_page.py`), Dutch notation from `formatting.py`."""
