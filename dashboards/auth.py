"""Who is logged in, and which pages each role may open.

The session keeps only the account id, its credential version and the time
of the last click; the account itself is read from the store on every click,
so a blocked account or a changed role takes effect at once, and a password,
role, block or second-factor change (which raises the account's credential
version) ends every other session of that account. A session ends after the configured
inactivity. Every page calls `require(...)` itself as well (not only the
menu), and `app.py` checks the page before running it: opening a page by
its URL without the role shows a Dutch message, never the page.
"""

from __future__ import annotations

import time

import streamlit as st

from accounts import service
from accounts.service import ROLE_PLURALS, Account
from accounts.settings import account_settings
from accounts.store import store
from dashboards.pages import STAFF as STAFF  # pages check `auth.require(*auth.STAFF)`
from dashboards.pages import all_pages
from dashboards.pages import page as page_info
from dashboards.safe import md

ACCOUNT_ID, LAST_SEEN, PENDING = "account_id", "last_seen", "pending_second_factor"
CREDENTIALS = "credential_version"
ENDED_BY_CHANGE = "Uw wachtwoord of toegang is intussen gewijzigd. Log daarom opnieuw in."
#: url path -> roles that may open it; pages not listed are public (login, activation). From dashboards/pages.py.
PAGE_ROLES = {info.url: info.roles for info in all_pages() if info.roles is not None}
HOME = {"respondent": "mijn-overzicht", "analyst": "overzicht", "administrator": "beheer-accounts", "creditor": "mijn-vorderingen",
        "consultant": "mijn-trajecten"}


def view_file(url_path: str) -> str:
    """The page's script, relative to `app.py` (as `st.page_link` and `st.switch_page` want it)."""
    return page_info(url_path).file


def may_open(account: Account | None, url_path: str) -> bool:
    roles = PAGE_ROLES.get(url_path)
    return roles is None or (account is not None and account.role in roles)


def refusal(account: Account, url_path: str) -> str:
    """Why a logged-in user may not open a page, in plain Dutch."""
    allowed = " en ".join(ROLE_PLURALS[r] for r in PAGE_ROLES[url_path])
    return f"Deze pagina is alleen voor {allowed}. U bent ingelogd als {account.role_name}, dus u kunt deze pagina niet openen."


def current_account() -> Account | None:
    """The logged-in account, or None (also after inactivity: then the user is told and logged out)."""
    account_id = st.session_state.get(ACCOUNT_ID)
    if account_id is None:
        return None
    idle = time.time() - st.session_state.get(LAST_SEEN, 0.0)
    with store() as connection:
        account = service.get_account(connection, account_id)
        if idle > account_settings().session.inactivity_minutes * 60:
            service.record_event(connection, account, "session_expired", account.email if account else "", {"idle_seconds": round(idle)})
            _forget()
            st.session_state["logged_out_reason"] = "U was een tijd niet actief en bent daarom uitgelogd. Log opnieuw in."
            return None
        if account is not None and account.credential_version != st.session_state.get(CREDENTIALS):
            service.record_event(connection, account, "session_ended_by_change", account.email)
            _forget()
            st.session_state["logged_out_reason"] = ENDED_BY_CHANGE
            return None
    if account is None or not account.active:
        _forget()
        return None
    st.session_state[LAST_SEEN] = time.time()
    return account


def _forget() -> None:
    for key in (ACCOUNT_ID, LAST_SEEN, PENDING, CREDENTIALS):
        st.session_state.pop(key, None)


def start_session(account: Account) -> None:
    st.session_state[ACCOUNT_ID] = account.id
    st.session_state[CREDENTIALS] = account.credential_version
    st.session_state[LAST_SEEN] = time.time()
    st.session_state.pop(PENDING, None)


def keep_session(credential_version: int) -> None:
    """This session made the change that raised the version (a new password, the app code turned on): it stays logged in."""
    st.session_state[CREDENTIALS] = credential_version


def logout(account: Account) -> None:
    with store() as connection:
        service.record_event(connection, account, "logout", account.email)
    _forget()
    st.session_state["logged_out_reason"] = "U bent uitgelogd."


def require(*roles: str) -> Account:
    """At the top of every page: the account, or a Dutch message and nothing else of the page."""
    account = current_account()
    if account is None:
        st.warning("Log eerst in om deze pagina te zien.")
        st.stop()
    if account.role not in roles:
        allowed = " en ".join(ROLE_PLURALS[r] for r in roles)
        st.error(f"Deze pagina is alleen voor {allowed}. U bent ingelogd als {account.role_name}.")
        st.stop()
    return account


def _show(result: service.LoginResult) -> None:
    if result.status in ("locked", "wait"):
        st.warning(result.message)
    else:
        st.error(result.message)


def login_page() -> None:
    """E-mail and password, then (for staff) the code from the authenticator app."""
    st.title("Inloggen")
    reason = st.session_state.pop("logged_out_reason", None)
    if reason:
        st.info(reason)
    pending = st.session_state.get(PENDING)
    if pending is None:
        with st.form("login"):
            email = st.text_input("E-mailadres", key="login_email", autocomplete="username")
            password = st.text_input("Wachtwoord", type="password", key="login_password", autocomplete="current-password")
            sent = st.form_submit_button("Inloggen", type="primary")
        if sent:
            with store() as connection:
                result = service.login(connection, email or "", password or "")
            if result.status == "ok":
                start_session(result.account)
                st.rerun()
            elif result.status == "second_factor":
                st.session_state[PENDING] = (result.account.id, result.account.credential_version)
                st.rerun()
            else:
                _show(result)
        st.caption("Nog geen account? U krijgt een uitnodiging per e-mail van de beheerder van de monitor.")
        return
    pending_id, pending_version = pending
    with store() as connection:
        account = service.get_account(connection, pending_id)
    if account is not None and account.credential_version != pending_version:  # the password changed since step one
        _forget()
        st.session_state["logged_out_reason"] = ENDED_BY_CHANGE
        st.rerun()
    st.write("Vul de code van 6 cijfers uit uw app in (bijvoorbeeld Google Authenticator of Microsoft Authenticator). "
             "Heeft u uw telefoon niet bij de hand? Gebruik dan een van uw herstelcodes.")
    with st.form("second_factor"):
        code = st.text_input("Code uit de app of herstelcode", key="login_code", autocomplete="one-time-code")
        sent = st.form_submit_button("Verder", type="primary")
    if st.button("Terug naar inloggen"):
        _forget()
        st.rerun()
    if sent and account is not None:
        with store() as connection:
            result = service.second_factor(connection, account, code or "")
        if result.status == "ok":
            start_session(result.account)
            st.rerun()
        _show(result)
        if result.status == "locked":
            _forget()


def sidebar(account: Account, pages: dict[str, st.Page]) -> None:
    """The menu: only the pages this role may open, and who is logged in."""
    with st.sidebar:
        st.write(f"Ingelogd als **{md(account.name)}** ({account.role_name})")
        for url_path, page in pages.items():
            if url_path in PAGE_ROLES and may_open(account, url_path):
                st.page_link(page)
        if st.button("Uitloggen", key="logout"):
            logout(account)
            st.switch_page(pages["start"])  # the next person to log in starts on their own first page
