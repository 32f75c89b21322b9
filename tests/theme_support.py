"""Small temporary warehouses for the theme tests: synthetic consultation comments with planted themes (real DuckDB, real OpenDP)."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import polars as pl

from core import theme_pipeline
from core.synthetic import make_firms
from core.synthetic_consultation import reactions
from core.synthetic_dis import demo_proposals
from core.warehouse import connect as warehouse_connect
from privacy.engine import release
from privacy.loading import release_specs

THEME_RELEASES = (theme_pipeline.TERMS, theme_pipeline.PAIRS, theme_pipeline.THEMES)


def synthetic_comments(firms: int, proposal: str = "minimumloon-2027", seed: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """staging.consultation_answers rows (the KvK number stands in for the pseudonym) and the planted themes per response."""
    rng = np.random.default_rng(seed)
    chosen = next(p for p in demo_proposals(date.today()) if p["id"] == proposal)
    frame, planted = reactions(chosen, make_firms(firms, rng), rng)
    answers = pl.concat([
        frame.select(pl.col("kvk_number").alias("firm_id"), "article", pl.lit(question).alias("question"), pl.col(question).alias("answer"),
                     "submitted_at", "response_id")
        for question in ("comment", "quote_consent", "stance")
    ]).filter(pl.col("answer").is_not_null())
    return answers, planted.join(frame.select("response_id", pl.col("kvk_number").alias("firm_id")), on="response_id")


def staging(connection: duckdb.DuckDBPyConnection, answers: pl.DataFrame) -> None:
    connection.execute("CREATE SCHEMA IF NOT EXISTS staging")
    connection.register("answers_frame", answers)
    connection.execute("CREATE OR REPLACE TABLE staging.consultation_answers AS SELECT * FROM answers_frame")
    connection.unregister("answers_frame")


def run_themes(connection: duckdb.DuckDBPyConnection, periods: list[str], specs: dict | None = None, settings=None) -> dict:
    """The theme pipeline as the Dagster assets run it: each table, then its release; returns the outcomes per release."""
    specs = specs or release_specs()
    outcomes = {}
    for build, name in ((theme_pipeline.build_firm_words, theme_pipeline.TERMS), (theme_pipeline.build_firm_pairs, theme_pipeline.PAIRS),
                        (theme_pipeline.build_firm_themes, theme_pipeline.THEMES)):
        build(connection)
        outcomes[name] = release(connection, specs[name], periods, settings=settings)
    theme_pipeline.build_quotes(connection)
    return outcomes


def match_planted(connection: duckdb.DuckDBPyConnection, planted: pl.DataFrame, proposal: str, min_firms: int) -> tuple[float, float, dict]:
    """Precision and recall of the released themes against the planted ones, matched by the firms they hold.

    A released theme matches the planted theme most of its firms' comments carry, when at least half of them do;
    precision = matched released themes / released themes; recall = planted themes matched / planted themes that
    at least `min_firms` firms raised as the main theme of a comment (the first one the generator planted; a theme
    only mentioned beside another one competes for the firm's 3 counted words and is not counted here).
    """
    counts = theme_pipeline.released_theme_counts(connection).get(proposal, {})
    assigned = connection.execute("SELECT firm_id, theme FROM marts.consultation_firm_themes WHERE proposal = ?", [proposal]).pl()
    truth = (planted.filter(pl.col("proposal") == proposal).explode("themes").select("firm_id", pl.col("themes").alias("planted"))
             .drop_nulls().unique())
    matches = {}
    for theme in counts:
        firms = assigned.filter(pl.col("theme") == theme).select("firm_id").unique()
        carried = truth.join(firms, on="firm_id").group_by("planted").len().sort("len", descending=True)
        if carried.height and carried["len"][0] >= 0.5 * firms.height:
            matches[theme] = carried["planted"][0]
    main = (planted.filter((pl.col("proposal") == proposal) & (pl.col("themes").list.len() > 0))
            .select("firm_id", pl.col("themes").list.first().alias("planted")).unique())
    raised = main.group_by("planted").len().filter(pl.col("len") >= min_firms)["planted"].to_list()
    precision = len(matches) / len(counts) if counts else 0.0
    recall = len(set(matches.values()) & set(raised)) / len(raised) if raised else 1.0
    return precision, recall, {"released": counts, "matches": matches, "raised": sorted(raised)}


def unlimited_settings():
    """The configured budgets with an unlimited one for 'dis' (built without validation: only tests may do this)."""
    import math

    from privacy.loading import privacy_settings

    configured = privacy_settings()
    dis = configured.datasets["dis"]
    budget = dis.budget_per_period.model_copy(update={"epsilon": math.inf, "delta": 1.0})
    update = {"datasets": {**configured.datasets, "dis": dis.model_copy(update={"budget_per_period": budget})}}
    caps = getattr(configured, "annual_caps", None)
    if caps is not None:  # the yearly cap per kind of unit (privacy.ledger) must not refuse either
        update["annual_caps"] = {kind: cap.model_copy(update={"epsilon": math.inf, "delta": 1.0}) for kind, cap in caps.items()}
    return configured.model_copy(update=update)


def nearly_without_noise(spec):
    """The spec at epsilon 1e9: OpenDP's noise scale about 1e-9, so every count is exact (test code only).

    A zero scale is not possible with private keys (no threshold reaches delta at scale 0); at this scale the
    selection threshold is the contribution bound + 1.
    """
    from privacy.spec import PrivacyLoss

    return spec.model_copy(update={"privacy_loss": PrivacyLoss.model_construct(epsilon=1e9, delta=spec.privacy_loss.delta)})


def publish_themes_without_noise(installation, proposals: list[str]) -> dict:
    """After a pipeline run: a new version of the three theme releases without noise (test code only), exported with
    themes.json, so a page or browser test on small data has themes to show. Returns the published catalogue."""
    import json

    from accounts.store import store
    from content.theme_names import theme_names
    from core.files import public_dir
    from core.landing import write_atomically
    from privacy.export import export_release

    specs = {name: nearly_without_noise(release_specs()[name]) for name in THEME_RELEASES}
    with warehouse_connect(installation.warehouse) as connection:
        for build, name in ((theme_pipeline.build_firm_words, theme_pipeline.TERMS), (theme_pipeline.build_firm_pairs, theme_pipeline.PAIRS),
                            (theme_pipeline.build_firm_themes, theme_pipeline.THEMES)):
            build(connection)
            cells = theme_pipeline.released(connection, name)
            version = int(cells["version"].max()) + 1 if not cells.is_empty() else 2
            outcomes = release(connection, specs[name], proposals, version=version, settings=unlimited_settings())
            assert all(o.status == "released" for o in outcomes), outcomes
        theme_pipeline.build_quotes(connection)
        for name in THEME_RELEASES:
            export_release(connection, release_specs()[name], installation.exports)
        with store(installation.data_dir / "accounts" / "accounts.sqlite") as accounts:
            entries = theme_pipeline.catalogue(connection, theme_names(accounts))
    folder = public_dir(installation.exports / theme_pipeline.THEMES, top=installation.exports)
    write_atomically(folder, "themes.json", json.dumps(entries, indent=2, ensure_ascii=False).encode("utf-8"), public=True)
    return entries
