"""Changing the pseudonym key: every stored pseudonym recomputed under the new key, in one transaction.

A pseudonym is HMAC(key, identifier); it cannot be turned into one under
another key without the identifier, and the warehouse never holds those. But
every raw and quarantine row names the landing file it came from
(`file_hash`, the SHA-256 of the file's bytes) and its row there
(`row_number`), and landing files are kept (sealed in the encrypted archive
once ingested, `core.archive`) as long as rows made from them
(`config/retention.yaml` requires it; a file that retention or erasure
removed has `deleted_at` in the manifest and no rows left, and is skipped;
a file erasure rewrote keeps its row numbers, `avg.landing_rewrite`). So a
re-key reads each file again, exactly as the ingestion read it, takes the
identifiers of those rows and:
1. checks that the old key gives the pseudonyms that are stored (so the
   file and the rows are the ones that were loaded, and the old key is the
   one they were made with);
2. replaces them by the pseudonyms under the new key, in `raw.<table>` and in
   the payloads of `quarantine.<table>`, for every declared source;
3. records the new key's fingerprint for every file in the manifest.
All of it in one transaction: a refusal (a landing file missing or changed,
a pseudonym that does not match) or a crash leaves the warehouse as it was.
Marts hold pseudonyms derived from `raw`; the pipeline rebuilds them after
every ingestion, so the next run brings them in line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from core.archive import archive_of, read_sealed, sealed_files
from core.ingest import FileRejected, classify, parse
from core.landing import content_hash, ingest_limits
from core.pseudonymise import key_fingerprint, pseudonymise_column
from core.sources import Source, sources
from core.warehouse import ensure_ingest_tables


class RekeyRefused(RuntimeError):
    """The warehouse cannot be re-keyed as asked; nothing was changed."""


@dataclass(frozen=True)
class RekeyResult:
    files: int
    raw_rows: int
    quarantine_rows: int
    old_fingerprint: str
    new_fingerprint: str


def _check_fingerprints(connection: duckdb.DuckDBPyConnection, old_key: bytes, new_key: bytes) -> None:
    old, new = key_fingerprint(old_key), key_fingerprint(new_key)
    if old == new:
        raise RekeyRefused(f"The old and the new key are the same (fingerprint {old}); nothing to re-key.")
    recorded = {row[0] for row in connection.execute("SELECT DISTINCT key_fingerprint FROM meta.ingest_manifest WHERE key_fingerprint IS NOT NULL").fetchall()}
    if recorded - {old}:
        raise RekeyRefused(
            f"The warehouse was loaded under key fingerprint(s) {', '.join(sorted(recorded))}, not under the old key given "
            f"(fingerprint {old}). Give the key the warehouse was loaded with as the old key; nothing was changed."
        )


def _landing_file(folder: Path, file_name: str, file_hash: str, by_hash: dict[str, Path] | None) -> tuple[Path | None, dict[str, Path] | None]:
    """The landing file with these bytes: under its recorded name, or under any name in the folder (a rename)."""
    path = folder / file_name
    if path.is_file() and content_hash(path.read_bytes()) == file_hash:
        return path, by_hash
    if by_hash is None:
        by_hash = {content_hash(p.read_bytes()): p for p in folder.iterdir() if p.is_file()} if folder.is_dir() else {}
    return by_hash.get(file_hash), by_hash


def _file_bytes(landing: Path, name: str, file_name: str, file_hash: str, sealed: dict[str, Path],
                by_hash: dict[str, Path] | None) -> tuple[bytes | None, dict[str, Path] | None]:
    """The bytes of a loaded file: its sealed copy in the archive, else the landing file (`_landing_file`); None if neither."""
    if file_hash in sealed:
        data = read_sealed(sealed[file_hash])
        if content_hash(data) == file_hash:
            return data, by_hash
    path, by_hash = _landing_file(landing / name, file_name, file_hash, by_hash)
    return (path.read_bytes() if path is not None else None), by_hash


def _identifiers(data: bytes, file_name: str, declared: Source) -> pl.DataFrame:
    """row_number and every identifier of a landing file as the ingestion read them (normalised)."""
    try:
        parsed = parse(data, file_name, declared, ingest_limits())
    except FileRejected as rejected:  # it was read when loaded: it must read the same way now
        raise RekeyRefused(f"{declared.name}/{file_name}: no longer reads as it did when loaded ({rejected.reason}); nothing was changed.") from None
    identifiers = [name for name, field in declared.fields.items() if field.type == "identifier"]
    return classify(parsed, declared).select("row_number", *identifiers)


def _rekeyed_raw(connection, declared: Source, file_hash: str, file_name: str, found: pl.DataFrame, old_key: bytes, new_key: bytes) -> pl.DataFrame:
    """(file_hash, row_number, new pseudonyms) for the raw rows of one file, after checking the stored ones."""
    columns = {name: field.pseudonym for name, field in declared.fields.items() if field.type == "identifier"}
    stored = connection.execute(
        f"SELECT row_number, {', '.join(columns.values())} FROM {declared.raw_table} WHERE file_hash = ?", [file_hash]
    ).pl()
    rows = stored.join(found, on="row_number", how="left")
    updated = [pl.lit(file_hash).alias("file_hash"), pl.col("row_number")]
    for identifier, pseudonym in columns.items():
        expected = pseudonymise_column(rows[identifier], old_key)
        wrong = (expected.ne_missing(rows[pseudonym])).sum()
        if wrong:
            raise RekeyRefused(
                f"{declared.name}/{file_name}: {wrong} of {rows.height} stored {pseudonym} values are not the old key's pseudonyms of the "
                "identifiers in the landing file (another key, or the file reads differently); nothing was changed."
            )
        updated.append(pseudonymise_column(rows[identifier], new_key).alias(pseudonym))
    return rows.select(updated)


def _rekeyed_payloads(connection, declared: Source, file_hash: str, file_name: str, found: pl.DataFrame, old_key: bytes, new_key: bytes) -> pl.DataFrame:
    """(file_hash, row_number, payload) for the quarantined rows of one file that hold a pseudonym, the new one in place of the old."""
    stored = connection.execute(
        f"SELECT row_number, payload FROM {declared.quarantine_table} WHERE file_hash = ? AND reason_code <> 'unreadable'", [file_hash]
    ).pl()
    rows = stored.join(found, on="row_number", how="inner")  # unreadable lines hold scrubbed text, no pseudonyms
    payloads = rows["payload"].to_list()
    for identifier in (name for name, field in declared.fields.items() if field.type == "identifier"):
        old = pseudonymise_column(rows[identifier], old_key).to_list()
        new = pseudonymise_column(rows[identifier], new_key).to_list()
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            if before is None:
                continue
            field_text = f'"{identifier}":"{before}"'
            if payloads[index] is None or field_text not in payloads[index]:
                raise RekeyRefused(
                    f"{declared.name}/{file_name}: quarantined row {rows['row_number'][index]} does not hold the old key's pseudonym of its "
                    f"{identifier}; nothing was changed."
                )
            payloads[index] = payloads[index].replace(field_text, f'"{identifier}":"{after}"')
    return pl.DataFrame({"file_hash": [file_hash] * rows.height, "row_number": rows["row_number"], "payload": payloads},
                        schema={"file_hash": pl.Utf8, "row_number": pl.Int64, "payload": pl.Utf8})


def _plan(connection, landing: Path, declared: Source, old_key: bytes, new_key: bytes) -> tuple[int, pl.DataFrame, pl.DataFrame]:
    """Files read, new raw pseudonyms and new quarantine payloads of one source (nothing written)."""
    files = connection.execute(
        "SELECT file_hash, file_name FROM meta.ingest_manifest WHERE source = ? AND rows_in > 0 AND deleted_at IS NULL "
        "ORDER BY loaded_at, file_name", [declared.name]
    ).fetchall()
    raw_parts, quarantine_parts, by_hash = [], [], None
    sealed = sealed_files(archive_of(landing), declared.name)
    for file_hash, file_name in files:
        data, by_hash = _file_bytes(landing, declared.name, file_name, file_hash, sealed, by_hash)
        if data is None:
            raise RekeyRefused(
                f"{declared.name}/{file_name}: the landing file (content {file_hash[:12]}...) is missing or was changed, so the "
                "identifiers of its rows cannot be read again; put it back in the landing folder. Nothing was changed."
            )
        found = _identifiers(data, file_name, declared)
        raw_parts.append(_rekeyed_raw(connection, declared, file_hash, file_name, found, old_key, new_key))
        quarantine_parts.append(_rekeyed_payloads(connection, declared, file_hash, file_name, found, old_key, new_key))
    raw = pl.concat(raw_parts, how="vertical_relaxed") if raw_parts else None
    quarantine = pl.concat(quarantine_parts, how="vertical_relaxed") if quarantine_parts else None
    return len(files), raw, quarantine


def rekey(connection: duckdb.DuckDBPyConnection, landing: Path, old_key: bytes, new_key: bytes) -> RekeyResult:
    """Re-key every stored pseudonym of every source from `old_key` to `new_key`, in one transaction (see the module)."""
    for name in sources():
        ensure_ingest_tables(connection, name)
    _check_fingerprints(connection, old_key, new_key)
    plans = {name: _plan(connection, landing, declared, old_key, new_key) for name, declared in sources().items()}
    raw_rows = quarantine_rows = 0
    connection.execute("BEGIN TRANSACTION")
    try:
        for name, (_, raw, quarantine) in plans.items():
            declared = sources()[name]
            if raw is not None and raw.height:
                pseudonyms = [c for c in raw.columns if c not in ("file_hash", "row_number")]
                connection.register("rekeyed_raw", raw)
                connection.execute(
                    f"UPDATE {declared.raw_table} AS r SET {', '.join(f'{c} = k.{c}' for c in pseudonyms)} FROM rekeyed_raw k "
                    "WHERE r.file_hash = k.file_hash AND r.row_number = k.row_number"
                )
                connection.unregister("rekeyed_raw")
                raw_rows += raw.height
            if quarantine is not None and quarantine.height:
                connection.register("rekeyed_quarantine", quarantine)
                connection.execute(
                    f"UPDATE {declared.quarantine_table} AS q SET payload = k.payload FROM rekeyed_quarantine k "
                    "WHERE q.file_hash = k.file_hash AND q.row_number = k.row_number"
                )
                connection.unregister("rekeyed_quarantine")
                quarantine_rows += quarantine.height
        connection.execute("UPDATE meta.ingest_manifest SET key_fingerprint = ?", [key_fingerprint(new_key)])
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    files = sum(count for count, _, _ in plans.values())
    return RekeyResult(files, raw_rows, quarantine_rows, key_fingerprint(old_key), key_fingerprint(new_key))



def verify_key(connection: duckdb.DuckDBPyConnection, landing: Path, key: bytes) -> bool | None:
    """Whether `key` reproduces the stored pseudonyms of the newest readable landing file of each source (None: none to check).

    For manifests written before fingerprints were recorded: their key is
    judged by what it made.
    """
    verdict = None
    for name, declared in sources().items():
        files = connection.execute(
            "SELECT file_hash, file_name FROM meta.ingest_manifest WHERE source = ? AND rows_raw > 0 AND deleted_at IS NULL "
            "ORDER BY loaded_at DESC", [name]
        ).fetchall()
        sealed = sealed_files(archive_of(landing), name)
        for file_hash, file_name in files:
            data, _ = _file_bytes(landing, name, file_name, file_hash, sealed, {})  # by its recorded name only
            if data is None:
                continue
            try:
                found = _identifiers(data, file_name, declared)
            except RekeyRefused:
                continue  # no longer reads as it did: it cannot tell
            try:
                _rekeyed_raw(connection, declared, file_hash, file_name, found, key, key)
            except RekeyRefused:
                return False
            verdict = True
            break
    return verdict
