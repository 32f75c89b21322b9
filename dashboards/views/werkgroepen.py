"""Respondent page: invitations to a working group (accept or decline), and the groups the firm joined: members, agenda, brainstorm."""

import polars as pl
import streamlit as st

from accounts.store import store
from content.segments import SegmentError
from content.working_groups import answer_invitation, invitations_for, my_groups
from dashboards import auth
from dashboards.announcements import show_body, when
from dashboards.safe import md

account = auth.require("respondent")  # every page checks the role itself
st.title("Mijn werkgroepen")
st.write("In een werkgroep praten ondernemers en beleidsmakers samen over een probleem dat de monitor signaleert. "
         "Meedoen is vrijwillig. U kiest zelf of de andere leden de naam van uw bedrijf zien. "
         "De beleidsmaker die de werkgroep voorstelde, ziet niet wie er is uitgenodigd of wie meedoet.")


def membership_inputs(prefix: str, visible: bool = False, name: str = "", contact: str = "") -> dict:
    """Whether the other members see the firm, and what they see."""
    shown = st.checkbox("Andere leden mogen de naam van mijn bedrijf en mijn contactgegevens zien", value=visible, key=f"{prefix}_visible")
    firm_name = st.text_input("Naam van uw bedrijf (zoals andere leden die zien)", value=name, max_chars=100, key=f"{prefix}_name")
    reach = st.text_input("Contactgegevens voor andere leden (e-mailadres of telefoonnummer, mag leeg)", value=contact, max_chars=100,
                          key=f"{prefix}_contact")
    return {"visible": shown, "display_name": firm_name if shown else "", "contact": reach if shown else ""}


def answer(group_id: int, accept: bool, membership: dict | None, done: str) -> None:
    with store() as connection:
        try:
            answer_invitation(connection, account, group_id, accept, membership)
        except SegmentError as error:
            st.error("Niet opgeslagen: " + "; ".join(md(p) for p in error.problems))
            return
    st.session_state["groups_message"] = done
    st.rerun()


message = st.session_state.pop("groups_message", None)
if message:
    st.success(message)

with store() as connection:
    invitations = invitations_for(connection, account)
    groups = my_groups(connection, account)

if invitations:
    st.header("Uitnodigingen")
for invitation in invitations:
    with st.container(border=True):
        st.subheader(md(invitation.title))
        st.write(f"Over: {md(invitation.topic)}")
        show_body(invitation.description)
        if invitation.session_at:
            st.write(f"De online brainstorm is op {when(invitation.session_at)}.")
        with st.form(f"invitation_{invitation.group_id}"):
            membership = membership_inputs(f"invitation_{invitation.group_id}")
            left, right = st.columns(2)
            accept = left.form_submit_button("Ik doe mee", type="primary")
            decline = right.form_submit_button("Nee, bedankt")
        if accept:
            answer(invitation.group_id, True, membership, f"U doet mee met de werkgroep '{md(invitation.title)}'.")
        elif decline:
            answer(invitation.group_id, False, None, "U doet niet mee. U krijgt over deze werkgroep geen berichten meer.")

if not invitations and not groups:
    st.info("U heeft nu geen uitnodigingen en doet nog niet mee met een werkgroep.")

for group in groups:
    st.header(md(group.title))
    st.write(f"Over: {md(group.topic)}")
    show_body(group.description)
    st.subheader("Online brainstorm")
    if group.session_at:
        st.write(f"Op **{when(group.session_at)}**, via een videovergadering in uw browser (u hoeft niets te installeren).")
    else:
        st.write("De datum is nog niet bekend. U ziet hem hier zodra de beleidsmaker hem heeft gepland.")
    st.link_button("Naar de videovergadering", group.video_link)
    st.subheader("Agenda")
    if group.agenda.strip():
        show_body(group.agenda)
    else:
        st.write("De agenda volgt nog.")
    st.subheader("Leden")
    if group.members:
        st.table(  # st.table renders Markdown in its cells: every name goes through md()
            pl.DataFrame([[md(m.display_name), md(m.contact) if m.contact else ""] for m in group.members], schema=["Bedrijf", "Contact"],
                         orient="row"),
            hide_index=True,
        )
    others = group.other_members
    if others:
        st.write(f"{'Eén ander lid wil' if others == 1 else f'{others} andere leden willen'} niet met naam genoemd worden"
                 + (" (u ook)." if not group.own.visible else "."))
    with st.expander("Mijn deelname wijzigen"):
        with st.form(f"membership_{group.id}"):
            membership = membership_inputs(f"membership_{group.id}", group.own.visible, group.own.display_name, group.own.contact)
            left, right = st.columns(2)
            save = left.form_submit_button("Opslaan")
            leave = right.form_submit_button("Ik doe niet meer mee")
        if save:
            answer(group.id, True, membership, "Uw keuze is opgeslagen.")
        elif leave:
            answer(group.id, False, None, f"U doet niet meer mee met de werkgroep '{md(group.title)}'.")
