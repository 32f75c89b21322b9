"""`meta.deletion_log`: what retention and erasure deleted, counted, and why; never an identifier or a value.

One row per kind of thing deleted per place per occasion: for example "12
raw rows of source cgc, bewaartermijn raw_months = 24 (geladen voor
2024-11-23)" or "3 landing files of source dis, verwijderverzoek 7". A
row never names the firm or person (not their KvK number, BSN, e-mail
address or pseudonym), nor a file name (a web form's file name carries an
answer's key). The log is kept: it is the proof that the rules were applied.

>>> Deletion("retention", "raw_rows", "cgc", 12, "bewaartermijn raw_months = 24").what
'raw_rows'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb

CAUSES = ("retention", "erasure")
WHAT = {
    "landing_file": "landingsbestanden verwijderd",
    "landing_rewritten": "landingsbestanden herschreven zonder de rijen",
    "landing_rows": "rijen uit landingsbestanden",
    "raw_rows": "ingelezen rijen (raw)",
    "quarantine_rows": "afgekeurde rijen (quarantaine)",
    "scrub_log_rows": "regels van het opschoonlogboek",
    "derived_rows": "afgeleide rijen (marts, operationeel)",
    "quote_rows": "citaten",
    "upload": "documenten bij reacties",
    "account": "accounts",
    "account_rows": "gegevens bij accounts",
    "firm_rows": "bedrijfsgegevens in de accountopslag",
    "outbox_message": "berichten in de uitbox",
    "operational_file": "operationele bestanden herschreven",
    "inzage_export": "inzage-overzichten",
    "own_answer_rows": "lijst eigen antwoorden",
}
"""What can be deleted, with its Dutch name for pages and summaries."""

DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.deletion_log (  -- avg.deletions: what retention and erasure deleted, counted, never the values
    deleted_at TIMESTAMP NOT NULL,
    cause VARCHAR NOT NULL,             -- retention (config/retention.yaml) | erasure (an AVG request)
    request_id BIGINT,                  -- erasure: the request in the account store (avg_requests.id); null for retention
    what VARCHAR NOT NULL,              -- avg.deletions.WHAT: landing_file, raw_rows, quarantine_rows, upload, account, ...
    location VARCHAR NOT NULL,          -- the source, table or store table it was deleted from
    items BIGINT NOT NULL,              -- how many rows or files
    rule VARCHAR NOT NULL               -- why, in Dutch: the period and its cut-off, or the request and the kind of identifier
);
"""


@dataclass(frozen=True)
class Deletion:
    """One line of the deletion log before it is written."""

    cause: str
    what: str
    location: str
    items: int
    rule: str
    request_id: int | None = None

    def __post_init__(self) -> None:
        if self.cause not in CAUSES or self.what not in WHAT:
            raise ValueError(f"deletion: cause {self.cause!r} or what {self.what!r} is not known")


def ensure_deletion_log(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(DDL)


def record_deletions(connection: duckdb.DuckDBPyConnection, deletions: Iterable[Deletion], at: datetime) -> int:
    """Append the deletions that removed something (items > 0); returns how many lines were written."""
    ensure_deletion_log(connection)
    rows = [(at, d.cause, d.request_id, d.what, d.location, d.items, d.rule) for d in deletions if d.items > 0]
    if rows:
        connection.executemany("INSERT INTO meta.deletion_log VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def totals(deletions: Iterable[Deletion]) -> dict[str, int]:
    """Items per kind of thing deleted (for a summary or Dagster metadata)."""
    counted: dict[str, int] = {}
    for deletion in deletions:
        if deletion.items:
            counted[deletion.what] = counted.get(deletion.what, 0) + deletion.items
    return dict(sorted(counted.items()))
