"""Release benchmark: the standard CGC release set (cgc_balance) over 1 and 10 million bounded rows,
timed three ways in one run on the same data.

    .venv/bin/python benchmarks/release_benchmark.py [--rows 1000000 10000000] [--repeats 3]

The release set is whatever `config/releases/cgc_balance.yaml` declares, read
at run time: per wave (24 waves) and per group of each of its levels (e.g.
nation, province, sector, size class) the number of responding firms and,
per balance question (order book, investment, staff shortage, sentiment),
the positive/neutral/negative answer counts and the balance (% positive -
% negative). All three routes are generated from that spec, so they stay
the same release set when it changes. The routes:

(a) Plain DuckDB SQL without privacy, as a good analyst would write it: the
    same figures in one GROUPING SETS query, either straight over the mart or
    over a CTE that first aggregates to the finest cell. Both are timed; the
    faster one is the baseline. Answer sides are counted with `count_if`
    (about a third less CPU than `COUNT(*) FILTER (WHERE ...)` here) and
    typed literals (sentiment is an INTEGER). The result is fetched, so the
    work is done.
(b) OpenDP's polars `Context` used directly, as a newcomer following OpenDP's
    documentation would: a compositor over a `pl.scan_parquet` of the mart
    (written once, untimed; an in-memory frame would first be serialised by
    the compositor, which is slower), public keys (`invariant="keys"`) per
    grouping, one query per level with `dp.len()` and a bounded `dp.sum` per
    answer side, each released and collected. Timed: context creation, all
    queries, collection and the balance computed from the noisy counts.
(c) Our engine, `privacy.engine.release`, for all 24 waves in one call, a
    new version each time (so new noise and a new ledger charge): bounded
    statistics in DuckDB, roll-up to every public key (empty groups too),
    OpenDP noise per component, estimates, intervals, suppression, and the
    transaction that charges the ledger and stores the released cells.

Why this is fair: all routes read the same rows on the same machine in the
same process, and each delivers the same figures (counts and balances per
wave and group). (a) does no privacy work at all, so (c)/(a) is the price
of privacy plus storage; (b) does the noise but not the rest, so (b)/(c)
shows what the engine costs (or saves) against doing it by hand. The source
grain (one row per firm per wave) is checked exactly once per mart build by
a blocking Dagster asset check, which is why the pipeline releases with
`grain_checked=True`; that check is timed separately here and printed with
its own ratio to (a), so its cost is visible, not hidden.

(b) uses `dp.unit_of(contributions=1)` and the spec's epsilon per release
set, i.e. one row per firm per wave, the same per-wave unit as our ledger's
budget per period; only its timing is compared, not its noise.

The data is synthetic (DuckDB SQL over `range()`, hash-based), built in a
temporary DuckDB file that is deleted afterwards; building it is not timed.
After the timed runs one extra release is profiled per phase (it is a real
release, of its own version) to show where the engine's time goes.
"""

from __future__ import annotations

import argparse
import math
import gc
import operator
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import reduce
from importlib.metadata import version as package_version
from pathlib import Path

import duckdb
import opendp.prelude as dp
import polars as pl
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core import reference
from privacy import engine, ledger
from privacy.bounding import grain_violations
from privacy.loading import privacy_settings, release_specs
from privacy.spec import Balance, PrivacySettings, ReleaseSpec

dp.enable_features("contrib")

SPEC_NAME = "cgc_balance"
WAVES = [f"{year}-{month:02d}" for year in (2025, 2026) for month in range(1, 13)]
CHUNK_ROWS = 1_000_000  # rows inserted per statement while building the mart (drives the progress bar)
TARGET_ROWS, TARGET_RATIO = 10_000_000, 1.5

# Relative weights of the public keys (roughly the Dutch SME population); a code not listed weighs 1.
SECTOR_WEIGHTS = {"A": 6, "C": 5, "D": 1, "F": 10, "G": 15, "H": 4, "I": 5, "J": 6, "K": 3, "L": 3,
                  "M": 15, "N": 6, "P": 4, "Q": 8, "R": 4, "S": 6}
SIZE_WEIGHTS = {"0-1": 60, "2-9": 28, "10-49": 9, "50-249": 3}
PROVINCE_WEIGHTS = {"PV20": 3, "PV21": 4, "PV22": 3, "PV23": 7, "PV24": 2, "PV25": 12, "PV26": 8,
                    "PV27": 18, "PV28": 20, "PV29": 2, "PV30": 15, "PV31": 6}
# Answer distributions in percent per row; None is a question left unanswered.
ANSWERS = {
    "order_book": {None: 5, "grown": 30, "same": 45, "shrunk": 20},
    "investment": {None: 8, "up": 22, "same": 50, "down": 20},
    "staff_shortage": {None: 6, "none": 40, "some": 39, "severe": 15},
    "sentiment": {None: 4, 1: 6, 2: 14, 3: 36, 4: 30, 5: 10},
}
CHALLENGES = ["personeel", "energie", "regeldruk", "financiering", "vraag", "personeel;loonkosten", "energie;grondstoffen"]

console = Console(width=None if sys.stdout.isatty() else 150)  # wide enough for the tables in a log


# --------------------------------------------------------------------------- synthetic mart


def _literal(value) -> str:
    if value is None:
        return "NULL"
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"


def _weighted_pick(codes: list[str], weights: dict[str, int], salt: str) -> str:
    """SQL picking one code per firm, deterministically from a hash, with the given weights."""
    pool = [code for code in codes for _ in range(weights.get(code, 1))]
    listed = "[" + ", ".join(map(_literal, pool)) + "]"
    return f"list_extract({listed}, CAST(hash(firm, '{salt}') % {len(pool)} AS BIGINT) + 1)"


def _answer(question: str, distribution: dict) -> str:
    """SQL drawing one answer per row (firm x wave) from a percent distribution."""
    draw, cumulative, branches = f"hash(i, '{question}') % 100", 0, []
    for value, percent in distribution.items():
        cumulative += percent
        branches.append(f"WHEN {draw} < {cumulative} THEN {_literal(value)}")
    return f"CASE {' '.join(branches)} END"


def mart_insert_sql() -> str:
    """INSERT of rows [$1, $2): row i is firm i // 24 in wave i % 24; firm attributes are fixed per firm."""
    waves = "[" + ", ".join(map(_literal, WAVES)) + "]"
    challenges = "[" + ", ".join(map(_literal, CHALLENGES)) + "]"
    answers = ",\n            ".join(_answer(question, distribution) for question, distribution in ANSWERS.items())
    return f"""
        INSERT INTO marts.cgc_firm_wave
        SELECT
            sha256(CAST(firm AS VARCHAR)),
            list_extract({waves}, CAST(i % {len(WAVES)} AS BIGINT) + 1),
            {_weighted_pick(reference.sector_codes(), SECTOR_WEIGHTS, 'sector')},
            {_weighted_pick(reference.size_class_codes(), SIZE_WEIGHTS, 'size')},
            {_weighted_pick(reference.province_codes(), PROVINCE_WEIGHTS, 'province')},
            {answers},
            CASE WHEN hash(i, 'challenges') % 100 < 80 THEN NULL
                 ELSE list_extract({challenges}, CAST(hash(i, 'which') % {len(CHALLENGES)} AS BIGINT) + 1) END
        FROM (SELECT range AS i, range // {len(WAVES)} AS firm FROM range(CAST($1 AS BIGINT), CAST($2 AS BIGINT)))
    """


MART_DDL = """
    CREATE SCHEMA marts;
    CREATE TABLE marts.cgc_firm_wave (
        firm_id VARCHAR, wave VARCHAR, sector VARCHAR, size_class VARCHAR, province VARCHAR,
        order_book VARCHAR, investment VARCHAR, staff_shortage VARCHAR, sentiment INTEGER, challenges VARCHAR
    )
"""


def build_mart(connection: duckdb.DuckDBPyConnection, rows: int, parquet: Path) -> None:
    """`marts.cgc_firm_wave` with `rows` rows (one per firm per wave), and a Parquet copy for route (b)."""
    connection.execute(MART_DDL)
    insert = mart_insert_sql()
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} rows"), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"building marts.cgc_firm_wave ({rows:,} rows)", total=rows)
        for start in range(0, rows, CHUNK_ROWS):
            end = min(start + CHUNK_ROWS, rows)
            connection.execute(insert, [start, end])
            progress.update(task, completed=end)
    connection.execute("CHECKPOINT")
    with console.status(f"writing the Parquet copy for route (b) ({rows:,} rows)"):
        connection.execute(f"COPY marts.cgc_firm_wave TO '{parquet}' (FORMAT parquet)")


# --------------------------------------------------------------------------- (a) plain DuckDB SQL


def _typed(values: list[str], integer: bool) -> str:
    return ", ".join(values if integer else map(_literal, values))


def _side_filters(measure: Balance, integer: bool) -> dict[str, str]:
    """Conditions of the positive, neutral and negative answers (positive/negative from the spec)."""
    column = f'"{measure.column}"'
    positive, negative = _typed(measure.positive, integer), _typed(measure.negative, integer)
    return {
        "positive": f"{column} IN ({positive})",
        "neutral": f"{column} NOT IN ({positive}, {negative})",  # NULL (no answer) is in no side
        "negative": f"{column} IN ({negative})",
    }


def _balances(spec: ReleaseSpec) -> list[Balance]:
    return [measure for measure in spec.measures if isinstance(measure, Balance)]


def _level_of(spec: ReleaseSpec) -> str:
    """CASE naming the level of a GROUPING SETS row from which key columns are grouped."""
    dims = spec.groups.dimensions
    branches = []
    for name, level_dims in spec.groups.levels.items():
        bits = sum(1 << (len(dims) - 1 - dims.index(d)) for d in dims if d not in level_dims)
        branches.append(f"WHEN {bits} THEN '{name}'")
    return f"CASE GROUPING({', '.join(dims)}) {' '.join(branches)} END"


def _grouping_sets(spec: ReleaseSpec) -> str:
    return ", ".join("(" + ", ".join(["wave", *dims]) + ")" for dims in spec.groups.levels.values())


def _with_balances(spec: ReleaseSpec, grouped_sql: str) -> str:
    balances = ", ".join(
        f"100.0 * ({m.name}_positive - {m.name}_negative) / NULLIF({m.name}_positive + {m.name}_neutral + {m.name}_negative, 0) "
        f"AS {m.name}_balance"
        for m in _balances(spec)
    )
    return f"SELECT *, {balances} FROM ({grouped_sql})"


def plain_sql_direct(spec: ReleaseSpec, integer_columns: set[str]) -> str:
    """One GROUPING SETS aggregation straight over the mart."""
    sides = ", ".join(
        f"count_if({condition}) AS {m.name}_{side}"
        for m in _balances(spec) for side, condition in _side_filters(m, m.column in integer_columns).items()
    )
    dims = ", ".join(spec.groups.dimensions)
    grouped = f"""
        SELECT wave, {_level_of(spec)} AS level, {dims}, COUNT(*) AS respondents, {sides}
        FROM {spec.source}
        GROUP BY GROUPING SETS ({_grouping_sets(spec)})
    """
    return _with_balances(spec, grouped)


def plain_sql_cells(spec: ReleaseSpec, integer_columns: set[str]) -> str:
    """One aggregation to the finest cell (wave x sector x size class x province) in a CTE, GROUPING SETS over it."""
    sides = [
        (f"{m.name}_{side}", condition)
        for m in _balances(spec) for side, condition in _side_filters(m, m.column in integer_columns).items()
    ]
    cell_counts = ", ".join(f"count_if({condition}) AS {name}" for name, condition in sides)
    sums = ", ".join(f"SUM({name}) AS {name}" for name, _ in sides)
    dims = ", ".join(spec.groups.dimensions)
    grouped = f"""
        WITH cells AS (
            SELECT wave, {dims}, COUNT(*) AS respondents, {cell_counts}
            FROM {spec.source}
            GROUP BY ALL
        )
        SELECT wave, {_level_of(spec)} AS level, {dims}, SUM(respondents) AS respondents, {sums}
        FROM cells
        GROUP BY GROUPING SETS ({_grouping_sets(spec)})
    """
    return _with_balances(spec, grouped)


def run_plain(connection: duckdb.DuckDBPyConnection, sql: str) -> int:
    """Run and fetch the plain aggregation; the number of result rows."""
    return connection.execute(sql).pl().height


# --------------------------------------------------------------------------- (b) OpenDP polars Context


def _opendp_sides(measure: Balance, integer: bool) -> list[pl.Expr]:
    """A bounded DP sum of 0/1 per answer side (null answers count in no side)."""
    column = pl.col(measure.column)

    def any_of(values: list[str]) -> pl.Expr:  # OpenDP 0.16 does not support `is_in`; `==` joined by `|` it does
        return reduce(operator.or_, [column == (int(v) if integer else v) for v in values])

    positive, negative = any_of(measure.positive), any_of(measure.negative)
    sides = {"positive": positive, "neutral": ~(positive | negative), "negative": negative}
    return [
        condition.cast(int).fill_null(0).dp.sum((0, 1)).alias(f"{measure.name}_{side}")
        for side, condition in sides.items()
    ]


def _max_groups(dims: list[str]) -> int:
    """Waves times the public domain size of every key column: all groups a level can have."""
    groups = len(WAVES)
    for dim in dims:
        groups *= len(reference.domain_codes(dim))
    return groups


def run_opendp(parquet: Path, spec: ReleaseSpec, rows: int, integer_columns: set[str], split: dict[str, float]) -> int:
    """Route (b): a compositor over the scanned mart, one DP query per level; the number of released rows.

    `split` accumulates the seconds spent in `query.release()` and in `.collect()`.
    """
    levels = [["wave", *dims] for dims in spec.groups.levels.values()]
    context = dp.Context.compositor(
        data=pl.scan_parquet(parquet),
        privacy_unit=dp.unit_of(contributions=1),
        privacy_loss=dp.loss_of(epsilon=spec.privacy_loss.epsilon),
        split_evenly_over=len(levels),
        margins=[dp.polars.Margin(by=by, invariant="keys", max_length=rows, max_groups=_max_groups(by[1:])) for by in levels],
    )
    sides = [expr for m in _balances(spec) for expr in _opendp_sides(m, m.column in integer_columns)]
    released = 0
    for by in levels:
        query = context.query().group_by(by).agg(dp.len(signed=False).alias("respondents"), *sides)
        started = time.perf_counter()
        plan = query.release()  # OpenDP searches the noise scale that spends this query's epsilon, then runs it
        split["release() (scale search, plan)"] += time.perf_counter() - started
        started = time.perf_counter()
        frame = plan.collect()
        split["collect()"] += time.perf_counter() - started
        frame = frame.with_columns(
            (100.0 * (pl.col(f"{m.name}_positive") - pl.col(f"{m.name}_negative"))
             / (pl.col(f"{m.name}_positive") + pl.col(f"{m.name}_neutral") + pl.col(f"{m.name}_negative"))).alias(f"{m.name}_balance")
            for m in _balances(spec)
        )
        released += frame.height
    return released


# --------------------------------------------------------------------------- (c) our engine


BENCHMARK_EPSILON = 20.0  # the largest budget per period `privacy.spec.Budget` accepts


def benchmark_settings(spec: ReleaseSpec) -> PrivacySettings:
    """The configured settings of the spec's dataset with the largest budget per period, so no repeat is refused."""
    configured = privacy_settings().datasets[spec.dataset].model_dump()
    budget = {"epsilon": BENCHMARK_EPSILON, "delta": spec.privacy_loss.delta}
    settings = PrivacySettings.model_validate({"annual_caps": privacy_settings().model_dump()["annual_caps"],
                                               "datasets": {spec.dataset: {**configured, "budget_per_period": budget}}})
    # repeats of one release would soon meet the yearly cap of a firm: the benchmark times the engine, so no cap (unvalidated)
    unlimited = {kind: cap.model_copy(update={"epsilon": math.inf, "delta": 1.0}) for kind, cap in settings.annual_caps.items()}
    return settings.model_copy(update={"annual_caps": unlimited})


def releases_allowed(spec: ReleaseSpec) -> int:
    """How many versions of the spec fit in the benchmark's budget per period."""
    return int(BENCHMARK_EPSILON // spec.privacy_loss.epsilon)


def run_engine(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec, version: int, settings: PrivacySettings) -> int:
    """Route (c): a new version of the release for all waves; the number of periods released."""
    outcomes = engine.release(connection, spec, WAVES, version=version, settings=settings, grain_checked=True)
    refused = [o for o in outcomes if o.status != "released"]
    if refused:
        raise RuntimeError(f"version {version}: not released: {refused[0].status} {refused[0].message}")
    return len(outcomes)


def released_cells(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec, version: int) -> int:
    return connection.execute(f"SELECT COUNT(*) FROM {engine.release_table(spec)} WHERE version = ?", [version]).fetchone()[0]


def run_grain_check(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec) -> int:
    violations = grain_violations(connection, spec)
    if violations:
        raise RuntimeError(f"the synthetic mart breaks its grain: {violations}")
    return 0


# --------------------------------------------------------------------------- profile of (c)


@dataclass
class PhaseTimer:
    """Wall-clock seconds and calls per wrapped function."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def wrap(self, name: str, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1

        return timed


# (module, attribute, label): the engine looks these up at call time, so wrapping them times the real code path.
PHASES = [
    (engine, "_compute", "compute (all of the below)"),
    (engine, "sufficient_statistics", "  sufficient_statistics (DuckDB)"),
    (engine, "level_cells", "  level_cells (roll-up + public keys)"),
    (engine, "_noisy_cells", "  noise (OpenDP per component)"),
    (engine, "post_process", "  post_process (per period)"),
    (engine, "_store", "store (transaction: all of the below)"),
    (ledger.Book, "charge", "  ledger charge: budget and yearly cap (per period)"),
    (ledger.Book, "keep", "  ledger keeps the cells (per period)"),
    (ledger, "sync", "ledger.sync (cells from the ledger file into the warehouse)"),
    (ledger, "find_many", "ledger.find_many (before compute)"),
    (ledger, "spent_many", "ledger.spent_many (before compute)"),
    (engine, "ensure_release_table", "ensure_release_table"),
]


@contextmanager
def profiled_engine(timer: PhaseTimer) -> Iterator[None]:
    """Wrap the engine's phases with timers for the duration of the block, then restore them."""
    originals = [(module, attribute, getattr(module, attribute)) for module, attribute, _ in PHASES]
    for (module, attribute, original), (_, _, label) in zip(originals, PHASES, strict=True):
        setattr(module, attribute, timer.wrap(label, original))
    try:
        yield
    finally:
        for module, attribute, original in originals:
            setattr(module, attribute, original)


def profile_engine(connection, spec: ReleaseSpec, version: int, settings: PrivacySettings) -> tuple[float, PhaseTimer]:
    timer = PhaseTimer()
    with profiled_engine(timer):
        timing, _ = timed(lambda: run_engine(connection, spec, version, settings))
    return timing.wall, timer


# --------------------------------------------------------------------------- running and reporting


@dataclass(frozen=True)
class Timing:
    wall: float  # wall-clock seconds: what the brief's ratios use
    cpu: float  # CPU seconds of this process over all its threads: the work done, less sensitive to other load


def timed(work: Callable[[], int]) -> tuple[Timing, int]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu), result


@dataclass
class SizeResult:
    rows: int
    runs: dict[str, list[Timing]] = field(default_factory=lambda: defaultdict(list))
    outputs: dict[str, int] = field(default_factory=dict)
    opendp_split: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    load: list[float] = field(default_factory=list)  # 1-minute load average before and after
    levels: list[str] = field(default_factory=list)
    baseline: str = ""
    periods: int = 0
    cells: int = 0

    def median(self, route: str) -> float:
        return statistics.median(t.wall for t in self.runs[route])

    def median_cpu(self, route: str) -> float:
        return statistics.median(t.cpu for t in self.runs[route])


def integer_columns(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec) -> set[str]:
    described = connection.execute(f"DESCRIBE {spec.source}").fetchall()
    return {name for name, kind, *_ in described if kind in {"INTEGER", "BIGINT", "SMALLINT", "TINYINT"}}


def run_opendp_recorded(parquet: Path, spec: ReleaseSpec, rows: int, integers: set[str], result: SizeResult) -> int:
    split: dict[str, float] = defaultdict(float)
    released = run_opendp(parquet, spec, rows, integers, split)
    for part, seconds in split.items():
        result.opendp_split[part].append(seconds)
    return released


def time_routes(connection, parquet: Path, spec: ReleaseSpec, settings: PrivacySettings, repeats: int, result: SizeResult) -> None:
    """`repeats` rounds of (a) both ways, (b) and (c), interleaved so that drifting load hits every route alike."""
    integers = integer_columns(connection, spec)
    routes = {
        "a: GROUPING SETS over the mart": lambda: run_plain(connection, plain_sql_direct(spec, integers)),
        "a: finest-cell CTE + GROUPING SETS": lambda: run_plain(connection, plain_sql_cells(spec, integers)),
        "b": lambda: run_opendp_recorded(parquet, spec, result.rows, integers, result),
    }
    run_plain(connection, plain_sql_cells(spec, integers))  # untimed warm-up: every route starts from warm DuckDB buffers
    for repeat in range(1, repeats + 1):
        with console.status(f"{result.rows:,} rows: round {repeat}/{repeats} of (a), (b), (c)"):
            for route, work in routes.items():
                timing, result.outputs[route] = timed(work)
                result.runs[route].append(timing)
            timing, result.periods = timed(lambda: run_engine(connection, spec, repeat, settings))
            result.runs["c"].append(timing)
    result.cells = released_cells(connection, spec, repeats)
    result.baseline = min((r for r in result.runs if r.startswith("a:")), key=result.median)


def measure_size(rows: int, repeats: int, spec: ReleaseSpec, settings: PrivacySettings) -> tuple[SizeResult, float, PhaseTimer]:
    result = SizeResult(rows, levels=list(spec.groups.levels))
    with tempfile.TemporaryDirectory(prefix="release_benchmark_") as folder:
        parquet = Path(folder) / "cgc_firm_wave.parquet"
        with duckdb.connect(str(Path(folder) / "warehouse.duckdb")) as connection:
            build_mart(connection, rows, parquet)
            result.load.append(os.getloadavg()[0])
            time_routes(connection, parquet, spec, settings, repeats, result)
            with console.status(f"{rows:,} rows: grain check and profile of (c)"):
                result.runs["grain"].append(timed(lambda: run_grain_check(connection, spec))[0])
                profiled, timer = profile_engine(connection, spec, repeats + 1, settings)
            result.load.append(os.getloadavg()[0])
    return result, profiled, timer


LABELS = {
    "b": "(b) OpenDP polars Context (pl.scan_parquet of the mart)",
    "c": "(c) our engine: release(..., grain_checked=True), stored + charged",
    "grain": "grain check (once per mart build): grain_violations",
}


def _label(route: str, baseline: str) -> str:
    return LABELS.get(route, f"(a) plain DuckDB, {route[3:]}" + ("  [baseline]" if route == baseline else ""))


def print_size(result: SizeResult) -> None:
    a = result.median(result.baseline)
    runs = len(result.runs["c"])
    table = Table(title=f"{result.rows:,} bounded rows (median of {runs} run{'s' * (runs != 1)})", title_justify="left")
    headers = ("route", "wall runs (s)", "wall median (s)", "/ (a)", "cpu median (s)", "result rows")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for route in [*(r for r in result.runs if r.startswith("a:")), "b", "c", "grain"]:
        output = f"{result.outputs[route]:,}" if route in result.outputs else (f"{result.cells:,} cells" if route == "c" else "")
        runs = "  ".join(f"{t.wall:.3f}" for t in result.runs[route])
        table.add_row(_label(route, result.baseline), runs, f"{result.median(route):.3f}", f"{result.median(route) / a:.2f}x",
                      f"{result.median_cpu(route):.3f}", output)
    console.print(table)
    c, b, grain = result.median("c"), result.median("b"), result.median("grain")
    parts = ", ".join(f"{part} {statistics.median(seconds):.3f} s" for part, seconds in result.opendp_split.items())
    console.print(f"  (a) baseline: {result.baseline[3:]} (the faster plain query at this size)")
    console.print(f"  (b) read the mart with pl.scan_parquet (Parquet written once, untimed); "
                  f"median split over its {len(result.levels)} queries: {parts}")
    console.print(f"  (c) released {result.periods} periods, {result.cells:,} cells per release "
                  f"({result.cells // max(result.periods, 1):,} per period; levels {', '.join(result.levels)})")
    console.print(f"  (c)/(a) = {c / a:.2f}    (b)/(c) = {b / c:.2f}    (grain check)/(a) = {grain / a:.2f}    "
                  f"((c) + grain check)/(a) = {(c + grain) / a:.2f}    [cpu: (c)/(a) = {result.median_cpu('c') / result.median_cpu(result.baseline):.2f}]")
    console.print(f"  1-minute load average before/after: {result.load[0]:.2f} / {result.load[1]:.2f} "
                  f"(above ~0.5 other processes share the {os.cpu_count()} cores and wall-clock times are noisier)")


def print_profile(rows: int, total: float, timer: PhaseTimer) -> None:
    table = Table(title=f"where (c) spends its time at {rows:,} rows (one extra release, profiled)", title_justify="left")
    for column, justify in (("phase", "left"), ("calls", "right"), ("seconds", "right"), ("share", "right")):
        table.add_column(column, justify=justify)
    for _, _, label in PHASES:
        if label in timer.seconds:
            seconds = timer.seconds[label]
            table.add_row(label, str(timer.calls[label]), f"{seconds:.3f}", f"{seconds / total:.0%}")
    accounted = sum(timer.seconds[label] for label in (PHASES[0][2], PHASES[5][2]))
    table.add_row("release() outside compute and store (checks per period)", "", f"{total - accounted:.3f}", f"{(total - accounted) / total:.0%}")
    table.add_row("total", "", f"{total:.3f}", "100%")
    console.print(table)


def print_machine() -> None:
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0")
    versions = ", ".join(f"{name} {package_version(name)}" for name in ("duckdb", "polars", "opendp"))
    console.print(f"machine: {os.cpu_count()} cores, {int(memory) / 1024 ** 2:.0f} GB RAM, {platform.machine()}, "
                  f"Python {platform.python_version()}; {versions}")


def print_target(results: list[SizeResult]) -> None:
    at_target = [r for r in results if r.rows == TARGET_ROWS]
    if not at_target:
        console.print(f"target (c) <= {TARGET_RATIO} x (a) at {TARGET_ROWS:,} rows: not measured in this run")
        return
    ratio = at_target[0].median("c") / at_target[0].median(at_target[0].baseline)
    verdict = "MET" if ratio <= TARGET_RATIO else "NOT MET"
    console.print(f"target (c) <= {TARGET_RATIO} x (a) at {TARGET_ROWS:,} rows: {verdict} ((c)/(a) = {ratio:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, TARGET_ROWS], help="mart sizes in rows")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per route (the median is used)")
    args = parser.parse_args()
    spec = release_specs()[SPEC_NAME]
    most = releases_allowed(spec) - 1  # one more release is profiled
    if not 1 <= args.repeats <= most:
        parser.error(f"--repeats: 1 to {most} (each run of (c) is a new version charged epsilon "
                     f"{spec.privacy_loss.epsilon} of a budget of {BENCHMARK_EPSILON} per wave)")
    warnings.filterwarnings("ignore", category=FutureWarning, module="opendp")
    settings = benchmark_settings(spec)
    print_machine()
    results = []
    for rows in args.rows:
        result, profiled, timer = measure_size(rows, args.repeats, spec, settings)
        print_size(result)
        print_profile(rows, profiled, timer)
        results.append(result)
    print_target(results)


if __name__ == "__main__":
    main()
