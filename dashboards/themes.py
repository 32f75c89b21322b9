"""The themes section of the analysts' consultation page: released themes of one proposal, consented quotes, names, downloads.

Call `render_themes(pid, account)` from a page (after `auth.require`). It
shows only released figures (`data/exports/consultation_themes/`) and the
published catalogue (`themes.json`: names, top terms, quotes); the only
write is an analyst's new name for a theme (`content.theme_names`, audited).
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from accounts.service import Account, PermissionDenied, record_event
from accounts.store import store
from content.theme_names import ThemeNameError, default_name, rename_theme
from dashboards.consultation import theme_catalogue, theme_names_now, theme_releases, theme_table
from dashboards.safe import csv_download, md, parquet_download

EXPLANATION = ("Een thema is een groep woorden die veel bedrijven samen gebruiken in hun toelichting. We tonen alleen thema's die "
               "door genoeg verschillende bedrijven worden genoemd; het aantal bedrijven is anoniem gemaakt met een beetje ruis. "
               "Een bedrijf telt mee bij hoogstens twee thema's per voorstel.")
QUOTES_NOTE = ("Citaten komen alleen van bedrijven die toestemming gaven om hun reactie anoniem te citeren, alleen bij grote thema's, "
               "zonder sector, grootte of provincie, en zonder persoonsgegevens.")


def released_theme_keys(cells: pl.DataFrame, pid: str) -> list[str]:
    """The theme keys the release selected for this proposal, biggest first (the same order as `theme_table`)."""
    if cells.is_empty() or "theme" not in cells.columns:
        return []
    frame = cells.filter((pl.col("period") == pid) & (pl.col("level") == "theme") & (pl.col("statistic") == "count") & pl.col("theme").is_not_null())
    return frame.sort(pl.col("estimate").fill_null(-1.0), "theme", descending=[True, False])["theme"].to_list()


def render_themes(pid: str, account: Account) -> None:
    """The themes of proposal `pid`: table, quotes, renaming (analysts and administrators) and downloads."""
    cells, names = theme_releases(), theme_names_now()
    table = theme_table(cells, pid, names=names)
    if table.is_empty():
        st.info("Voor dit voorstel zijn geen thema's gepubliceerd: een thema verschijnt pas als genoeg verschillende bedrijven het noemen.")
        return
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(EXPLANATION + " x = niet getoond: het aantal ligt te dicht bij de drempel waarmee we thema's kiezen.")
    keys, catalogue = released_theme_keys(cells, pid), theme_catalogue()
    quoted = [(key, catalogue.get(key, {}).get("quotes", [])) for key in keys]
    if any(quotes for _, quotes in quoted):
        st.markdown("**Citaten**")
        for key, quotes in quoted:
            for quote in quotes:
                st.markdown(f"> {md(quote)}  \n— *{md(names.get(key, catalogue.get(key, {}).get('name', default_name(key))))}*")
        st.caption(QUOTES_NOTE)
    _rename_form(pid, account, keys, names, catalogue)
    _downloads(pid, account, table, cells)


def _rename_form(pid: str, account: Account, keys: list[str], names: dict[str, str], catalogue: dict) -> None:
    with st.expander("Naam van een thema aanpassen"):
        shown = {key: names.get(key, catalogue.get(key, {}).get("name", default_name(key))) for key in keys}
        key = st.selectbox("Thema", keys, format_func=lambda k: shown[k], key=f"theme_rename_choice_{pid}")
        name = st.text_input("Nieuwe naam (leeg: de standaardnaam)", max_chars=60, key=f"theme_rename_name_{pid}")
        if st.button("Naam opslaan", key=f"theme_rename_save_{pid}"):
            try:
                with store() as connection:
                    now = rename_theme(connection, account, key, name)
            except (ThemeNameError, PermissionDenied) as problem:
                st.error(str(problem))
            else:
                st.success(f"Het thema heet nu: {md(now)}")


def _downloads(pid: str, account: Account, table: pl.DataFrame, cells: pl.DataFrame) -> None:
    def logged(kind: str) -> None:
        with store() as connection:
            record_event(connection, account, "export", f"thema's {pid}", {"page": "consultatie-uitkomsten", "format": kind})

    released = cells.filter((pl.col("period") == pid) & (pl.col("level") == "theme"))
    left, right = st.columns(2)
    left.download_button("Download de thema's (CSV)", csv_download(table), file_name=f"themas_{pid}.csv", mime="text/csv",
                         on_click=logged, args=("csv",), key=f"download_themes_{pid}")
    right.download_button("Download de gepubliceerde aantallen (Parquet)", parquet_download(released), file_name=f"themas_{pid}.parquet",
                          mime="application/vnd.apache.parquet", on_click=logged, args=("parquet",), key=f"download_themes_parquet_{pid}")
