"""The respondent's home page: "Berichten voor uw bedrijf" (updates sent to its segment) and open working-group invitations.

`show_for(account)` is one call for whichever page is the respondent's home.
It shows only what was sent to this account itself (content/updates.py,
content/working_groups.py); nothing about other firms.
"""

from __future__ import annotations

import streamlit as st

from accounts.service import Account
from accounts.store import store
from content.updates import updates_for
from content.working_groups import invitations_for
from dashboards.formatting import nl_date
from dashboards.safe import md

SHOWN = 5  # the newest updates on the home page; older ones are one click away


def when(moment) -> str:
    """A moment the way people write it: '5 januari 2027 om 14:30'."""
    return f"{nl_date(moment)} om {moment:%H:%M}"


def show_body(text: str) -> None:
    """Staff's text, paragraph by paragraph, as plain text (no Markdown from the sender)."""
    for paragraph in text.split("\n"):
        if paragraph.strip():
            st.markdown(md(paragraph))


def show_for(account: Account) -> None:
    """Updates for this firm and open invitations to a working group, if there are any."""
    with store() as connection:
        updates = updates_for(connection, account)
        invitations = invitations_for(connection, account)
    if invitations:
        from dashboards import auth

        with st.container(border=True):
            st.markdown("**Uitnodiging voor een werkgroep**")
            for invitation in invitations:
                moment = f" (brainstorm op {when(invitation.session_at)})" if invitation.session_at else ""
                st.markdown(f"- {md(invitation.title)}: over {md(invitation.topic)}{moment}")
            st.page_link(auth.view_file("werkgroepen"), label="Bekijk de uitnodiging en antwoord", icon="🤝")
    if not updates:
        return
    with st.container(border=True):
        st.markdown("**Berichten voor uw bedrijf**")
        for number, update in enumerate(updates[:SHOWN]):
            with st.expander(f"{md(update.title)} · {nl_date(update.sent_at)}", expanded=number == 0):
                show_body(update.body)
        if len(updates) > SHOWN:
            with st.expander(f"Oudere berichten ({len(updates) - SHOWN})"):
                for update in updates[SHOWN:]:
                    st.markdown(f"**{md(update.title)}** · {nl_date(update.sent_at)}")
                    show_body(update.body)
