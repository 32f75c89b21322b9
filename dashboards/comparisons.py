"""A respondent's answers beside released figures of similar firms: shown after sending a form and from 'Mijn overzicht'.

Released figures only (differentially private, with their intervals); the
respondent's own answers are its own. One function per kind of answer, so the
form page and the home page show the same comparison.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboards.cgc import MAX_PEER_HALF_WIDTH, balance_releases, peer_challenges, peer_figures, peer_table, profile_releases
from dashboards.dis import comparison_table, impact_releases, peer_impact, running_peers, running_releases, running_table
from dashboards.formatting import nl_date, nl_number, wave_name
from dashboards.safe import md


def show_comparison(record: dict) -> None:
    """The respondent's answers beside the latest released figures of similar firms."""
    balances = balance_releases()
    if balances.is_empty():
        st.info("Er zijn nog geen gepubliceerde cijfers om mee te vergelijken.")
        return
    peers = peer_figures(balances, record["sector"], record["size_class"])
    st.write(f"Vergelijking met **{peers.label}**, meting {wave_name(peers.period)} (de laatste gepubliceerde meting).")
    st.table(peer_table(peers, record), hide_index=True)
    st.caption(
        "Positief en negatief: het deel van de bedrijven met dat antwoord. Saldo = % positief min % negatief; "
        "tussen haakjes het 95%-interval. De cijfers van anderen zijn anoniem gemaakt met een beetje ruis."
    )
    if not peers.precise:
        st.info(
            f"Let op: voor kleinere groepen zijn de cijfers te onzeker (marge groter dan {MAX_PEER_HALF_WIDTH:.0f} punten). "
            "Daarom vergelijken we met alle bedrijven in Nederland. Ook deze cijfers hebben nog een ruime marge."
        )
    chosen = record.get("challenges") or []
    profiles = profile_releases() if chosen else None
    if profiles is not None and not profiles.is_empty():
        table, label = peer_challenges(profiles, record["sector"], chosen)
        st.header("Uw uitdagingen naast die van anderen")
        st.write(f"Zoveel procent van **{label}** noemt dezelfde uitdaging:")
        st.table(table, hide_index=True)


def show_dis_comparison(stored: dict, closes: date | None) -> None:
    """An impact estimate beside released figures of similar firms: the running figures while the proposal is open,
    the final ones once it closed (or a note that they come after `closes`)."""
    peers = peer_impact(impact_releases(), stored["proposal"], stored["sector"], stored["size_class"])
    running = running_peers(running_releases(), stored["proposal"], stored["size_class"]) if peers is None else None
    closing = f" ({nl_date(closes)})" if closes else ""
    if running is not None:
        firms = f"ongeveer {nl_number(running.firms, 0)} bedrijven" if running.firms is not None else "de bedrijven"
        st.write(f"Tussenstand op {nl_date(running.day)}: zo schatten {firms} dit voorstel tot nu toe in "
                 f"(vergelijking met **{md(running.label)}**).")
        st.table(running_table(running, stored), hide_index=True)
        st.caption("Dit is een tussenstand: het voorstel staat nog open en de cijfers veranderen elke dag een beetje. "
                   "Het 95%-interval laat zien hoe zeker een cijfer is. De volledige cijfers komen na de sluitingsdatum"
                   f"{closing}.")
    elif peers is None:
        st.info("Er zijn voor dit voorstel nog geen gepubliceerde cijfers om mee te vergelijken. We publiceren de cijfers "
                f"na de sluitingsdatum{closing}. U vindt ze dan onder 'Uitkomsten van gesloten voorstellen'.")
    else:
        st.write(f"Vergelijking met **{md(peers.label)}**.")
        st.table(comparison_table(peers, stored), hide_index=True)
        st.caption("Het 95%-interval laat zien hoe zeker een cijfer is: de echte waarde ligt met grote zekerheid tussen die twee getallen. "
                   "Het interval is breder bij weinig antwoorden en door de ruis die we toevoegen om bedrijven anoniem te houden.")
