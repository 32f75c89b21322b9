"""Policymakers and administrators: write an update to a segment of firms, propose a working group, see what was sent.

The sender sees how many firms a message reaches only rounded ('ongeveer 15') or, for small groups, 'minder dan 10';
never who they are (content/segments.py).
"""

from datetime import date, datetime, time, timedelta

import streamlit as st

from accounts.mail import mailer
from accounts.store import store
from content.proposals import list_proposals
from content.segments import SegmentError, segment_size
from content.updates import send_update, sent_updates
from content.working_groups import group_summaries, plan_group, propose_group
from core import reference
from dashboards import auth
from dashboards.announcements import show_body, when
from dashboards.safe import md

sender = auth.require(*auth.STAFF)  # every page checks the role itself
st.title("Berichten en werkgroepen")
st.write("Stuur ondernemers een update, bijvoorbeeld over wat er met hun reacties is gedaan (een motie, amendement of Kamervraag), "
         "of nodig ze uit voor een werkgroep over een probleem dat de monitor signaleert. U kiest een groep bedrijven. "
         "Het bericht staat daarna op hun startpagina; wie dat wil, krijgt het ook per e-mail.")
st.info("U ziet nooit wie een bericht krijgt. U ziet alleen ongeveer hoeveel bedrijven: afgerond op 5, en bij een kleine groep "
        "alleen 'minder dan 10'. Zo is geen enkel bedrijf aan te wijzen.")

with store() as connection:
    proposals = list_proposals(connection)
titles = {p.id: p.title for p in proposals}
sector_names, province_names = reference.sector_names(), reference.province_names()


def segment_inputs(prefix: str) -> dict:
    """The segment: every choice made must hold; nothing chosen is every respondent."""
    st.markdown("**Voor welke bedrijven?** Laat leeg wat niet uitmaakt.")
    left, middle, right = st.columns(3)
    segment = {
        "sector": left.selectbox("Sector", reference.sector_codes(), index=None, placeholder="Alle sectoren", key=f"{prefix}_sector",
                                 format_func=lambda s: f"{s} – {sector_names[s]}"),
        "province": middle.selectbox("Provincie", reference.province_codes(), index=None, placeholder="Alle provincies",
                                     key=f"{prefix}_province", format_func=province_names.get),
        "size_class": right.selectbox("Bedrijfsgrootte (werkzame personen)", reference.size_class_codes(), index=None,
                                      placeholder="Alle groottes", key=f"{prefix}_size_class"),
    }
    left, right = st.columns(2)
    segment["simulated"] = left.selectbox("Heeft de impact ingeschat van", list(titles), index=None, placeholder="Maakt niet uit",
                                          key=f"{prefix}_simulated", format_func=titles.get)
    segment["reacted"] = right.selectbox("Heeft gereageerd op (consultatie)", list(titles), index=None, placeholder="Maakt niet uit",
                                         key=f"{prefix}_reacted", format_func=titles.get)
    with store() as connection:
        size = segment_size(connection, sender, segment)
    st.write(f"Dit bericht bereikt nu **{size.label}** bedrijven.")
    return segment


def problems(error: SegmentError, what: str) -> None:
    st.error(f"{what} is nog niet verstuurd. Controleer deze punten:\n\n" + "\n".join(f"- {md(p)}" for p in error.problems))


write, sent, propose, groups = st.tabs(["Update versturen", "Verstuurde updates", "Werkgroep voorstellen", "Werkgroepen"])

with write:
    segment = segment_inputs("update")
    with st.form("update_form", clear_on_submit=True):
        title = st.text_input("Titel", max_chars=120, key="update_title", placeholder="Bijvoorbeeld: Update over wetsvoorstel X")
        body = st.text_area("Tekst", max_chars=5000, key="update_body", height=200,
                            placeholder="Wat is er met de reacties gedaan? Bijvoorbeeld: er is een motie aangenomen ...")
        go = st.form_submit_button("Update versturen", type="primary")
    if go:
        with store() as connection:
            try:
                update = send_update(connection, sender, {"title": title, "body": body, "segment": segment}, mailer())
            except SegmentError as error:
                problems(error, "De update")
            else:
                st.success(f"De update '{md(update.title)}' is verstuurd aan {update.reached.label} bedrijven ({md(update.segment)}).")

with sent:
    with store() as connection:
        updates = sent_updates(connection, sender)
    if not updates:
        st.info("Er zijn nog geen updates verstuurd.")
    for update in updates:
        with st.expander(f"{md(update.title)} · {when(update.sent_at)} · {update.reached.label} bedrijven"):
            st.caption(f"Voor: {md(update.segment)} · verstuurd door {md(update.sent_by)}")
            show_body(update.body)

with propose:
    st.write("Stel een werkgroep voor over een probleem dat de monitor signaleert. Het platform nodigt de bedrijven zelf uit; "
             "u ziet niet wie dat zijn. Wie meedoet, kiest zelf of de andere leden de naam van het bedrijf zien.")
    group_segment = segment_inputs("group")
    with st.form("group_form", clear_on_submit=True):
        group_title = st.text_input("Titel", max_chars=120, key="group_title", placeholder="Bijvoorbeeld: Werkgroep personeelstekort in de horeca")
        topic = st.text_input("Signaal of thema", max_chars=120, key="group_topic",
                              help="De naam van het signaal (bijvoorbeeld een daling van de orderportefeuille) of van het thema uit de consultaties.")
        description = st.text_area("Toelichting: waarom deze werkgroep?", max_chars=2000, key="group_description")
        agenda = st.text_area("Agenda", max_chars=5000, key="group_agenda")
        planned = st.checkbox("De datum van de online brainstorm is al bekend", key="group_planned")
        left, right = st.columns(2)
        day = left.date_input("Datum van de brainstorm", value=date.today() + timedelta(days=14), key="group_day", format="DD-MM-YYYY")
        hour = right.time_input("Tijd", value=time(15, 0), key="group_time", step=timedelta(minutes=15))
        go_group = st.form_submit_button("Werkgroep voorstellen en bedrijven uitnodigen", type="primary")
    if go_group:
        data = {"title": group_title, "topic": topic, "description": description, "agenda": agenda, "segment": group_segment,
                "session_at": datetime.combine(day, hour) if planned else None}
        with store() as connection:
            try:
                group = propose_group(connection, sender, data, mailer())
            except SegmentError as error:
                problems(error, "De werkgroep")
            else:
                st.success(f"De werkgroep '{md(group.title)}' is voorgesteld. Uitgenodigd: {group.invited.label} bedrijven.")

with groups:
    with store() as connection:
        summaries = group_summaries(connection, sender)
    if not summaries:
        st.info("Er zijn nog geen werkgroepen.")
    for group in summaries:
        with st.expander(f"{md(group.title)} · uitgenodigd: {group.invited.label} · doen mee: {group.accepted.label}"):
            st.caption(f"Over: {md(group.topic)} · voor: {md(group.segment)} · voorgesteld door {md(group.created_by)}")
            show_body(group.description)
            if group.session_at:
                st.markdown(f"Online brainstorm: **{when(group.session_at)}**")
                st.link_button("Naar de videovergadering", group.video_link)
            else:
                st.markdown(f"Nog geen datum voor de brainstorm. De videovergadering komt op: {md(group.video_link)}")
            with st.form(f"plan_{group.id}"):
                new_agenda = st.text_area("Agenda", value=group.agenda, max_chars=5000, key=f"plan_agenda_{group.id}")
                planned = st.checkbox("Datum van de brainstorm bekend", value=group.session_at is not None, key=f"plan_planned_{group.id}")
                left, right = st.columns(2)
                start = group.session_at or datetime.combine(date.today() + timedelta(days=14), time(15, 0))
                new_day = left.date_input("Datum", value=start.date(), key=f"plan_day_{group.id}", format="DD-MM-YYYY")
                new_time = right.time_input("Tijd", value=start.time(), key=f"plan_time_{group.id}", step=timedelta(minutes=15))
                if st.form_submit_button("Agenda en brainstorm opslaan"):
                    with store() as connection:
                        try:
                            plan_group(connection, sender, group.id,
                                       {"agenda": new_agenda, "session_at": datetime.combine(new_day, new_time) if planned else None})
                        except SegmentError as error:
                            st.error("Niet opgeslagen: " + "; ".join(md(p) for p in error.problems))
                        else:
                            st.success("Opgeslagen. De leden zien de nieuwe agenda en datum op hun pagina.")
