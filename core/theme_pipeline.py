"""The warehouse side of the themes (`core/themes.py`): the private marts the three theme releases read, and the model.

The same steps run for every *theme set* (`ThemeSet`: where its texts come from, its period column, its tables
and releases, its per-firm bounds). Two sets:

`CONSULTATION` (issue 11; period `proposal`, dataset dis):

    staging.consultation_answers, staging.dis_answers (scrubbed comments and DIS explanations; consent per submission)
      -> marts.consultation_firm_words   -> releases.consultation_terms       (OpenDP)
      -> marts.consultation_firm_pairs   -> releases.consultation_term_pairs  (OpenDP)
      -> themes.consultation_theme_model (post-processing of the two releases)
      -> marts.consultation_firm_themes  -> releases.consultation_themes      (OpenDP)
      -> themes.consultation_quotes      (consented comments of themes above QUOTE_THRESHOLD)

`PROGRAMME` (issue 14.3, the learning ecosystem; period `quarter`, dataset programme):

    raw.programme_platform (scrubbed `text` of unanswered questions, needs and sounding-board feedback)
      -> marts.programme_need_firm_words   -> releases.programme_need_terms
      -> marts.programme_need_firm_pairs   -> releases.programme_need_term_pairs
      -> themes.programme_need_theme_model
      -> marts.programme_need_firm_themes  -> releases.programme_need_themes
      (no quotes: the platform asks no consent)

Each builder rebuilds the periods of its table whose inputs changed since it
was last made (their texts, the released cells they use, this code) and keeps
the others: `core.fingerprints` keeps what each period was made from.
A rerun never duplicates, and a run without new texts does nothing. The marts
are private like every mart: only releases read them. The model and the
released cells hold no firm; the quotes table holds consented text only.
Inside this module the period column is called `proposal` (the name
`core/themes.py` uses); a set's tables get its own period column.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from core import fingerprints
from core import themes as _themes
from core.themes import (
    COMPOUND_PREFIX,
    QUOTE_THRESHOLD,
    THEMES_PER_FIRM,
    WORDS_PER_FIRM,
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


def programme_texts(connection: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(firm_id, proposal, article, response_id, comment, consent): a platform user's own free text per quarter, as stored (scrubbed).

    `proposal` holds the quarter of `event_on` ('2026-Q3'). The latest delivery of every event counts; the texts are
    those of questions on the knowledge square left unanswered (`vraag`), needs no offer serves (`behoefte`) and the
    sounding board's feedback (`klankbord`). Never quoted (`consent` false): the platform asks no consent.
    """
    schema = {"firm_id": pl.Utf8, "proposal": pl.Utf8, "article": pl.Utf8, "response_id": pl.Utf8, "comment": pl.Utf8, "consent": pl.Boolean}
    if not _exists(connection, "raw", "programme_platform"):
        return pl.DataFrame(schema=schema)
    return connection.execute("""
        WITH latest AS (
          SELECT * FROM raw.programme_platform
          QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY delivered_at DESC, loaded_at DESC, file_hash DESC, row_number DESC) = 1)
        SELECT firm_id, strftime(event_on, '%Y') || '-Q' || CAST((month(event_on) + 2) // 3 AS VARCHAR) AS proposal,
               kind AS article, event_id AS response_id, text AS comment, false AS consent
        FROM latest
        WHERE text IS NOT NULL AND (kind IN ('behoefte', 'klankbord') OR (kind = 'vraag' AND NOT coalesce(answered, false)))
        ORDER BY firm_id, proposal, event_on, event_id
    """).pl().cast(schema)


@dataclass(frozen=True)
class ThemeSet:
    """One run of the theme steps: where the texts come from, the period column of its marts, its tables and releases."""

    name: str
    texts: Callable[[duckdb.DuckDBPyConnection], pl.DataFrame]  # (firm_id, proposal, article, response_id, comment, consent)
    period: str  # the period column of the marts and the model (the releases' `period`)
    words_mart: str
    pairs_mart: str
    themes_mart: str
    model_table: str
    terms: str  # the three release names (config/releases/<name>.yaml)
    pairs: str
    themes: str
    quotes_table: str | None = None  # None: no quotes (the texts were given without consent to quote)
    words_per_firm: int = WORDS_PER_FIRM
    themes_per_firm: int = THEMES_PER_FIRM
    compound_prefix: int = COMPOUND_PREFIX  # released words whose stems share this many first letters are one theme


CONSULTATION = ThemeSet(
    "consultation", comments, "proposal", "marts.consultation_firm_words", "marts.consultation_firm_pairs", "marts.consultation_firm_themes",
    "themes.consultation_theme_model", "consultation_terms", "consultation_term_pairs", "consultation_themes",
    quotes_table="themes.consultation_quotes")
PROGRAMME = ThemeSet(
    "programme_need", programme_texts, "quarter", "marts.programme_need_firm_words", "marts.programme_need_firm_pairs",
    "marts.programme_need_firm_themes", "themes.programme_need_theme_model", "programme_need_terms", "programme_need_term_pairs",
    "programme_need_themes", words_per_firm=1, themes_per_firm=1,  # the bounds: config/releases/programme_need_*.yaml
    compound_prefix=10)  # 'bedrijfs' starts many unrelated needs (bedrijfsopvolging, bedrijfsruimte): join longer prefixes only
THEME_SETS = (CONSULTATION, PROGRAMME)

# The consultation's names, as before
TERMS, PAIRS, THEMES = CONSULTATION.terms, CONSULTATION.pairs, CONSULTATION.themes
MODEL_TABLE, QUOTES_TABLE = CONSULTATION.model_table, CONSULTATION.quotes_table


def _for_table(frame: pl.DataFrame, theme_set: ThemeSet) -> pl.DataFrame:
    return frame.rename({"proposal": theme_set.period}) if theme_set.period != "proposal" and "proposal" in frame.columns else frame


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


# The code that makes the rows: a change to it makes every period again.
_CODE = hashlib.sha256(b"".join(Path(module).read_bytes() for module in (__file__, _themes.__file__))).hexdigest()


def _text_hashes(connection: duckdb.DuckDBPyConnection, texts: pl.DataFrame, columns: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """Period -> its texts' `fingerprints.row_hashes` over `columns`: any changed, new or erased text changes it."""
    connection.register("theme_texts", texts.select("proposal", *columns))
    try:
        return fingerprints.row_hashes(connection, "theme_texts", "proposal")
    finally:
        connection.unregister("theme_texts")


def _refresh(connection: duckdb.DuckDBPyConnection, table: str, theme_set: ThemeSet, texts: pl.DataFrame,
             build: Callable[[pl.DataFrame], pl.DataFrame], inputs: dict[str, object] | None = None,
             columns: tuple[str, ...] = ("firm_id", "comment")) -> int:
    """Make the periods of `table` whose texts or `inputs` (period -> what else its rows are made from, e.g. the
    released vocabulary) changed since it was last made, with `build(texts of those periods)`; the other periods stay.
    `columns`: what of a text the rows depend on (besides its period). The table and its fingerprints change in one
    transaction. Returns the rows in the table."""
    inputs = inputs or {}
    settings = f"{_CODE}|{theme_set.words_per_firm}|{theme_set.themes_per_firm}|{theme_set.compound_prefix}"
    current = {period: fingerprints.fingerprint(settings, *text_hash, repr(inputs.get(period)))
               for period, text_hash in _text_hashes(connection, texts, columns).items()}
    recorded = fingerprints.recorded(connection, table)
    changed = fingerprints.changed(current, recorded)
    whole = not _exists(connection, *table.split(".")) or not recorded or set(changed) >= recorded.keys()
    if changed or whole:
        frame = _for_table(build(texts if whole else texts.filter(pl.col("proposal").is_in(changed))), theme_set)
        connection.begin()
        try:
            if whole:
                _replace(connection, table, frame)
            else:
                connection.execute(f"DELETE FROM {table} WHERE {theme_set.period} IN (SELECT unnest(?))", [changed])
                connection.register("theme_frame", frame)
                connection.execute(f"INSERT INTO {table} BY NAME SELECT * FROM theme_frame")
                connection.unregister("theme_frame")
            fingerprints.record(connection, table, current)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
    return connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def build_firm_words(connection: duckdb.DuckDBPyConnection, theme_set: ThemeSet = CONSULTATION) -> int:
    """The set's words mart (marts.consultation_firm_words): at most `words_per_firm` words per firm per period (step 1)."""
    return _refresh(connection, theme_set.words_mart, theme_set, theme_set.texts(connection),
                    lambda texts: firm_words(texts, theme_set.words_per_firm))


def vocabularies(connection: duckdb.DuckDBPyConnection, theme_set: ThemeSet = CONSULTATION) -> dict[str, dict[str, Term]]:
    """Period -> its vocabulary, from the released words only."""
    counts = released_counts(released(connection, theme_set.terms), "term", _thresholds(connection, theme_set.terms))
    return {proposal: vocabulary(words) for proposal, words in counts.items()}


def build_firm_pairs(connection: duckdb.DuckDBPyConnection, theme_set: ThemeSet = CONSULTATION) -> int:
    """The set's pairs mart (marts.consultation_firm_pairs): one pair of released words per firm per period (step 2)."""
    known = vocabularies(connection, theme_set)
    return _refresh(connection, theme_set.pairs_mart, theme_set, theme_set.texts(connection),
                    lambda texts: firm_pairs(texts, known), {period: sorted(terms.items()) for period, terms in known.items()})


def models(connection: duckdb.DuckDBPyConnection, theme_set: ThemeSet = CONSULTATION) -> dict[str, list[Theme]]:
    """Period -> its themes: post-processing of the released words and pairs."""
    pairs = released_counts(released(connection, theme_set.pairs), "pair", _thresholds(connection, theme_set.pairs))
    return {proposal: theme_model(proposal, terms, pairs.get(proposal, {}), compound_prefix=theme_set.compound_prefix)
            for proposal, terms in vocabularies(connection, theme_set).items()}


def model_frame(themes: dict[str, list[Theme]], period: str = "proposal") -> pl.DataFrame:
    rows = [(t.proposal, t.key, rank, term.stem, term.word, term.firms) for ts in themes.values() for t in ts
            for rank, term in enumerate(t.terms, start=1)]
    return pl.DataFrame(rows, schema={period: pl.Utf8, "theme": pl.Utf8, "rank": pl.Int32, "stem": pl.Utf8, "word": pl.Utf8,
                                      "released_firms": pl.Float64}, orient="row")


def build_firm_themes(connection: duckdb.DuckDBPyConnection, theme_set: ThemeSet = CONSULTATION) -> int:
    """The set's model (themes.consultation_theme_model) and themes mart (marts.consultation_firm_themes): at most
    `themes_per_firm` themes per firm per period (steps 3, 4)."""
    themes = models(connection, theme_set)
    _replace(connection, theme_set.model_table, model_frame(themes, theme_set.period))
    return _refresh(connection, theme_set.themes_mart, theme_set, theme_set.texts(connection),
                    lambda texts: firm_themes(texts, themes, theme_set.themes_per_firm), themes)


def stored_models(connection: duckdb.DuckDBPyConnection, theme_set: ThemeSet = CONSULTATION) -> dict[str, list[Theme]]:
    """The themes as the last build stored them."""
    schema, table = theme_set.model_table.split(".")
    if not _exists(connection, schema, table):
        return {}
    period = theme_set.period
    frame = connection.execute(f"SELECT {period} AS proposal, theme, rank, stem, word, released_firms FROM {theme_set.model_table} "
                               "ORDER BY proposal, theme, rank").pl()
    themes: dict[str, list[Theme]] = {}
    for (proposal, key), rows in frame.group_by(["proposal", "theme"], maintain_order=True):
        terms = tuple(Term(r["stem"], r["word"], r["released_firms"]) for r in rows.iter_rows(named=True))
        themes.setdefault(proposal, []).append(Theme(key, proposal, terms))
    return themes


def released_theme_counts(connection: duckdb.DuckDBPyConnection, theme_set: ThemeSet = CONSULTATION) -> dict[str, dict[str, float | None]]:
    """Period -> released theme -> its released number of firms (None when shown as 'x')."""
    cells = released(connection, theme_set.themes)
    if cells.is_empty():
        return {}
    found: dict[str, dict[str, float | None]] = {}
    for period, theme, estimate in cells.filter(pl.col("statistic") == "count").select("period", "theme", "estimate").iter_rows():
        found.setdefault(period, {})[theme] = estimate
    return found


def build_quotes(connection: duckdb.DuckDBPyConnection, rng: random.Random | None = None, theme_set: ThemeSet = CONSULTATION) -> int:
    """The set's quotes table (themes.consultation_quotes): up to two consented comments per released theme of at least
    QUOTE_THRESHOLD firms; 0 and no table for a set without quotes.

    A quote drawn before stays while its comment is still current, consented and about the theme. So a proposal
    whose comments (with their consent), themes and released counts are as they were keeps its quotes without
    reading its comments again: drawing anew would keep every one of them.
    """
    if theme_set.quotes_table is None:
        return 0
    table = theme_set.quotes_table
    kept: dict[str, list[str]] = {}
    if _exists(connection, *table.split(".")):
        for theme, response_id in connection.execute(f"SELECT theme, response_id FROM {table} ORDER BY theme, position").fetchall():
            kept.setdefault(theme, []).append(response_id)
    themes, released_counts = stored_models(connection, theme_set), released_theme_counts(connection, theme_set)

    def draw(texts: pl.DataFrame) -> pl.DataFrame:
        rows = []
        for proposal in sorted(set(texts["proposal"].unique()) & released_counts.keys()):
            counts = released_counts[proposal]
            if not any((counts.get(theme.key) or 0) >= QUOTE_THRESHOLD for theme in themes.get(proposal, [])):
                continue
            candidates = quote_candidates(texts, proposal, themes[proposal])
            for theme in themes[proposal]:
                if (counts.get(theme.key) or 0) >= QUOTE_THRESHOLD:
                    chosen = choose_quotes(candidates.get(theme.key, []), kept.get(theme.key, []), rng)
                    rows += [(proposal, theme.key, position, response_id, text) for position, (response_id, text) in enumerate(chosen, start=1)]
        return pl.DataFrame(rows, schema={"proposal": pl.Utf8, "theme": pl.Utf8, "position": pl.Int32, "response_id": pl.Utf8,
                                          "text": pl.Utf8}, orient="row")

    inputs = {proposal: (sorted(counts.items()), themes.get(proposal)) for proposal, counts in released_counts.items()}
    return _refresh(connection, table, theme_set, theme_set.texts(connection), draw, inputs,
                    columns=("firm_id", "response_id", "comment", "consent"))


def catalogue(connection: duckdb.DuckDBPyConnection, names: dict[str, str], theme_set: ThemeSet = CONSULTATION) -> dict[str, dict]:
    """What themes.json publishes: per released theme its period, name, top terms (released words) and quotes.

    Only themes that the set's themes release selected are listed (a theme of the model that did not pass the
    selection stays unnamed); quotes only for themes of at least QUOTE_THRESHOLD released firms. The period is
    under the set's period column name (`proposal` for the consultation, `quarter` for the programme).
    """
    from content.theme_names import default_name
    from core.themes import quote_text

    quotes: dict[str, list[str]] = {}
    if theme_set.quotes_table and _exists(connection, *theme_set.quotes_table.split(".")):
        for theme, text in connection.execute(f"SELECT theme, text FROM {theme_set.quotes_table} ORDER BY theme, position").fetchall():
            quotes.setdefault(theme, []).append(quote_text(text))
    themes = stored_models(connection, theme_set)
    entries = {}
    for proposal, counts in sorted(released_theme_counts(connection, theme_set).items()):
        for theme in themes.get(proposal, []):
            if theme.key in counts:
                entries[theme.key] = {theme_set.period: proposal, "name": names.get(theme.key, default_name(theme.key)), "terms": theme.words,
                                      "quotes": quotes.get(theme.key, [])}
    return entries
