"""Released data for the dashboards, and the one write they may do (a form submission).

Dashboards read only the released Parquet files in `data/exports/`, through an
in-memory DuckDB whose file access is locked to that folder: the warehouse,
the landing zone and every other path are refused by DuckDB itself. The only
write is a respondent's own submission, as a new file in the landing zone.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from core import reference
from core.contracts import validate_submission
from core.landing import write_atomically
from core.settings import paths
from core.survey import cgc_survey

RELEASE_FOLDER = "cgc_balance"
# A peer group is shown only if its balances are known within +-25 points;
# otherwise the comparison falls back to a larger group (sector, then nation).
MAX_PEER_HALF_WIDTH = 25.0


def released_connection(exports: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read files under `exports/` and nothing else."""
    folder = (exports or paths().exports).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(":memory:")
    connection.execute("SET allowed_directories = [?]", [f"{folder}/"])
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def balance_releases(exports: Path | None = None) -> pl.DataFrame:
    """All released CGC balance rows, the newest version per wave only."""
    folder = (exports or paths().exports).resolve() / RELEASE_FOLDER
    if not any(folder.glob("*.parquet")):
        return pl.DataFrame()
    connection = released_connection(exports)
    try:
        return connection.execute(
            f"""
            SELECT * FROM read_parquet('{folder}/*.parquet')
            QUALIFY version = MAX(version) OVER (PARTITION BY wave)
            ORDER BY wave, level, sector, size_class, question
            """
        ).pl()
    finally:
        connection.close()


def privacy_ledger(exports: Path | None = None) -> pl.DataFrame:
    path = (exports or paths().exports).resolve() / "privacy_ledger.parquet"
    if not path.exists():
        return pl.DataFrame()
    connection = released_connection(exports)
    try:
        return connection.execute(f"SELECT * FROM read_parquet('{path}') ORDER BY period").pl()
    finally:
        connection.close()


def national_series(releases: pl.DataFrame, question: str, sector: str | None) -> pl.DataFrame:
    """Balance per wave for the nation, or for one sector."""
    level = "nation" if sector is None else "sector"
    frame = releases.filter((pl.col("level") == level) & (pl.col("question") == question))
    if sector is not None:
        frame = frame.filter(pl.col("sector") == sector)
    return frame.sort("wave")


def peer_figures(releases: pl.DataFrame, sector: str, size_class: str) -> tuple[pl.DataFrame, str]:
    """Latest released figures for the respondent's peers: same sector and size, else sector, else nation."""
    latest = releases.filter(pl.col("wave") == releases["wave"].max())
    names = reference.sector_names()
    candidates = [
        (latest.filter((pl.col("level") == "sector_size") & (pl.col("sector") == sector) & (pl.col("size_class") == size_class)),
         f"bedrijven in {names.get(sector, sector)} met {size_class} werkzame personen"),
        (latest.filter((pl.col("level") == "sector") & (pl.col("sector") == sector)), f"alle bedrijven in {names.get(sector, sector)}"),
        (latest.filter(pl.col("level") == "nation"), "alle bedrijven in Nederland"),
    ]
    for frame, label in candidates:
        if frame.height and not frame["suppressed"].any():
            widest = ((frame["balance_ci_high"] - frame["balance_ci_low"]) / 2).max()
            if widest is not None and widest <= MAX_PEER_HALF_WIDTH:
                return frame, label
    return candidates[-1]


def submit_cgc(answers: dict[str, object], landing: Path | None = None, now: datetime | None = None) -> dict:
    """Validate a form submission and write it durably to the landing zone; returns the stored record.

    Raises `core.contracts.SubmissionError` (Dutch lines naming field and rule) for invalid input.
    """
    now = (now or datetime.now()).replace(microsecond=0)
    record = {
        "response_id": f"web-{uuid.uuid4().hex}",
        "submitted_at": now.strftime("%Y-%m-%dT%H:%M:%S"),
        "wave": reference.wave_of(now.date()),
        **answers,
    }
    validate_submission(record)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    write_atomically((landing or paths().landing) / "cgc", f"form_{record['response_id']}.jsonl", line.encode("utf-8"))
    return record


def option_label(question: str, code: str | None) -> str:
    if code is None:
        return "niet beantwoord"
    return cgc_survey().questions[question].options.get(str(code), str(code))
