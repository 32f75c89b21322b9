"""Making releases: bounded statistics in DuckDB, OpenDP noise on the vectors, charged once, stored, re-served.

`release(connection, spec, periods)` makes version `v` of a spec for each
period, or serves the stored one again:

1. A release id `<spec>/<period>/v<version>` that is in the ledger is served
   as stored (same numbers, no new noise, no charge). Asking for it with a
   changed spec is refused: new noise needs a new version, which is charged.
2. Contributions are bounded (`privacy.bounding`) and the bounded sufficient
   statistics of all requested periods are computed in one DuckDB query
   (`privacy.statistics`); levels are rolled up and completed with public keys.
3. Each component's vector gets discrete Laplace noise (pure DP) or discrete
   Gaussian noise (zCDP, `privacy_loss.rho`) from its OpenDP measurement
   (`privacy.mechanisms`; `privacy.sensitivity` derives every sensitivity). Noise for several periods is drawn in one call: the draws
   are independent per entry, exactly as in separate calls per period.
4. Post-processing (`privacy.postprocess`): estimates, intervals at their
   nominal level (privacy noise, `privacy.accuracy`; sampling error,
   `privacy.sampling`; both together) and suppression; it uses released
   numbers only and costs no budget.
5. One transaction per batch on the ledger file (`privacy.ledger`): per
   period an atomic check-and-charge (the period's budget and the unit's
   yearly cap) and the released cells kept beside the entry; then the cells
   are copied into `releases.<spec>`. A period whose budget or cap is too
   small is refused and nothing of it is kept. A release id in the ledger is
   served from the cells the ledger kept, also in a rebuilt warehouse.

Privacy guarantee, per period: the release is the sequential composition of
its components, each epsilon-DP (or, for private keys, (epsilon, delta)-DP,
or rho-zCDP for Gaussian releases) in the unit as OpenDP's privacy map
certifies for its sensitivity; the ledger is charged the composition (pure
epsilons add, rho adds and is converted to (epsilon, delta) at the dataset's
delta), and no period's charges can exceed its budget.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl

from core.periods import calendar_closed_periods, is_canonical, period_end
from privacy import ledger
from privacy.bounding import require_grain
from privacy.loading import privacy_settings
from privacy.mechanisms import (
    GAUSSIAN,
    LAPLACE,
    THRESHOLD,
    certified_epsilon,
    certified_rho,
    certified_selection,
    count_accuracy,
    noisy_vector,
    select_keys,
    selection_threshold,
)
from privacy.postprocess import UNCERTAIN, post_process
from privacy.sensitivity import Component, plan
from privacy.spec import Count, PrivacySettings, ReleaseSpec
from privacy.statistics import PERIOD, level_cells, sufficient_statistics

PERIOD_PATTERN = re.compile(r"[0-9A-Za-z_-]{1,32}")


@dataclass(frozen=True)
class ReleaseOutcome:
    release_id: str
    release_name: str
    period: str
    version: int
    status: str  # released (new noise, charged) | reused (stored release served again) | refused (budget)
    epsilon: float
    delta: float
    message: str = ""


class SpecChanged(RuntimeError):
    """A stored release was made with another specification; ask for a new version."""


def release_id(name: str, period: str, version: int) -> str:
    return f"{name}/{period}/v{version}"


def release_table(spec: ReleaseSpec) -> str:
    return f"releases.{spec.name}"


def ensure_release_table(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec) -> None:
    dims = "".join(f'    "{d}" VARCHAR,\n' for d in spec.groups.dimensions)
    ledger.execute_ddl(connection, f"""
        CREATE SCHEMA IF NOT EXISTS releases;
        CREATE TABLE IF NOT EXISTS {release_table(spec)} (
            release_id VARCHAR NOT NULL,     -- <spec>/<period>/v<version>
            release_name VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            period VARCHAR NOT NULL,         -- the budget period (wave, month)
            level VARCHAR NOT NULL,          -- grouping level of this row, e.g. nation, sector
        {dims}
            measure VARCHAR NOT NULL,
            statistic VARCHAR NOT NULL,      -- count | sum | mean | p50 | share | balance
            category VARCHAR,                -- category of a share
            estimate DOUBLE,                 -- empty when suppressed
            ci_low DOUBLE,                   -- the interval analysts see: privacy noise and sampling error together
            ci_high DOUBLE,
            dp_low DOUBLE,                   -- privacy noise only: where the exact figure among the respondents lies
            dp_high DOUBLE,
            sampling_se DOUBLE,              -- standard error from sampling firms (0 for counts and sums of respondents)
            basis BIGINT,                    -- noisy number of units or answers the figure rests on
            unit_of_estimate VARCHAR NOT NULL,
            suppressed BOOLEAN NOT NULL,
            suppression_reason VARCHAR,
            epsilon DOUBLE NOT NULL,         -- privacy loss of the whole release
            delta DOUBLE NOT NULL,
            confidence_level DOUBLE NOT NULL,
            released_at TIMESTAMP NOT NULL
        )""")
    for dim in spec.groups.dimensions:  # a spec that gained a level gains a key column
        ledger.execute_ddl(connection, f'ALTER TABLE {release_table(spec)} ADD COLUMN IF NOT EXISTS "{dim}" VARCHAR')
    for column in ("dp_low", "dp_high", "sampling_se"):  # tables made before the intervals had parts (older rows: empty)
        ledger.execute_ddl(connection, f"ALTER TABLE {release_table(spec)} ADD COLUMN IF NOT EXISTS {column} DOUBLE")


def stored_release(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec, rid: str) -> pl.DataFrame:
    """The cells of a stored release, in a fixed order."""
    ensure_release_table(connection, spec)
    return connection.execute(
        f"SELECT * FROM {release_table(spec)} WHERE release_id = ? ORDER BY level, {', '.join(spec.groups.dimensions) or 'level'}, "
        "measure, statistic, category",
        [rid],
    ).pl()


def _budget(spec: ReleaseSpec, settings: PrivacySettings) -> tuple[float, float]:
    budget = settings.datasets[spec.dataset].budget_per_period
    return budget.epsilon, budget.delta


def _query_text(spec: ReleaseSpec) -> str:
    measures = ", ".join(f"{m.kind} {m.name}" for m in spec.measures)
    levels = " / ".join(f"{name}{'(' + ', '.join(dims) + ')' if dims else ''}" for name, dims in spec.groups.levels.items())
    return f"{measures} per {levels} from {spec.source}"


def _bounding_text(spec: ReleaseSpec, grain_checked: bool) -> str:
    unit, period = spec.privacy_unit.column, spec.period
    if spec.contribution.source_grain is not None:
        by = "by the blocking check after the mart's build in the same run" if grain_checked else "by the release itself"
        return f"source grain: one row per {unit} per {period} in {spec.source}, checked exactly {by}"
    return f"at most {spec.contribution.max_rows_per_unit} rows per {unit} per {period}, kept by {spec.contribution.keep}"


def _noisy_cells(cells: pl.DataFrame, components: list[Component], preset: dict[str, np.ndarray]) -> pl.DataFrame:
    """`cells` with every statistic column replaced by its noisy value (one OpenDP call per component)."""
    replaced = []
    for component in components:
        columns = list(component.columns)
        if component.measure in preset:  # private keys: the selection already released these counts
            replaced.append(pl.Series(columns[0], preset[component.measure]))
            continue
        exact = cells.select(columns).to_numpy()
        noisy = noisy_vector(exact.ravel(), component).reshape(exact.shape)
        replaced += [pl.Series(name, noisy[:, index]) for index, name in enumerate(columns)]
    return cells.with_columns(replaced)


def _suppress_near_threshold(cells: pl.DataFrame, spec: ReleaseSpec, selector: Component, threshold: int) -> pl.DataFrame:
    """Private keys: hide the figures of groups whose noisy count is close to the selection threshold.

    A group is only there because its noisy count passed the threshold, so
    near the threshold its count is biased upwards and a plain interval would
    not cover 95 % of the time. Above threshold + the count's half-width the
    selection hardly depends on the noise any more; below it the group is
    named (it passed the selection) but its figures are not shown.
    """
    count = next(m for m in spec.measures if isinstance(m, Count))
    margin = threshold + count_accuracy(selector.scale, 1.0 - spec.confidence_level)
    (dim,) = next(iter(spec.groups.levels.values()))
    near = cells.filter((pl.col("measure") == count.name) & pl.col("suppressed").not_() & (pl.col("estimate") < margin))
    hidden = pl.struct(PERIOD, dim).is_in(near.select(pl.struct(PERIOD, dim)).to_series().implode())
    reason = f"te dicht bij de drempel ({threshold}) waarmee deze groepen zijn gekozen"
    return cells.with_columns(
        pl.when(hidden).then(None).otherwise(pl.col(c)).alias(c) for c in UNCERTAIN
    ).with_columns(
        pl.when(hidden).then(pl.lit(reason)).otherwise(pl.col("suppression_reason")).alias("suppression_reason"),
        (pl.col("suppressed") | hidden).alias("suppressed"),
    )


def _private_selection(stats: pl.DataFrame, spec: ReleaseSpec, components: list[Component], periods: list[str]):
    """Partition selection per period: the keys that pass OpenDP's threshold, and their noisy counts."""
    count = next(m for m in spec.measures if isinstance(m, Count))
    component = next(c for c in components if c.measure == count.name)
    threshold = selection_threshold(component, spec.privacy_loss.delta)
    (dim,) = next(iter(spec.groups.levels.values()))
    keys, noisy = {}, {}
    for period in periods:
        rows = stats.filter((pl.col(PERIOD) == period) & pl.col(dim).is_not_null()).group_by(dim).agg(pl.col(f"{count.name}|n").sum())
        selected = select_keys(dict(zip(rows[dim].to_list(), rows[f"{count.name}|n"].to_list(), strict=True)), component, threshold)
        keys[period] = list(selected)
        noisy[period] = selected
    return keys, noisy, component, threshold


def _compute(connection, spec: ReleaseSpec, periods: list[str], version: int, now: datetime,
             grain_checked: bool = False, delta_budget: float = 0.0) -> dict[str, tuple[pl.DataFrame, ledger.Entry]]:
    components = plan(spec)
    stats = sufficient_statistics(connection, spec, periods)
    gaussian = spec.privacy_loss.rho is not None
    preset, epsilons, delta, mechanisms = {}, {}, 0.0, [GAUSSIAN if gaussian else LAPLACE]
    if spec.groups.keys == "private":
        keys, noisy_counts, selector, threshold = _private_selection(stats, spec, components, periods)
        cells = level_cells(stats, spec, periods, keys)
        (dim,) = next(iter(spec.groups.levels.values()))
        preset[selector.measure] = np.array([noisy_counts[p][k] for p, k in cells.select(PERIOD, dim).iter_rows()], dtype=np.int64)
        epsilons[selector], delta = certified_selection(selector, threshold)
        mechanisms.insert(0, f"{THRESHOLD}, threshold {threshold}")
    else:
        cells = level_cells(stats, spec, periods)
    rhos = {c: certified_rho(c) for c in components} if gaussian else {}
    for component in components:
        if not gaussian:
            epsilons.setdefault(component, certified_epsilon(component))
    rho = float(sum(rhos.values()))
    # a zCDP release's epsilon is its rho alone as (epsilon, delta) at the dataset's delta; its delta stays 0 in the ledger,
    # which composes the rho of a period's (and a year's) releases before converting (privacy.ledger.composed)
    epsilon = ledger.zcdp_epsilon(rho, delta_budget) if gaussian else float(sum(epsilons.values()))
    noisy = _noisy_cells(cells, components, preset)
    details = json.dumps([
        {"measure": c.measure, "part": c.part, "l1_sensitivity": c.sensitivity, "scale": c.scale, "epsilon": epsilons[c]}
        if not gaussian else
        {"measure": c.measure, "part": c.part, "mechanism": "gaussian", "l2_sensitivity": c.l2_squared ** 0.5, "scale": c.scale, "rho": rhos[c]}
        for c in components
    ])
    released = post_process(noisy, spec, components)  # one pass over every period: vectorised
    if spec.groups.keys == "private":
        released = _suppress_near_threshold(released, spec, selector, threshold)
    made = {}
    parts = released.partition_by(PERIOD, as_dict=True, maintain_order=True)
    for period in periods:  # private keys: a period where no key passed the selection is released empty (and charged)
        period_cells = parts.get((period,), released.clear())
        entry = ledger.Entry(
            release_id=release_id(spec.name, period, version), release_name=spec.name, dataset=spec.dataset, period=period,
            version=version, query=_query_text(spec), privacy_unit=spec.privacy_unit.label, epsilon=epsilon, delta=delta,
            mechanism="; ".join(mechanisms), components=details, bounding=_bounding_text(spec, grain_checked),
            spec_hash=spec.semantic_hash(), created_at=now, rho=rho,
        )
        made[period] = (period_cells, entry)
    return made


def _rollback(connection: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is still open (a failed COMMIT has already ended it)."""
    try:
        connection.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass


def _stamped(cells: pl.DataFrame, spec: ReleaseSpec, entry: ledger.Entry) -> pl.DataFrame:
    """A period's released cells with the columns that say which release they belong to."""
    return cells.with_columns(
        pl.lit(entry.release_id).alias("release_id"), pl.lit(spec.name).alias("release_name"),
        pl.lit(entry.version, pl.Int32).alias("version"), pl.lit(entry.epsilon).alias("epsilon"),
        pl.lit(entry.delta).alias("delta"), pl.lit(spec.confidence_level).alias("confidence_level"),
        pl.lit(entry.created_at).alias("released_at"),
    ).rechunk()


def _store(connection, spec: ReleaseSpec, made: dict, limits: ledger.Limits, ends: dict[str, date | None], outcomes: dict,
           attempts: int = 8) -> None:
    """Charge every made period and keep its cells in the ledger file (one transaction), then copy them into the warehouse.

    The ledger file is written first: if the copy into the warehouse fails, the
    next run restores it from the file (`ledger.sync`); the release is never
    made again.
    """
    for attempt in range(attempts):
        settled: dict[str, ReleaseOutcome] = {}
        try:
            with ledger.book(connection) as book:
                made_meanwhile = book.entries([entry.release_id for _, entry in made.values()])
                for period, (cells, entry) in made.items():
                    existing = made_meanwhile.get(entry.release_id)
                    if existing is not None:  # made by a concurrent run meanwhile: serve that one
                        settled[period] = ReleaseOutcome(entry.release_id, spec.name, period, entry.version, "reused", existing["epsilon"], existing["delta"])
                        continue
                    entry = replace(entry, period_end=ends.get(period))
                    try:
                        book.charge(entry, limits)
                    except ledger.Refused as refused:
                        settled[period] = ReleaseOutcome(entry.release_id, spec.name, period, entry.version, "refused", 0.0, 0.0, str(refused))
                        continue
                    book.keep(entry.release_id, release_table(spec), _stamped(cells, spec, entry))
                    settled[period] = ReleaseOutcome(entry.release_id, spec.name, period, entry.version, "released", entry.epsilon, entry.delta)
            break
        except ledger.MadeMeanwhile:
            time.sleep(0.05 * (attempt + 1))  # the whole transaction was rolled back: look again
    else:
        raise RuntimeError(f"{spec.name}: the ledger stayed busy after {attempts} attempts; nothing was released")
    ledger.sync(connection)
    outcomes.update(settled)


def release(
    connection: duckdb.DuckDBPyConnection,
    spec: ReleaseSpec,
    periods: list[str],
    version: int = 1,
    *,
    settings: PrivacySettings | None = None,
    grain_checked: bool = False,
    now: datetime | None = None,
) -> list[ReleaseOutcome]:
    """Release `version` of `spec` for each period, or serve the stored release again.

    `grain_checked=True` says the source's one-row-per-unit grain was checked
    exactly after its last build (the blocking Dagster check); otherwise the
    release checks it itself for the periods it makes.

    >>> import duckdb; from privacy.loading import release_specs
    >>> connection = duckdb.connect()
    >>> _ = connection.execute("CREATE SCHEMA marts; CREATE TABLE marts.cgc_firm_wave AS SELECT "
    ...     "'f' || i AS firm_id, '2025-01' AS wave, 'C' AS sector, '2-9' AS size_class, 'PV31' AS province, "
    ...     "'grown' AS order_book, 'up' AS investment, 'none' AS staff_shortage, 4 AS sentiment FROM range(500) t(i)")
    >>> [o.status for o in release(connection, release_specs()["cgc_balance"], ["2025-01"])]
    ['released']
    >>> [o.status for o in release(connection, release_specs()["cgc_balance"], ["2025-01"])]
    ['reused']
    """
    if version < 1:
        raise ValueError(f"version: must be 1 or more, not {version}")
    bad = [p for p in periods if not PERIOD_PATTERN.fullmatch(str(p))]
    if bad:  # a period becomes part of a release id and an export file name
        raise ValueError(f"periods: {bad} are not period codes (letters, digits, '-' and '_', at most 32)")
    settings = settings or privacy_settings()
    calendar = settings.datasets[spec.dataset].period
    odd = [p for p in periods if not is_canonical(calendar, str(p))]
    if odd:  # '2025-1' and '2025-01' would be two budgets for the same answers
        raise ValueError(f"periods: {odd} are not periods of the {calendar} calendar of dataset '{spec.dataset}' "
                         "(written exactly as the calendar writes them)")
    budget = _budget(spec, settings)
    ledger.ensure_ledger(connection)
    ensure_release_table(connection, spec)
    ledger.sync(connection)  # a rebuilt warehouse gets the recorded releases back before anything is made
    outcomes: dict[str, ReleaseOutcome] = {}
    to_make = []
    periods = list(dict.fromkeys(periods))
    stored = ledger.find_many(connection, [release_id(spec.name, period, version) for period in periods])
    here = ledger.restored(connection, list(stored))
    if set(stored) - here:  # charged by another process since the sync above (a shared lake): its cells are in the ledger
        ledger.sync(connection)
        here = ledger.restored(connection, list(stored))
    losses = ledger.losses_many(connection, spec.dataset, periods)
    loss = spec.privacy_loss
    asked = (ledger.epsilon_alone(loss.epsilon, loss.rho, budget[1]), loss.delta, loss.rho or 0.0)
    for period in periods:
        rid = release_id(spec.name, period, version)
        existing = stored.get(rid)
        if existing is not None:
            if existing["spec_hash"] != spec.semantic_hash():
                raise SpecChanged(
                    f"{rid} was released with another specification ({existing['spec_hash']}); "
                    f"release version {version + 1} to use the new one (it is charged again)"
                )
            if rid not in here:  # recorded, but its cells cannot be restored here: never made again with new noise
                outcomes[period] = ReleaseOutcome(rid, spec.name, period, version, "refused", 0.0, 0.0,
                                                  f"{rid} is in the privacy ledger, but its cells are not in this warehouse and could "
                                                  "not be restored from the ledger; it is not made again with new noise")
                continue
            outcomes[period] = ReleaseOutcome(rid, spec.name, period, version, "reused", existing["epsilon"], existing["delta"])
            continue
        spent = ledger.composed(losses[period], budget[1]) if losses[period] else (0.0, 0.0)
        after = ledger.composed([*losses[period], asked], budget[1])
        left = (max(budget[0] - spent[0], 0.0), max(budget[1] - spent[1], 0.0))
        if after[0] > budget[0] + ledger.TOLERANCE or after[1] > budget[1] + ledger.TOLERANCE * 1e-6:
            refused = ledger.BudgetExceeded(spec.dataset, period, left, asked[:2])
            outcomes[period] = ReleaseOutcome(rid, spec.name, period, version, "refused", 0.0, 0.0, str(refused))
            continue
        to_make.append(period)
    if to_make:
        if spec.contribution.source_grain is not None and not grain_checked:
            require_grain(connection, spec, to_make)
        made = _compute(connection, spec, to_make, version, (now or datetime.now()).replace(microsecond=0), grain_checked, budget[1])
        ends = {period: period_end(calendar, period) for period in to_make}
        _store(connection, spec, made, ledger.limits(settings, spec.dataset), ends, outcomes)
    return [outcomes[period] for period in periods]


def releasable_periods(connection: duckdb.DuckDBPyConnection, spec: ReleaseSpec, today: date, settings: PrivacySettings | None = None) -> list[str]:
    """Every closed period of the calendar, with rows in the source or not (from the first with data on), oldest first.

    The first and last period with data are taken over every source of the dataset that has the period column, not
    only this release's: a mart made from private data (a theme mart holds the firms whose words passed a selection)
    may be empty in a period, and a release whose periods followed it would say so. Each release of a dataset thus
    covers the same periods, and one with no rows in a period is released (empty or 'x') and charged like the others.
    """
    dataset = (settings or privacy_settings()).datasets[spec.dataset]
    tables = list(dict.fromkeys([spec.source, *dataset.sources]))
    present: set[str] = set()
    for table in tables:
        schema, name = table.split(".")
        has_column = connection.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = ? AND column_name = ?",
            [schema, name, spec.period]).fetchone()[0]
        if table != spec.source and not has_column:
            continue
        present |= {row[0] for row in connection.execute(
            f'SELECT DISTINCT CAST("{spec.period}" AS VARCHAR) FROM {table} WHERE "{spec.period}" IS NOT NULL'
        ).fetchall() if PERIOD_PATTERN.fullmatch(row[0])}
    return calendar_closed_periods(dataset.period, today, sorted(present))
