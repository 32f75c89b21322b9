"""The right of access (recht op inzage): everything the warehouse holds from one firm, with the Dutch labels of its sources.

For every declared source about firms (`unit: firm`), the rows of
`raw.<table>` with the firm's pseudonym (its KvK number hashed under the
pseudonym key) and the rows of `quarantine.<table>` whose payload holds it
(sent, but not used: the reason says why). Column names become the labels of
the declaration, codes their Dutch labels (a sector code becomes its
name), yes/no fields `ja`/`nee`; the pseudonym itself and the load columns
(file, row) are left out. Nothing else is read: the export holds the firm's
own rows and nothing about any other firm.

This runs in the pipeline (it needs the key and the warehouse); the web app
only asks for it and hands out the result (`avg.requests`).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import duckdb

from core.pseudonymise import pseudonym
from core.sources import Source, SourceField, sources

LOAD_COLUMNS = ("file_hash", "row_number")
RECEIVED = "Ontvangen op"
REASON = "Reden waarom het niet is gebruikt"


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (date, Decimal, int, float)):
        return str(value)
    return str(value)


def shown(field: SourceField, value: object) -> str | None:
    """A stored value as the firm reads it: a code as its Dutch label, a list of codes as labels joined by '; '."""
    if value is None:
        return None
    if field.type == "choice":
        return field.labels().get(str(value), str(value))
    if field.type == "multi_choice":
        labels = field.labels()
        items = value if isinstance(value, list) else str(value).split(";")
        return "; ".join(labels.get(str(item), str(item)) for item in items if str(item))
    return _text(value)


def _raw_rows(connection: duckdb.DuckDBPyConnection, declared: Source, hashed: str) -> list[dict]:
    cursor = connection.execute(
        f"SELECT * EXCLUDE ({', '.join(LOAD_COLUMNS)}) FROM {declared.raw_table} WHERE {declared.unit_column} = ? "
        f"ORDER BY {declared.submitted_at}, {declared.key}", [hashed])
    names = [column[0] for column in cursor.description]
    rows = []
    for values in cursor.fetchall():
        record = dict(zip(names, values, strict=True))
        fields = {declared.fields[name].label: shown(declared.fields[name], record[name])
                  for name in declared.fields if declared.fields[name].type != "identifier"}
        rows.append({"inzending": _text(record[declared.key]), "velden": {**fields, RECEIVED: _text(record["loaded_at"])}})
    return rows


def _quarantined_rows(connection: duckdb.DuckDBPyConnection, declared: Source, hashed: str) -> list[dict]:
    found = connection.execute(
        f"SELECT {declared.key}, reason, quarantined_at, payload FROM {declared.quarantine_table} "
        f"WHERE json_extract_string(payload, '$.{declared.unit_field}') = ? ORDER BY quarantined_at, row_number", [hashed]).fetchall()
    rows = []
    for key, reason, at, payload in found:
        try:
            record = json.loads(payload) if payload else {}
        except ValueError:
            record = {}
        record = record if isinstance(record, dict) else {}
        fields = {declared.fields[name].label: _text(record.get(name)) for name in declared.fields
                  if name in record and declared.fields[name].type != "identifier"}
        rows.append({"inzending": _text(key), "velden": {**fields, REASON: reason, RECEIVED: _text(at)}})
    return rows


def firm_sources() -> list[Source]:
    """The sources whose privacy unit is a firm (their rows carry the firm's pseudonym)."""
    return [declared for declared in sources().values() if declared.unit == "firm"]


def firm_export(connection: duckdb.DuckDBPyConnection, kvk_number: str, key: bytes, now: datetime | None = None) -> dict:
    """The firm's own rows per source (see the module), as a document for JSON (Dutch keys)."""
    hashed = pseudonym(kvk_number, key)
    parts = []
    for declared in firm_sources():
        exists = connection.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = ?",
                                    [declared.table]).fetchone()[0]
        if not exists:
            continue
        used, unused = _raw_rows(connection, declared, hashed), _quarantined_rows(connection, declared, hashed)
        if used or unused:
            parts.append({"bron": declared.name, "naam": declared.title, "inzendingen": used, "niet_gebruikt": unused})
    return {
        "titel": "Gegevens van uw bedrijf in de MKB Vitaliteitsmonitor",
        "kvk_nummer": kvk_number,
        "gemaakt_op": (now or datetime.now()).isoformat(sep=" ", timespec="seconds"),
        "uitleg": ("Dit zijn de antwoorden en gegevens die uw bedrijf heeft gestuurd of die partners over uw bedrijf hebben "
                   "aangeleverd, zoals wij ze bewaren. Uw KvK-nummer bewaren wij alleen als code. Gepubliceerde cijfers staan "
                   "hier niet in: die gaan over veel bedrijven samen en bevatten geen gegevens van één bedrijf."),
        "bronnen": parts,
    }


def row_counts(document: dict) -> dict[str, int]:
    """Rows per source in an export (for the request's summary: counts only)."""
    return {part["bron"]: len(part["inzendingen"]) + len(part["niet_gebruikt"]) for part in document["bronnen"]}
