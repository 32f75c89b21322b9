"""Consultations on the dashboards: released stance shares per article, and the released themes per proposal.

Everything here is post-processing of released figures (`data/exports/`);
nothing is computed from reactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from core.sources import source
from dashboards.formatting import SUPPRESSED, nl_interval, nl_number
from dashboards.released import release_cells

STANCE_RELEASE = "consultation_stance"
THEMES_RELEASE = "consultation_themes"
REACTIONS = "reactions"


def stance_releases(exports: Path | None = None) -> pl.DataFrame:
    """Released cells of the stance release (newest version per proposal)."""
    return release_cells(STANCE_RELEASE, exports)


def theme_releases(exports: Path | None = None) -> pl.DataFrame:
    return release_cells(THEMES_RELEASE, exports)


def stance_labels() -> dict[str, str]:
    return source("consultation").fields["stance"].labels()


@dataclass(frozen=True)
class StanceShares:
    article: str
    reactions: float | None  # None: suppressed
    table: pl.DataFrame  # Standpunt, Aandeel, 95%-interval


def stance_shares(cells: pl.DataFrame, article: str) -> StanceShares | None:
    """The released stance shares of one article ('<proposal>/<article>'), formatted; None when nothing is released."""
    if cells.is_empty() or "article" not in cells.columns:
        return None
    frame = cells.filter((pl.col("level") == "article") & (pl.col("article") == article))
    if frame.is_empty():
        return None
    count = frame.filter((pl.col("measure") == REACTIONS) & (pl.col("statistic") == "count"))
    reactions = None if count.is_empty() or count["suppressed"][0] else count["estimate"][0]
    rows = []
    for code, label in stance_labels().items():
        cell = frame.filter((pl.col("measure") == "stance") & (pl.col("category") == code))
        shown = not cell.is_empty() and not cell["suppressed"][0] and cell["estimate"][0] is not None
        rows.append({"Standpunt": label, "Aandeel": f"{nl_number(cell['estimate'][0], 0)}%" if shown else SUPPRESSED,
                     "95%-interval": f"{nl_interval(cell['ci_low'][0], cell['ci_high'][0], 0)}%" if shown else
                     (cell["suppression_reason"][0] if not cell.is_empty() else "")})
    return StanceShares(article, reactions, pl.DataFrame(rows, orient="row"))


def stance_overview(cells: pl.DataFrame, proposal: str, titles: dict[str, str]) -> pl.DataFrame:
    """One row per article of a proposal: reactions and the three shares with intervals ('x' where not shown)."""
    if cells.is_empty():
        return pl.DataFrame()
    frame = cells.filter((pl.col("level") == "article") & pl.col("article").str.starts_with(f"{proposal}/"))
    rows = []
    for article in sorted(frame["article"].unique().to_list()):
        shares = stance_shares(cells, article)
        row = {"Onderdeel": titles.get(article, article), "Reacties (ongeveer)": SUPPRESSED if shares.reactions is None else nl_number(shares.reactions, 0)}
        for entry in shares.table.iter_rows(named=True):
            row[entry["Standpunt"]] = entry["Aandeel"] if entry["Aandeel"] == SUPPRESSED else f"{entry['Aandeel']} ({entry['95%-interval']})"
        rows.append(row)
    return pl.DataFrame(rows, orient="row")


def theme_catalogue(exports: Path | None = None) -> dict[str, dict]:
    """Theme key -> {"proposal", "name", "terms": top terms, "quotes": consented quotes}, as the pipeline publishes it
    (`data/exports/consultation_themes/themes.json`, written by assets/themes.py)."""
    import json

    from core.settings import paths

    path = (exports or paths().exports) / THEMES_RELEASE / "themes.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def theme_names_now() -> dict[str, str]:
    """The names analysts gave themes, read fresh from the web app's store (an edit shows before the next pipeline run)."""
    from accounts.store import store
    from content.theme_names import theme_names

    with store() as connection:
        return theme_names(connection)


def theme_table(cells: pl.DataFrame, proposal: str, exports: Path | None = None, names: dict[str, str] | None = None) -> pl.DataFrame:
    """The released themes of one proposal: name, top terms, firms (with interval, or 'x' and why), biggest first; empty when none."""
    if cells.is_empty() or "theme" not in cells.columns:
        return pl.DataFrame()
    frame = cells.filter((pl.col("period") == proposal) & (pl.col("level") == "theme") & (pl.col("statistic") == "count")
                         & pl.col("theme").is_not_null()).sort(pl.col("estimate").fill_null(-1.0), "theme", descending=[True, False])
    catalogue, names = theme_catalogue(exports), names or {}
    rows = []
    for row in frame.iter_rows(named=True):
        entry = catalogue.get(row["theme"], {})
        shown = not row["suppressed"] and row["estimate"] is not None
        rows.append({"Thema": names.get(row["theme"], entry.get("name", row["theme"])), "Kernwoorden": ", ".join(entry.get("terms", [])),
                     "Bedrijven (ongeveer)": nl_number(row["estimate"], 0) if shown else SUPPRESSED,
                     "95%-interval": nl_interval(row["ci_low"], row["ci_high"], 0) if shown else (row["suppression_reason"] or "")})
    return pl.DataFrame(rows, orient="row") if rows else pl.DataFrame()


def show_open_work(today) -> None:
    """The respondent's home: the proposals open now, for a consultation per article and for an impact estimate.

    Public content only (titles, closing dates); nothing about other firms.
    """
    import streamlit as st

    from accounts.store import store
    from content.proposals import open_proposals
    from dashboards import auth
    from dashboards.formatting import nl_date
    from dashboards.safe import md

    with store() as connection:
        proposals = open_proposals(connection, today)
    if not proposals:
        return
    with st.container(border=True):
        st.markdown("**Open voor uw reactie**")
        for proposal in proposals:
            parts = f", {len(proposal.articles)} onderdelen" if len(proposal.articles) > 1 else ""
            st.markdown(f"- {md(proposal.title)} (tot en met {nl_date(proposal.simulation_closes)}{parts})")
        left, right = st.columns(2)
        if any(p.articles for p in proposals):
            left.page_link(auth.view_file("consultatie"), label="Reageer op een open voorstel", icon="🗣️")
        right.page_link(auth.view_file("dis-invullen"), label="Schat de impact op uw bedrijf in", icon="🧮")
