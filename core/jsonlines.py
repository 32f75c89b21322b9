"""JSON lines as the landing zone writes and reads them: one record, one line.

`json.dumps(..., ensure_ascii=False)` escapes only `"`, `\\` and U+0000..U+001F;
it leaves U+0085, U+2028 and U+2029 raw. Those are valid inside a JSON
string, but Python's `str.splitlines()` (and many editors and tools) break
lines on them, so a respondent's free text could cut their own submission in
pieces. The writer therefore escapes every character that any common line
splitter treats as a line break, and the reader splits on "\\n" only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
"""Every character Python's `str.splitlines()` breaks on (a test checks the list is complete)."""

# "\n" and "\r" are escaped by json.dumps already, as "\n" and "\r"; the rest get \uXXXX.
_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in LINE_BREAKS if c not in "\n\r"}

_JSON_BLANK = " \t\r"  # what a blank line may hold: JSON whitespace (a CRLF file leaves a "\r")


def json_line(record: dict[str, Any]) -> str:
    """One record as one line of JSON (no newline at the end), readable and without raw line breaks.

    Escaping a character inside a JSON string as \\uXXXX does not change the
    value, and json.dumps puts such characters nowhere but inside strings.

    >>> json_line({"free_text": "een\\u2028twee\\u0085drie é"})
    '{"free_text": "een\\\\u2028twee\\\\u0085drie é"}'
    >>> json.loads(json_line({"t": "a\\u2029b"}))["t"] == "a\\u2029b"
    True
    """
    return json.dumps(record, ensure_ascii=False).translate(_ESCAPES)


def json_lines(records: Iterable[dict[str, Any]]) -> bytes:
    """Records as UTF-8 JSON lines, each line ending in "\\n" (the landing-zone format).

    >>> json_lines([{"a": 1}, {"b": "x\\u2028y"}])
    b'{"a": 1}\\n{"b": "x\\\\u2028y"}\\n'
    """
    return "".join(json_line(record) + "\n" for record in records).encode("utf-8")


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for every non-blank line, splitting on "\\n" only.

    Line numbers count every line of the file, blank ones too, so a number
    in a quarantine reason points at the line an editor shows. A "\\r" left
    by a CRLF file is dropped; U+2028 and the like stay inside their line,
    since they are data (and valid in JSON strings), not line ends.

    >>> list(numbered_lines('{"a": 1}\\r\\n\\r\\n{"b": "x\\u2028y"}\\n'))
    [(1, '{"a": 1}'), (3, '{"b": "x\\u2028y"}')]
    """
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip(_JSON_BLANK):
            yield number, line.removesuffix("\r")
