"""Administrators: the policy pipeline. Add or edit a proposal (wetsvoorstel or beleidsmaatregel); every change is audited."""

from datetime import date, timedelta

import polars as pl
import streamlit as st

from accounts.service import PermissionDenied
from accounts.store import store
from content.proposals import KINDS, PHASES, ProposalError, check, get_proposal, list_proposals, save_proposal, slug
from dashboards import auth
from dashboards.dis import phase_text
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
    st.table(  # a table wraps its text: every column stays visible on a narrow screen
        pl.DataFrame(
            [{"Voorstel": p.title, "Korte naam": p.id, "Fase": phase_text(p),
              "Simulatie": ("open" if p.is_open(today) else ("gesloten" if p.is_closed(today) else "nog niet open"))
                           + f": {nl_date(p.simulation_opens)} t/m {nl_date(p.simulation_closes)}"} for p in proposals],
            schema=["Voorstel", "Korte naam", "Fase", "Simulatie"], orient="row",
        ),
        hide_index=True,
    )
else:
    st.info("Er staan nog geen voorstellen in de beleidspijplijn.")

NEW = "__nieuw__"


def form_values(proposal) -> dict:
    """The form's fields (by widget key) for a proposal, or empty for a new one (opens today, closes in six weeks)."""
    return {
        "proposal_title": proposal.title if proposal else "", "proposal_id": proposal.id if proposal else "",
        "proposal_kind": proposal.kind if proposal else next(iter(KINDS)), "proposal_ministry": proposal.ministry if proposal else "",
        "proposal_summary": proposal.summary if proposal else "", "proposal_link": (proposal.link or "") if proposal else "",
        "proposal_phase": proposal.phase if proposal else next(iter(PHASES)),
        "proposal_phase_since": proposal.phase_dates.get(proposal.phase, today) if proposal else today,
        "proposal_opens": proposal.simulation_opens if proposal else today,
        "proposal_closes": proposal.simulation_closes if proposal else today + timedelta(days=42),
    }


def _fill_form() -> None:
    """Another proposal chosen: its values in the form (a widget with a key keeps its old value otherwise)."""
    chosen = next((p for p in proposals if p.id == st.session_state["proposal_choice"]), None)
    st.session_state.update(form_values(chosen))


if "proposal_title" not in st.session_state:  # the first visit: an empty form for a new proposal
    st.session_state.update(form_values(None))
    st.session_state["proposal_choice"] = NEW
choice = st.selectbox("Voorstel", [NEW, *[p.id for p in proposals]], key="proposal_choice", on_change=_fill_form,
                      format_func=lambda pid: "Nieuw voorstel" if pid == NEW else next((p.title for p in proposals if p.id == pid), pid))
current = next((p for p in proposals if p.id == choice), None)

with st.form("proposal", clear_on_submit=False):
    title = st.text_input("Titel", key="proposal_title")
    identifier = st.text_input("Korte naam (in adressen en bestanden; leeg laten maakt hem uit de titel)",
                               disabled=current is not None, key="proposal_id")
    left, right = st.columns(2)
    kind = left.selectbox("Soort", list(KINDS), format_func=KINDS.get, key="proposal_kind")
    ministry = right.text_input("Ministerie of bron", key="proposal_ministry")
    summary = st.text_area("Uitleg in gewone taal: de kern en wat het voorstel moet bereiken", height=150, key="proposal_summary")
    link = st.text_input("Link naar het voorstel (bijvoorbeeld internetconsultatie.nl, optioneel)", key="proposal_link")
    left, right = st.columns(2)
    phase = left.selectbox("Fase", list(PHASES), format_func=PHASES.get, key="proposal_phase")
    phase_since = right.date_input("In deze fase sinds", format="DD-MM-YYYY", key="proposal_phase_since")
    left, right = st.columns(2)
    opens = left.date_input("Simulatie open vanaf", format="DD-MM-YYYY", key="proposal_opens")
    closes = right.date_input("Simulatie open tot en met", format="DD-MM-YYYY", key="proposal_closes")
    st.write("Artikelen of onderdelen (waar ondernemers op kunnen reageren):")
    articles = st.data_editor(
        pl.DataFrame([a.model_dump() for a in current.articles] if current and current.articles else [],
                     schema={"number": pl.Utf8, "title": pl.Utf8, "summary": pl.Utf8, "question": pl.Utf8, "options": pl.Utf8}),
        num_rows="dynamic", width="stretch", key="proposal_articles",
        column_config={"number": st.column_config.TextColumn("Nummer"), "title": st.column_config.TextColumn("Titel"),
                       "summary": st.column_config.TextColumn("Uitleg"),
                       "question": st.column_config.TextColumn("Vraag bij de consultatie (optioneel)"),
                       "options": st.column_config.TextColumn("Antwoordopties, gescheiden door ; (leeg: open antwoord)")},
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
            if current is None and get_proposal(connection, data["id"]) is not None:  # a new proposal never overwrites another
                problems = [f"korte naam: er is al een voorstel '{data['id']}'. Kies het in de lijst hierboven om het te "
                            "wijzigen, of geef dit voorstel een andere korte naam"]
                try:
                    check(data)
                except ProposalError as error:
                    problems = [*error.problems, *problems]
                raise ProposalError(problems)
            proposal = save_proposal(connection, admin, data)
        except ProposalError as error:
            st.error("Het voorstel is niet opgeslagen. Controleer deze punten:\n\n" + "\n".join(f"- {md(p)}" for p in error.problems))
        except PermissionDenied as error:
            st.error(md(error))
        else:
            st.success(f"Opgeslagen: {md(proposal.title)}. De wijziging staat in het logboek.")
