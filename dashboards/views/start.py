"""The address without a page: each role lands on its own first page (without a login, `app.py` shows the login form)."""

import streamlit as st

from dashboards import auth

account = auth.current_account()
if account is not None:
    st.switch_page(auth.view_file(auth.HOME[account.role]))
