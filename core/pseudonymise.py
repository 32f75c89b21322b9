"""Keyed pseudonymisation of direct identifiers (KvK number, BSN, e-mail).

An identifier becomes HMAC-SHA256(key, identifier) in hex: stable, so one
firm keeps one `firm_id` across files and waves, and not reversible without
the key, which comes only from the environment (`MKB_PSEUDONYM_KEY`) and is
never stored beside the data. Free text is scrubbed of anything that looks
like an identifier before it is stored.
"""

from __future__ import annotations

import hmac
import re

import polars as pl

MIN_KEY_LENGTH = 32  # characters; checked where the key enters (assets.resources)

# Runs of 8 or 9 digits are KvK numbers or BSNs as people type them
# (also with spaces or dots between groups, e.g. "1234 5678").
_NUMBER_RUN = re.compile(r"(?<![0-9])[0-9](?:[ .]?[0-9]){7,8}(?![0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b")

SCRUBBED_NUMBER = "[nummer verwijderd]"
SCRUBBED_EMAIL = "[e-mailadres verwijderd]"
SCRUBBED_IBAN = "[rekeningnummer verwijderd]"


def pseudonym(identifier: str, key: bytes) -> str:
    """Keyed hash of one identifier.

    >>> pseudonym("12345678", b"k" * 32)[:16]
    '843709cc500d082e'
    """
    return hmac.digest(key, identifier.encode(), "sha256").hex()


def pseudonymise_column(values: pl.Series, key: bytes) -> pl.Series:
    """Pseudonymise a column, hashing each distinct value once (firms repeat across waves)."""
    distinct = values.drop_nulls().unique()
    lookup = dict(zip(distinct.to_list(), (pseudonym(v, key) for v in distinct.to_list()), strict=True))
    return values.replace_strict(lookup, default=None, return_dtype=pl.Utf8)


def scrub_text(text: str | None) -> str | None:
    """Remove e-mail addresses, IBANs and 8-9 digit numbers (KvK, BSN) from free text.

    >>> scrub_text("Mail jan@bakkerij.nl, KvK 1234 5678")
    'Mail [e-mailadres verwijderd], KvK [nummer verwijderd]'
    """
    if text is None:
        return None
    text = _EMAIL.sub(SCRUBBED_EMAIL, text)
    text = _IBAN.sub(SCRUBBED_IBAN, text)
    return _NUMBER_RUN.sub(SCRUBBED_NUMBER, text)



def scrub_column(values: pl.Series) -> pl.Series:
    """`scrub_text` over a column; free text is short and sparse, so Python's regex is fast enough."""
    return values.map_elements(scrub_text, return_dtype=pl.Utf8, skip_nulls=True)
