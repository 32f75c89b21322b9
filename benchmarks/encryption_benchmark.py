"""What encrypting the warehouse costs: the same work on a plain and on an encrypted DuckDB file, as a ratio.

    .venv/bin/python benchmarks/encryption_benchmark.py [--rows 2000000]

Each round writes a survey-like table (firm pseudonym, wave, answers, free text), checkpoints it,
then reads it back with a group-by and a full scan after reopening the file; the encrypted file is
opened as the pipeline opens the warehouse (`core.warehouse`: in-memory DuckDB, httpfs loaded,
the file attached with its key). Both run in the same process, alternately, so the ratio holds on a
busy machine too. Target: the encrypted warehouse costs at most 1.5x the plain one.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import duckdb

os.environ.setdefault("MKB_WAREHOUSE_KEY", "benchmark-key-" + "b" * 40)

from core.warehouse import connect  # noqa: E402

WRITE = """
CREATE OR REPLACE TABLE answers AS
SELECT sha256(CAST(range % 200000 AS VARCHAR)) AS firm_id, '2026-' || lpad(CAST(range % 12 + 1 AS VARCHAR), 2, '0') AS wave,
       CAST(range % 3 AS TINYINT) AS revenue, CAST(range % 5 AS TINYINT) AS sentiment,
       CASE WHEN range % 7 = 0 THEN 'Personeel vinden is lastig, de loonkosten stijgen ' || range END AS free_text
FROM range({rows})
"""
READ = [
    "SELECT wave, revenue, count(*), avg(sentiment) FROM answers GROUP BY ALL",
    "SELECT count(DISTINCT firm_id), sum(length(free_text)) FROM answers",
]


def _write(connection: duckdb.DuckDBPyConnection, rows: int) -> float:
    started = time.perf_counter()
    connection.execute(WRITE.format(rows=rows))
    connection.execute("CHECKPOINT")
    return time.perf_counter() - started


def _read(connection: duckdb.DuckDBPyConnection) -> float:
    started = time.perf_counter()
    for query in READ:
        connection.execute(query).fetchall()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    times: dict[str, list[tuple[float, float]]] = {"plain": [], "encrypted": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(arguments.rounds):
            for kind in times:
                path = Path(folder) / f"{kind}.duckdb"
                path.unlink(missing_ok=True)
                if kind == "plain":
                    with duckdb.connect(str(path)) as connection:
                        written = _write(connection, arguments.rows)
                    with duckdb.connect(str(path), read_only=True) as connection:
                        read = _read(connection)
                else:
                    with connect(path) as connection:
                        written = _write(connection, arguments.rows)
                    with connect(path, read_only=True) as connection:
                        read = _read(connection)
                times[kind].append((written, read))
        sizes = {kind: (Path(folder) / f"{kind}.duckdb").stat().st_size for kind in times}
    best = {kind: (min(w for w, _ in runs), min(r for _, r in runs)) for kind, runs in times.items()}
    print(f"{arguments.rows:,} rows, best of {arguments.rounds} rounds")
    for kind, (written, read) in best.items():
        print(f"  {kind:<9} write+checkpoint {written:6.2f} s   reopen+read {read:6.2f} s   file {sizes[kind] / 1e6:6.1f} MB")
    print(f"  ratio encrypted/plain: write {best['encrypted'][0] / best['plain'][0]:.2f}x, read {best['encrypted'][1] / best['plain'][1]:.2f}x "
          f"(target at most 1.5x)")


if __name__ == "__main__":
    main()
