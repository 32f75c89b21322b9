"""Themes in the consultation comments (issue 11): the private marts the three theme releases read, and the published catalogue.

    staging/consultation_answers -> marts/consultation_firm_words  -> releases/consultation_terms
                                 -> marts/consultation_firm_pairs  -> releases/consultation_term_pairs
                                 -> marts/consultation_firm_themes -> releases/consultation_themes
                                 -> exports/consultation_theme_catalogue (data/exports/consultation_themes/themes.json)

The releases are the ordinary spec assets (`config/releases/consultation_*.yaml`);
why the themes are differentially private is in `core/themes.py`. Each mart
makes again only the periods whose texts or released words changed (a run
without new comments does nothing); the releases it feeds are made once per closed
proposal and served as stored, so the themes of a proposal never change
once released.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from accounts.service import SYSTEM, record_event
from accounts.store import store
from assets.resources import Folders, Warehouse
from content.theme_names import theme_names
from core import theme_pipeline
from core.files import public_dir
from core.landing import write_atomically

ANSWERS = dg.AssetKey(["staging", "consultation_answers"])


def _release(name: str) -> dg.AssetKey:
    return dg.AssetKey(["releases", name])


@dg.asset(key=["marts", "consultation_firm_words"], deps=[ANSWERS], group_name="transform", compute_kind="python")
def consultation_firm_words(warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per firm per proposal per counted word (at most 3: the firm's own most used content words); private."""
    with warehouse.connect() as connection:
        rows = theme_pipeline.build_firm_words(connection)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(key=["marts", "consultation_firm_pairs"], deps=[ANSWERS, _release(theme_pipeline.TERMS)], group_name="transform",
          compute_kind="python")
def consultation_firm_pairs(warehouse: Warehouse) -> dg.MaterializeResult:
    """At most one row per firm per proposal: its pair of released words with the largest released counts; private."""
    with warehouse.connect() as connection:
        rows = theme_pipeline.build_firm_pairs(connection)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(key=["marts", "consultation_firm_themes"], deps=[ANSWERS, _release(theme_pipeline.PAIRS)], group_name="transform",
          compute_kind="python")
def consultation_firm_themes(warehouse: Warehouse) -> dg.MaterializeResult:
    """At most two rows per firm per proposal: the themes of its comments; private. Also stores the theme model
    (themes.consultation_theme_model: post-processing of the two word releases, no firm in it)."""
    with warehouse.connect() as connection:
        rows = theme_pipeline.build_firm_themes(connection)
        themes = connection.execute(f"SELECT COUNT(DISTINCT theme) FROM {theme_pipeline.MODEL_TABLE}").fetchone()[0]
    return dg.MaterializeResult(metadata={"rows": rows, "themes_in_model": themes})


@dg.asset(key=["exports", "consultation_theme_catalogue"], deps=[_release(theme_pipeline.THEMES), dg.AssetKey(["exports", theme_pipeline.THEMES])],
          group_name="exports", compute_kind="json")
def consultation_theme_catalogue(warehouse: Warehouse, folders: Folders) -> dg.MaterializeResult:
    """`data/exports/consultation_themes/themes.json`: per released theme its name, top terms and consented quotes."""
    with store(Path(folders.accounts)) as accounts:
        names = theme_names(accounts)
    with warehouse.connect() as connection:
        theme_pipeline.build_quotes(connection)
        entries = theme_pipeline.catalogue(connection, names)
    folder = public_dir(Path(folders.exports) / theme_pipeline.THEMES, top=Path(folders.exports))
    write_atomically(folder, "themes.json", json.dumps(entries, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8"), public=True)
    with store(Path(folders.accounts)) as accounts:  # published text (quotes) is an export like the others
        record_event(accounts, None, "export", "exports/consultation_theme_catalogue",
                     {"themes": len(entries), "quotes": sum(len(e["quotes"]) for e in entries.values()), "by": SYSTEM})
    return dg.MaterializeResult(metadata={"themes": len(entries), "quotes": sum(len(e["quotes"]) for e in entries.values())})


THEME_ASSETS = [consultation_firm_words, consultation_firm_pairs, consultation_firm_themes, consultation_theme_catalogue]


# --------------------------------------------------------------------------- the programme's platform texts (issue 14.3)
# The same steps for theme set PROGRAMME (core/theme_pipeline.py): the free text of unanswered questions, needs and
# sounding-board feedback per firm per quarter, from raw/programme_platform (scrubbed at ingestion; staging and the
# programme marts keep no free text). No quotes: the platform asks no consent.

PLATFORM = dg.AssetKey(["raw", "programme_platform"])
PROGRAMME = theme_pipeline.PROGRAMME


@dg.asset(key=["marts", "programme_need_firm_words"], deps=[PLATFORM], group_name="programme", compute_kind="python")
def programme_need_firm_words(warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per firm per quarter with platform text: its own most used content word; private."""
    with warehouse.connect() as connection:
        rows = theme_pipeline.build_firm_words(connection, PROGRAMME)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(key=["marts", "programme_need_firm_pairs"], deps=[PLATFORM, _release(PROGRAMME.terms)], group_name="programme",
          compute_kind="python")
def programme_need_firm_pairs(warehouse: Warehouse) -> dg.MaterializeResult:
    """At most one row per firm per quarter: its pair of released words with the largest released counts; private."""
    with warehouse.connect() as connection:
        rows = theme_pipeline.build_firm_pairs(connection, PROGRAMME)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(key=["marts", "programme_need_firm_themes"], deps=[PLATFORM, _release(PROGRAMME.pairs)], group_name="programme",
          compute_kind="python")
def programme_need_firm_themes(warehouse: Warehouse) -> dg.MaterializeResult:
    """At most one row per firm per quarter: the theme of its platform texts; private. Also stores the theme model
    (themes.programme_need_theme_model: post-processing of the two word releases, no firm in it)."""
    with warehouse.connect() as connection:
        rows = theme_pipeline.build_firm_themes(connection, PROGRAMME)
        themes = connection.execute(f"SELECT COUNT(DISTINCT theme) FROM {PROGRAMME.model_table}").fetchone()[0]
    return dg.MaterializeResult(metadata={"rows": rows, "themes_in_model": themes})


@dg.asset(key=["exports", "programme_need_theme_catalogue"], deps=[_release(PROGRAMME.themes), dg.AssetKey(["exports", PROGRAMME.themes])],
          group_name="exports", compute_kind="json")
def programme_need_theme_catalogue(warehouse: Warehouse, folders: Folders) -> dg.MaterializeResult:
    """`data/exports/programme_need_themes/themes.json`: per released theme its quarter, name and top terms (no quotes)."""
    with store(Path(folders.accounts)) as accounts:
        names = theme_names(accounts)
    with warehouse.connect() as connection:
        entries = theme_pipeline.catalogue(connection, names, PROGRAMME)
    if not entries and not (Path(folders.exports) / PROGRAMME.themes).exists():  # no quarter released yet: no folder of its own
        return dg.MaterializeResult(metadata={"themes": 0})
    folder = public_dir(Path(folders.exports) / PROGRAMME.themes, top=Path(folders.exports))
    write_atomically(folder, "themes.json", json.dumps(entries, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8"), public=True)
    return dg.MaterializeResult(metadata={"themes": len(entries)})


THEME_ASSETS += [programme_need_firm_words, programme_need_firm_pairs, programme_need_firm_themes, programme_need_theme_catalogue]
