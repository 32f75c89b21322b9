"""Ingestion benchmark: 1 million CGC survey rows through validation into DuckDB,
against a plain DuckDB `read_csv` of the same file, both measured in this run.

    .venv/bin/python benchmarks/ingest_benchmark.py [--rows 1000000] [--large-field]

Prints rows per second of both routes and the ratio. The plain route only
parses and stores; ours also validates every rule, pseudonymises, scrubs
free text, checks duplicates and writes quarantine and manifest in one
transaction. Both start warm (imports and DuckDB loaded by a tiny run
first), so the numbers are per-file work. `--large-field` also times the
malformed files that hung or crashed: a 50 MB CSV field and a 50 MB JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from core.ingest import ingest_bytes
from core.survey import landing_columns
from core.synthetic import answer_wave, inject_defects, latent_cycle, make_firms


def make_file(rows: int, folder: Path) -> Path:
    """One CSV export of about `rows` rows (1 % defects), built from the synthetic generator."""
    rng = np.random.default_rng(1)
    firms = make_firms(max(rows // 10, 1000), rng)
    cycle = latent_cycle(24, rng)
    frames, total, index = [], 0, 0
    waves = [f"2025-{m:02d}" for m in range(1, 13)] + [f"2026-{m:02d}" for m in range(1, 13)]
    while total < rows:
        wave = waves[index % len(waves)]
        frame, _ = inject_defects(answer_wave(firms, index % 24, wave, cycle, rng), rng)
        frame = frame.with_columns(response_id=pl.format("b{}-{}", pl.lit(index), pl.col("response_id")))
        frames.append(frame)
        total += frame.height
        index += 1
    path = folder / "benchmark.csv"
    pl.concat(frames).head(rows).select(landing_columns()).write_csv(path)
    return path


KEY = b"benchmark-key-" + b"k" * 32


def warm_up(folder: Path) -> None:
    """Load the libraries both routes use (polars, pyarrow, DuckDB) before anything is timed."""
    small = make_file(1000, folder)
    with duckdb.connect(str(folder / "warm.duckdb")) as connection:
        ingest_bytes(connection, small.read_bytes(), "warm.csv", KEY)
        connection.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{small}', all_varchar = true)")
    small.unlink()


def large_fields(folder: Path) -> None:
    """The malformed files of issue 9 that hung: one 50 MB field, as CSV and as a JSON line."""
    header = ",".join(landing_columns())
    row = "a1,2025-03-01T10:00:00,2025-03,12345678,C,2-9,PV31,grown,up,none,4,energie,"
    record = dict(zip(landing_columns(), row.split(","), strict=True)) | {"free_text": "x" * 50_000_000}
    cases = {"field.csv": f'{header}\n{row}"{"x" * 50_000_000}"\n'.encode(), "line.jsonl": (json.dumps(record) + "\n").encode()}
    for name, content in cases.items():
        with duckdb.connect(str(folder / f"{name}.duckdb")) as connection:
            started = time.perf_counter()
            result = ingest_bytes(connection, content, name, KEY)
            print(f"{name}: {len(content) / 1e6:.0f} MB in {time.perf_counter() - started:.2f} s -> {result.status}: {result.reason}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--large-field", action="store_true", help="also time a 50 MB CSV field and a 50 MB JSON line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        warm_up(Path(folder))
        path = make_file(args.rows, Path(folder))
        data = path.read_bytes()
        print(f"file: {args.rows:,} rows, {len(data) / 1e6:.0f} MB")

        started = time.perf_counter()
        with duckdb.connect(str(Path(folder) / "plain.duckdb")) as connection:
            connection.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', all_varchar = true)")
        plain = time.perf_counter() - started

        started = time.perf_counter()
        with duckdb.connect(str(Path(folder) / "ours.duckdb")) as connection:
            result = ingest_bytes(connection, data, path.name, KEY)
        ours = time.perf_counter() - started
        if args.large_field:
            large_fields(Path(folder))

    print(f"plain DuckDB read_csv: {plain:6.2f} s  {args.rows / plain:12,.0f} rows/s")
    print(f"our ingestion:         {ours:6.2f} s  {args.rows / ours:12,.0f} rows/s "
          f"(raw {result.rows_raw:,}, quarantined {result.rows_quarantined:,}, duplicate {result.rows_duplicate:,})")
    print(f"ratio: ours takes {ours / plain:.2f}x the time of plain read_csv ({(args.rows / ours) / (args.rows / plain):.2f}x its rows/s)")


if __name__ == "__main__":
    main()
