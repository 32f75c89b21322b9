"""Ingestion of landing files of any declared source into `raw`, `quarantine` and the manifest.

For each new file (new = its SHA-256 is not in the manifest):
1. decode (UTF-8 expected; anything else is detected, read, and quarantined
   whole with the encoding named) and parse CSV or JSON lines as strings;
2. validate every row with the vectorised rules of `core.validation`;
3. sort valid rows into new, exact duplicates (of an earlier row in this file
   or in `raw`) and conflicts (a known key, e.g. response_id, with other answers);
4. pseudonymise the declared identifier (HMAC) and scrub free text;
5. in ONE transaction: new rows to `raw.<table>`, everything else to
   `quarantine.<table>` with a reason, and the file to the manifest.
Which columns, rules and tables: the source's declaration (`core.sources`).
So rows_in = rows_raw + rows_quarantined + rows_duplicate for every file, and
a crash leaves the warehouse as it was.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import charset_normalizer
import duckdb
import polars as pl

from core.contracts import EDGE_WHITESPACE
from core.jsonlines import numbered_lines
from core.landing import LandingFile, content_hash, list_landing_files
from core.pseudonymise import pseudonym, pseudonymise_column, scrub_column, scrub_text
from core.sources import Source, source
from core.validation import REASON_SEPARATOR, normalise, parsed_number, parsed_timestamp, with_reasons
from core.warehouse import ensure_ingest_tables


@dataclass(frozen=True)
class IngestResult:
    """What happened to one landing file."""

    file_name: str
    file_hash: str
    encoding: str
    size_bytes: int
    rows_in: int
    rows_raw: int
    rows_quarantined: int
    rows_duplicate: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class ParsedFile:
    rows: pl.DataFrame  # landing columns as strings plus `row_number`
    unreadable: pl.DataFrame  # row_number, reason, payload for lines that could not be parsed
    encoding: str
    file_problem: str | None  # a reason that applies to every row (wrong encoding)


# --------------------------------------------------------------------------- parsing


def decode(data: bytes) -> tuple[str, str, str | None]:
    """Text, encoding name and a file-level problem (None when the file is proper UTF-8)."""
    try:
        return data.decode("utf-8-sig"), "utf-8", None
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(data).best()
        encoding = best.encoding if best is not None else "latin-1"
        text = data.decode(encoding, errors="replace")
        problem = f"Bestand: is niet in UTF-8 gecodeerd (herkend als {encoding}); lever het bestand opnieuw aan in UTF-8"
        return text, encoding, problem


def _empty_unreadable() -> pl.DataFrame:
    return pl.DataFrame(schema={"row_number": pl.Int64, "reason": pl.Utf8, "payload": pl.Utf8})


def _with_row_numbers(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_row_index("row_number", offset=1).with_columns(pl.col("row_number").cast(pl.Int64))


def parse_csv(text: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """CSV as strings; rows with the wrong number of fields are reported, not dropped."""
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False, raise_if_empty=False)
        return _with_row_numbers(frame), _empty_unreadable()
    except pl.exceptions.ComputeError:
        pass  # ragged rows: fall back to the exact (slower) reader
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    good, bad = [], []
    for number, row in enumerate(reader, start=1):
        if len(row) == len(header):
            good.append([number, *row])
        else:
            reason = f"Rij: heeft {len(row)} velden, verwacht {len(header)}"
            bad.append({"row_number": number, "reason": reason, "payload": scrub_text(",".join(row))})
    frame = pl.DataFrame(good, schema=["row_number", *header], orient="row", schema_overrides={"row_number": pl.Int64})
    return frame, pl.DataFrame(bad, schema=_empty_unreadable().schema)


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    if isinstance(value, (dict, bool)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def parse_json_lines(text: str, columns: tuple[str, ...]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One JSON object per line; lists become ';'-joined strings as in the CSV export.

    Lines end at "\\n" only (`core.jsonlines.numbered_lines`): U+2028, U+0085
    and the like are data inside a line, so free text cannot split a record.
    `row_number` is the line number in the file (blank lines are counted, not loaded).
    """
    good, bad = [], []
    for number, line in numbered_lines(text):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            bad.append({"row_number": number, "reason": "Regel: is geen geldig JSON-object", "payload": scrub_text(line[:2000])})
            continue
        good.append({"row_number": number, **{k: _as_text(v) for k, v in record.items()}})
    schema = {"row_number": pl.Int64, **{name: pl.Utf8 for name in columns}}
    frame = pl.DataFrame(good, schema_overrides={"row_number": pl.Int64}, infer_schema_length=None) if good else pl.DataFrame(schema=schema)
    return frame, pl.DataFrame(bad, schema=_empty_unreadable().schema)


def parse(data: bytes, file_name: str, declared: Source) -> ParsedFile:
    text, encoding, problem = decode(data)
    if file_name.lower().endswith(".csv"):
        rows, unreadable = parse_csv(text)
    else:
        rows, unreadable = parse_json_lines(text, declared.landing_columns())
    return ParsedFile(rows, unreadable, encoding, problem)


# --------------------------------------------------------------------------- sorting rows


def classify(parsed: ParsedFile, declared: Source) -> pl.DataFrame:
    """Normalised rows with `reason_code` (null = valid) and Dutch `reason`."""
    frame = normalise(parsed.rows, declared.name).with_columns(parsed.rows["row_number"])
    frame = with_reasons(frame, declared.name)
    if parsed.file_problem:
        return frame.with_columns(reason_code=pl.lit("encoding"), reason=pl.lit(parsed.file_problem))
    frame = frame.with_columns(reason_code=pl.when(pl.col("reason").is_not_null()).then(pl.lit("invalid")))
    return _mark_in_file_repeats(frame, declared)


def _mark_in_file_repeats(frame: pl.DataFrame, declared: Source) -> pl.DataFrame:
    """Among valid rows, a repeat of an earlier row is a duplicate; a reused key a conflict."""
    content, key = list(declared.landing_columns()), declared.key
    valid = pl.col("reason_code").is_null()
    first_seen = (
        frame.filter(valid)
        .group_by(key, maintain_order=True)
        .agg(pl.col("row_number").first().alias("first_row"), pl.struct(content).first().alias("first_content"))
    )
    marked = frame.join(first_seen, on=key, how="left")
    repeat = valid & (pl.col("row_number") != pl.col("first_row"))
    same = pl.struct(content) == pl.col("first_content")
    duplicate_reason = pl.format("Dubbele inzending: gelijk aan rij {} van dit bestand", pl.col("first_row"))
    conflict_reason = pl.format(
        f"{declared.label(key)}: al gebruikt in rij {{}} van dit bestand, met andere antwoorden", pl.col("first_row")
    )
    return marked.with_columns(
        reason_code=pl.when(repeat & same).then(pl.lit("duplicate")).when(repeat).then(pl.lit("conflict")).otherwise(pl.col("reason_code")),
        reason=pl.when(repeat & same).then(duplicate_reason).when(repeat).then(conflict_reason).otherwise(pl.col("reason")),
    ).drop("first_row", "first_content")


def _multi_choices(column: str) -> pl.Expr:
    """The codes of a multi-select answer in the order the respondent gave them (a repeat counts once):
    releases that count only the first few choices count the respondent's first, not the alphabet's."""
    return (
        pl.col(column)
        .str.split(";")
        .list.eval(pl.element().str.strip_chars(EDGE_WHITESPACE).filter(pl.element().str.strip_chars(EDGE_WHITESPACE) != ""))
        .list.unique(maintain_order=True)
    )


def _typed(column: str, declared: Source) -> pl.Expr:
    field = declared.fields[column]
    if field.type == "timestamp":
        return parsed_timestamp(column).alias(column)
    if field.type == "choice" and field.integer_codes:
        return pl.col(column).cast(pl.Int8).alias(column)
    if field.type == "multi_choice":
        return _multi_choices(column).alias(column)
    if field.type == "integer":
        return parsed_number(column).cast(pl.Int64).alias(column)
    if field.type == "decimal":
        return parsed_number(column).alias(column)
    return pl.col(column)


def typed_rows(frame: pl.DataFrame, declared: Source, key: bytes, file_hash: str, loaded_at: datetime) -> pl.DataFrame:
    """Rows shaped like `raw.<table>`: identifiers hashed, free text scrubbed, types set."""
    columns = []
    for column, field in declared.fields.items():
        if field.type == "identifier":
            columns.append(pseudonymise_column(frame[column], key).alias(field.pseudonym))
        elif field.type == "free_text":
            columns.append(scrub_column(frame[column]).alias(column))
        else:
            columns.append(_typed(column, declared))
    return frame.select(*columns, pl.lit(file_hash).alias("file_hash"), "row_number", pl.lit(loaded_at).alias("loaded_at"))


def quarantine_rows(frame: pl.DataFrame, declared: Source, key: bytes, file_hash: str, file_name: str, at: datetime) -> pl.DataFrame:
    """Rejected rows with their reason; the payload keeps the row, identifiers pseudonymised and text scrubbed."""
    kept = []
    for column, field in declared.fields.items():
        if column not in frame.columns:
            continue
        if field.type == "identifier":  # even an invalid one: it may be a real number with a typo
            kept.append(frame[column].map_elements(lambda v: pseudonym(v, key), return_dtype=pl.Utf8, skip_nulls=True).alias(column))
        elif field.type == "timestamp":
            kept.append(pl.col(column))
        else:
            kept.append(scrub_column(frame[column]).alias(column))
    payload = frame.select(kept)
    return pl.DataFrame(
        {
            "file_hash": file_hash,
            "file_name": file_name,
            "row_number": frame["row_number"],
            declared.key: scrub_column(frame[declared.key]),
            "reason_code": frame["reason_code"],
            "reason": frame["reason"],
            "payload": payload.select(pl.struct(payload.columns).struct.json_encode())[:, 0],
            "quarantined_at": at,
        }
    ).with_columns(pl.col("file_hash", "file_name").cast(pl.Utf8), pl.col("quarantined_at").cast(pl.Datetime("us")))


# --------------------------------------------------------------------------- loading


def _against_raw(connection: duckdb.DuckDBPyConnection, typed: pl.DataFrame, declared: Source) -> pl.DataFrame:
    """For each new row: 'new', 'duplicate' (same row already in raw) or 'conflict' (its key with other content)."""
    key = declared.key
    content = [c for c in typed.columns if c not in (key, "file_hash", "row_number", "loaded_at")]
    same = " AND ".join(f"r.{c} IS NOT DISTINCT FROM t.{c}" for c in content)
    connection.register("incoming_typed", typed)
    try:
        return connection.execute(
            f"""
            SELECT t.row_number,
                   CASE WHEN r.{key} IS NULL THEN 'new'
                        WHEN {same} THEN 'duplicate' ELSE 'conflict' END AS status,
                   m.file_name AS earlier_file, r.row_number AS earlier_row
            FROM incoming_typed t
            LEFT JOIN {declared.raw_table} r USING ({key})
            LEFT JOIN meta.ingest_manifest m ON m.file_hash = r.file_hash AND m.source = ?
            """,
            [declared.name],
        ).pl()
    finally:
        connection.unregister("incoming_typed")


def already_loaded(connection: duckdb.DuckDBPyConnection, name: str, file_hash: str) -> bool:
    return connection.execute("SELECT 1 FROM meta.ingest_manifest WHERE source = ? AND file_hash = ?", [name, file_hash]).fetchone() is not None


def ingest_bytes(
    connection: duckdb.DuckDBPyConnection,
    data: bytes,
    file_name: str,
    key: bytes,
    run_id: str | None = None,
    name: str = "cgc",
) -> IngestResult | None:
    """Load one landing file of source `name` in one transaction; None if its content was loaded before."""
    declared = source(name)
    ensure_ingest_tables(connection, name)
    file_hash = content_hash(data)
    if already_loaded(connection, name, file_hash):
        return None
    loaded_at = datetime.now().replace(microsecond=0)
    parsed = parse(data, file_name, declared)
    rows = classify(parsed, declared)

    valid = rows.filter(pl.col("reason_code").is_null())
    typed = typed_rows(valid, declared, key, file_hash, loaded_at)
    status = _against_raw(connection, typed, declared)
    typed = typed.join(status, on="row_number", how="left")
    earlier = pl.format("{} rij {}", pl.col("earlier_file"), pl.col("earlier_row"))
    against_raw = (
        typed.filter(pl.col("status") != "new")
        .select(
            "row_number",
            reason_code_raw=pl.col("status"),
            reason_raw=pl.when(pl.col("status") == "duplicate")
            .then(pl.concat_str([pl.lit("Dubbele inzending: al geladen uit "), earlier]))
            .otherwise(pl.concat_str([pl.lit(f"{declared.label(declared.key)}: al geladen uit "), earlier, pl.lit(", met andere antwoorden")])),
        )
    )
    rows = rows.join(against_raw, on="row_number", how="left").with_columns(
        reason_code=pl.coalesce("reason_code", "reason_code_raw"), reason=pl.coalesce("reason", "reason_raw")
    )
    new_rows = typed.filter(pl.col("status") == "new").drop("status", "earlier_file", "earlier_row")
    rejected = quarantine_rows(rows.filter(pl.col("reason_code").is_not_null()), declared, key, file_hash, file_name, loaded_at)
    unreadable = parsed.unreadable.with_columns(
        reason_code=pl.lit("unreadable"),
        reason=pl.concat_str([pl.lit(parsed.file_problem + REASON_SEPARATOR if parsed.file_problem else ""), pl.col("reason")]),
    )
    if unreadable.height:
        rejected = pl.concat(
            [rejected, unreadable.select(
                pl.lit(file_hash).alias("file_hash"), pl.lit(file_name).alias("file_name"), "row_number",
                pl.lit(None, pl.Utf8).alias(declared.key), "reason_code", "reason", "payload",
                pl.lit(loaded_at).cast(pl.Datetime("us")).alias("quarantined_at"),
            )],
            how="vertical_relaxed",
        )
    duplicates = rejected.filter(pl.col("reason_code") == "duplicate").height
    result = IngestResult(
        file_name=file_name,
        file_hash=file_hash,
        encoding=parsed.encoding,
        size_bytes=len(data),
        rows_in=rows.height + unreadable.height,
        rows_raw=new_rows.height,
        rows_quarantined=rejected.height - duplicates,
        rows_duplicate=duplicates,
    )
    _write(connection, declared, new_rows, rejected, result, run_id, loaded_at, format_of(file_name))
    return result


def format_of(file_name: str) -> str:
    return "csv" if file_name.lower().endswith(".csv") else "jsonl"


def _write(connection, declared: Source, new_rows, rejected, result, run_id, loaded_at, file_format) -> None:
    connection.execute("BEGIN TRANSACTION")
    try:
        connection.register("new_rows", new_rows)
        connection.register("rejected_rows", rejected)
        connection.execute(f"INSERT INTO {declared.raw_table} BY NAME SELECT * FROM new_rows")
        connection.execute(f"INSERT INTO {declared.quarantine_table} BY NAME SELECT * FROM rejected_rows")
        connection.execute(
            "INSERT INTO meta.ingest_manifest VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                result.file_hash, result.file_name, declared.name, file_format, result.encoding,
                result.size_bytes, result.rows_in, result.rows_raw, result.rows_quarantined, result.rows_duplicate,
                loaded_at, run_id,
            ],
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        connection.unregister("new_rows")
        connection.unregister("rejected_rows")


def ingest_landing(
    connection: duckdb.DuckDBPyConnection,
    landing: Path,
    key: bytes,
    run_id: str | None = None,
    on_file: Callable[[LandingFile, IngestResult | None], None] | None = None,
    name: str = "cgc",
) -> list[IngestResult]:
    """Ingest every new file of source `name` in the landing zone (`landing/<name>/`), each in its own transaction."""
    ensure_ingest_tables(connection, name)
    results = []
    for landing_file in list_landing_files(landing, name):
        data = landing_file.path.read_bytes()
        result = ingest_bytes(connection, data, landing_file.path.name, key, run_id, name)
        if result is not None:
            results.append(result)
        if on_file:
            on_file(landing_file, result)
    return results
