"""Analyst page: consultation results per proposal and article (stance shares), the themes in the comments, and the
DIS impact of the same proposal beside them."""

import polars as pl
import streamlit as st

from accounts.service import record_event
from accounts.store import store
from content.proposals import article_code, list_proposals
from dashboards import auth
from dashboards.consultation import stance_overview, stance_releases
from dashboards.dis import impact_releases, overview
from dashboards.safe import csv_download, md, parquet_download
from dashboards.themes import render_themes

account = auth.require(*auth.STAFF)  # every page checks the role itself
st.title("Consultaties en thema's")
st.write("Ondernemers reageren per artikel of onderdeel op een voorstel: steunen, neutraal of tegen, met een toelichting. "
         "Hier ziet u de anonieme uitkomsten, de thema's die vaak terugkomen in de toelichtingen, en de verwachte impact "
         "van hetzelfde voorstel. Alle cijfers zijn anoniem gemaakt met een beetje ruis; het interval laat zien hoe zeker een cijfer is.")

with store() as connection:
    proposals = {p.id: p for p in list_proposals(connection)}
cells = stance_releases()
released = sorted(set(cells["period"].to_list())) if not cells.is_empty() else []
if not released:
    st.info("Er zijn nog geen gepubliceerde consultatie-uitkomsten. Ze verschijnen nadat een voorstel is gesloten.")
    st.stop()

pid = st.selectbox("Voorstel", released, format_func=lambda p: proposals[p].title if p in proposals else p, key="consultation_results_proposal")
titles = {article_code(pid, a): f"{a.number}: {a.title}" for a in proposals[pid].articles} if pid in proposals else {}

st.header("Standpunten per onderdeel")
table = stance_overview(cells, pid, titles)
st.dataframe(table, hide_index=True, width="stretch")
st.caption("Tussen haakjes het 95%-interval. x = niet getoond: te weinig reacties om iets te zeggen zonder losse bedrijven herkenbaar te maken.")

st.header("Thema's in de toelichtingen")
render_themes(pid, account)  # released counts, top terms, consented quotes, renaming, downloads (dashboards/themes.py)

st.header("Verwachte impact van hetzelfde voorstel")
impact = impact_releases()
if impact.is_empty() or pid not in set(impact["period"].to_list()):
    st.info("Voor dit voorstel zijn geen impactcijfers gepubliceerd.")
else:
    st.dataframe(overview(impact, pid, "nation"), hide_index=True, width="stretch")


def _logged_download(kind: str) -> None:
    with store() as connection:
        record_event(connection, account, "export", f"consultatie {pid}", {"page": "consultatie-uitkomsten", "format": kind})


if not table.is_empty():
    released_cells = cells.filter(pl.col("period") == pid).drop([c for c in ("release_name",) if c in cells.columns])
    left, right = st.columns(2)
    left.download_button("Download de standpunten (CSV)", csv_download(table), file_name=f"consultatie_{pid}.csv", mime="text/csv",
                         on_click=_logged_download, args=("csv",), key="download_consultation")
    right.download_button("Download de gepubliceerde cijfers (Parquet)", parquet_download(released_cells),
                          file_name=f"consultatie_{pid}.parquet", mime="application/vnd.apache.parquet",
                          on_click=_logged_download, args=("parquet",), key="download_consultation_parquet")
st.caption(f"Voorstel: {md(proposals[pid].title) if pid in proposals else md(pid)}")
