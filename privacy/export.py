"""Researcher and dashboard exports: released tables as Parquet with their privacy metadata.

Each release becomes one Parquet file whose key-value metadata carries the
privacy loss, unit, mechanism, confidence level and version, so the file
explains itself without our code. Files are written atomically (temporary
name, then rename), so a reader never sees half a file. Only released
(noisy, post-processed) tables are exported; the ledger is public too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from privacy.balance_release import MECHANISM, PRIVACY_UNIT, RELEASE_DDL, RELEASE_NAME
from privacy.ledger import ensure_ledger

CODEBOOK = {
    "release_id": "Identifier of the release: <release>/<wave>/v<version>.",
    "wave": "Survey month (YYYY-MM).",
    "level": "nation | sector | sector_size: the grouping of this row.",
    "sector": "SBI 2008 section (A-U); empty at nation level.",
    "size_class": "Persons employed (0-1, 2-9, 10-49, 50-249); only at level sector_size.",
    "question": "Question code (see config/cgc_survey.yaml).",
    "respondents": "Noisy number of responding firms in the group (never negative).",
    "answered": "Noisy number of firms that answered this question; empty when suppressed.",
    "pct_positive": "Percent of answers on the positive side; empty when suppressed.",
    "pct_negative": "Percent of answers on the negative side; empty when suppressed.",
    "balance": "pct_positive - pct_negative in percentage points (-100..100); empty when suppressed.",
    "balance_ci_low / balance_ci_high": "Interval that holds the exact balance among respondents with the stated confidence (noise only, not sampling error).",
    "suppressed": "True when the group is too small to publish; then balance and shares are empty ('x' in CBS tables).",
    "suppression_reason": "Why a row is suppressed (Dutch).",
    "epsilon": "Privacy loss of the release (pure differential privacy, delta = 0).",
}


def write_parquet_atomically(table: pa.Table, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    pq.write_table(table, temporary)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    return target


def export_releases(connection: duckdb.DuckDBPyConnection, exports: Path) -> list[Path]:
    """Write every stored CGC release, the ledger and the codebook to `exports/` (idempotent)."""
    ensure_ledger(connection)
    connection.execute(RELEASE_DDL)
    folder = exports / RELEASE_NAME
    written = []
    entries = connection.execute("SELECT * FROM privacy.ledger WHERE release_name = ? ORDER BY release_id", [RELEASE_NAME]).pl()
    for entry in entries.iter_rows(named=True):
        table = connection.execute(
            "SELECT * FROM releases.cgc_balance WHERE release_id = ? ORDER BY level, sector, size_class, question",
            [entry["release_id"]],
        ).arrow()
        if hasattr(table, "read_all"):
            table = table.read_all()
        metadata = {
            "release_id": entry["release_id"],
            "epsilon": str(entry["epsilon"]),
            "delta": str(entry["delta"]),
            "privacy_unit": PRIVACY_UNIT,
            "mechanism": MECHANISM,
            "noise_scale": str(entry["noise_scale"]),
            "sensitivity": str(entry["sensitivity"]),
            "confidence_level": str(table.column("confidence_level")[0].as_py()) if table.num_rows else "",
            "version": str(entry["version"]),
            "spec_hash": entry["spec_hash"],
            "created_at": entry["created_at"].isoformat(),
        }
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **{k: v.encode() for k, v in metadata.items()}})
        name = f"{RELEASE_NAME}_{entry['period']}_v{entry['version']}.parquet"
        written.append(write_parquet_atomically(table, folder / name))
    ledger_table = connection.execute("SELECT * FROM privacy.ledger ORDER BY created_at, release_id").arrow()
    if hasattr(ledger_table, "read_all"):
        ledger_table = ledger_table.read_all()
    written.append(write_parquet_atomically(ledger_table, exports / "privacy_ledger.parquet"))
    codebook = folder / "codebook.json"
    folder.mkdir(parents=True, exist_ok=True)
    codebook.write_text(json.dumps({"columns": CODEBOOK, "suppression": "suppressed = true; balance and shares empty"}, indent=2, ensure_ascii=False))
    return written
