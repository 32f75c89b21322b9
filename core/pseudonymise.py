"""Keyed pseudonymisation of direct identifiers (KvK number, BSN, e-mail).

An identifier becomes HMAC-SHA256(key, identifier) in hex: stable, so one
firm keeps one `firm_id` across files and waves, and not reversible without
the key, which comes only from the environment (`MKB_PSEUDONYM_KEY`) and is
never stored beside the data. The manifest records the key's fingerprint
(`key_fingerprint`, a keyed hash of a fixed text: it names the key without
revealing it), so a warehouse is never loaded under two keys. Free text is
scrubbed of anything that looks like an identifier before it is stored.

Both run set-wise over a column: the HMAC in DuckDB over the distinct
values (`sha256` over the key's inner and outer pads, exactly RFC 2104), and
the scrubbing only for the texts that could hold an identifier.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import string
from functools import cache

import duckdb
import polars as pl

MIN_KEY_LENGTH = 32  # characters; checked where the key enters (assets.resources)

# Runs of 8 or 9 digits are KvK numbers or BSNs as people type them
# (also with spaces or dots between groups, e.g. "1234 5678").
_NUMBER_RUN = re.compile(r"(?<![0-9])[0-9](?:[ .]?[0-9]){7,8}(?![0-9])")
_IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b")
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
"""What counts as an e-mail address. Python's regex engine tries it from every
position of a long run of letters, which takes quadratic time (a 40 KB field
took 3 s, 50 MB days); `_scrub_emails` finds exactly its matches in linear time."""
_EMAIL_LOCAL = frozenset(string.ascii_letters + string.digits + "._%+-")
_EMAIL_DOMAIN = frozenset(string.ascii_letters + string.digits + ".-")
_LETTERS = frozenset(string.ascii_letters)
# A text without any of these cannot hold a match of the three patterns (nor
# get one from a replacement, which has no letters in upper case or digits).
_MAY_IDENTIFY = r"@|[A-Z]{2}[0-9]{2}|[0-9](?:[ .]?[0-9]){7}"

SCRUBBED_NUMBER = "[nummer verwijderd]"
SCRUBBED_EMAIL = "[e-mailadres verwijderd]"
SCRUBBED_IBAN = "[rekeningnummer verwijderd]"


def pseudonym(identifier: str, key: bytes) -> str:
    """Keyed hash of one identifier.

    >>> pseudonym("12345678", b"k" * 32)[:16]
    '843709cc500d082e'
    """
    return hmac.digest(key, identifier.encode(), "sha256").hex()


def key_fingerprint(key: bytes) -> str:
    """A name for a key that does not reveal it (16 hex digits): recorded with every loaded file.

    >>> key_fingerprint(b"k" * 32)
    '70b34cbe7cc41278'
    """
    return hmac.digest(key, b"mkbvm key fingerprint", "sha256").hex()[:16]


_BLOCK = 64  # bytes: SHA-256's block, the size of HMAC's key pads


def _pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC's inner and outer key pads (RFC 2104): a key longer than a block is hashed first."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


# The key's pads travel as parameters, never in the SQL text (which an error message may quote).
_HMAC_SQL = "sha256($outer_pad || unhex(sha256($inner_pad || encode(value))))"


@cache
def _hash_engine() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:")


def pseudonymise_column(values: pl.Series, key: bytes) -> pl.Series:
    """`pseudonym` of every value of a column (nulls stay null), computed set-wise in DuckDB.

    Each distinct value is hashed once (firms repeat across waves), in a
    private in-memory DuckDB, so nothing of the key or the identifiers is
    left in the warehouse.

    >>> pseudonymise_column(pl.Series(["12345678", None]), b"k" * 32).str.slice(0, 16).to_list()
    ['843709cc500d082e', None]
    """
    inner_pad, outer_pad = _pads(key)
    distinct_values = pl.DataFrame({"value": values.cast(pl.Utf8).drop_nulls().unique()})
    engine = _hash_engine().cursor()  # a cursor per call: safe from several threads
    try:
        engine.register("distinct_values", distinct_values)
        hashed = engine.execute(
            f"SELECT value, {_HMAC_SQL} AS pseudonym FROM distinct_values", {"inner_pad": inner_pad, "outer_pad": outer_pad}
        ).pl()
    finally:
        engine.close()
    frame = pl.DataFrame({"value": values.cast(pl.Utf8)})
    return frame.join(hashed, on="value", how="left", maintain_order="left", nulls_equal=False)["pseudonym"].alias(values.name)


def scrub_text(text: str | None) -> str | None:
    """Remove e-mail addresses, IBANs and 8-9 digit numbers (KvK, BSN) from free text.

    >>> scrub_text("Mail jan@bakkerij.nl, KvK 1234 5678")
    'Mail [e-mailadres verwijderd], KvK [nummer verwijderd]'
    """
    if text is None:
        return None
    text = _scrub_emails(text)
    text = _IBAN.sub(SCRUBBED_IBAN, text)
    return _NUMBER_RUN.sub(SCRUBBED_NUMBER, text)


def _scrub_emails(text: str) -> str:
    """`re.sub(EMAIL_PATTERN, SCRUBBED_EMAIL, text)`, in time linear in the text.

    A match ends its local part at an '@' (the local part cannot hold one), so
    it starts where the run of local characters before that '@' starts, or
    where the previous match ended; whether the domain after the '@' matches
    does not depend on that start. Every character is looked at a bounded
    number of times (runs before and after different '@'s do not overlap).
    """
    pieces, position = [], 0
    at = text.find("@")
    while at != -1:
        start = at
        while start > position and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        end = _email_domain_end(text, at + 1) if start < at else None
        if end is not None:
            pieces += [text[position:start], SCRUBBED_EMAIL]
            position = end
        at = text.find("@", max(at + 1, position))
    pieces.append(text[position:])
    return "".join(pieces)


def _email_domain_end(text: str, begin: int) -> int | None:
    """End of `[A-Za-z0-9.-]+\\.[A-Za-z]{2,}` matched at `begin` as a backtracking engine matches it, or None."""
    run_end = begin
    while run_end < len(text) and text[run_end] in _EMAIL_DOMAIN:
        run_end += 1
    # The greedy run gives back characters until a '.' followed by two letters remains.
    for dot in range(run_end - 1, begin, -1):
        if text[dot] == "." and dot + 2 < len(text) and text[dot + 1] in _LETTERS and text[dot + 2] in _LETTERS:
            end = dot + 3
            while end < len(text) and text[end] in _LETTERS:
                end += 1
            return end
    return None


def scrub_column(values: pl.Series) -> pl.Series:
    """`scrub_text` over a column, exactly; only texts that could hold an identifier go through Python.

    >>> scrub_column(pl.Series(["geen nummer", "KvK 12345678", None])).to_list()
    ['geen nummer', 'KvK [nummer verwijderd]', None]
    """
    values = values.cast(pl.Utf8)
    suspect = values.str.contains(_MAY_IDENTIFY).fill_null(False)
    if not suspect.any():
        return values
    scrubbed = values.filter(suspect).map_elements(scrub_text, return_dtype=pl.Utf8, skip_nulls=True)
    return values.scatter(suspect.arg_true(), scrubbed)
