"""What the Dagster job `avg` does first, as plain functions: carry out erasure requests, apply retention, answer inzage requests.

In that order, so a firm erased this minute is not in an inzage export made
the next, and a landing file is cleaned before the ingestion that follows in
the same job reads it. Every deletion is written to `meta.deletion_log`
(warehouse, landing zone and account store alike); the request in the store
gets its outcome and counts (`avg.requests.finish`), and the audit trail an
entry by the system. After this step the job rebuilds the marts and
everything made from them (`pipelines/definitions.py`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from avg.deletions import Deletion, record_deletions, totals
from avg.erasure import ErasureRefused, erase_from_warehouse, rewrite_operational_files
from avg.inzage import firm_export, row_counts
from avg.requests import ERASURE, AvgRequest, finish, pending
from avg.retention import apply_retention
from avg.settings import RetentionSettings, retention_settings
from avg.store import apply_store_retention, erase_from_store, firm_records
from avg.subjects import Subject

log = logging.getLogger(__name__)

REFUSED = ("Een landingsbestand kan niet zonder deze rijen worden herschreven. Er is niets verwijderd; de gegevensbeheerder "
           "haalt de rijen met de hand uit het bestand en zet het verzoek opnieuw klaar.")


@dataclass(frozen=True)
class Places:
    """The folders of one installation that AVG work touches."""

    landing: Path
    operational: Path
    uploads: Path
    outbox: Path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> Places:
        return cls(data_dir / "landing", data_dir / "operational", data_dir / "uploads", data_dir / "outbox")


@dataclass
class AvgOutcome:
    deletions: list[Deletion] = field(default_factory=list)
    erasures: int = 0
    inzage: int = 0
    failed: int = 0


def carry_out_erasure(connection: duckdb.DuckDBPyConnection, accounts: sqlite3.Connection, target: Subject, key: bytes, places: Places,
                      request_id: int | None = None, now: datetime | None = None) -> list[Deletion]:
    """Erase a firm, person or account everywhere: warehouse and landing zone, operational files, account store; logged."""
    now = now or datetime.now().replace(microsecond=0)
    deletions = erase_from_warehouse(connection, places.landing, target, key, request_id, now).deletions  # logged by it
    rest = rewrite_operational_files(connection, places.operational, target, request_id) if target.unit else []
    rest += erase_from_store(accounts, target, places.uploads, places.outbox, request_id)
    record_deletions(connection, rest, now)
    return deletions + rest


def _inzage(connection, accounts, target: Subject, key: bytes, now: datetime) -> tuple[dict, bytes]:
    document = firm_export(connection, target.identifier, key, now)
    document["accountopslag"] = firm_records(accounts, target.identifier)
    return {"rijen": row_counts(document)}, json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def answer(connection: duckdb.DuckDBPyConnection, accounts: sqlite3.Connection, request: AvgRequest, target: Subject, key: bytes,
           places: Places, now: datetime) -> AvgOutcome:
    """One waiting request carried out and its outcome recorded (a refused erasure is recorded as failed, nothing changed)."""
    outcome = AvgOutcome()
    try:
        if request.kind == ERASURE:
            outcome.deletions = carry_out_erasure(connection, accounts, target, key, places, request.id, now)
            finish(accounts, request, {"verwijderd": totals(outcome.deletions)}, now=now)
            outcome.erasures = 1
        else:
            summary, result = _inzage(connection, accounts, target, key, now)
            finish(accounts, request, summary, result, now=now)
            outcome.inzage = 1
    except ErasureRefused as refused:
        log.error("AVG request %s refused: %s", request.id, refused)
        finish(accounts, request, {}, failed=REFUSED, now=now)
        outcome.failed = 1
    return outcome


def run_avg(connection: duckdb.DuckDBPyConnection, accounts: sqlite3.Connection, key: bytes, places: Places,
            settings: RetentionSettings | None = None, now: datetime | None = None, retention: bool = True) -> AvgOutcome:
    """Every waiting erasure, then retention (unless `retention` is False), then every waiting inzage request."""
    now = (now or datetime.now()).replace(microsecond=0)
    settings = settings or retention_settings()
    outcome, waiting = AvgOutcome(), pending(accounts)
    for request, target in [item for item in waiting if item[0].kind == ERASURE]:
        _add(outcome, answer(connection, accounts, request, target, key, places, now))
    if retention:
        outcome.deletions += apply_retention(connection, places.landing, settings, now)
        store_deletions = apply_store_retention(accounts, places.uploads, settings, now)
        record_deletions(connection, store_deletions, now)
        outcome.deletions += store_deletions
    for request, target in [item for item in waiting if item[0].kind != ERASURE]:
        _add(outcome, answer(connection, accounts, request, target, key, places, now))
    return outcome


def _add(total: AvgOutcome, part: AvgOutcome) -> None:
    total.deletions += part.deletions
    total.erasures += part.erasures
    total.inzage += part.inzage
    total.failed += part.failed
