"""The Streamlit app: one entry point (`app.py`), one file per page, data from `data.py`."""
