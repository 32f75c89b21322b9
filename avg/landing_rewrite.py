"""A landing file without one firm's or person's rows, every other row keeping its number (for erasure, `avg.erasure`).

Landing files are the only place where KvK numbers and BSNs are kept as
delivered, so erasing a firm (or a person) must take its rows out of them.
Every raw and quarantine row names its file (`file_hash`) and its row there
(`row_number`), and `core.rekey` reads the file again by those numbers. So a
row is not cut out but blanked, in the file's own format:

* JSON lines: the record's line becomes an empty line (the ingestion counts
  blank lines but loads none, `core.jsonlines.numbered_lines`);
* CSV: the record (one or more physical lines) becomes one line of empty
  fields, `;;;;` with the file's separator and line ending;
* Parquet: every column of the row becomes null.

The rewritten file is parsed again exactly as the ingestion parses it, and
every row not blanked must read exactly as before; otherwise the rewrite is
refused (`RewriteRefused`) and nothing is written. Which rows are the
subject's: the rows whose identifier (KvK number or BSN, trimmed as the
ingestion trims it) is the subject's, and the lines the ingestion could not
read that name the identifier (a run of digits exactly equal to it).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.contracts import EDGE_WHITESPACE
from core.ingest import FileRejected, decode, format_of, header_line, parse, sniff_separator
from core.landing import ingest_limits
from core.sources import Source


class RewriteRefused(RuntimeError):
    """The file cannot be rewritten without changing other rows (it reads differently afterwards); nothing was written."""


@dataclass(frozen=True)
class SubjectRows:
    """Which rows of one landing file belong to the subject."""

    rows: frozenset[int]  # row numbers as the ingestion numbers them (1-based)
    readable: bool = True  # False: the file as a whole does not read (the ingestion quarantined or refused it whole)
    mentions: bool = False  # an unreadable file whose bytes name the identifier


def _token(identifier: str) -> re.Pattern[bytes]:
    return re.compile(rb"(?<![0-9])" + re.escape(identifier.encode()) + rb"(?![0-9])")


def _plain_text(data: bytes, file_name: str) -> bool:
    """Whether a text search over the bytes sees every identifier in the file (UTF-8 CSV or JSON lines)."""
    if format_of(file_name) not in ("csv", "jsonl"):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def subject_rows(data: bytes, file_name: str, declared: Source, identifier: str) -> SubjectRows:
    """The rows of a landing file that belong to the firm or person with this identifier (KvK number or BSN)."""
    token = _token(identifier)
    if _plain_text(data, file_name) and token.search(data) is None:
        return SubjectRows(frozenset())
    try:
        parsed = parse(data, file_name, declared, ingest_limits())
    except FileRejected:
        return SubjectRows(frozenset(), readable=False, mentions=token.search(data) is not None)
    unit = declared.unit_field
    rows = set()
    if unit in parsed.rows.columns:
        values = parsed.rows.select("row_number", pl.col(unit).str.strip_chars(EDGE_WHITESPACE).alias("unit"))
        rows |= set(values.filter(pl.col("unit") == identifier)["row_number"].to_list())
    if parsed.unreadable.height:
        texts = _record_texts(data, file_name, declared)
        rows |= {n for n in parsed.unreadable["row_number"].to_list() if token.search(texts.get(n, b"")) is not None}
    return SubjectRows(frozenset(rows))


# --------------------------------------------------------------------------- records as they are in the file


@dataclass(frozen=True)
class _CsvLayout:
    prefix: bytes  # a UTF-8 byte-order mark, kept as it was
    encoding: str
    separator: str
    columns: int
    lines: list[str]  # physical lines with their endings, as the csv module reads them
    records: list[tuple[int, int]]  # per record (0: the header) its lines [start, end)


def _csv_layout(data: bytes, declared: Source) -> _CsvLayout:
    prefix = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    if prefix or _utf8(data):
        text, encoding = data[len(prefix):].decode("utf-8"), "utf-8"
    else:
        text, encoding, _ = decode(data)
    limits = ingest_limits()
    separator = sniff_separator(header_line(text, limits), declared, limits)
    lines = list(io.StringIO(text, newline=""))  # physical lines with their endings, split as the csv module splits them
    records, start = [], 0
    reader = csv.reader(lines, delimiter=separator)
    header: list[str] = []
    with _field_limit(limits.max_field_bytes):
        for record in reader:
            records.append((start, reader.line_num))
            start = reader.line_num
            if not header:
                header = record
    return _CsvLayout(prefix, encoding, separator, max(len(header), 1), lines, records)


class _field_limit:
    def __init__(self, characters: int) -> None:
        self.characters = characters

    def __enter__(self) -> None:
        self.previous = csv.field_size_limit(self.characters)

    def __exit__(self, *_) -> None:
        csv.field_size_limit(self.previous)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _record_texts(data: bytes, file_name: str, declared: Source) -> dict[int, bytes]:
    """Row number -> the row's own bytes (CSV record or JSON line), for lines the ingestion could not read."""
    if format_of(file_name) == "jsonl":
        return {number: line for number, line in enumerate(data.split(b"\n"), start=1)}
    if format_of(file_name) == "csv":
        layout = _csv_layout(data, declared)
        return {number: "".join(layout.lines[start:end]).encode("utf-8", "replace")
                for number, (start, end) in enumerate(layout.records[1:], start=1)}
    return {}


# --------------------------------------------------------------------------- blanking


def _blank_json_lines(data: bytes, rows: frozenset[int]) -> bytes:
    lines = data.split(b"\n")
    for number in rows:
        if 1 <= number <= len(lines):
            lines[number - 1] = codecs.BOM_UTF8 if number == 1 and data.startswith(codecs.BOM_UTF8) else b""
    return b"\n".join(lines)


def _ending(line: str) -> str:
    return "\r\n" if line.endswith("\r\n") else line[-1] if line.endswith(("\n", "\r")) else ""


def _blank_csv(data: bytes, declared: Source, rows: frozenset[int]) -> bytes:
    layout = _csv_layout(data, declared)
    empty = layout.separator * (layout.columns - 1) if layout.columns > 1 else '""'
    lines = list(layout.lines)
    for number in sorted(rows, reverse=True):  # from the end, so earlier line positions stay valid
        if 1 <= number < len(layout.records):
            start, end = layout.records[number]
            lines[start:end] = [empty + _ending(layout.lines[end - 1])]
    try:
        return layout.prefix + "".join(lines).encode(layout.encoding)
    except UnicodeEncodeError:
        raise RewriteRefused(f"the file is in {layout.encoding} and cannot be written back in it") from None


def _blank_parquet(data: bytes, rows: frozenset[int]) -> bytes:
    table = pq.read_table(io.BytesIO(data))
    mask = pa.array([index + 1 in rows for index in range(table.num_rows)], pa.bool_())
    columns = [pc.if_else(mask, pa.scalar(None, column.type), column) for column in table.columns]
    schema = pa.schema([field.with_nullable(True) for field in table.schema], metadata=table.schema.metadata)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(columns, schema=schema), buffer)
    return buffer.getvalue()


def _comparable(frame: pl.DataFrame, rows: frozenset[int]) -> pl.DataFrame:
    return frame.filter(~pl.col("row_number").is_in(list(rows))).sort("row_number")


def _check(before: bytes, after: bytes, file_name: str, declared: Source, rows: frozenset[int]) -> None:
    """Every row not blanked reads exactly as before; the blanked rows name nobody."""
    try:
        old, new = parse(before, file_name, declared, ingest_limits()), parse(after, file_name, declared, ingest_limits())
    except FileRejected as rejected:
        raise RewriteRefused(f"the rewritten file no longer reads ({rejected.reason})") from None
    columns = [c for c in old.rows.columns if c in new.rows.columns]
    if columns != old.rows.columns or not _comparable(old.rows, rows).equals(_comparable(new.rows.select(columns), rows)):
        raise RewriteRefused("the other rows would read differently after the rewrite")
    if not _comparable(old.unreadable.drop("payload"), rows).equals(_comparable(new.unreadable.drop("payload"), rows)):
        raise RewriteRefused("the lines that could not be read would change after the rewrite")
    unit = declared.unit_field
    left = new.rows.filter(pl.col("row_number").is_in(list(rows)))
    if unit in left.columns and left[unit].drop_nulls().str.strip_chars(EDGE_WHITESPACE).str.len_chars().sum() > 0:
        raise RewriteRefused("a blanked row still holds an identifier")


def blank_rows(data: bytes, file_name: str, declared: Source, rows: frozenset[int], total_rows: int) -> bytes | None:
    """The file with `rows` blanked (see the module), checked; None when no other row is left (delete the file instead).

    `total_rows` is how many rows the ingestion reads in the file (rows and unreadable lines).
    """
    if len(rows) >= total_rows:
        return None
    kind = format_of(file_name)
    if kind == "jsonl":
        after = _blank_json_lines(data, rows)
    elif kind == "csv":
        after = _blank_csv(data, declared, rows)
    elif kind == "parquet":
        after = _blank_parquet(data, rows)
    else:
        raise RewriteRefused(f"files of type '{kind}' are not read by the ingestion")
    _check(data, after, file_name, declared, rows)
    return after


def rows_in(data: bytes, file_name: str, declared: Source) -> int:
    """How many rows (and unreadable lines) the ingestion reads in a file; 0 for a file it cannot read."""
    try:
        parsed = parse(data, file_name, declared, ingest_limits())
    except FileRejected:
        return 0
    return parsed.rows.height + parsed.unreadable.height
