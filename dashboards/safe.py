"""Showing and offering what users typed, safely: Markdown that shows exactly those characters, CSV cells a
spreadsheet will not run.

Streamlit renders Markdown in `st.write`, `st.markdown`, messages (`st.error`,
`st.success`, ...), expander and widget labels. A name such as
`Jan [Klik hier](https://evil.example)` would become a working link there, and
`![t](http://host/t.png)` an image fetched from elsewhere. Every piece of
user-supplied text (names, e-mail addresses, typed CSV cells, error messages
that mention them) goes through `md()` before it reaches one of those.
"""

from __future__ import annotations

import re
import string

import polars as pl

from core.contracts import FORBIDDEN_TEXT_CHARACTERS

_MARKDOWN_SPECIAL = frozenset(string.punctuation)  # CommonMark lets a backslash escape any ASCII punctuation
# Streamlit's Markdown turns "https://...", "www...." and "name@host.tld" into links even when they are escaped
# (measured in Chromium, tests/test_browser_accounts.py); an invisible word joiner after ":" and "www" and before "@"
# breaks those patterns and shows nothing.
WORD_JOINER = "\u2060"
_AUTOLINK_TRIGGER = re.compile(r"\\:|(?i:www)(?=\\\.)|\\@")
_LEFT_OUT = {ord(c): None for c in FORBIDDEN_TEXT_CHARACTERS if c not in "\t\n\r\v\f\x1c\x1d\x1e\x1f\x85"}  # those are spaces


def md(text: object) -> str:
    """User-supplied text as Markdown that renders as exactly that text: no links, images, emphasis, colours or HTML.

    Line breaks become spaces (a new line could start a heading or a list); control and reading-direction
    characters, which free text may not contain either (`core.contracts`), are left out.

    >>> print(md("Jan [Klik hier](x) ![t](y.png)"))
    Jan \\[Klik hier\\]\\(x\\) \\!\\[t\\]\\(y\\.png\\)
    >>> print(md("a\\nb  *c*"))
    a b \\*c\\*
    >>> md("jan@x.nl https://y") == "jan" + WORD_JOINER + "\\\\@x\\\\.nl https\\\\:" + WORD_JOINER + "\\\\/\\\\/y"
    True
    """
    flat = " ".join(str(text).translate(_LEFT_OUT).split())
    escaped = "".join(f"\\{character}" if character in _MARKDOWN_SPECIAL else character for character in flat)
    return _AUTOLINK_TRIGGER.sub(lambda match: match.group(0) + WORD_JOINER if match.group(0) != "\\@" else WORD_JOINER + "\\@", escaped)


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection). defusedcsv
# misses TAB and CR, and a polars frame is written faster by polars, so this is one expression per column.
_FORMULA_START = r"^[=+\-@\t\r|%]"
_PLAIN_NUMBER = r"^-?[0-9]+([.,][0-9]+)?$"


def neutralised(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe; numbers (also negative ones) stay.

    >>> neutralised(pl.DataFrame({"naam": ["=HYPERLINK(1)", "-3,5", "@SUM(A1)", "Jan"]}))["naam"].to_list()
    ["'=HYPERLINK(1)", '-3,5', "'@SUM(A1)", 'Jan']
    """
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.Utf8]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA_START) & ~pl.col(name).str.contains(_PLAIN_NUMBER))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text_columns
    )


def csv_download(frame: pl.DataFrame) -> bytes:
    """The CSV the app offers for download: semicolons (Dutch spreadsheets), UTF-8 with BOM, formulas neutralised."""
    return ("\ufeff" + neutralised(frame).write_csv(separator=";")).encode("utf-8")


def parquet_download(frame: pl.DataFrame) -> bytes:
    """The Parquet file the app offers for download: the released figures as numbers (what a table shows, unformatted)."""
    import io

    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()
