"""Themes in the free text of a proposal's consultation, found under differential privacy.

Four steps; each step that reads private text ends in an OpenDP release
(a spec in `config/releases/`, charged to the proposal's `dis` budget and
stored), and what comes after it uses only released numbers and one firm's
own text:

1. `firm_words`: per firm per proposal at most `WORDS_PER_FIRM` content words
   of its own comments (its most frequent, then the longest, then
   alphabetical: a firm's choice depends on its own text only).
   Release `consultation_terms`: OpenDP's thresholded partition selection
   of the words by the number of distinct firms using them (a firm touches
   at most 3 keys, each by at most 1). The vocabulary of a proposal is the
   released words: every word in it was used by many firms (see the
   threshold in the ledger entry), and a word only one firm, or a handful,
   used can appear only with probability delta.
2. `vocabulary`: released words grouped by their Dutch stem (post-processing);
   a stem is shown as its most counted released word, so the terms shown
   are released words, never a stem or a word from a single comment.
   `firm_pairs`: per firm per proposal one pair of vocabulary stems, the two
   of its own stems with the largest released counts. Release
   `consultation_term_pairs`: partition selection over the pairs (one row per
   firm): a noisy co-occurrence graph of the vocabulary.
3. `theme_model`: themes are the connected groups of that graph after
   dropping weak edges (a pair's released count relative to the smaller of
   its two terms' released counts), with released words that share their
   first `COMPOUND_PREFIX` letters joined (Dutch compounds: energiekosten,
   energieprijzen, energierekening); a released word linked to none is a
   theme of its own (it passed the selection, so many firms use it); a theme's
   key is `<proposal>/<its most counted word>`, its terms ordered by released
   count. This is post-processing of releases 1 and 2 only: the model's top
   terms and the theme definitions reveal nothing beyond them, and they are
   fixed once the two releases are stored (the same themes on every run).
4. `assign`: each firm's comments on a proposal go to at most two themes, by
   how many of each theme's stems they use (the firm's own text and the
   released model only, so adding or removing one firm changes only that
   firm's rows). Release `consultation_themes`: partition selection of the
   themes by the number of firms, at most 2 rows per firm; a theme raised by
   fewer firms than the threshold never appears.

Privacy loss per proposal: the three releases compose sequentially (each
later one chosen adaptively from the earlier ones' output): epsilon
0.2 + 0.1 + 0.2 = 0.5 and delta about 2.9e-8 each, 8.7e-8 in all, as
OpenDP's maps certify them (thresholds 269, 167 and 175 firms), charged to
the proposal's `dis` budget beside the stance shares. What the published
themes reveal about one firm is therefore bounded by (0.5, 8.7e-8)-DP: its
top terms are released words, its grouping comes from released pairs, and
its count is a released count. The input is the scrubbed free text about the
proposal: the consultation comments per article and the DIS explanation of
the same proposal (both in the `dis` dataset; the CGC's free text belongs to
another budget, per wave, and is not used here).

Quotes (`choose_quotes`) are a different thing: a firm's own words
published because it ticked "mijn reactie mag anoniem geciteerd worden"
for that very comment. That is a consented disclosure outside the DP
guarantee, not a statistic. What keeps it from leaking other firms' data:
a quote is shown only for a theme whose released count is at least
`QUOTE_THRESHOLD` (decided by released numbers only); the candidates are
only consented comments assigned to that theme (the firm's own text and the
released model); and which candidate is shown is drawn uniformly at random
(`random.SystemRandom`, a documented non-privacy RNG, kept once drawn), so
the choice carries no information about the other, non-consenting
reactions. A quote is the scrubbed text as stored (personal data removed at
ingestion), cut to `QUOTE_LENGTH` characters, and never carries the firm's
sector, size class or province, whose groups can be small.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import polars as pl

from core.dutch_text import content_words, stem, stems_of

WORDS_PER_FIRM = 3  # the contribution bound of consultation_terms (rows per firm per proposal)
THEMES_PER_FIRM = 2  # the contribution bound of consultation_themes
EDGE_STRENGTH = 0.3  # a pair's count / the smaller of its terms' counts, below which the pair links no theme
COMPOUND_PREFIX = 7  # released words whose stems start with the same 7 letters are one theme (Dutch compounds)
TERMS_SHOWN = 6
QUOTE_THRESHOLD = 300  # released number of firms a theme needs before any quote of it is shown
QUOTES_PER_THEME = 2
QUOTE_LENGTH = 400
PAIR = "+"


# --------------------------------------------------------------------------- 1. words per firm


def firm_words(comments: pl.DataFrame, limit: int = WORDS_PER_FIRM) -> pl.DataFrame:
    """(firm_id, proposal, term, rank): a firm's `limit` most used content words per proposal, from its own comments only.

    >>> frame = pl.DataFrame({"firm_id": ["a", "a"], "proposal": ["p", "p"],
    ...     "comment": ["Loonkosten, loonkosten en formulieren", "Formulieren en regels"]})
    >>> firm_words(frame, 2).rows()
    [('a', 'p', 'formulieren', 1), ('a', 'p', 'loonkosten', 2)]
    """
    rows = []
    for (firm, proposal), texts in _texts_per_firm(comments).items():
        counts = Counter(word for text in texts for word in content_words(text))
        ranked = sorted(counts, key=lambda word: (-counts[word], -len(word), word))[:limit]
        rows += [(firm, proposal, word, rank) for rank, word in enumerate(ranked, start=1)]
    return pl.DataFrame(rows, schema={"firm_id": pl.Utf8, "proposal": pl.Utf8, "term": pl.Utf8, "rank": pl.Int32}, orient="row")


def _texts_per_firm(comments: pl.DataFrame) -> dict[tuple[str, str], list[str]]:
    texts: dict[tuple[str, str], list[str]] = defaultdict(list)
    for firm, proposal, text in comments.select("firm_id", "proposal", "comment").iter_rows():
        if text:
            texts[(firm, proposal)].append(text)
    return texts


# --------------------------------------------------------------------------- 2. vocabulary and pairs


def released_counts(cells: pl.DataFrame, key: str, threshold_of: dict[str, int] | None = None) -> dict[str, dict[str, float]]:
    """Proposal -> released key -> its noisy count; a key hidden near the threshold counts as the threshold (it passed it)."""
    if cells.is_empty() or key not in cells.columns:
        return {}
    rows = cells.filter((pl.col("statistic") == "count") & pl.col(key).is_not_null())
    counts: dict[str, dict[str, float]] = defaultdict(dict)
    for period, name, estimate in rows.select("period", key, "estimate").iter_rows():
        floor = (threshold_of or {}).get(period, 0)
        counts[period][name] = float(estimate) if estimate is not None else float(floor)
    return dict(counts)


@dataclass(frozen=True)
class Term:
    stem: str
    word: str  # the released word shown for this stem (its most counted one)
    firms: float  # released firms of its words, summed (post-processing; a firm using two forms counts twice)


def vocabulary(word_counts: dict[str, float]) -> dict[str, Term]:
    """Stem -> term, from the released words of one proposal.

    >>> sorted(vocabulary({"regels": 300, "regel": 200, "loonkosten": 500}).values(), key=lambda t: t.stem)
    [Term(stem='loonkost', word='loonkosten', firms=500.0), Term(stem='regel', word='regels', firms=500.0)]
    """
    grouped: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for word, count in word_counts.items():
        grouped[stem(word)].append((word, float(count)))
    return {s: Term(s, max(forms, key=lambda f: (f[1], f[0]))[0], sum(c for _, c in forms)) for s, forms in grouped.items()}


def firm_pairs(comments: pl.DataFrame, vocabularies: dict[str, dict[str, Term]]) -> pl.DataFrame:
    """(firm_id, proposal, pair, rank): one pair per firm per proposal, its two vocabulary stems with the largest released counts."""
    rows = []
    for (firm, proposal), texts in _texts_per_firm(comments).items():
        terms = vocabularies.get(proposal, {})
        known = sorted((s for s in stems_of(texts) if s in terms), key=lambda s: (-terms[s].firms, s))[:2]
        if len(known) == 2:
            rows.append((firm, proposal, PAIR.join(sorted(known)), 1))
    return pl.DataFrame(rows, schema={"firm_id": pl.Utf8, "proposal": pl.Utf8, "pair": pl.Utf8, "rank": pl.Int32}, orient="row")


# --------------------------------------------------------------------------- 3. the theme model


@dataclass(frozen=True)
class Theme:
    key: str  # <proposal>/<its most counted word>
    proposal: str
    terms: tuple[Term, ...] = field(default_factory=tuple)  # most counted first

    @property
    def words(self) -> list[str]:
        return [term.word for term in self.terms[:TERMS_SHOWN]]

    @property
    def stems(self) -> frozenset[str]:
        return frozenset(term.stem for term in self.terms)


def theme_model(proposal: str, terms: dict[str, Term], pair_counts: dict[str, float], strength: float = EDGE_STRENGTH,
                compound_prefix: int = COMPOUND_PREFIX) -> list[Theme]:
    """The themes of one proposal: groups of vocabulary terms linked by strong released pairs (see the module docstring).

    >>> terms = vocabulary({"loonkosten": 900, "lonen": 400, "premies": 300, "energie": 800, "stroom": 300, "klanten": 500})
    >>> pairs = {"loon+loonkost": 350, "loonkost+premie": 250, "energ+stroom": 280, "energ+loonkost": 60}
    >>> [(t.key, t.words) for t in theme_model("p", terms, pairs)]
    [('p/loonkosten', ['loonkosten', 'lonen', 'premies']), ('p/energie', ['energie', 'stroom']), ('p/klanten', ['klanten'])]
    """
    parent = {s: s for s in terms}

    def root(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    ordered_stems = sorted(terms)
    for a, b in zip(ordered_stems, ordered_stems[1:], strict=False):  # compounds with one first part: energiekosten, energieprijzen
        if len(a) >= compound_prefix and b.startswith(a[:compound_prefix]):
            parent[root(a)] = root(b)
    for pair, count in sorted(pair_counts.items()):
        a, _, b = pair.partition(PAIR)
        if a in terms and b in terms and count >= strength * min(terms[a].firms, terms[b].firms):
            parent[root(a)] = root(b)
    groups: dict[str, list[Term]] = defaultdict(list)
    for s, term in terms.items():
        groups[root(s)].append(term)
    themes = []
    for members in groups.values():
        if members:
            ordered = tuple(sorted(members, key=lambda t: (-t.firms, t.word)))
            themes.append(Theme(f"{proposal}/{ordered[0].word}", proposal, ordered))
    return sorted(themes, key=lambda t: (-t.terms[0].firms, t.key))


# --------------------------------------------------------------------------- 4. assignment


def assign(stems: set[str], themes: list[Theme], limit: int = THEMES_PER_FIRM) -> list[Theme]:
    """The at most `limit` themes a text is about: most of each theme's stems used first; a second theme needs two of its stems.

    >>> terms = vocabulary({"loonkosten": 900, "lonen": 400, "energie": 800, "stroom": 300})
    >>> themes = theme_model("p", terms, {"loon+loonkost": 350, "energ+stroom": 280})
    >>> [t.key for t in assign({"loonkost", "energ"}, themes)]
    ['p/loonkosten']
    >>> [t.key for t in assign({"loonkost", "loon", "energ", "stroom"}, themes)]
    ['p/loonkosten', 'p/energie']
    """
    scored = sorted(((len(stems & t.stems), -t.terms[0].firms, t.key, t) for t in themes), key=lambda s: s[:3])
    scored = sorted(scored, key=lambda s: (-s[0], s[1], s[2]))
    chosen = [entry[3] for entry in scored if entry[0] >= 1][:1]
    chosen += [entry[3] for entry in scored[1:] if entry[0] >= 2 and chosen][: limit - 1]
    return chosen


def firm_themes(comments: pl.DataFrame, models: dict[str, list[Theme]], limit: int = THEMES_PER_FIRM) -> pl.DataFrame:
    """(firm_id, proposal, theme, rank): the at most `limit` themes of each firm's comments on a proposal."""
    rows = []
    for (firm, proposal), texts in _texts_per_firm(comments).items():
        for rank, theme in enumerate(assign(stems_of(texts), models.get(proposal, []), limit), start=1):
            rows.append((firm, proposal, theme.key, rank))
    return pl.DataFrame(rows, schema={"firm_id": pl.Utf8, "proposal": pl.Utf8, "theme": pl.Utf8, "rank": pl.Int32}, orient="row")


# --------------------------------------------------------------------------- quotes


def quote_candidates(comments: pl.DataFrame, proposal: str, themes: list[Theme]) -> dict[str, list[tuple[str, str]]]:
    """Per theme key: (response_id, text) of the consented comments on `proposal` that are themselves about that theme
    (among `themes`, the proposal's model). Each comment is read once, for all the proposal's themes."""
    candidates: dict[str, list[tuple[str, str]]] = {}
    frame = comments.filter((pl.col("proposal") == proposal) & pl.col("consent") & pl.col("comment").is_not_null())
    for response_id, text in frame.select("response_id", "comment").iter_rows():
        for theme in assign(stems_of([text]), themes):
            candidates.setdefault(theme.key, []).append((response_id, text))
    return candidates


def choose_quotes(candidates: list[tuple[str, str]], kept: list[str], rng: random.Random | None = None,
                  count: int = QUOTES_PER_THEME) -> list[tuple[str, str]]:
    """Keep the quotes chosen before that are still candidates; fill up uniformly at random among the others.

    >>> choose_quotes([("r1", "a"), ("r2", "b")], kept=["r2", "gone"], count=1)
    [('r2', 'b')]
    """
    by_id = dict(candidates)
    chosen = [(r, by_id[r]) for r in kept if r in by_id][:count]
    rest = sorted(r for r in by_id if r not in {c for c, _ in chosen})
    drawn = (rng or random.SystemRandom()).sample(rest, min(count - len(chosen), len(rest)))
    return chosen + [(r, by_id[r]) for r in drawn]


def quote_text(text: str) -> str:
    """A quote as shown: the stored (scrubbed) text, cut at a word boundary to at most `QUOTE_LENGTH` characters."""
    text = " ".join(text.split())
    if len(text) <= QUOTE_LENGTH:
        return text
    return text[:QUOTE_LENGTH].rsplit(" ", 1)[0] + " …"
