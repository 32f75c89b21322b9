"""Small programme warehouses for tests: the SQLMesh source marts of sources/programme_* filled from Python rows.

The marts get the exact columns and types SQLMesh gives them (the raw table's
types, `core.sqlmesh_project.row_columns`), so programme/pipeline.py runs on
them as it does after a pipeline run. Missing columns of a row are null;
`delivered_at` and `month` default from the record's own date.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import polars as pl

from core.sources import source
from core.sqlmesh_project import row_columns
from core.warehouse import ensure_ingest_tables

SOURCES = ("programme_registrations", "programme_intakes", "programme_sessions", "programme_decisions", "programme_plans",
           "programme_masterclasses", "programme_appointments", "programme_platform")
DATE_FIELD = {"programme_registrations": "registered_on", "programme_intakes": "intake_on", "programme_sessions": "session_on",
              "programme_decisions": "decided_on", "programme_plans": "delivered_on", "programme_masterclasses": "held_on",
              "programme_appointments": "appointment_on", "programme_platform": "event_on"}


def source_marts(connection: duckdb.DuckDBPyConnection, records: dict[str, list[dict]]) -> None:
    """Create every programme source mart (empty where `records` has nothing) and insert the given rows."""
    connection.execute("CREATE SCHEMA IF NOT EXISTS marts")
    for name in SOURCES:
        declared = source(name)
        ensure_ingest_tables(connection, name)
        columns = row_columns(declared)
        connection.execute(f"CREATE OR REPLACE TABLE marts.{declared.mart} AS SELECT {', '.join(columns)} FROM {declared.raw_table} WHERE false")
        rows = []
        for row in records.get(name, []):
            day = row[DATE_FIELD[name]]
            filled = {"delivered_at": datetime(day.year, day.month, day.day, 12), "month": f"{day:%Y-%m}", **row}
            rows.append({column: filled.get(column) for column in columns})
        if rows:
            frame = pl.DataFrame(rows, infer_schema_length=None)
            connection.register("programme_rows", frame.to_arrow())
            connection.execute(f"INSERT INTO marts.{declared.mart} BY NAME SELECT * FROM programme_rows")
            connection.unregister("programme_rows")


def case(firm: str, registered: date, region: str = "zuid", partner: str = "bcc_maastricht", size_class: str = "2-9",
         sector: str = "G") -> dict:
    return {"registration_id": f"R-{firm}", "firm_id": firm, "registered_on": registered, "region": region, "partner": partner,
            "channel": "zelf" if partner == "zelf" else "frontdesk", "sector": sector, "size_class": size_class}
