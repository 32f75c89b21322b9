"""Ingestion of CGC landing files into `raw`, `quarantine` and the manifest.

For each new file (new = its SHA-256 is not in the manifest):
1. decode (UTF-8 expected; anything else is detected, read, and quarantined
   whole with the encoding named) and parse CSV or JSON lines as strings;
2. validate every row with the vectorised rules of `core.validation`;
3. sort valid rows into new, exact duplicates (of an earlier row in this file
   or in `raw`) and conflicts (a known response_id with other answers);
4. pseudonymise the KvK number (HMAC) and scrub free text;
5. in ONE transaction: new rows to `raw.cgc_responses`, everything else to
   `quarantine.cgc_responses` with a reason, and the file to the manifest.
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
from core.survey import cgc_survey, landing_columns
from core.validation import REASON_SEPARATOR, normalise, parsed_timestamp, with_reasons
from core.warehouse import ensure_ingest_tables

SOURCE = "cgc"


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


def parse_json_lines(text: str) -> tuple[pl.DataFrame, pl.DataFrame]:
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
    schema = {"row_number": pl.Int64, **{name: pl.Utf8 for name in landing_columns()}}
    frame = pl.DataFrame(good, schema_overrides={"row_number": pl.Int64}, infer_schema_length=None) if good else pl.DataFrame(schema=schema)
    return frame, pl.DataFrame(bad, schema=_empty_unreadable().schema)


def parse(data: bytes, file_name: str) -> ParsedFile:
    text, encoding, problem = decode(data)
    if file_name.lower().endswith(".csv"):
        rows, unreadable = parse_csv(text)
    else:
        rows, unreadable = parse_json_lines(text)
    return ParsedFile(rows, unreadable, encoding, problem)


# --------------------------------------------------------------------------- sorting rows


def classify(parsed: ParsedFile) -> pl.DataFrame:
    """Normalised rows with `reason_code` (null = valid) and Dutch `reason`."""
    frame = normalise(parsed.rows).with_columns(parsed.rows["row_number"])
    frame = with_reasons(frame)
    if parsed.file_problem:
        return frame.with_columns(reason_code=pl.lit("encoding"), reason=pl.lit(parsed.file_problem))
    frame = frame.with_columns(reason_code=pl.when(pl.col("reason").is_not_null()).then(pl.lit("invalid")))
    return _mark_in_file_repeats(frame)


def _mark_in_file_repeats(frame: pl.DataFrame) -> pl.DataFrame:
    """Among valid rows, a repeat of an earlier row is a duplicate; a reused response_id a conflict."""
    content = list(landing_columns())
    valid = pl.col("reason_code").is_null()
    first_seen = (
        frame.filter(valid)
        .group_by("response_id", maintain_order=True)
        .agg(pl.col("row_number").first().alias("first_row"), pl.struct(content).first().alias("first_content"))
    )
    marked = frame.join(first_seen, on="response_id", how="left")
    repeat = valid & (pl.col("row_number") != pl.col("first_row"))
    same = pl.struct(content) == pl.col("first_content")
    duplicate_reason = pl.format("Dubbele inzending: gelijk aan rij {} van dit bestand", pl.col("first_row"))
    conflict_reason = pl.format(
        "Antwoordnummer (response_id): al gebruikt in rij {} van dit bestand, met andere antwoorden", pl.col("first_row")
    )
    return marked.with_columns(
        reason_code=pl.when(repeat & same).then(pl.lit("duplicate")).when(repeat).then(pl.lit("conflict")).otherwise(pl.col("reason_code")),
        reason=pl.when(repeat & same).then(duplicate_reason).when(repeat).then(conflict_reason).otherwise(pl.col("reason")),
    ).drop("first_row", "first_content")


def typed_rows(frame: pl.DataFrame, key: bytes, file_hash: str, loaded_at: datetime) -> pl.DataFrame:
    """Rows shaped like `raw.cgc_responses`: KvK number hashed, text scrubbed, types set."""
    survey = cgc_survey()
    answers = [pl.col(name) for name in survey.questions if name != "sentiment"]
    multi = [
        pl.col(name)
        .str.split(";")
        .list.eval(pl.element().str.strip_chars(EDGE_WHITESPACE).filter(pl.element().str.strip_chars(EDGE_WHITESPACE) != ""))
        .list.unique()
        .list.sort()
        for name in survey.multi_select
    ]
    return frame.select(
        "response_id",
        pseudonymise_column(frame["kvk_number"], key).alias("firm_id"),
        parsed_timestamp().alias("submitted_at"),
        "wave",
        "sector",
        "size_class",
        "province",
        *answers,
        pl.col("sentiment").cast(pl.Int8),
        *multi,
        scrub_column(frame["free_text"]).alias("free_text"),
        pl.lit(file_hash).alias("file_hash"),
        "row_number",
        pl.lit(loaded_at).alias("loaded_at"),
    )


def quarantine_rows(frame: pl.DataFrame, key: bytes, file_hash: str, file_name: str, at: datetime) -> pl.DataFrame:
    """Rejected rows with their reason; the payload keeps the row, minus identifiers."""
    fields = [c for c in landing_columns() if c in frame.columns]
    hashed_kvk = frame["kvk_number"].map_elements(lambda v: pseudonym(v, key), return_dtype=pl.Utf8, skip_nulls=True)
    scrubbed = [
        scrub_column(frame[c]).alias(c) for c in fields if c not in ("kvk_number", "submitted_at")
    ]
    payload = frame.select(hashed_kvk.alias("kvk_number"), pl.col("submitted_at"), *scrubbed)
    return pl.DataFrame(
        {
            "file_hash": file_hash,
            "file_name": file_name,
            "row_number": frame["row_number"],
            "response_id": scrub_column(frame["response_id"]),
            "reason_code": frame["reason_code"],
            "reason": frame["reason"],
            "payload": payload.select(pl.struct(payload.columns).struct.json_encode())[:, 0],
            "quarantined_at": at,
        }
    ).with_columns(pl.col("file_hash", "file_name").cast(pl.Utf8), pl.col("quarantined_at").cast(pl.Datetime("us")))


# --------------------------------------------------------------------------- loading


def _against_raw(connection: duckdb.DuckDBPyConnection, typed: pl.DataFrame) -> pl.DataFrame:
    """For each new row: 'new', 'duplicate' (same row already in raw) or 'conflict'."""
    content = [c for c in typed.columns if c not in ("response_id", "file_hash", "row_number", "loaded_at")]
    same = " AND ".join(f"r.{c} IS NOT DISTINCT FROM t.{c}" for c in content)
    connection.register("incoming_typed", typed)
    try:
        return connection.execute(
            f"""
            SELECT t.row_number,
                   CASE WHEN r.response_id IS NULL THEN 'new'
                        WHEN {same} THEN 'duplicate' ELSE 'conflict' END AS status,
                   m.file_name AS earlier_file, r.row_number AS earlier_row
            FROM incoming_typed t
            LEFT JOIN raw.cgc_responses r USING (response_id)
            LEFT JOIN meta.ingest_manifest m ON m.file_hash = r.file_hash
            """
        ).pl()
    finally:
        connection.unregister("incoming_typed")


def ingest_bytes(
    connection: duckdb.DuckDBPyConnection,
    data: bytes,
    file_name: str,
    key: bytes,
    run_id: str | None = None,
) -> IngestResult | None:
    """Load one landing file in one transaction; None if its content was loaded before."""
    ensure_ingest_tables(connection)
    file_hash = content_hash(data)
    if connection.execute("SELECT 1 FROM meta.ingest_manifest WHERE file_hash = ?", [file_hash]).fetchone():
        return None
    loaded_at = datetime.now().replace(microsecond=0)
    parsed = parse(data, file_name)
    rows = classify(parsed)

    valid = rows.filter(pl.col("reason_code").is_null())
    typed = typed_rows(valid, key, file_hash, loaded_at)
    status = _against_raw(connection, typed)
    typed = typed.join(status, on="row_number", how="left")
    earlier = pl.format("{} rij {}", pl.col("earlier_file"), pl.col("earlier_row"))
    against_raw = (
        typed.filter(pl.col("status") != "new")
        .select(
            "row_number",
            reason_code_raw=pl.col("status"),
            reason_raw=pl.when(pl.col("status") == "duplicate")
            .then(pl.concat_str([pl.lit("Dubbele inzending: al geladen uit "), earlier]))
            .otherwise(pl.concat_str([pl.lit("Antwoordnummer (response_id): al geladen uit "), earlier, pl.lit(", met andere antwoorden")])),
        )
    )
    rows = rows.join(against_raw, on="row_number", how="left").with_columns(
        reason_code=pl.coalesce("reason_code", "reason_code_raw"), reason=pl.coalesce("reason", "reason_raw")
    )
    new_rows = typed.filter(pl.col("status") == "new").drop("status", "earlier_file", "earlier_row")
    rejected = quarantine_rows(rows.filter(pl.col("reason_code").is_not_null()), key, file_hash, file_name, loaded_at)
    unreadable = parsed.unreadable.with_columns(
        reason_code=pl.lit("unreadable"),
        reason=pl.concat_str([pl.lit(parsed.file_problem + REASON_SEPARATOR if parsed.file_problem else ""), pl.col("reason")]),
    )
    if unreadable.height:
        rejected = pl.concat(
            [rejected, unreadable.select(
                pl.lit(file_hash).alias("file_hash"), pl.lit(file_name).alias("file_name"), "row_number",
                pl.lit(None, pl.Utf8).alias("response_id"), "reason_code", "reason", "payload",
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
    _write(connection, new_rows, rejected, result, run_id, loaded_at, format_of(file_name), parsed.file_problem)
    return result


def format_of(file_name: str) -> str:
    return "csv" if file_name.lower().endswith(".csv") else "jsonl"


def _write(connection, new_rows, rejected, result, run_id, loaded_at, file_format, problem) -> None:
    connection.execute("BEGIN TRANSACTION")
    try:
        connection.register("new_rows", new_rows)
        connection.register("rejected_rows", rejected)
        connection.execute("INSERT INTO raw.cgc_responses BY NAME SELECT * FROM new_rows")
        connection.execute("INSERT INTO quarantine.cgc_responses BY NAME SELECT * FROM rejected_rows")
        connection.execute(
            "INSERT INTO meta.ingest_manifest VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                result.file_hash, result.file_name, SOURCE, file_format, result.encoding,
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
) -> list[IngestResult]:
    """Ingest every new CGC file in the landing zone, each in its own transaction."""
    ensure_ingest_tables(connection)
    results = []
    for landing_file in list_landing_files(landing, SOURCE):
        data = landing_file.path.read_bytes()
        result = ingest_bytes(connection, data, landing_file.path.name, key, run_id)
        if result is not None:
            results.append(result)
        if on_file:
            on_file(landing_file, result)
    return results
