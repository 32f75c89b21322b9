"""Ingestion benchmark: 1 million CGC survey rows through validation into DuckDB,
against a plain DuckDB `read_csv` of the same file, both measured in this run.

    .venv/bin/python benchmarks/ingest_benchmark.py [--rows 1000000]

Prints rows per second of both routes and the ratio (ours / plain). The
plain route only parses and stores; ours also validates every rule,
pseudonymises, scrubs free text, checks duplicates and writes quarantine
and manifest in one transaction.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from core.ingest import ingest_bytes
from core.synthetic import answer_wave, inject_defects, latent_cycle, make_firms
from core.survey import landing_columns


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = make_file(args.rows, Path(folder))
        data = path.read_bytes()
        print(f"file: {args.rows:,} rows, {len(data) / 1e6:.0f} MB")

        started = time.perf_counter()
        with duckdb.connect(str(Path(folder) / "plain.duckdb")) as connection:
            connection.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', all_varchar = true)")
        plain = time.perf_counter() - started

        started = time.perf_counter()
        with duckdb.connect(str(Path(folder) / "ours.duckdb")) as connection:
            result = ingest_bytes(connection, data, path.name, b"benchmark-key-" + b"k" * 32)
        ours = time.perf_counter() - started

    print(f"plain DuckDB read_csv: {plain:6.2f} s  {args.rows / plain:12,.0f} rows/s")
    print(f"our ingestion:         {ours:6.2f} s  {args.rows / ours:12,.0f} rows/s "
          f"(raw {result.rows_raw:,}, quarantined {result.rows_quarantined:,}, duplicate {result.rows_duplicate:,})")
    print(f"ratio ours / plain: {ours / plain:.1f}x the time")


if __name__ == "__main__":
    main()
