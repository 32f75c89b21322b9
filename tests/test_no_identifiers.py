"""No KvK number and no BSN survives ingestion: not in any warehouse table, not in any export."""

from __future__ import annotations

import re

import duckdb
import polars as pl

from core.archive import delivered_files
from core.private_parquet import read_private_file
from core.warehouse import connect as warehouse_connect


def _all_text(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    tables = connection.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = current_database()"
    ).fetchall()
    assert len(tables) >= 8
    texts = []
    for schema, table in tables:
        rows = connection.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
        texts.append((f"{schema}.{table}", "\n".join(map(repr, rows))))
    return texts


def test_no_kvk_number_in_any_table_or_export(pipeline, firms):
    programme = set(pl.read_parquet(pipeline.synthetic / "programme_firms.parquet")["kvk_number"])  # some are not in the population
    kvk_numbers = set(firms["kvk_number"]) | programme
    # The generator put some of them in free text too: the scan must have something to find.
    landing_text = "".join(data.decode(errors="replace") for data in delivered_files(pipeline.landing, "cgc").values())
    assert "Ons KvK-nummer is" in landing_text
    registrations = "".join(d.decode(errors="replace") for d in delivered_files(pipeline.landing, "programme_registrations", "*.csv").values())
    assert sum(number in registrations for number in programme) > len(programme) / 2
    pattern = re.compile(r"(?<![0-9])[0-9]{8}(?![0-9])")
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        sources = _all_text(connection)
    operational = list((pipeline.data_dir / "operational").rglob("*.parquet"))  # creditors' and consultants' own files
    assert any("consultants" in path.parts for path in operational)
    for path in [*pipeline.exports.rglob("*"), *operational]:
        if path.suffix == ".parquet":  # every value as text, lists too (the creditors' files hold the reasons as a list)
            frame = read_private_file(path) if path in operational else pl.read_parquet(path)
            sources.append((str(path), "\n".join(map(repr, frame.rows()))))
        elif path.is_file():
            sources.append((str(path), path.read_text()))
    for name, text in sources:
        leaked = {match for match in pattern.findall(text) if match in kvk_numbers}
        assert not leaked, f"{name} holds KvK numbers {sorted(leaked)[:3]}"


def test_free_text_identifiers_were_scrubbed(pipeline):
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        scrubbed = connection.execute("SELECT COUNT(*) FROM raw.cgc_responses WHERE free_text LIKE '%[KvK-nummer]%'").fetchone()[0]
        emails = connection.execute("SELECT COUNT(*) FROM raw.cgc_responses WHERE regexp_matches(free_text, '@[a-z0-9.-]+\\.nl')").fetchone()[0]
    assert scrubbed > 0
    assert emails == 0


def test_no_bsn_in_any_table_or_export(pipeline):
    """The debt signals' BSNs (and the typos the generator made of some, which the eleven-test refused) are nowhere:
    not in raw, quarantine, staging, marts, the manifest or an export; only their keyed hash (person_id) is."""
    persons = pl.read_parquet(pipeline.synthetic / "debt_persons.parquet")
    numbers = set(persons["bsn"])
    typos = {number[:-1] + str((int(number[-1]) + 1) % 10) for number in numbers}  # core.synthetic_debts.failing_bsn
    landing_text = "".join(d.decode(errors="replace") for d in delivered_files(pipeline.landing, "debt_signal", "*.csv").values())
    assert sum(number in landing_text for number in list(numbers)[:200]) > 50  # the scan has something to find
    pattern = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        texts = _all_text(connection)
        assert connection.execute("SELECT COUNT(*) FROM quarantine.debt_signals WHERE reason LIKE 'BSN: voldoet niet%'").fetchone()[0] > 0
        columns = {c for (c,) in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name IN ('debt_signals', 'debt_signal_latest', 'debt_claim_month')"
        ).fetchall()}
    assert "bsn" not in columns and "person_id" in columns
    for path in pipeline.exports.rglob("*"):
        if path.suffix == ".parquet":
            texts.append((str(path), pl.read_parquet(path).write_csv()))
        elif path.is_file():
            texts.append((str(path), path.read_text()))
    for name, text in texts:
        leaked = {match for match in pattern.findall(text) if match in numbers or match in typos}
        assert not leaked, f"{name} holds BSNs {sorted(leaked)[:3]}"
