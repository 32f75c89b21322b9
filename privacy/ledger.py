"""The persistent privacy ledger: append-only, in its own file, so it outlives the warehouse and cannot be talked round.

Where: `ledger/ledger.sqlite` beside the warehouse file (`data/ledger/ledger.sqlite`
by default), owner-only (`core.files`). It is SQLite, not a table in the
warehouse: a rebuilt or restored warehouse finds the same ledger, and several
processes may charge it at once. Back it up with the account store
(`sqlite3 data/ledger/ledger.sqlite ".backup backup.sqlite"`, safe while it
runs); losing it is losing the record of what was spent (see the README).

Tables in the ledger file (no personal data: everyone may read them):

* `ledger`: one row per release (release id, dataset, period, the period's
  last day, kind of unit, version, query, epsilon, delta, rho, mechanism,
  per-component noise, spec hash, time). Append-only: triggers refuse every
  UPDATE and DELETE, and a release id is never used twice.
* `cells`: the released cells of each release as Parquet bytes with their
  SHA-256 (append-only too; a running series adds a part per day), so a
  rebuilt warehouse gets back the very same numbers (`sync`), never new noise.
* `budget`: per dataset and period the running total. It must equal the sum
  of the ledger; every charge checks that, and a mismatch refuses.

Check and charge happen in one SQLite transaction taken with `BEGIN
IMMEDIATE` (one writer at a time, across processes; the other waits): the
period's budget (sum of its ledger rows) and the unit's yearly cap (every
12-month window that holds the period's last day, over all datasets with the
same kind of unit) are checked, and the entry and its cells are written, or
nothing is. Releases can race but never overspend together; tests race two
processes.

A firm's loss over 12 months composes its releases: pure epsilons add (basic
composition); zCDP releases (rho > 0) add their rho, which is turned into
(epsilon, delta) by OpenDP's `make_zCDP_to_approxDP` at the delta the cap
leaves; deltas add. The warehouse keeps a copy for readers (`privacy.ledger`,
`privacy.budget` and the cells in `releases.*`), filled from the file by `sync`.
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import psycopg

from core.files import private_file
from core.warehouse import LAKE_CATALOG_ENV, lake_catalog, portable_ddl, writer_lock
from privacy import ledger_postgres

LEDGER_FILE = Path("ledger") / "ledger.sqlite"

FILE_DDL = """
CREATE TABLE IF NOT EXISTS ledger (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id TEXT NOT NULL UNIQUE,     -- '<release>/<period>/v<version>': never used twice
    release_name TEXT NOT NULL,
    dataset TEXT NOT NULL,
    period TEXT NOT NULL,
    version INTEGER NOT NULL,
    query TEXT NOT NULL,
    privacy_unit TEXT NOT NULL,
    unit_kind TEXT NOT NULL,             -- firm | person: whose yearly cap it counts against
    period_end TEXT NOT NULL,            -- ISO date the release counts on in a 12-month window
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    rho REAL NOT NULL,                   -- zCDP releases: rho (0 for pure and approximate DP)
    mechanism TEXT NOT NULL,
    components TEXT NOT NULL,
    bounding TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
    part INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id TEXT NOT NULL REFERENCES ledger (release_id),
    part_key TEXT NOT NULL,              -- what the part holds ('cells', 'series', 'node/<level>/<start>'...): kept once
    target TEXT NOT NULL,                -- the warehouse table it is restored into
    row_count INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    cells BLOB NOT NULL,                 -- Parquet
    created_at TEXT NOT NULL,
    UNIQUE (release_id, part_key)
);
CREATE TABLE IF NOT EXISTS budget (
    dataset TEXT NOT NULL,
    period TEXT NOT NULL,
    epsilon_spent REAL NOT NULL,
    delta_spent REAL NOT NULL,
    releases INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (dataset, period)
);
CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger BEGIN SELECT RAISE(ABORT, 'the privacy ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger BEGIN SELECT RAISE(ABORT, 'the privacy ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS cells_no_update BEFORE UPDATE ON cells BEGIN SELECT RAISE(ABORT, 'released cells are append-only'); END;
CREATE TRIGGER IF NOT EXISTS cells_no_delete BEFORE DELETE ON cells BEGIN SELECT RAISE(ABORT, 'released cells are append-only'); END;
"""

MIRROR_DDL = """
CREATE SCHEMA IF NOT EXISTS privacy;
CREATE TABLE IF NOT EXISTS privacy.budget (
    dataset VARCHAR NOT NULL,        -- copy of the ledger file's budget (read by exports and `mkbvm budget`)
    period VARCHAR NOT NULL,
    epsilon_spent DOUBLE NOT NULL,
    delta_spent DOUBLE NOT NULL,
    releases INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (dataset, period)
);
CREATE TABLE IF NOT EXISTS privacy.ledger (
    release_id VARCHAR PRIMARY KEY,  -- copy of the ledger file's entry, once its cells are in this warehouse
    release_name VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    query VARCHAR NOT NULL,
    privacy_unit VARCHAR NOT NULL,
    epsilon DOUBLE NOT NULL,
    delta DOUBLE NOT NULL,
    mechanism VARCHAR NOT NULL,
    components VARCHAR NOT NULL,
    bounding VARCHAR NOT NULL,
    spec_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    unit_kind VARCHAR NOT NULL,
    period_end DATE NOT NULL,
    rho DOUBLE NOT NULL,
    sequence BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS privacy.restored_cells (
    part BIGINT PRIMARY KEY,         -- cells part of the ledger file that is in this warehouse
    release_id VARCHAR NOT NULL,
    restored_at TIMESTAMP NOT NULL
);
"""

TOLERANCE = 1e-9  # floating-point slack when summing epsilons
YEAR_DAYS = 366   # a 12-month window: (end - 1 year, end]


@dataclass(frozen=True)
class Entry:
    """One release's line in the ledger."""

    release_id: str
    release_name: str
    dataset: str
    period: str
    version: int
    query: str
    privacy_unit: str
    epsilon: float
    delta: float
    mechanism: str
    components: str
    bounding: str
    spec_hash: str
    created_at: datetime
    period_end: date | None = None  # the period's last day; None: the day it is released
    rho: float = 0.0                # zCDP releases only


@dataclass(frozen=True)
class Limits:
    """What a charge must stay within: the period's budget and the yearly cap of the unit's kind."""

    budget: tuple[float, float]
    unit_kind: str
    annual_cap: tuple[float, float]


def limits(settings, dataset: str) -> Limits:
    """The limits of `dataset` from `PrivacySettings`."""
    declared = settings.datasets[dataset]
    cap = settings.annual_caps[declared.privacy_unit.kind]
    return Limits((declared.budget_per_period.epsilon, declared.budget_per_period.delta), declared.privacy_unit.kind, (cap.epsilon, cap.delta))


class Refused(RuntimeError):
    """A charge the ledger refuses; nothing was released or charged."""


class BudgetExceeded(Refused):
    """A release would spend more than its period's budget; nothing was released or charged."""

    def __init__(self, dataset: str, period: str, remaining: tuple[float, float], requested: tuple[float, float]):
        super().__init__(
            f"privacy budget of dataset '{dataset}' for period {period} is insufficient: "
            f"epsilon {remaining[0]:.4g} left, {requested[0]:.4g} requested"
            + (f" (delta {remaining[1]:.3g} left, {requested[1]:.3g} requested)" if requested[1] else "")
        )
        self.dataset, self.period, self.remaining, self.requested = dataset, period, remaining, requested


class AnnualCapExceeded(Refused):
    """A release would bring one unit's loss over some 12 months above the yearly cap of its kind."""

    def __init__(self, unit_kind: str, window: tuple[date, date], loss: tuple[float, float], cap: tuple[float, float], release_id: str):
        super().__init__(
            f"yearly privacy cap of a {unit_kind} is insufficient for {release_id}: over the 12 months "
            f"{window[0] + timedelta(days=1)} .. {window[1]} one {unit_kind} would lose epsilon {loss[0]:.4g} "
            f"(delta {loss[1]:.3g}) over all datasets, the cap is epsilon {cap[0]:.4g} (delta {cap[1]:.3g})"
        )
        self.unit_kind, self.window, self.loss, self.cap = unit_kind, window, loss, cap


class LedgerInconsistent(Refused):
    """The budget table does not equal the sum of the ledger: someone changed the file; every release is refused."""


class MadeMeanwhile(RuntimeError):
    """A concurrent run kept the same part of a release first; look again and reuse it."""


# --------------------------------------------------------------------------- where the file is


_MEMORY: dict[str, sqlite3.Connection] = {}  # keeps in-memory ledgers of in-memory warehouses alive


def execute_ddl(connection: duckdb.DuckDBPyConnection, sql: str, attempts: int = 20) -> None:
    """Run idempotent DDL; two connections creating the same schema at once conflict, so retry."""
    for attempt in range(attempts):
        try:
            connection.execute(sql)
            return
        except duckdb.TransactionException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


def ledger_path(connection: duckdb.DuckDBPyConnection) -> str:
    """The ledger file of a warehouse: `ledger/ledger.sqlite` in the warehouse's folder (an in-memory warehouse has its own);
    for a shared lake (`MKB_LAKE_CATALOG`), its PostgreSQL database ('postgresql:<connection string>')."""
    (path, kind) = connection.execute("SELECT path, type FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if kind == "ducklake":
        catalog = lake_catalog()
        if catalog is None:
            raise LedgerInconsistent(f"the warehouse is a DuckLake, but {LAKE_CATALOG_ENV} is not set: where its ledger is, is not known")
        return ledger_postgres.PREFIX + ledger_postgres.ledger_database(catalog)
    if path:
        return str(Path(path).resolve().parent / LEDGER_FILE)
    execute_ddl(connection, "CREATE SCHEMA IF NOT EXISTS privacy; "
                            "CREATE TABLE IF NOT EXISTS privacy.memory_ledger AS SELECT CAST(uuid() AS VARCHAR) AS token")
    (token,) = connection.execute("SELECT token FROM privacy.memory_ledger").fetchone()
    uri = f"file:mkbvm-ledger-{token}?mode=memory&cache=shared"
    if uri not in _MEMORY:
        _MEMORY[uri] = _connect_file(uri)
    return uri


def _connect_file(path: str) -> sqlite3.Connection:
    if path.startswith(ledger_postgres.PREFIX):
        connection = ledger_postgres.PostgresLedger(path.removeprefix(ledger_postgres.PREFIX))
        connection.executescript(FILE_DDL)
        return connection
    if path.startswith("file:"):
        connection = sqlite3.connect(path, uri=True, timeout=120, isolation_level=None, check_same_thread=False)
    else:
        private_file(Path(path))  # owner-only before SQLite opens it (its journal takes the same mode)
        connection = sqlite3.connect(path, timeout=120, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.executescript(FILE_DDL)
    return connection


@contextmanager
def _file(connection: duckdb.DuckDBPyConnection) -> Iterator[sqlite3.Connection]:
    opened = _connect_file(ledger_path(connection))
    try:
        yield opened
    finally:
        opened.close()


def ensure_ledger(connection: duckdb.DuckDBPyConnection) -> None:
    """The ledger file exists, and so does the warehouse's copy of it (a warehouse with its ledger inside is migrated)."""
    with _file(connection):
        pass
    if _is_legacy(connection):
        migrate_legacy(connection)
    execute_ddl(connection, portable_ddl(MIRROR_DDL))


# --------------------------------------------------------------------------- the yearly loss


def epsilon_alone(epsilon: float | None, rho: float | None, delta_budget: float) -> float:
    """The epsilon one release spends alone: its epsilon (pure DP), or its rho as (epsilon, delta) at the dataset's delta.

    The one conversion the spec check, the engine's budget check and the pages use (the charge itself converts the
    certified rho of the components, which can only be higher, with `zcdp_epsilon`).

    >>> epsilon_alone(0.5, None, 0.0), round(epsilon_alone(None, 3.0, 1e-6), 3)
    (0.5, 14.948)
    """
    return float(epsilon) if rho is None else zcdp_epsilon(rho, delta_budget)


def zcdp_epsilon(rho: float, delta: float) -> float:
    """Epsilon of rho-zCDP at `delta`, by OpenDP's conversion (`make_zCDP_to_approxDP`).

    >>> round(zcdp_epsilon(3.0, 1e-6), 3)
    14.948
    """
    if rho <= 0:
        return 0.0
    if delta <= 0:
        return float("inf")
    import opendp.prelude as dp

    dp.enable_features("contrib")
    # a Gaussian measurement whose map is exactly rho at d_in = 1 (OpenDP rounds it up, never down)
    gaussian = dp.m.make_gaussian(dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float), scale=(2.0 * rho) ** -0.5)
    return float(dp.c.make_zCDP_to_approxDP(gaussian).map(1.0).epsilon(delta))


def composed(rows: list[tuple[float, float, float]], cap_delta: float) -> tuple[float, float]:
    """(epsilon, delta) of a unit in all of `rows` (epsilon, delta, rho): pure and approximate parts add, rho adds and is converted.

    >>> composed([(2.5, 0.0, 0.0)] * 12, 1e-5)
    (30.0, 0.0)
    """
    epsilon = sum(r[0] for r in rows if r[2] <= 0)
    delta = sum(r[1] for r in rows)
    rho = sum(r[2] for r in rows if r[2] > 0)
    if rho > 0:
        left = cap_delta - delta
        return epsilon + zcdp_epsilon(rho, left), delta + max(left, 0.0)
    return epsilon, delta


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def worst_window(rows: list[tuple[date, float, float, float]], day: date, cap_delta: float) -> tuple[tuple[date, date], tuple[float, float]]:
    """The 12-month window (start exclusive, end inclusive) holding `day` in which `rows` (day, epsilon, delta, rho) cost most."""
    ends = sorted({day} | {d for d, *_ in rows if day <= d <= day + timedelta(days=YEAR_DAYS)})
    worst, window = (-1.0, 0.0), (day, day)
    for end in ends:
        start = _year_before(end)
        if not start < day <= end:
            continue
        loss = composed([r[1:] for r in rows if start < r[0] <= end], cap_delta)
        if loss[0] > worst[0]:
            worst, window = loss, (start, end)
    return window, worst


# --------------------------------------------------------------------------- charging: one transaction on the file


class Book:
    """One open write transaction on the ledger file (BEGIN IMMEDIATE: one writer at a time, across processes)."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def entries(self, release_ids: list[str]) -> dict[str, dict]:
        return _entries(self.connection, release_ids)

    def _spent(self, dataset: str, period: str) -> tuple[float, float, int]:
        summed = self.connection.execute(
            "SELECT COALESCE(SUM(epsilon), 0), COALESCE(SUM(delta), 0), COUNT(*) FROM ledger WHERE dataset = ? AND period = ?", [dataset, period]
        ).fetchone()
        table = self.connection.execute("SELECT epsilon_spent, delta_spent, releases FROM budget WHERE dataset = ? AND period = ?",
                                        [dataset, period]).fetchone()
        table = tuple(table) if table else (0.0, 0.0, 0)
        if table[2] != summed[2] or abs(table[0] - summed[0]) > 1e-6 or abs(table[1] - summed[1]) > 1e-12:
            raise LedgerInconsistent(
                f"privacy ledger of dataset '{dataset}' for period {period} does not add up: the ledger sums to epsilon "
                f"{summed[0]:.6g} over {summed[2]} releases, the budget table says {table[0]:.6g} over {table[2]}; nothing is released"
            )
        return float(summed[0]), float(summed[1]), int(summed[2])

    def charge(self, entry: Entry, limits: Limits) -> None:
        """Check the period's budget and the yearly cap, then write the entry; raises a `Refused` (and writes nothing)."""
        self._spent(entry.dataset, entry.period)  # the budget table must add up first
        budget = limits.budget
        before = [tuple(r) for r in self.connection.execute(
            "SELECT epsilon, delta, rho FROM ledger WHERE dataset = ? AND period = ?", [entry.dataset, entry.period]).fetchall()]
        spent_epsilon, spent_delta = composed(before, budget[1])
        after = composed([*before, (entry.epsilon, entry.delta, entry.rho)], budget[1])
        if after[0] > budget[0] + TOLERANCE or after[1] > budget[1] + TOLERANCE * 1e-6:
            raise BudgetExceeded(entry.dataset, entry.period, (max(budget[0] - spent_epsilon, 0.0), max(budget[1] - spent_delta, 0.0)),
                                 (entry.epsilon, entry.delta))
        day = entry.period_end or entry.created_at.date()
        rows = [(date.fromisoformat(r[0]), r[1], r[2], r[3]) for r in self.connection.execute(
            "SELECT period_end, epsilon, delta, rho FROM ledger WHERE unit_kind = ? AND period_end > ? AND period_end <= ?",
            [limits.unit_kind, (day - timedelta(days=YEAR_DAYS)).isoformat(), (day + timedelta(days=YEAR_DAYS)).isoformat()]).fetchall()]
        window, loss = worst_window([*rows, (day, entry.epsilon, entry.delta, entry.rho)], day, limits.annual_cap[1])
        if loss[0] > limits.annual_cap[0] + TOLERANCE or loss[1] > limits.annual_cap[1] + TOLERANCE * 1e-6:
            raise AnnualCapExceeded(limits.unit_kind, window, loss, limits.annual_cap, entry.release_id)
        try:
            self.connection.execute(
                "INSERT INTO ledger (release_id, release_name, dataset, period, version, query, privacy_unit, unit_kind, period_end, "
                "epsilon, delta, rho, mechanism, components, bounding, spec_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [entry.release_id, entry.release_name, entry.dataset, entry.period, entry.version, entry.query, entry.privacy_unit,
                 limits.unit_kind, day.isoformat(), entry.epsilon, entry.delta, entry.rho, entry.mechanism, entry.components,
                 entry.bounding, entry.spec_hash, entry.created_at.isoformat()],
            )
        except (sqlite3.IntegrityError, psycopg.IntegrityError):
            raise MadeMeanwhile(f"{entry.release_id} is in the ledger already") from None
        self.connection.execute(
            "INSERT INTO budget VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (dataset, period) DO UPDATE SET "
            "epsilon_spent = budget.epsilon_spent + excluded.epsilon_spent, delta_spent = budget.delta_spent + excluded.delta_spent, "
            "releases = budget.releases + 1, updated_at = excluded.updated_at",
            [entry.dataset, entry.period, entry.epsilon, entry.delta, entry.created_at.isoformat()],
        )

    def keep(self, release_id: str, target: str, frame: pl.DataFrame, part_key: str = "cells") -> None:
        """Store released cells beside the entry (restored into `target` of any warehouse by `sync`); a part is kept once."""
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        blob = buffer.getvalue()
        try:
            self.connection.execute(
                "INSERT INTO cells (release_id, part_key, target, row_count, sha256, cells, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [release_id, part_key, target, frame.height, hashlib.sha256(blob).hexdigest(), blob, datetime.now().isoformat()],
            )
        except (sqlite3.IntegrityError, psycopg.IntegrityError):
            raise MadeMeanwhile(f"{release_id}: part {part_key} is kept already") from None

    def kept(self, release_id: str) -> set[str]:
        return {row[0] for row in self.connection.execute("SELECT part_key FROM cells WHERE release_id = ?", [release_id])}


@contextmanager
def book(connection: duckdb.DuckDBPyConnection) -> Iterator[Book]:
    """A write transaction on the ledger of this warehouse: committed when the block ends, rolled back on an error."""
    with _file(connection) as opened:
        opened.execute("BEGIN IMMEDIATE")  # waits (up to 120 s) while another process charges
        try:
            yield Book(opened)
        except BaseException:
            opened.execute("ROLLBACK")
            raise
        opened.execute("COMMIT")


# --------------------------------------------------------------------------- reading


def _entries(opened: sqlite3.Connection, release_ids: list[str]) -> dict[str, dict]:
    found = {}
    for start in range(0, len(release_ids), 500):
        chunk = release_ids[start:start + 500]
        for row in opened.execute(f"SELECT * FROM ledger WHERE release_id IN ({', '.join('?' * len(chunk))})", chunk):
            found[row["release_id"]] = _typed(dict(row))
    return found


def _typed(row: dict) -> dict:
    row["created_at"] = datetime.fromisoformat(row["created_at"])
    row["period_end"] = date.fromisoformat(row["period_end"])
    return row


def find(connection: duckdb.DuckDBPyConnection, release_id: str) -> dict | None:
    """The ledger entry of a release, if it was made."""
    return find_many(connection, [release_id]).get(release_id)


def find_many(connection: duckdb.DuckDBPyConnection, release_ids: list[str]) -> dict[str, dict]:
    """Ledger entries of the releases that were made, by release id (read from the ledger file)."""
    with _file(connection) as opened:
        return _entries(opened, release_ids)


def losses_many(connection: duckdb.DuckDBPyConnection, dataset: str, periods: list[str]) -> dict[str, list[tuple[float, float, float]]]:
    """Per period of `dataset`: the (epsilon, delta, rho) of each of its ledger entries (empty for periods without releases)."""
    with _file(connection) as opened:
        rows = opened.execute("SELECT period, epsilon, delta, rho FROM ledger WHERE dataset = ?", [dataset]).fetchall()
    found: dict[str, list[tuple[float, float, float]]] = {}
    for period, epsilon, delta, rho in rows:
        found.setdefault(period, []).append((float(epsilon), float(delta), float(rho)))
    return {period: found.get(period, []) for period in periods}


def spent_many(connection: duckdb.DuckDBPyConnection, dataset: str, periods: list[str], delta_budget: float = 0.0) -> dict[str, tuple[float, float]]:
    """(epsilon, delta) spent per period of `dataset`: its ledger entries composed (0 for periods without releases).

    Pure entries add; zCDP entries add their rho, converted at the delta the budget leaves (`delta_budget`, the
    dataset's delta per period); without zCDP entries this is the plain sum.
    """
    return {period: composed(rows, delta_budget) if rows else (0.0, 0.0)
            for period, rows in losses_many(connection, dataset, periods).items()}


def spent(connection: duckdb.DuckDBPyConnection, dataset: str, period: str, delta_budget: float = 0.0) -> tuple[float, float]:
    """(epsilon, delta) already spent on `dataset` in `period`."""
    return spent_many(connection, dataset, [period], delta_budget)[period]


def entries_frame(connection: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The whole ledger, in the order it was written (the public ledger)."""
    with _file(connection) as opened:
        return entries_frame_from(opened)


ENTRY_SCHEMA = {"release_id": pl.Utf8, "release_name": pl.Utf8, "dataset": pl.Utf8, "period": pl.Utf8, "version": pl.Int32,
                "query": pl.Utf8, "privacy_unit": pl.Utf8, "epsilon": pl.Float64, "delta": pl.Float64, "mechanism": pl.Utf8,
                "components": pl.Utf8, "bounding": pl.Utf8, "spec_hash": pl.Utf8, "created_at": pl.Datetime("us"),
                "unit_kind": pl.Utf8, "period_end": pl.Date, "rho": pl.Float64, "sequence": pl.Int64}


def entries_frame_from(opened: sqlite3.Connection) -> pl.DataFrame:
    rows = [_typed(dict(row)) for row in opened.execute("SELECT * FROM ledger ORDER BY sequence")]
    if not rows:
        return pl.DataFrame(schema=ENTRY_SCHEMA)
    return pl.DataFrame([{c: row[c] for c in ENTRY_SCHEMA} for row in rows], schema=ENTRY_SCHEMA, orient="row")


def budget_frame(connection: duckdb.DuckDBPyConnection, settings=None) -> pl.DataFrame:
    """Per dataset and period: what is spent (the ledger's entries composed: pure epsilons add, rho adds and is converted
    at the dataset's delta per period), the number of releases and the last change."""
    if settings is None:
        from privacy.loading import privacy_settings

        settings = privacy_settings()
    with _file(connection) as opened:
        rows = [dict(row) for row in opened.execute("SELECT * FROM budget ORDER BY dataset, period")]
        entries: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for dataset, period, epsilon, delta, rho in opened.execute("SELECT dataset, period, epsilon, delta, rho FROM ledger"):
            entries.setdefault((dataset, period), []).append((epsilon, delta, rho))
    schema = {"dataset": pl.Utf8, "period": pl.Utf8, "epsilon_spent": pl.Float64, "delta_spent": pl.Float64, "releases": pl.Int32,
              "updated_at": pl.Datetime("us")}
    for row in rows:
        row["updated_at"] = datetime.fromisoformat(row["updated_at"])
        declared = settings.datasets.get(row["dataset"])
        losses = entries.get((row["dataset"], row["period"]), [])
        if declared is not None and any(rho > 0 for *_, rho in losses):
            row["epsilon_spent"], row["delta_spent"] = composed(losses, declared.budget_per_period.delta)
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def budget_overview(connection: duckdb.DuckDBPyConnection, budgets: dict[str, tuple[float, float]]) -> pl.DataFrame:
    """Per dataset and period: spent, budget and left (for Dagster metadata and `mkbvm budget`), from the ledger file."""
    frame = budget_frame(connection).select("dataset", "period", "epsilon_spent", "delta_spent", "releases")
    limits_frame = pl.DataFrame(
        {"dataset": list(budgets), "epsilon_budget": [b[0] for b in budgets.values()], "delta_budget": [b[1] for b in budgets.values()]},
        schema={"dataset": pl.Utf8, "epsilon_budget": pl.Float64, "delta_budget": pl.Float64},
    )
    return frame.join(limits_frame, on="dataset", how="left").with_columns(
        (pl.col("epsilon_budget") - pl.col("epsilon_spent")).clip(lower_bound=0).alias("epsilon_left")
    )


def mismatches(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Periods whose budget row differs from the sum of their ledger entries (empty when the ledger adds up)."""
    with _file(connection) as opened:
        rows = opened.execute("""
            SELECT COALESCE(b.dataset, l.dataset), COALESCE(b.period, l.period), b.epsilon_spent, l.epsilon, b.releases, l.releases
            FROM budget AS b FULL OUTER JOIN (SELECT dataset, period, SUM(epsilon) AS epsilon, COUNT(*) AS releases FROM ledger
                                              GROUP BY dataset, period) AS l USING (dataset, period)
        """).fetchall()
    return [f"{d}/{p}: budget {b}, ledger {s}" for d, p, b, s, bn, sn in rows
            if b is None or s is None or abs(b - s) > 1e-6 or bn != sn]


def yearly_loss(connection: duckdb.DuckDBPyConnection, settings) -> pl.DataFrame:
    """Per kind of unit and 12-month window (ending on each day a release counts on): one unit's composed loss and the cap.

    One row per window end: `unit_kind`, `window_start` (exclusive), `window_end`, `releases`, `datasets`,
    `epsilon_pure` (added), `rho` (added), `epsilon`, `delta` (composed), `epsilon_cap`, `delta_cap`, `epsilon_left`.
    """
    entries = entries_frame(connection)
    out = []
    for kind, cap in settings.annual_caps.items():
        mine = entries.filter(pl.col("unit_kind") == kind)
        rows = list(mine.select("period_end", "epsilon", "delta", "rho", "dataset").iter_rows())
        for end in sorted({r[0] for r in rows}):
            start = _year_before(end)
            inside = [r for r in rows if start < r[0] <= end]
            epsilon, delta = composed([r[1:4] for r in inside], cap.delta)
            out.append({
                "unit_kind": kind, "window_start": start, "window_end": end, "releases": len(inside),
                "datasets": ", ".join(sorted({r[4] for r in inside})),
                "epsilon_pure": sum(r[1] for r in inside if r[3] <= 0), "rho": sum(r[3] for r in inside),
                "epsilon": epsilon, "delta": delta, "epsilon_cap": cap.epsilon, "delta_cap": cap.delta,
                "epsilon_left": max(cap.epsilon - epsilon, 0.0),
            })
    schema = {"unit_kind": pl.Utf8, "window_start": pl.Date, "window_end": pl.Date, "releases": pl.Int64, "datasets": pl.Utf8,
              "epsilon_pure": pl.Float64, "rho": pl.Float64, "epsilon": pl.Float64, "delta": pl.Float64,
              "epsilon_cap": pl.Float64, "delta_cap": pl.Float64, "epsilon_left": pl.Float64}
    return pl.DataFrame(out, schema=schema, orient="row") if out else pl.DataFrame(schema=schema)


# --------------------------------------------------------------------------- the warehouse's copy


def _warehouse_tables(connection: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{s}.{t}" for s, t in connection.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}


def restored(connection: duckdb.DuckDBPyConnection, release_ids: list[str]) -> set[str]:
    """Those of `release_ids` whose cells are in this warehouse (copied from the ledger file)."""
    return {row[0] for row in connection.execute("SELECT release_id FROM privacy.ledger WHERE list_contains(?, release_id)", [release_ids]).fetchall()}


def _is_legacy(connection: duckdb.DuckDBPyConnection) -> bool:
    columns = {row[0] for row in connection.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'privacy' AND table_name = 'ledger'").fetchall()}
    return bool(columns) and "sequence" not in columns


def migrate_legacy(connection: duckdb.DuckDBPyConnection) -> int:
    """A warehouse from before the ledger file kept its ledger inside: move its entries and cells into the file, once.

    The entries were charged when they were made, so they are written as they
    are (no check), with the budget table; their cells (every `releases.*` row
    with their release id) are kept beside them. Then the warehouse's own
    tables become the copy. Returns the number of entries moved.
    """
    from core.periods import period_end
    from privacy.loading import privacy_settings

    settings = privacy_settings()
    old = connection.execute("SELECT * FROM privacy.ledger ORDER BY created_at, release_id").pl()
    tables = [t for t in sorted(_warehouse_tables(connection)) if t.startswith("releases.") and connection.execute(
        "SELECT COUNT(*) FROM duckdb_columns() WHERE schema_name = 'releases' AND table_name = ? AND column_name = 'release_id'",
        [t.split(".")[1]]).fetchone()[0]]
    kept_parts: list[tuple[int, str]] = []
    with book(connection) as opened:
        recorded = opened.entries(old["release_id"].to_list())
        for row in old.iter_rows(named=True):
            if row["release_id"] in recorded:
                continue
            declared = settings.datasets.get(row["dataset"])
            kind = declared.privacy_unit.kind if declared else "firm"
            day = (period_end(declared.period, row["period"]) if declared else None) or row["created_at"].date()
            opened.connection.execute(
                "INSERT INTO ledger (release_id, release_name, dataset, period, version, query, privacy_unit, unit_kind, period_end, "
                "epsilon, delta, rho, mechanism, components, bounding, spec_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
                [row["release_id"], row["release_name"], row["dataset"], row["period"], row["version"], row["query"], row["privacy_unit"],
                 kind, day.isoformat(), row["epsilon"], row["delta"], row["mechanism"], row["components"], row["bounding"],
                 row["spec_hash"], row["created_at"].isoformat()])
            opened.connection.execute(
                "INSERT INTO budget VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (dataset, period) DO UPDATE SET "
                "epsilon_spent = budget.epsilon_spent + excluded.epsilon_spent, delta_spent = budget.delta_spent + excluded.delta_spent, "
                "releases = budget.releases + 1, updated_at = excluded.updated_at",
                [row["dataset"], row["period"], row["epsilon"], row["delta"], row["created_at"].isoformat()])
            for table in tables:
                cells = connection.execute(f"SELECT * FROM {table} WHERE release_id = ?", [row["release_id"]]).pl()
                if cells.height:
                    opened.keep(row["release_id"], table, cells, f"legacy/{table}")
                    kept_parts.append((opened.connection.execute("SELECT last_insert_rowid()").fetchone()[0], row["release_id"]))
    connection.execute("BEGIN TRANSACTION")
    try:
        connection.execute("DROP TABLE privacy.ledger; DROP TABLE IF EXISTS privacy.budget")
        connection.execute(portable_ddl(MIRROR_DDL))
        for part, rid in kept_parts:  # their cells are in this warehouse already
            connection.execute("INSERT INTO privacy.restored_cells VALUES (?, ?, now())", [part, rid])
        connection.execute("COMMIT")
    except BaseException:
        _rollback(connection)
        raise
    return old.height - len(recorded)


def sync(connection: duckdb.DuckDBPyConnection, attempts: int = 12) -> int:
    """Copy into this warehouse what the ledger file holds and it lacks: released cells (into tables that exist), entries, budget.

    A rebuilt warehouse gets every recorded release back, byte for byte, and
    so serves it again instead of making it anew. An entry is copied once all
    its cells are. Returns the number of cell parts restored. In a shared lake
    one process at a time copies (its tables have no keys to refuse a part twice).
    """
    with writer_lock("releases"):
        return _sync(connection, attempts)


def _sync(connection: duckdb.DuckDBPyConnection, attempts: int) -> int:
    if _is_legacy(connection):
        migrate_legacy(connection)
    execute_ddl(connection, portable_ddl(MIRROR_DDL))
    for attempt in range(attempts):
        with _file(connection) as opened:
            parts = [dict(row) for row in opened.execute("SELECT part, release_id, target, sha256 FROM cells ORDER BY part")]
            entries = entries_frame_from(opened)
            budget = [tuple(row) for row in opened.execute("SELECT * FROM budget ORDER BY dataset, period")]
            done = {row[0] for row in connection.execute("SELECT part FROM privacy.restored_cells").fetchall()}
            tables = _warehouse_tables(connection)
            todo = [p for p in parts if p["part"] not in done and p["target"] in tables]
            blobs = {p["part"]: opened.execute("SELECT cells FROM cells WHERE part = ?", [p["part"]]).fetchone()[0] for p in todo}
        mirrored = {row[0] for row in connection.execute("SELECT release_id FROM privacy.ledger").fetchall()}
        covered = done | {p["part"] for p in todo}
        parts_of: dict[str, list[int]] = {}
        for p in parts:
            parts_of.setdefault(p["release_id"], []).append(p["part"])
        new_entries = entries.filter(pl.col("release_id").is_in(
            [rid for rid, ids in parts_of.items() if rid not in mirrored and all(i in covered for i in ids)]))
        current_budget = [tuple(row) for row in connection.execute(
            "SELECT dataset, period, epsilon_spent, delta_spent, releases, strftime(updated_at, '%Y-%m-%dT%H:%M:%S') FROM privacy.budget "
            "ORDER BY dataset, period").fetchall()]
        wanted_budget = [(d, p, e, dl, n, datetime.fromisoformat(u).strftime("%Y-%m-%dT%H:%M:%S")) for d, p, e, dl, n, u in budget]
        if not todo and new_entries.is_empty() and current_budget == wanted_budget:
            return 0
        try:
            by_target: dict[str, list[pl.DataFrame]] = {}
            for p in todo:
                blob = blobs[p["part"]]
                if hashlib.sha256(blob).hexdigest() != p["sha256"]:
                    raise LedgerInconsistent(f"cells part {p['part']} of {p['release_id']} does not match its SHA-256; nothing restored")
                by_target.setdefault(p["target"], []).append(pl.read_parquet(io.BytesIO(blob)))
            connection.execute("BEGIN TRANSACTION")
            for target, frames in by_target.items():  # one insert per table
                restored_part = pl.concat(frames, how="diagonal_relaxed")  # noqa: F841 - read by DuckDB below
                connection.execute(f"INSERT INTO {target} BY NAME SELECT * FROM restored_part")
            if todo:
                parts_done = pl.DataFrame({"part": [p["part"] for p in todo], "release_id": [p["release_id"] for p in todo]})  # noqa: F841
                connection.execute("INSERT INTO privacy.restored_cells SELECT part, release_id, now() FROM parts_done")
            if not new_entries.is_empty():
                connection.execute("INSERT INTO privacy.ledger BY NAME SELECT * FROM new_entries")
            if current_budget != wanted_budget:
                budget_rows = pl.DataFrame(  # noqa: F841 - read by DuckDB below
                    [(d, p, e, dl, n, datetime.fromisoformat(u)) for d, p, e, dl, n, u in budget],
                    schema=["dataset", "period", "epsilon_spent", "delta_spent", "releases", "updated_at"], orient="row")
                connection.execute("DELETE FROM privacy.budget")
                if budget:
                    connection.execute("INSERT INTO privacy.budget BY NAME SELECT * FROM budget_rows")
            connection.execute("COMMIT")
            return len(todo)
        except (duckdb.TransactionException, duckdb.ConstraintException):
            _rollback(connection)  # a concurrent sync copied the same parts: look again
            time.sleep(0.02 * (attempt + 1))
        except BaseException:
            _rollback(connection)
            raise
    raise RuntimeError(f"the warehouse's copy of the privacy ledger stayed busy after {attempts} attempts")


def _rollback(connection: duckdb.DuckDBPyConnection) -> None:
    try:
        connection.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass
