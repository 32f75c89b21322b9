"""Dutch text preparation for the themes in free text: words, stop words, stems; nothing is downloaded at run time.

A comment becomes its content words: lower case, letters only (diacritics
kept, so 'geïnvesteerd' stays one word), at least `MIN_LENGTH` letters, not in
the shipped stop-word list (`reference/stopwords_nl.txt`: the Snowball Dutch
list from the `stop-words` package plus a documented project part). A word's
stem comes from Snowball's Dutch stemmer (`snowballstemmer`), so 'regels'
and 'regel', 'formulieren' and 'formulier' count as one term.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

import snowballstemmer

from core.settings import REFERENCE_DIR

MIN_LENGTH = 4  # shorter words are nearly always function words ('gas' is the price of this)
WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)


@cache
def stop_words() -> frozenset[str]:
    """The shipped Dutch stop words (lower case)."""
    lines = (REFERENCE_DIR / "stopwords_nl.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@cache
def _stemmer():
    return snowballstemmer.stemmer("dutch")


@cache
def stem(word: str) -> str:
    """Snowball's Dutch stem of a lower-case word.

    >>> stem("formulieren") == stem("formulier"), stem("regels") == stem("regel")
    (True, True)
    """
    return _stemmer().stemWord(word)


def content_words(text: str | None) -> list[str]:
    """The words of a text that can carry a theme, in order (lower case, stop words and short words left out).

    >>> content_words("De regeldruk voor kleine bedrijven wordt te groot, 2x zo veel formulieren!")
    ['regeldruk', 'formulieren']
    """
    if not text:
        return []
    stops = stop_words()
    return [w for w in (m.group(0).lower() for m in WORD.finditer(text)) if len(w) >= MIN_LENGTH and w not in stops]


def word_counts(texts: list[str | None]) -> Counter:
    """How often each content word occurs in these texts (one firm's comments)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(content_words(text))
    return counts


def stems_of(texts: list[str | None]) -> set[str]:
    """The distinct stems of the content words of these texts."""
    return {stem(word) for text in texts for word in content_words(text)}
