"""No KvK number survives ingestion: not in any warehouse table, not in any export."""

from __future__ import annotations

import re

import duckdb
import polars as pl


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
    kvk_numbers = set(firms["kvk_number"])
    # The generator put some of them in free text too: the scan must have something to find.
    landing_text = "".join(p.read_text(errors="replace") for p in (pipeline.landing / "cgc").iterdir())
    assert "Ons KvK-nummer is" in landing_text
    pattern = re.compile(r"(?<![0-9])[0-9]{8}(?![0-9])")
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as connection:
        sources = _all_text(connection)
    for path in pipeline.exports.rglob("*"):
        if path.suffix == ".parquet":
            sources.append((str(path), pl.read_parquet(path).write_csv()))
        elif path.is_file():
            sources.append((str(path), path.read_text()))
    for name, text in sources:
        leaked = {match for match in pattern.findall(text) if match in kvk_numbers}
        assert not leaked, f"{name} holds KvK numbers {sorted(leaked)[:3]}"


def test_free_text_identifiers_were_scrubbed(pipeline):
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as connection:
        scrubbed = connection.execute("SELECT COUNT(*) FROM raw.cgc_responses WHERE free_text LIKE '%[KvK-nummer]%'").fetchone()[0]
        emails = connection.execute("SELECT COUNT(*) FROM raw.cgc_responses WHERE regexp_matches(free_text, '@[a-z0-9.-]+\\.nl')").fetchone()[0]
    assert scrubbed > 0
    assert emails == 0
