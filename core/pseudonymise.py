"""Keyed pseudonymisation of direct identifiers (KvK number, BSN, e-mail).

An identifier becomes HMAC-SHA256(key, identifier) in hex: stable, so one
firm keeps one `firm_id` across files and waves, and not reversible without
the key, which comes only from the environment (`MKB_PSEUDONYM_KEY`) and is
never stored beside the data. The manifest records the key's fingerprint
(`key_fingerprint`, a keyed hash of a fixed text: it names the key without
revealing it), so a warehouse is never loaded under two keys. Free text is
scrubbed of personal data by `core.scrub` before it is stored.

The HMAC runs set-wise over a column, in DuckDB over the distinct values
(`sha256` over the key's inner and outer pads, exactly RFC 2104).
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

import duckdb
import polars as pl

MIN_KEY_LENGTH = 32  # characters; checked where the key enters (assets.resources)


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
