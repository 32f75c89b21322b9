"""Administrators: the policy pipeline. Add or edit a proposal (wetsvoorstel or beleidsmaatregel); every change is audited."""

from datetime import date, timedelta

import polars as pl
import streamlit as st

from accounts.service import PermissionDenied
from accounts.store import store
from content.proposals import KINDS, PHASES, ProposalError, list_proposals, save_proposal, slug
from dashboards import auth
from dashboards.formatting import nl_date
from dashboards.safe import md

admin = auth.require("administrator")  # every page checks the role itself
st.title("Beleidspijplijn beheren")
st.write("Voer wetsvoorstellen en beleidsmaatregelen in. Ondernemers kunnen de gevolgen voor hun bedrijf inschatten zolang de "
         "simulatie open is. Een voorstel is openbare informatie; elke wijziging komt in het logboek, met de oude en de nieuwe waarde.")

with store() as connection:
    proposals = list_proposals(connection)
today = date.today()
if proposals:
    st.dataframe(
        pl.DataFrame(
            [{"Voorstel": p.title, "Korte naam": p.id, "Fase": p.phase_name, "Simulatie": f"{nl_date(p.simulation_opens)} t/m {nl_date(p.simulation_closes)}",
              "Status": "open" if p.is_open(today) else ("gesloten" if p.is_closed(today) else "nog niet open")} for p in proposals],
            schema=["Voorstel", "Korte naam", "Fase", "Simulatie", "Status"], orient="row",
        ),
        hide_index=True, width="stretch",
    )
else:
    st.info("Er staan nog geen voorstellen in de beleidspijplijn.")

NEW = "__nieuw__"
choice = st.selectbox("Voorstel", [NEW, *[p.id for p in proposals]], key="proposal_choice",
                      format_func=lambda pid: "Nieuw voorstel" if pid == NEW else next(p.title for p in proposals if p.id == pid))
current = next((p for p in proposals if p.id == choice), None)

with st.form("proposal", clear_on_submit=False):
    title = st.text_input("Titel", value=current.title if current else "", key="proposal_title")
    identifier = st.text_input("Korte naam (in adressen en bestanden; leeg laten maakt hem uit de titel)",
                               value=current.id if current else "", disabled=current is not None, key="proposal_id")
    left, right = st.columns(2)
    kind = left.selectbox("Soort", list(KINDS), format_func=KINDS.get, key="proposal_kind",
                          index=list(KINDS).index(current.kind) if current else 0)
    ministry = right.text_input("Ministerie of bron", value=current.ministry if current else "", key="proposal_ministry")
    summary = st.text_area("Uitleg in gewone taal: de kern en wat het voorstel moet bereiken", value=current.summary if current else "",
                           height=150, key="proposal_summary")
    link = st.text_input("Link naar het voorstel (bijvoorbeeld internetconsultatie.nl, optioneel)", value=(current.link or "") if current else "",
                         key="proposal_link")
    left, right = st.columns(2)
    phase = left.selectbox("Fase", list(PHASES), format_func=PHASES.get, key="proposal_phase",
                           index=list(PHASES).index(current.phase) if current else 0)
    phase_since = right.date_input("In deze fase sinds", value=(current.phase_dates.get(current.phase, today) if current else today),
                                   format="DD-MM-YYYY", key="proposal_phase_since")
    left, right = st.columns(2)
    opens = left.date_input("Simulatie open vanaf", value=current.simulation_opens if current else today, format="DD-MM-YYYY", key="proposal_opens")
    closes = right.date_input("Simulatie open tot en met", value=current.simulation_closes if current else today + timedelta(days=42),
                              format="DD-MM-YYYY", key="proposal_closes")
    st.write("Artikelen of onderdelen (waar ondernemers op kunnen reageren):")
    articles = st.data_editor(
        pl.DataFrame([a.model_dump() for a in current.articles] if current and current.articles else [],
                     schema={"number": pl.Utf8, "title": pl.Utf8, "summary": pl.Utf8}),
        num_rows="dynamic", width="stretch", key="proposal_articles",
        column_config={"number": st.column_config.TextColumn("Nummer"), "title": st.column_config.TextColumn("Titel"),
                       "summary": st.column_config.TextColumn("Uitleg")},
    )
    saved = st.form_submit_button("Opslaan", type="primary")

if saved:
    phase_dates = dict(current.phase_dates) if current else {}
    phase_dates[phase] = phase_since
    rows = articles.to_dicts() if isinstance(articles, pl.DataFrame) else list(articles.to_dict("records"))
    data = {
        "id": current.id if current else (identifier.strip() or slug(title)), "kind": kind, "title": title, "summary": summary,
        "ministry": ministry, "link": link.strip() or None, "phase": phase, "phase_dates": phase_dates,
        "simulation_opens": opens, "simulation_closes": closes,
        "articles": [{k: (v or "") for k, v in row.items()} for row in rows if any((v or "").strip() for v in row.values())],
    }
    with store() as connection:
        try:
            proposal = save_proposal(connection, admin, data)
        except ProposalError as error:
            st.error("Het voorstel is niet opgeslagen. Controleer deze punten:\n\n" + "\n".join(f"- {md(p)}" for p in error.problems))
        except PermissionDenied as error:
            st.error(md(error))
        else:
            st.success(f"Opgeslagen: {md(proposal.title)}. De wijziging staat in het logboek.")
