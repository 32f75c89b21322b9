"""Small real installations for the AVG tests: landing files of a few sources, ingested into a DuckDB warehouse file."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from core.ingest import ingest_landing
from core.landing import write_atomically
from core.sources import source, sources
from core.synthetic import generate
from core.synthetic_debts import generate_debts
from core.warehouse import connect
from tests.conftest import TEST_KEY

KEY = TEST_KEY.encode()
FORM_KVK = "12345678"  # a firm that also sends web forms (one JSON line per file, as the web app writes them)


def cgc_record(response_id: str, kvk: str = FORM_KVK, **answers) -> dict:
    return dict.fromkeys(source("cgc").landing_columns()) | {
        "response_id": response_id, "submitted_at": "2026-10-03T09:00:00", "wave": "2026-10", "kvk_number": kvk,
        "sector": "C", "size_class": "2-9", "province": "PV31", "order_book": "grown", **answers}


def write_form(landing: Path, record: dict) -> Path:
    return write_atomically(landing / "cgc", f"form_{record['response_id']}.jsonl", (json.dumps(record) + "\n").encode())


def make_landing(root: Path, firms: int = 120, debt_persons: int = 40, seed: int = 5) -> Path:
    """Generated CGC exports (valid, defective, duplicate and cp1252 rows), debt-signal deliveries (CSV and Parquet) and
    web-form submissions of FORM_KVK (one of them quarantined)."""
    landing = root / "landing"
    generate(landing, root / "truth", firms=firms, waves=2, last_wave="2026-10", seed=seed)
    generate_debts(landing, root / "truth", date.today(), persons=debt_persons, seed=seed)
    write_form(landing, cgc_record("form-1"))
    write_form(landing, cgc_record("form-2", order_book="shrunk", free_text="Bel mij op 06-12345678, groet van Jan"))
    write_form(landing, cgc_record("form-bad", sector="Z"))  # quarantined; its payload holds the pseudonym
    return landing


def ingest_all(warehouse: Path, landing: Path) -> None:
    with connect(warehouse) as connection:
        for name in sources():
            ingest_landing(connection, landing, KEY, name=name)


def kvk_numbers(landing: Path) -> list[str]:
    """The KvK numbers in the generated CGC exports, most frequent first."""
    counts: dict[str, int] = {}
    for path in sorted((landing / "cgc").glob("cgc_export_*.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                counts[row["kvk_number"]] = counts.get(row["kvk_number"], 0) + 1
    return sorted(counts, key=lambda kvk: (-counts[kvk], kvk))


def bsns(landing: Path) -> list[str]:
    """The BSNs in the debt-signal deliveries (CSV and Parquet), as the ingestion reads them."""
    from core.ingest import FileRejected, parse

    found = set()
    for path in sorted((landing / "debt_signal").iterdir()):
        try:
            parsed = parse(path.read_bytes(), path.name, source("debt_signal"))
        except FileRejected:
            continue
        found |= {value.strip() for value in parsed.rows["bsn"].drop_nulls().to_list()}
    return sorted(found)
