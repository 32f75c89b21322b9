"""Cost of scrubbing personal data from free text (`core.scrub`) in ingestion, against the same ingestion without it, same run.

    .venv/bin/python benchmarks/scrub_benchmark.py [--rows 250000]

Two files of CGC rows built by the synthetic generator (`benchmarks/ingest_benchmark.make_file`):
- `generated`: the generator's own free text (about one row in twelve has a comment; a few hold an e-mail address or KvK number);
- `every row a comment`: every row's free text replaced by a Dutch comment drawn from a mix of ordinary sentences
  (with amounts, years, percentages, dates: these pass the cheap filter and go through Python) and comments with
  personal data (one in five), the worst case a consultation with comments everywhere gets.
Each file is ingested twice into a fresh DuckDB file: as usual, and with the scrubbing step replaced by the identity
(the baseline). Prints rows per second of both and the ratio, and how many items were scrubbed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.ingest_benchmark import KEY, make_file, warm_up
from core import ingest, scrub

COMMENTS = [
    "De regeldruk rond de nieuwe rapportageplicht kost ons sinds 2025 zo'n 12 uur per maand.",
    "Loonkosten stijgen in 2026 met 6%, dat kunnen we niet doorberekenen; de marge daalt naar 3,5%.",
    "Per 1 januari 2027 moet alles digitaal, de overgangstermijn is te kort. Kosten: € 12.500.",
    "Energie is duur, onze rekening ging van € 4.800 naar € 9.600 per jaar.",
    "Personeel vinden is lastig, 3 vacatures staan al 8 maanden open.",
    "Onduidelijke regels, niemand weet wat er vanaf 15-01-2027 precies moet.",
    "Goede maand, de orderportefeuille groeit weer.",
    "Bel me gerust op 06-12345678 of mail naar info@bakkerij-jansen.nl.",
    "Met vriendelijke groet, Jan de Vries, Dorpsstraat 12, 1234 AB Ons Dorp (KvK 12345678).",
    "Stuur de subsidie naar NL91 ABNA 0417 1643 00 t.n.v. mevrouw Jansen.",
]
PERSONAL = 3  # the last three comments hold personal data


def every_row_a_comment(path: Path, folder: Path, seed: int = 3) -> Path:
    frame = pl.read_csv(path, infer_schema=False)
    rng = np.random.default_rng(seed)
    ordinary = rng.integers(0, len(COMMENTS) - PERSONAL, frame.height)
    personal = rng.integers(len(COMMENTS) - PERSONAL, len(COMMENTS), frame.height)
    picks = np.where(rng.random(frame.height) < 0.2, personal, ordinary)
    commented = frame.with_columns(free_text=pl.Series([COMMENTS[i] for i in picks]))
    target = folder / "comments.csv"
    commented.write_csv(target)
    return target


def _without_scrubbing(values: pl.Series) -> tuple[pl.Series, pl.DataFrame]:
    """The baseline: the free text as it came, nothing counted (same shape as `scrub.scrub_column_counted`)."""
    zeros = pl.Series([0] * len(values), dtype=pl.Int32)
    return values.cast(pl.Utf8), pl.DataFrame({column: zeros for column in ("items", *scrub.KINDS)})


def timed_ingest(data: bytes, name: str, database: Path, scrubbing: bool) -> tuple[float, ingest.IngestResult]:
    original = ingest.scrub_column_counted
    if not scrubbing:
        ingest.scrub_column_counted = _without_scrubbing
    try:
        with duckdb.connect(str(database)) as connection:
            started = time.perf_counter()
            result = ingest.ingest_bytes(connection, data, name, KEY)
            return time.perf_counter() - started, result
    finally:
        ingest.scrub_column_counted = original


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=250_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        warm_up(folder)
        scrub.scrub_text("warm: jan@x.nl 06-12345678 NL91ABNA0417164300 Groeten, Jan")
        generated = make_file(args.rows, folder)
        files = {"generated": generated, "every row a comment": every_row_a_comment(generated, folder)}
        for label, path in files.items():
            data = path.read_bytes()
            texts = pl.read_csv(path, infer_schema=False)["free_text"]
            with_text = int(texts.str.strip_chars().str.len_chars().fill_null(0).gt(0).sum())
            baseline, _ = timed_ingest(data, path.name, folder / f"{label}-baseline.duckdb", scrubbing=False)
            ours, result = timed_ingest(data, path.name, folder / f"{label}-scrubbed.duckdb", scrubbing=True)
            rows = result.rows_in
            print(f"{label}: {rows:,} rows, {with_text:,} with free text")
            print(f"  without scrubbing: {baseline:6.2f} s {rows / baseline:12,.0f} rows/s")
            print(f"  with scrubbing:    {ours:6.2f} s {rows / ours:12,.0f} rows/s "
                  f"({result.rows_scrubbed:,} rows scrubbed, {result.items_scrubbed:,} items)")
            print(f"  ratio: {ours / baseline:.2f}x the time without scrubbing")


if __name__ == "__main__":
    main()
