"""The section 'Thema's in vragen en behoeften' of the programme page (issue 14.3): released themes of the platform texts only."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards import programme_figures as figures
from dashboards.formatting import INTERVAL_LINE


def render_need_themes(quarter: str, exports: Path | None = None) -> None:
    """The released themes of one quarter's unanswered questions, needs and sounding-board feedback, with a Dutch explanation."""
    st.subheader("Thema's in vragen en behoeften")
    st.write("Waar gaan de vragen zonder antwoord, de behoeften en de inbreng van de klankbordgroep over? We zoeken in de teksten naar "
             "woorden die veel bedrijven gebruiken. U ziet alleen thema's die genoeg bedrijven noemden. Een thema van maar een paar "
             "bedrijven ziet u nooit. Elk bedrijf telt bij één thema per kwartaal.")
    table = figures.need_theme_table(figures.cells(figures.NEED_THEMES, exports), quarter, exports)
    if table.is_empty():
        st.info(f"In {figures.quarter_name(quarter)} noemden niet genoeg bedrijven hetzelfde thema.")
        return
    st.table(table, hide_index=True)
    st.caption("Het aantal bedrijven per thema is een schatting met een beetje ruis. " + INTERVAL_LINE)
