"""The warehouse side of the themes (`core/themes.py`): the private marts the three theme releases read, and the model.

    staging.consultation_answers, staging.dis_answers (scrubbed comments and DIS explanations; consent per submission)
      -> marts.consultation_firm_words   -> releases.consultation_terms       (OpenDP)
      -> marts.consultation_firm_pairs   -> releases.consultation_term_pairs  (OpenDP)
      -> themes.consultation_theme_model (post-processing of the two releases)
      -> marts.consultation_firm_themes  -> releases.consultation_themes      (OpenDP)
      -> themes.consultation_quotes      (consented comments of themes above QUOTE_THRESHOLD)

Each builder replaces its whole table (a rerun never duplicates). The marts
are private like every mart: only releases read them. The model and the
released cells hold no firm; the quotes table holds consented text only.
"""

from __future__ import annotations

import random

import duckdb
import polars as pl

from core.themes import (
    QUOTE_THRESHOLD,
    Term,
    Theme,
    choose_quotes,
    firm_pairs,
    firm_themes,
    firm_words,
    quote_candidates,
    released_counts,
    theme_model,
    vocabulary,
)

TERMS, PAIRS, THEMES = "consultation_terms", "consultation_term_pairs", "consultation_themes"
MODEL_TABLE, QUOTES_TABLE = "themes.consultation_theme_model", "themes.consultation_quotes"


def _exists(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(connection.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                                   [schema, table]).fetchone()[0])


def comments(connection: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(firm_id, proposal, article, response_id, comment, consent): the free text about a proposal, as stored (scrubbed).

    Each firm's current comment per article of the consultation, and its current DIS explanation of the same
    proposal (`free_text`, article empty; never quoted: the DIS form asks no consent). Consent counts only
    when it was given in the same submission as the comment it is about.
    """
    schema = {"firm_id": pl.Utf8, "proposal": pl.Utf8, "article": pl.Utf8, "response_id": pl.Utf8, "comment": pl.Utf8, "consent": pl.Boolean}
    parts = []
    if _exists(connection, "staging", "consultation_answers"):
        parts.append(connection.execute("""
            SELECT c.firm_id, split_part(c.article, '/', 1) AS proposal, c.article, c.response_id, c.answer AS comment,
                   coalesce(q.answer = 'yes' AND q.response_id = c.response_id, false) AS consent
            FROM staging.consultation_answers c
            LEFT JOIN staging.consultation_answers q
              ON q.firm_id = c.firm_id AND q.article = c.article AND q.question = 'quote_consent'
            WHERE c.question = 'comment'
        """).pl().cast(schema))
    if _exists(connection, "staging", "dis_answers"):
        parts.append(connection.execute("""
            SELECT firm_id, proposal, CAST(NULL AS VARCHAR) AS article, response_id, answer AS comment, false AS consent
            FROM staging.dis_answers WHERE question = 'free_text'
        """).pl().cast(schema))
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).sort("firm_id", "proposal", "article", nulls_last=True)


def _replace(connection: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
    schema = table.split(".")[0]
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    connection.register("theme_frame", frame)
    connection.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM theme_frame")
    connection.unregister("theme_frame")
    return frame.height


def released(connection: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """The stored cells of a release, the newest version per period (empty when there is none)."""
    if not _exists(connection, "releases", name):
        return pl.DataFrame()
    return connection.execute(f"SELECT * FROM releases.{name} QUALIFY version = max(version) OVER (PARTITION BY period)").pl()


def selection_threshold_of(name: str) -> int:
    """The partition-selection threshold of a configured theme release (OpenDP's, from its spec: the same for every period)."""
    from privacy.loading import release_specs
    from privacy.mechanisms import selection_threshold
    from privacy.sensitivity import plan

    spec = release_specs()[name]
    return selection_threshold(plan(spec)[0], spec.privacy_loss.delta)


def _thresholds(connection: duckdb.DuckDBPyConnection, name: str) -> dict[str, int]:
    """Period -> the threshold its released keys passed (a key hidden near it counts as the threshold)."""
    cells = released(connection, name)
    threshold = selection_threshold_of(name)
    return {period: threshold for period in (cells["period"].unique().to_list() if not cells.is_empty() else [])}


def build_firm_words(connection: duckdb.DuckDBPyConnection) -> int:
    """marts.consultation_firm_words: at most 3 words per firm per proposal (step 1)."""
    return _replace(connection, "marts.consultation_firm_words", firm_words(comments(connection)))


def vocabularies(connection: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Term]]:
    """Proposal -> its vocabulary, from the released words only."""
    counts = released_counts(released(connection, TERMS), "term", _thresholds(connection, TERMS))
    return {proposal: vocabulary(words) for proposal, words in counts.items()}


def build_firm_pairs(connection: duckdb.DuckDBPyConnection) -> int:
    """marts.consultation_firm_pairs: one pair of released words per firm per proposal (step 2)."""
    return _replace(connection, "marts.consultation_firm_pairs", firm_pairs(comments(connection), vocabularies(connection)))


def models(connection: duckdb.DuckDBPyConnection) -> dict[str, list[Theme]]:
    """Proposal -> its themes: post-processing of the released words and pairs."""
    pairs = released_counts(released(connection, PAIRS), "pair", _thresholds(connection, PAIRS))
    return {proposal: theme_model(proposal, terms, pairs.get(proposal, {})) for proposal, terms in vocabularies(connection).items()}


def model_frame(themes: dict[str, list[Theme]]) -> pl.DataFrame:
    rows = [(t.proposal, t.key, rank, term.stem, term.word, term.firms) for ts in themes.values() for t in ts
            for rank, term in enumerate(t.terms, start=1)]
    return pl.DataFrame(rows, schema={"proposal": pl.Utf8, "theme": pl.Utf8, "rank": pl.Int32, "stem": pl.Utf8, "word": pl.Utf8,
                                      "released_firms": pl.Float64}, orient="row")


def build_firm_themes(connection: duckdb.DuckDBPyConnection) -> int:
    """themes.consultation_theme_model and marts.consultation_firm_themes: at most two themes per firm per proposal (steps 3, 4)."""
    themes = models(connection)
    _replace(connection, MODEL_TABLE, model_frame(themes))
    return _replace(connection, "marts.consultation_firm_themes", firm_themes(comments(connection), themes))


def stored_models(connection: duckdb.DuckDBPyConnection) -> dict[str, list[Theme]]:
    """The themes as the last build stored them."""
    if not _exists(connection, "themes", "consultation_theme_model"):
        return {}
    frame = connection.execute(f"SELECT * FROM {MODEL_TABLE} ORDER BY proposal, theme, rank").pl()
    themes: dict[str, list[Theme]] = {}
    for (proposal, key), rows in frame.group_by(["proposal", "theme"], maintain_order=True):
        terms = tuple(Term(r["stem"], r["word"], r["released_firms"]) for r in rows.iter_rows(named=True))
        themes.setdefault(proposal, []).append(Theme(key, proposal, terms))
    return themes


def released_theme_counts(connection: duckdb.DuckDBPyConnection) -> dict[str, dict[str, float | None]]:
    """Proposal -> released theme -> its released number of firms (None when shown as 'x')."""
    cells = released(connection, THEMES)
    if cells.is_empty():
        return {}
    found: dict[str, dict[str, float | None]] = {}
    for period, theme, estimate in cells.filter(pl.col("statistic") == "count").select("period", "theme", "estimate").iter_rows():
        found.setdefault(period, {})[theme] = estimate
    return found


def build_quotes(connection: duckdb.DuckDBPyConnection, rng: random.Random | None = None) -> int:
    """themes.consultation_quotes: up to two consented comments per released theme of at least QUOTE_THRESHOLD firms.

    A quote drawn before stays while its comment is still current, consented and about the theme.
    """
    kept: dict[str, list[str]] = {}
    if _exists(connection, "themes", "consultation_quotes"):
        for theme, response_id in connection.execute(f"SELECT theme, response_id FROM {QUOTES_TABLE} ORDER BY theme, position").fetchall():
            kept.setdefault(theme, []).append(response_id)
    current, themes, rows = comments(connection), stored_models(connection), []
    for proposal, counts in released_theme_counts(connection).items():
        for theme in themes.get(proposal, []):
            if (counts.get(theme.key) or 0) < QUOTE_THRESHOLD:
                continue
            chosen = choose_quotes(quote_candidates(current, theme, themes[proposal]), kept.get(theme.key, []), rng)
            rows += [(proposal, theme.key, position, response_id, text) for position, (response_id, text) in enumerate(chosen, start=1)]
    frame = pl.DataFrame(rows, schema={"proposal": pl.Utf8, "theme": pl.Utf8, "position": pl.Int32, "response_id": pl.Utf8,
                                       "text": pl.Utf8}, orient="row")
    return _replace(connection, QUOTES_TABLE, frame)


def catalogue(connection: duckdb.DuckDBPyConnection, names: dict[str, str]) -> dict[str, dict]:
    """What themes.json publishes: per released theme its proposal, name, top terms (released words) and quotes.

    Only themes that the consultation_themes release selected are listed (a theme of the model that did
    not pass the selection stays unnamed); quotes only for themes of at least QUOTE_THRESHOLD released firms.
    """
    from content.theme_names import default_name
    from core.themes import quote_text

    quotes: dict[str, list[str]] = {}
    if _exists(connection, "themes", "consultation_quotes"):
        for theme, text in connection.execute(f"SELECT theme, text FROM {QUOTES_TABLE} ORDER BY theme, position").fetchall():
            quotes.setdefault(theme, []).append(quote_text(text))
    themes = stored_models(connection)
    entries = {}
    for proposal, counts in sorted(released_theme_counts(connection).items()):
        for theme in themes.get(proposal, []):
            if theme.key in counts:
                entries[theme.key] = {"proposal": proposal, "name": names.get(theme.key, default_name(theme.key)), "terms": theme.words,
                                      "quotes": quotes.get(theme.key, [])}
    return entries
