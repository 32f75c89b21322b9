"""Running figures while a proposal is open: the binary (tree) mechanism for continual counting, on OpenDP's noise.

A proposal's figures are released once after it closes (`dis_impact`,
`dis_burden`). While it is open, a new release per answer (or per day) would
spend the budget without end, so the running figures come from one series
per proposal under one fixed privacy loss, the binary mechanism of Chan, Shi
& Song (2011) and Dwork, Naor, Pitassi & Rothblum (2010):

* The window (`simulation_opens` .. `simulation_closes`, from `core.periods`)
  is split into T days, T known when the series starts. A firm counts on the
  day of its first answer to the proposal (earliest `submitted_at`; an answer
  before the window opened counts on day 1, one after it closed not at all)
  with its values from the mart (its latest answer per question, clamped and
  rounded to the same bounds and resolution as the release after closing).
  A resubmission does not move it: it stays in one leaf.
* A dyadic tree over the days: level h holds the nodes [k 2^h + 1, (k+1) 2^h]
  that end within the window, for h = 0 .. H - 1, H = floor(log2 T) + 1 (the
  full tree; `tree_height` may cap it). Each node holds, per size class, the
  bounded sufficient statistics of the firms whose day lies in it: the
  number of firms, and per mean the number of values and their centred sum.
* Each node gets OpenDP's discrete Laplace noise (`make_laplace` on an
  integer vector, `privacy.mechanisms`), once, when its last day is over; it
  is stored (`releases.<series>_nodes`) and reused by every later update.
* The running total up to day t is the sum of the stored nodes of its binary
  decomposition (t = 13 = 8 + 4 + 1: [1, 8], [9, 12], [13, 13]): at most one
  node per level, so at most H <= ceil(log2 T) + 1 noisy nodes. The nation is
  the sum of the size classes. Means are noisy sum / noisy count. All of it is
  post-processing of the stored nodes: free, and a day's figures never
  change once made, because its nodes never change.

Sensitivity and privacy loss (neighbouring data: one firm added or removed,
with all its answers to the proposal). A component is one statistic of one
measure (respondents: count; a mean: count and centred sum) over every node
and size class of the series. The firm lies in one leaf, so in exactly one
node per level, and per node in one size class:

| component | change per node | nodes touched | L1 sensitivity of the component |
|---|---|---|---|
| count (firms, or values of a mean) | 1 | H (one per level) | H x 1 |
| centred sum of a mean | B | H | H x B |

with B = max(upper - centre, centre - lower) in steps of the resolution
(`privacy.sensitivity.numeric_steps`: 1,000 steps of 100 euro for the cost
change, 120 steps of half an hour for the admin hours). A component with
epsilon share e_c gets noise at scale H x (change per node) / e_c on every
node, and OpenDP's privacy map certifies e_c for sensitivity H x (change per
node). The shares are split by measure weight, evenly between a mean's count
and sum (as in `privacy.sensitivity.plan`), and sum to the series' epsilon:
the whole series, every day of it, is one epsilon-DP release, charged to the
ledger once, when its first nodes are noised. Noising the nodes day by day
draws independent noise per entry, exactly as one draw of the whole vector;
a firm that answers after seeing earlier running figures is covered too,
since pure-DP Laplace noise composes adaptively and the firm's total change
stays within the L1 sensitivity above.

>>> T = 42; H = tree_height(T); H, len(tree_nodes(T, H)), max(len(prefix_nodes(t, H)) for t in range(1, T + 1))
(6, 81, 5)
>>> H * 1 / 0.25  # the scale of the running count: 6 levels x 1 firm per node / its epsilon 0.25
24.0

Intervals: the noise of a running figure is the sum of k independent discrete
Laplace draws of a known scale (k = nodes summed), so its quantiles are
computed from that distribution (`half_width`): exactly, by convolving the
k distributions, or, where that is too large (the sums, scale ~10^4 to 10^5),
from the closed-form tail of k continuous Laplace variables plus k (each
discrete draw is a continuous one plus less than 1 in size), a bound
conservative by at most k steps of the resolution. A running mean S / N
(noisy sum and count, each summed over its nodes) gets the engine's test
inversion (`privacy.accuracy.mean_interval_summed`): the pivot S - theta N
is noise of known law, so the interval holds the exact running mean with the
stated probability (before: a union bound over the box of S and N, about
twice as wide on the sum's part).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Literal, NamedTuple

import duckdb
import numpy as np
import polars as pl
import yaml
from pydantic import Field, ValidationError, model_validator

from core import reference
from core.files import public_dir
from core.landing import write_atomically
from core.settings import CONFIG_DIR
from core.warehouse import portable_ddl
from privacy import ledger
from privacy.accuracy import count_interval, mean_interval_summed
from privacy.bounding import literal, require_grain
from privacy.engine import SpecChanged, _bounding_text
from privacy.export import _measure_description, write_parquet_atomically
from privacy.loading import ReleaseSpecError, privacy_settings, release_specs
from privacy.mechanisms import LAPLACE, certified_epsilon, noisy_vector
from privacy.sensitivity import Component, numeric_steps, plan
from privacy.spec import IDENTIFIER, RELATION, Count, Groups, Mean, PrivacyLoss, PrivacySettings, ReleaseSpec, Strict
from privacy.statistics import SourceError, _statistics_sql

SERIES_DIR = CONFIG_DIR / "continual"
EXACT_LIMIT = 1 << 20  # the exact convolution is used while the summed distribution has at most this many points


# --------------------------------------------------------------------------- the declaration


class RunningMeasure(Strict):
    """A measure of the release after closing, taken over with its own share of the series' epsilon."""

    name: str = Field(pattern=IDENTIFIER)
    weight: float = Field(gt=0, default=1.0)
    node_sensitivity: dict[Literal["count", "sum"], int] | None = Field(
        default=None, description="the derivation written beside it: change of one firm per node, per part; checked"
    )


class Answers(Strict):
    table: str = Field(pattern=RELATION, description="the raw answers, one row per submission")
    submitted_at: str = Field(pattern=IDENTIFIER, description="when an answer was given")


class RunningDeclaration(Strict):
    """One running series (`config/continual/<name>.yaml`)."""

    name: str = Field(pattern=IDENTIFIER)
    title: str = Field(min_length=3)
    description: str = Field(min_length=10)
    measures_from: str = Field(pattern=IDENTIFIER, description="the release after closing whose source, unit, bounds and budget it shares")
    answers: Answers
    group: str = Field(pattern=IDENTIFIER, description="a public domain; the nation is the sum of its groups")
    measures: list[RunningMeasure] = Field(min_length=1)
    privacy_loss: PrivacyLoss
    tree_height: Literal["full"] | int = Field(default="full", description="levels of the tree; 'full': floor(log2 T) + 1")
    suppression_threshold: int = Field(ge=0, default=10)
    confidence_level: float = Field(gt=0.5, lt=1.0, default=0.95)

    @model_validator(mode="after")
    def _rules(self) -> RunningDeclaration:
        if self.privacy_loss.delta != 0:
            raise ValueError("privacy_loss.delta: must be 0 (public keys, Laplace noise: pure differential privacy)")
        if isinstance(self.tree_height, int) and self.tree_height < 1:
            raise ValueError("tree_height: 'full' or a number of levels of at least 1")
        names = [m.name for m in self.measures]
        if len(set(names)) != len(names):
            raise ValueError("measures: each measure may appear once")
        if self.group not in reference.domains():
            raise ValueError(f"group: '{self.group}' is no public domain (reference/domains.yaml)")
        return self


@dataclass(frozen=True)
class RunningSeries:
    """A declaration resolved against its release spec: the measures with their bounds and the series' weights."""

    declaration: RunningDeclaration
    spec: ReleaseSpec  # measures_from
    measures: tuple[Count | Mean, ...]

    @property
    def name(self) -> str:
        return self.declaration.name

    @property
    def dataset(self) -> str:
        return self.spec.dataset

    @property
    def epsilon(self) -> float:
        return self.declaration.privacy_loss.epsilon

    @property
    def group(self) -> str:
        return self.declaration.group

    def semantic_hash(self) -> str:
        """Hash of everything that changes what the series' numbers mean (titles and rationales do not count)."""
        data = self.declaration.model_dump(mode="json", exclude={"title", "description"})
        data["measures"] = [m.model_dump(mode="json", exclude={"rationale", "l1_sensitivity"}) for m in self.measures]
        data["source"], data["unit"], data["period"] = self.spec.source, self.spec.privacy_unit.column, self.spec.period
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def with_epsilon(self, epsilon: float) -> RunningSeries:
        """The same series at another privacy loss (math.inf: no noise, for the exactness tests)."""
        loss = PrivacyLoss.model_construct(epsilon=epsilon, delta=0.0)
        return replace(self, declaration=self.declaration.model_copy(update={"privacy_loss": loss}))


def resolve(declaration: RunningDeclaration, settings: PrivacySettings, specs: dict[str, ReleaseSpec]) -> RunningSeries:
    """Take the measures from the release spec and check budget and sensitivity (an error names the field)."""
    name = declaration.name
    if declaration.measures_from not in specs:
        raise ReleaseSpecError(f"{name}.yaml: measures_from: no release spec '{declaration.measures_from}' (known: {', '.join(specs)})")
    spec = specs[declaration.measures_from]
    if declaration.group not in spec.groups.dimensions:
        raise ReleaseSpecError(f"{name}.yaml: group: '{declaration.group}' is no group of {spec.name}")
    measures = []
    for wanted in declaration.measures:
        measure = next((m for m in spec.measures if m.name == wanted.name), None)
        if not isinstance(measure, Count | Mean):
            raise ReleaseSpecError(f"{name}.yaml: measures.{wanted.name}: must be a count or mean measure of {spec.name}")
        measures.append(measure.model_copy(update={"weight": wanted.weight}))
    series = RunningSeries(declaration, spec, tuple(measures))
    for component in plan_series(series, days=1):  # the change per node does not depend on T
        written = next(m for m in declaration.measures if m.name == component.measure).node_sensitivity
        if written is not None and written.get(component.part) != component.sensitivity_per_level:
            raise ReleaseSpecError(
                f"{name}.yaml: measures.{component.measure}.node_sensitivity.{component.part}: declared "
                f"{written.get(component.part)}, but one firm changes a node by {component.sensitivity_per_level}"
            )
    budget = settings.datasets[spec.dataset].budget_per_period.epsilon
    others = {s.name: s.privacy_loss.epsilon for s in specs.values() if s.dataset == spec.dataset}
    if series.epsilon + sum(others.values()) > budget + ledger.TOLERANCE:
        raise ReleaseSpecError(
            f"{name}.yaml: privacy_loss: epsilon {series.epsilon} with the releases after closing "
            f"({', '.join(f'{k} {v}' for k, v in others.items())}) exceeds the budget per {spec.period} of '{spec.dataset}' ({budget})"
        )
    return series


def load_series(path: Path, settings: PrivacySettings | None = None, specs: dict[str, ReleaseSpec] | None = None) -> RunningSeries:
    """One running series; its name is the file name.

    >>> series = load_series(SERIES_DIR / "dis_running.yaml")
    >>> series.name, series.dataset, series.epsilon, [m.name for m in series.measures]
    ('dis_running', 'dis', 0.5, ['respondents', 'cost_change_mean', 'admin_hours_mean'])
    """
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ReleaseSpecError(f"{path.name}: a running series is a YAML mapping")
    try:
        declaration = RunningDeclaration.model_validate({**data, "name": path.stem})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, p['loc'])) or '(series)'}: {p['msg'].removeprefix('Value error, ')}" for p in error.errors())
        raise ReleaseSpecError(f"{path.name}: {problems}") from None
    return resolve(declaration, settings or privacy_settings(), specs or release_specs())


@cache
def running_series() -> dict[str, RunningSeries]:
    """The configured running series (`config/continual/*.yaml`), by name (cached for the process)."""
    return {path.stem: load_series(path) for path in sorted(SERIES_DIR.glob("*.yaml"))}


# --------------------------------------------------------------------------- the tree


class Node(NamedTuple):
    level: int  # 0: one day; h: 2^h days
    start: int  # first day of the window in the node (1-based)
    end: int  # last day (inclusive)


def tree_height(days: int, cap: Literal["full"] | int = "full") -> int:
    """Levels of the tree over `days` days: floor(log2 T) + 1, or fewer when capped.

    >>> [tree_height(t) for t in (1, 2, 3, 4, 42, 64)], tree_height(42, 1)
    ([1, 2, 2, 3, 6, 7], 1)
    """
    full = days.bit_length()
    return full if cap == "full" else min(int(cap), full)


def tree_nodes(days: int, height: int) -> list[Node]:
    """Every node of the tree that ends within the window, by level and start.

    >>> tree_nodes(5, 3)
    [Node(level=0, start=1, end=1), Node(level=0, start=2, end=2), Node(level=0, start=3, end=3), Node(level=0, start=4, end=4), \
Node(level=0, start=5, end=5), Node(level=1, start=1, end=2), Node(level=1, start=3, end=4), Node(level=2, start=1, end=4)]
    """
    return [Node(h, k * (1 << h) + 1, (k + 1) << h) for h in range(height) for k in range(days >> h)]


def prefix_nodes(day: int, height: int) -> list[Node]:
    """The nodes whose sum is the running total up to `day`: the binary decomposition of `day`.

    >>> prefix_nodes(13, 4)
    [Node(level=3, start=1, end=8), Node(level=2, start=9, end=12), Node(level=0, start=13, end=13)]
    """
    nodes, start = [], 1
    for level in reversed(range(height)):
        size = 1 << level
        while start - 1 + size <= day:  # the top level may be used several times when the tree is capped
            nodes.append(Node(level, start, start + size - 1))
            start += size
    return nodes


def plan_series(series: RunningSeries, days: int) -> list[Component]:
    """The components of a series over `days` days: `privacy.sensitivity.plan` per node, times the tree's levels.

    >>> [(c.measure, c.part, c.sensitivity, c.epsilon, c.scale) for c in plan_series(running_series()["dis_running"], 42)][:3]
    [('respondents', 'count', 6, 0.25, 24.0), ('cost_change_mean', 'count', 6, 0.0625, 96.0), ('cost_change_mean', 'sum', 6000, 0.0625, 96000.0)]
    """
    one_node = series.spec.model_copy(update={  # one level (the group), the series' measures and epsilon: the change per node
        "measures": list(series.measures),
        "groups": Groups.model_construct(keys="public", levels={series.group: [series.group]}),
        "privacy_loss": series.declaration.privacy_loss,
    })
    height = tree_height(days, series.declaration.tree_height)
    return [replace(component, levels=height) for component in plan(one_node)]


# --------------------------------------------------------------------------- accuracy of a sum of k noisy nodes


def _laplace_sum_tail(x: float, draws: int, scale: float) -> float:
    """P(L > x), x >= 0, for L the sum of `draws` independent continuous Laplace(0, scale) variables (closed form)."""
    y, total = x / scale, 0.0
    for j in range(draws):
        log_c = j * math.log(2) + math.lgamma(2 * draws - 1 - j) - math.lgamma(draws) - (2 * draws - 1) * math.log(2) - math.lgamma(draws - j)
        poisson = sum(math.exp(i * math.log(y) - math.lgamma(i + 1) - y) for i in range(j + 1)) if y > 0 else 1.0
        total += math.exp(log_c) * poisson
    return total


@cache
def half_width(scale: float, draws: int, alpha: float) -> float:
    """Smallest a with P(|Z| > a) <= alpha, Z the sum of `draws` independent discrete Laplace(scale) noises.

    OpenDP's discrete Laplace has P(k) proportional to exp(-|k| / scale). For
    one draw this is OpenDP's own accuracy rounded down to a whole number:

    >>> half_width(24.0, 1, 0.05), half_width(24.0, 5, 0.05), half_width(0.0, 3, 0.05)
    (72.0, 152.0, 0.0)
    """
    if scale == 0 or draws == 0:
        return 0.0
    q = math.exp(-1.0 / scale)
    reach = math.ceil(40 * scale) + 1  # one draw beyond it: probability 2 q^(reach + 1) / (1 + q) < 1e-17
    points = 2 * reach * draws + 1
    if points <= EXACT_LIMIT:  # exact: convolve the known distribution `draws` times (by FFT; no randomness)
        values = np.arange(-reach, reach + 1)
        pmf = (1 - q) / (1 + q) * q ** np.abs(values)
        size = 1 << (points - 1).bit_length()
        summed = np.clip(np.fft.irfft(np.fft.rfft(pmf, size) ** draws, size)[:points], 0.0, None)
        centre = reach * draws
        cumulative = np.cumsum(summed)
        within = cumulative[centre:] - np.concatenate((cumulative[:centre][::-1], [0.0]))  # P(|Z| <= a), a = 0, 1, ...
        outside = np.maximum(1.0 - within, 0.0)
        return float(np.argmax(outside <= alpha))
    # too large to convolve: Z = L + W with L the sum of `draws` continuous Laplace(scale) and |W| < draws
    low, high = 0.0, scale * (draws + 50.0)
    for _ in range(200):
        middle = (low + high) / 2
        if 2 * _laplace_sum_tail(middle, draws, scale) > alpha:
            low = middle
        else:
            high = middle
    return float(math.ceil(high) + draws)


# --------------------------------------------------------------------------- storage


def nodes_table(series: RunningSeries) -> str:
    return f"releases.{series.name}_nodes"


def series_table(series: RunningSeries) -> str:
    return f"releases.{series.name}_series"


def ensure_tables(connection: duckdb.DuckDBPyConnection, series: RunningSeries) -> None:
    ledger.execute_ddl(connection, portable_ddl(f"""
        CREATE SCHEMA IF NOT EXISTS releases;
        CREATE TABLE IF NOT EXISTS {series_table(series)} (
            release_id VARCHAR PRIMARY KEY,  -- <series>/<proposal>/v<version>, as in the ledger
            release_name VARCHAR NOT NULL,
            proposal VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            window_opens DATE NOT NULL,      -- day 1 of the series; frozen when the series started
            window_closes DATE NOT NULL,     -- day T
            days INTEGER NOT NULL,           -- T
            tree_levels INTEGER NOT NULL,    -- H
            epsilon DOUBLE NOT NULL,         -- of the whole series, charged once
            spec_hash VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {nodes_table(series)} (
            release_id VARCHAR NOT NULL,
            proposal VARCHAR NOT NULL,
            level INTEGER NOT NULL,          -- 0: one day, h: 2^h days
            node_start INTEGER NOT NULL,     -- first day of the window in the node (1-based)
            node_end INTEGER NOT NULL,       -- last day (inclusive)
            "{series.group}" VARCHAR NOT NULL,
            measure VARCHAR NOT NULL,
            part VARCHAR NOT NULL,           -- count | sum (centred, in steps of the resolution)
            noisy_value BIGINT NOT NULL,     -- noised once, never again
            scale DOUBLE NOT NULL,           -- of its discrete Laplace noise
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (release_id, level, node_start, "{series.group}", measure, part)
        )"""))


def release_id(series: RunningSeries, proposal: str, version: int) -> str:
    return f"{series.name}/{proposal}/v{version}"


@dataclass(frozen=True)
class RunningOutcome:
    release_id: str
    proposal: str
    status: str  # started (charged, first nodes) | extended (new nodes) | unchanged | waiting (no day over yet) | refused (budget)
    nodes_added: int
    days_released: int
    epsilon_charged: float
    message: str = ""


@dataclass(frozen=True)
class _Plan:
    proposal: str
    rid: str
    opens: date
    closes: date
    days: int
    done: int  # days that are over
    due: list[Node]
    new: bool  # not charged yet
    note: str = ""


def _exists(connection: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, table = relation.split(".")
    return bool(connection.execute(  # SQLMesh serves its models as views
        "SELECT (SELECT COUNT(*) FROM duckdb_tables() WHERE schema_name = $s AND table_name = $t) "
        "+ (SELECT COUNT(*) FROM duckdb_views() WHERE schema_name = $s AND view_name = $t)", {"s": schema, "t": table}).fetchone()[0])


def _plans(connection, series: RunningSeries, windows: dict[str, tuple[date, date]], today: date, version: int) -> list[_Plan]:
    """What each series should noise today: open proposals, and started series that are not complete (closed since)."""
    stored = {row["proposal"]: row for row in connection.execute(
        f"SELECT * FROM {series_table(series)} WHERE version = ?", [version]).pl().iter_rows(named=True)}
    made = connection.execute(f"SELECT DISTINCT proposal, level, node_start FROM {nodes_table(series)} WHERE list_contains(?, release_id)",
                              [[row["release_id"] for row in stored.values()]]).fetchall()
    made_nodes = {(p, level, start) for p, level, start in made}
    plans = []
    # the proposals are chosen from the public calendar alone: whether anyone answered never decides whether a series exists
    for proposal in sorted(set(windows) | set(stored)):
        rid = release_id(series, proposal, version)
        if proposal in stored:
            row = stored[proposal]
            if row["spec_hash"] != series.semantic_hash():
                raise SpecChanged(f"{rid} was started with another declaration ({row['spec_hash']}); start version {version + 1} "
                                  "for the new one (it is charged again)")
            opens, closes, days = row["window_opens"], row["window_closes"], row["days"]
            note = "" if windows.get(proposal, (opens, closes)) == (opens, closes) else (
                f"the window of {proposal} changed to {windows[proposal][0]} .. {windows[proposal][1]}; the series keeps "
                f"the window it started with ({opens} .. {closes})")
        else:
            opens, closes = windows[proposal]
            if not opens <= today <= closes:
                continue  # a series starts only while its proposal is open
            days, note = (closes - opens).days + 1, ""
        done = min(max((today - opens).days, 0), days)
        height = tree_height(days, series.declaration.tree_height)
        due = [n for n in tree_nodes(days, height) if n.end <= done and (proposal, n.level, n.start) not in made_nodes]
        if proposal in stored and done >= days and not due:
            continue  # complete
        plans.append(_Plan(proposal, rid, opens, closes, days, done, due, proposal not in stored, note))
    return plans


def daily_statistics(connection, series: RunningSeries, windows: dict[str, tuple[date, int]], grain_checked: bool = False) -> pl.DataFrame:
    """Exact bounded statistics per proposal, day of first answer and group, for the days that are over (private).

    `windows`: proposal -> (first day of its window, number of days over);
    `grain_checked`: the mart's one-row-per-firm grain was checked after its
    last build (the blocking Dagster check), otherwise it is checked here.
    """
    spec, group = series.spec, series.group
    unit, period, answers = spec.privacy_unit.column, spec.period, series.declaration.answers
    for relation in (spec.source, answers.table):
        if not _exists(connection, relation):
            raise SourceError(f"{series.name}: table '{relation}' does not exist in the warehouse")
    if not grain_checked:
        require_grain(connection, spec, list(windows))  # one row per firm per proposal in the mart: one leaf per firm
    statistics = [sql for measure in series.measures for sql in _statistics_sql(measure, {})]
    values = ", ".join(f"({literal(p)}, DATE '{opens.isoformat()}', {done})" for p, (opens, done) in windows.items())
    sql = f"""
        WITH windows(proposal, opens, done) AS (VALUES {values}),
        first_answer AS (
            SELECT "{unit}", CAST("{period}" AS VARCHAR) AS proposal, MIN("{answers.submitted_at}") AS first_at
            FROM {answers.table} WHERE CAST("{period}" AS VARCHAR) IN (SELECT proposal FROM windows) GROUP BY ALL
        ),
        counted AS (
            SELECT source_row.*, GREATEST(date_diff('day', w.opens, CAST(f.first_at AS DATE)) + 1, 1) AS running_day, w.done AS running_done
            FROM {spec.source} AS source_row
            JOIN first_answer AS f ON f."{unit}" = source_row."{unit}" AND f.proposal = CAST(source_row."{period}" AS VARCHAR)
            JOIN windows AS w ON w.proposal = f.proposal
        )
        SELECT CAST("{period}" AS VARCHAR) AS proposal, running_day AS day, CAST("{group}" AS VARCHAR) AS "{group}", {", ".join(statistics)}
        FROM counted WHERE running_day <= running_done
        GROUP BY ALL
    """
    return connection.execute(sql).pl()


def _node_statistics(daily: pl.DataFrame, plans: list[_Plan], series: RunningSeries, columns: list[str]) -> pl.DataFrame:
    """Exact statistics per due node and group (every public group, 0 when empty), in a fixed order."""
    group = series.group
    grid = pl.DataFrame(
        [(p.proposal, p.rid, n.level, n.start, n.end, g) for p in plans for n in p.due for g in reference.domain_codes(group)],
        schema={"proposal": pl.Utf8, "release_id": pl.Utf8, "level": pl.Int32, "node_start": pl.Int32, "node_end": pl.Int32, group: pl.Utf8},
        orient="row",
    )
    summed = (
        grid.select("proposal", "level", "node_start", "node_end", group).unique()
        .join(daily.with_columns(pl.col("day").cast(pl.Int32)), on=["proposal", group], how="inner")
        .filter(pl.col("day").is_between(pl.col("node_start"), pl.col("node_end")))
        .group_by("proposal", "level", "node_start", group).agg(pl.col(columns).sum())
    )
    return grid.join(summed, on=["proposal", "level", "node_start", group], how="left", nulls_equal=True).with_columns(
        pl.col(columns).fill_null(0).cast(pl.Int64)
    )


def _entry(series: RunningSeries, plan_: _Plan, components: list[Component], version: int, now: datetime, grain_checked: bool) -> ledger.Entry:
    height = components[0].levels
    details = json.dumps([
        {"measure": c.measure, "part": c.part, "node_sensitivity": c.sensitivity_per_level, "tree_levels": c.levels,
         "l1_sensitivity": c.sensitivity, "scale": c.scale, "epsilon": certified_epsilon(c)}
        for c in components
    ])
    measures = ", ".join(f"{m.kind} {m.name}" for m in series.measures)
    return ledger.Entry(
        release_id=plan_.rid, release_name=series.name, dataset=series.dataset, period=plan_.proposal, version=version,
        query=f"running {measures} per day of {plan_.days} ({plan_.opens} .. {plan_.closes}), nation and per {series.group}, "
              f"from {series.spec.source}; a firm counts in the leaf of its first answer "
              f"({series.declaration.answers.table}.{series.declaration.answers.submitted_at}), so in one node per level",
        privacy_unit=series.spec.privacy_unit.label,
        epsilon=float(sum(certified_epsilon(c) for c in components)), delta=0.0,
        mechanism=f"binary tree mechanism (continual counting), {height} levels over {plan_.days} days; every node: {LAPLACE}",
        components=details,
        bounding=_bounding_text(series.spec, grain_checked),  # the mart's grain, as for the release after closing
        spec_hash=series.semantic_hash(), created_at=now,
    )


def _rollback(connection: duckdb.DuckDBPyConnection) -> None:
    try:
        connection.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass


def update(
    connection: duckdb.DuckDBPyConnection,
    series: RunningSeries,
    windows: dict[str, tuple[date, date]],
    today: date,
    version: int = 1,
    *,
    settings: PrivacySettings | None = None,
    now: datetime | None = None,
    grain_checked: bool = False,
    attempts: int = 8,
) -> list[RunningOutcome]:
    """Noise the nodes whose days are all over (and only those), store them, charge a new series once.

    `windows` holds every proposal's window (`core.periods.proposal_windows()`).
    A series starts on the first day after its proposal opened and runs to the
    last day of its window (also after the proposal closed); it is charged its
    whole epsilon when its first nodes are noised. Running again on the same
    day adds nothing and charges nothing. `grain_checked` as in
    `privacy.engine.release`.

    >>> import duckdb; series = running_series()["dis_running"]
    >>> connection = duckdb.connect()
    >>> _ = connection.execute("CREATE SCHEMA marts; CREATE SCHEMA raw; CREATE TABLE raw.dis_responses AS SELECT 'f' || i AS firm_id, "
    ...     "'p' AS proposal, TIMESTAMP '2026-03-01 10:00' + INTERVAL (i % 5) DAY AS submitted_at FROM range(40) t(i); "
    ...     "CREATE TABLE marts.dis_firm_proposal AS SELECT firm_id, proposal, '2-9' AS size_class, 1500.0 AS cost_change_euro, "
    ...     "4.0 AS admin_hours_per_month FROM raw.dis_responses")
    >>> window = {"p": (date(2026, 3, 1), date(2026, 4, 11))}
    >>> [(o.status, o.nodes_added, o.epsilon_charged) for o in update(connection, series, window, date(2026, 3, 4))]
    [('started', 4, 0.5)]
    >>> [(o.status, o.nodes_added, o.epsilon_charged) for o in update(connection, series, window, date(2026, 3, 4))]
    [('unchanged', 0, 0.0)]
    """
    settings = settings or privacy_settings()
    budget = settings.datasets[series.dataset].budget_per_period
    limits = ledger.limits(settings, series.dataset)
    ledger.ensure_ledger(connection)
    ensure_tables(connection, series)
    now = (now or datetime.now()).replace(microsecond=0)
    for attempt in range(attempts):
        ledger.sync(connection)  # a rebuilt warehouse gets its series and nodes back from the ledger file first
        plans = _plans(connection, series, windows, today, version)
        outcomes: dict[str, RunningOutcome] = {}
        spent = ledger.spent_many(connection, series.dataset, [p.proposal for p in plans])
        to_make = []
        for plan_ in plans:
            if not plan_.due:
                status = "waiting" if plan_.done == 0 else "unchanged"
                outcomes[plan_.proposal] = RunningOutcome(plan_.rid, plan_.proposal, status, 0, plan_.done, 0.0, plan_.note)
            elif plan_.new and series.epsilon > budget.epsilon - spent[plan_.proposal][0] + ledger.TOLERANCE:
                refused = ledger.BudgetExceeded(series.dataset, plan_.proposal, (max(budget.epsilon - spent[plan_.proposal][0], 0.0), 0.0),
                                                (series.epsilon, 0.0))
                outcomes[plan_.proposal] = RunningOutcome(plan_.rid, plan_.proposal, "refused", 0, 0, 0.0, str(refused))
            else:
                to_make.append(plan_)
        if not to_make:
            return [outcomes[p.proposal] for p in plans]
        rows = _noised_nodes(connection, series, to_make, now, grain_checked)
        try:
            with ledger.book(connection) as book:  # the ledger file first: charge, series row and nodes, or nothing
                for plan_ in to_make:
                    charged = 0.0
                    if plan_.new:
                        components = plan_series(series, plan_.days)
                        entry = replace(_entry(series, plan_, components, version, now, grain_checked), period_end=plan_.closes)
                        try:
                            book.charge(entry, limits)
                        except ledger.Refused as refused:
                            outcomes[plan_.proposal] = RunningOutcome(plan_.rid, plan_.proposal, "refused", 0, 0, 0.0, str(refused))
                            continue
                        book.keep(plan_.rid, series_table(series), _series_row(series, plan_, version, components, entry, now), "series")
                        charged = entry.epsilon
                    nodes = rows.filter(pl.col("proposal") == plan_.proposal)
                    for (level, start), node in nodes.partition_by("level", "node_start", as_dict=True, maintain_order=True).items():
                        book.keep(plan_.rid, nodes_table(series), node, f"node/{level}/{start}")  # each node is kept once, ever
                    outcomes[plan_.proposal] = RunningOutcome(
                        plan_.rid, plan_.proposal, "started" if plan_.new else "extended", len(plan_.due), plan_.done, charged, plan_.note)
        except ledger.MadeMeanwhile:
            time.sleep(0.05 * (attempt + 1))  # a concurrent run noised these nodes or started the series first: reuse its nodes
            continue
        ledger.sync(connection)
        return [outcomes[p.proposal] for p in plans]
    raise RuntimeError(f"{series.name}: the ledger stayed busy after {attempts} attempts; nothing was released")


def _series_row(series: RunningSeries, plan_: _Plan, version: int, components: list[Component], entry: ledger.Entry,
                now: datetime) -> pl.DataFrame:
    return pl.DataFrame([{
        "release_id": plan_.rid, "release_name": series.name, "proposal": plan_.proposal, "version": version,
        "window_opens": plan_.opens, "window_closes": plan_.closes, "days": plan_.days, "tree_levels": components[0].levels,
        "epsilon": entry.epsilon, "spec_hash": entry.spec_hash, "created_at": now,
    }], schema={"release_id": pl.Utf8, "release_name": pl.Utf8, "proposal": pl.Utf8, "version": pl.Int32, "window_opens": pl.Date,
                "window_closes": pl.Date, "days": pl.Int32, "tree_levels": pl.Int32, "epsilon": pl.Float64, "spec_hash": pl.Utf8,
                "created_at": pl.Datetime("us")})


def _noised_nodes(connection, series: RunningSeries, plans: list[_Plan], now: datetime, grain_checked: bool) -> pl.DataFrame:
    """The due nodes with OpenDP's noise, one row per node x group x measure x part (one OpenDP call per component and series)."""
    daily = daily_statistics(connection, series, {p.proposal: (p.opens, p.done) for p in plans}, grain_checked)
    group, frames = series.group, []
    by_days: dict[int, list[_Plan]] = {}
    for plan_ in plans:  # proposals with as many days share their components (and so their scales)
        by_days.setdefault(plan_.days, []).append(plan_)
    for days, same in by_days.items():
        components = plan_series(series, days)
        columns = [column for c in components for column in c.columns]
        exact = _node_statistics(daily, same, series, columns)
        keys = exact.select("release_id", "proposal", "level", "node_start", "node_end", group)
        for component in components:
            (column,) = component.columns
            noisy = noisy_vector(exact[column].to_numpy(), component)
            frames.append(keys.with_columns(
                pl.lit(component.measure).alias("measure"), pl.lit(component.part).alias("part"),
                pl.Series("noisy_value", noisy, dtype=pl.Int64), pl.lit(component.scale).alias("scale"), pl.lit(now).alias("created_at"),
            ))
    return pl.concat(frames)


# --------------------------------------------------------------------------- running figures (post-processing, free)


def stored_nodes(connection: duckdb.DuckDBPyConnection, series: RunningSeries, rid: str) -> pl.DataFrame:
    return connection.execute(
        f'SELECT * FROM {nodes_table(series)} WHERE release_id = ? ORDER BY level, node_start, "{series.group}", measure, part', [rid]
    ).pl()


def _prefix_map(days_released: int, height: int) -> pl.DataFrame:
    rows = [(t, n.level, n.start) for t in range(1, days_released + 1) for n in prefix_nodes(t, height)]
    return pl.DataFrame(rows, schema={"day": pl.Int32, "level": pl.Int32, "node_start": pl.Int32}, orient="row")


def _scale_of(frame: pl.DataFrame) -> float:
    """The one Laplace scale of a part's nodes (every node of a part has the same)."""
    scales = frame["scale"].drop_nulls().unique()
    if scales.len() > 1:
        raise ValueError(f"nodes of one part with several scales: {scales.to_list()}")
    return float(scales[0]) if scales.len() else 0.0


def running_figures(nodes: pl.DataFrame, series: RunningSeries, opens: date, days: int, height: int) -> pl.DataFrame:
    """Released running figures per day from stored nodes: nation and per group, with intervals and suppression.

    The figures of day t use only the nodes of t's binary decomposition, all of
    them stored before day t's figures were first made, so they never change.
    """
    group, alpha, threshold = series.group, 1.0 - series.declaration.confidence_level, series.declaration.suppression_threshold
    days_released = int(nodes.filter(pl.col("level") == 0)["node_end"].max() or 0)
    if days_released == 0:
        return pl.DataFrame()
    prefixes = _prefix_map(days_released, height).join(nodes, on=["level", "node_start"], how="inner")
    per_group = prefixes.group_by("day", group, "measure", "part").agg(
        pl.col("noisy_value").sum(), pl.len().alias("noisy_nodes"), pl.col("scale").first(), pl.col("created_at").max())
    nation = per_group.group_by("day", "measure", "part").agg(
        pl.col("noisy_value").sum(), pl.col("noisy_nodes").sum(), pl.col("scale").first(), pl.col("created_at").max())
    codes = reference.domain_codes(group)
    stacked = pl.concat([
        nation.with_columns(pl.lit("nation").alias("level"), pl.lit(None, pl.Utf8).alias(group), pl.lit(0).alias("_order")),
        per_group.with_columns(pl.lit(group).alias("level"),
                               pl.col(group).replace_strict(codes, list(range(1, len(codes) + 1)), default=len(codes) + 1).alias("_order")),
    ], how="diagonal_relaxed")
    keys = stacked.select("day", "level", group, "_order").unique().sort("day", "_order")
    released_at = stacked.group_by("day", "level", group).agg(pl.col("created_at").max().alias("released_at"))

    def part(measure: str, name: str) -> pl.DataFrame:
        found = stacked.filter((pl.col("measure") == measure) & (pl.col("part") == name)).select(
            "day", "level", group, "noisy_value", "noisy_nodes", "scale")
        return keys.join(found, on=["day", "level", group], how="left", nulls_equal=True)

    def widths(frame: pl.DataFrame, level_alpha: float) -> np.ndarray:
        return np.array([half_width(float(s), int(k), level_alpha) for s, k in frame.select("scale", "noisy_nodes").iter_rows()])

    count_measure = next(m for m in series.measures if isinstance(m, Count))
    units = series.spec.privacy_unit.plural_nl
    group_count = part(count_measure.name, "count")
    group_units = np.maximum(group_count["noisy_value"].to_numpy().astype(float), 0.0)
    blocks = []
    for measure in series.measures:
        if isinstance(measure, Count):
            frame = group_count
            estimate, low, high = count_interval(frame["noisy_value"].to_numpy(), widths(frame, alpha))
            basis, statistic, unit, nodes_used = estimate, "count", units, frame["noisy_nodes"]
        else:
            counts, sums = part(measure.name, "count"), part(measure.name, "sum")
            _, _, centre, _ = numeric_steps(measure)
            count = counts["noisy_value"].to_numpy().astype(float)
            lower, upper, centre, _ = numeric_steps(measure)
            estimate, low, high = mean_interval_summed(
                sums["noisy_value"].to_numpy().astype(float), count, _scale_of(sums), sums["noisy_nodes"].to_numpy(),
                _scale_of(counts), counts["noisy_nodes"].to_numpy(), centre, measure.resolution, (lower, upper),
                series.declaration.confidence_level)
            basis, statistic, unit, nodes_used = count, "mean", measure.unit, counts["noisy_nodes"]
        blocks.append(keys.with_columns(
            pl.lit(measure.name).alias("measure"), pl.lit(statistic).alias("statistic"),
            pl.Series("estimate", np.asarray(estimate, dtype=float)), pl.Series("ci_low", np.asarray(low, dtype=float)),
            pl.Series("ci_high", np.asarray(high, dtype=float)),
            pl.Series("basis", np.round(np.maximum(np.asarray(basis, dtype=float), 0.0)).astype(np.int64)),
            pl.lit(unit).alias("unit_of_estimate"), nodes_used.alias("noisy_nodes"),
            pl.Series("_small_group", group_units < threshold),
        ))
    cells = pl.concat(blocks)
    reason = (
        pl.when(pl.col("_small_group")).then(pl.lit(f"minder dan {threshold} {units} in deze groep"))
        .when(pl.col("basis") < threshold).then(pl.lit(f"minder dan {threshold} antwoorden"))
        .when(pl.col("estimate").is_nan()).then(pl.lit("geen antwoorden"))
        .otherwise(pl.lit(None, pl.Utf8))
    )
    cells = cells.with_columns(reason.alias("suppression_reason")).with_columns(pl.col("suppression_reason").is_not_null().alias("suppressed"))
    hidden = pl.col("suppressed")
    measure_order = {m.name: i for i, m in enumerate(series.measures)}
    return (
        cells.with_columns([pl.when(hidden).then(None).otherwise(pl.col(c)).alias(c) for c in ("estimate", "ci_low", "ci_high", "basis")])
        .join(released_at, on=["day", "level", group], how="left", nulls_equal=True)
        .with_columns(
            (pl.lit(opens) + pl.duration(days=pl.col("day") - 1)).cast(pl.Date).alias("date"),
            pl.lit(days, pl.Int32).alias("days_in_window"),
            pl.col("measure").replace_strict(measure_order).alias("_measure_order"),
        )
        .sort("day", "_order", "_measure_order")
        .drop("_order", "_measure_order", "_small_group")
    )


# --------------------------------------------------------------------------- export


COLUMNS = {
    "release_id": "Identifier of the series: <series>/<proposal>/v<version>; the whole series was charged once.",
    "release_name": "The series' declaration (config/continual/<name>.yaml).",
    "proposal": "The proposal (its simulation window is the series' window).",
    "version": "Version of the series; a new version has new noise and is charged again.",
    "day": "Day of the window (1 = the day the simulation opened); the figure counts the firms whose first answer came up to and "
           "including this day.",
    "date": "The date of that day.",
    "days_in_window": "T, the number of days of the window when the series started.",
    "level": "nation, or the group level (size_class); the nation is the sum of the groups' noisy counts and sums.",
    "measure": "What is measured (see 'measures' below).",
    "statistic": "count (firms) | mean.",
    "estimate": "The released running figure (noisy); empty when suppressed. Counts are never negative.",
    "ci_low": "Lower end of the interval that holds the exact running figure among the respondents with the stated confidence.",
    "ci_high": "Upper end of that interval. It covers the privacy noise only, not sampling error.",
    "basis": "Noisy number of firms (count) or answers (mean) the figure rests on; empty when suppressed.",
    "unit_of_estimate": "Unit of estimate and interval: bedrijven, or the measure's unit.",
    "suppressed": "True when the cell is not published ('x'); then estimate, interval and basis are empty.",
    "suppression_reason": "Why a cell is suppressed (Dutch): too few firms in the group, or too few answers.",
    "noisy_nodes": "Number of noisy tree nodes summed into this figure (its interval widens with it).",
    "epsilon": "Privacy loss of the whole series (all days, all cells together).",
    "delta": "Delta of the series (0: pure differential privacy).",
    "confidence_level": "Confidence level of ci_low / ci_high.",
    "released_at": "When this day's figure was first made (its newest node); it never changes afterwards.",
}

GROWTH = (
    "The file is rewritten as the series grows: each update only adds days; the rows of earlier days stay exactly as they were, "
    "because they are sums of noisy tree nodes that were stored once and never noised again. The figure of day t sums at most "
    "floor(log2 T) + 1 nodes (the binary digits of t), so its interval depends on the window's length T and on t's binary digits, "
    "not on how many days have passed: it grows with log2(T)^1.5 / epsilon, not with the number of updates."
)


def codebook(series: RunningSeries) -> dict:
    """What every column and measure of a series' files means."""
    return {
        "release": series.name,
        "title": series.declaration.title,
        "description": series.declaration.description.strip(),
        "privacy_unit": series.spec.privacy_unit.label,
        "contribution_bound": f"A firm counts once, on the day of its first answer to the proposal, with its latest answers "
                              f"(one row per firm per proposal in {series.spec.source}), values clamped as in {series.spec.name}.",
        "levels": {"nation": [], series.group: [series.group]},
        "columns": {**COLUMNS, series.group: "Group key (public reference domain); empty for the nation."},
        "measures": {m.name: _measure_description(m) for m in series.measures},
        "suppression": "A suppressed cell has suppressed = true, a reason, and empty estimate, ci_low, ci_high and basis. Cells are "
                       "suppressed when the noisy number of firms in the group, or of answers behind a mean, is below "
                       f"{series.declaration.suppression_threshold}.",
        "hierarchy": "The nation's counts and sums are the sums of the groups' noisy counts and sums, so they add up; the running "
                     "figures of later days are sums of more recent nodes and need not exceed those of earlier days.",
        "growth": GROWTH,
        "file_metadata": "Parquet key-value metadata: release_id, epsilon, delta, privacy_unit, mechanism, confidence_level, version, "
                         "spec_hash, created_at, components (noise per vector), bounding, window_opens, window_closes, days_in_window, "
                         "tree_levels, days_released.",
    }


def _readme(book: dict) -> str:
    lines = [f"# {book['title']} ({book['release']})", "", book["description"], "", f"Privacy unit: {book['privacy_unit']}.", "",
             f"Contribution bound: {book['contribution_bound']}", "", "## Columns", ""]
    lines += [f"- `{name}`: {text}" for name, text in book["columns"].items()]
    lines += ["", "## Measures", ""]
    lines += [f"- `{name}` ({m['kind']}): {m['description']}" for name, m in book["measures"].items()]
    lines += ["", "## Suppression", "", book["suppression"], "", "## Levels", "", book["hierarchy"], "", "## Growth", "", book["growth"], ""]
    return "\n".join(lines)


def _column_order(series: RunningSeries) -> list[str]:
    order = list(COLUMNS)
    order.insert(order.index("level") + 1, series.group)
    return order


def running_file(series: RunningSeries, proposal: str, version: int) -> str:
    return f"{series.name}_{proposal}.parquet" if version == 1 else f"{series.name}_{proposal}_v{version}.parquet"


def export_running(connection: duckdb.DuckDBPyConnection, series: RunningSeries, exports: Path) -> list[Path]:
    """Write every series' running figures and the codebook to `exports/<series>/` (read-only is enough; idempotent)."""
    folder = public_dir(exports / series.name, top=exports)
    written = []
    started = _exists(connection, series_table(series)) and _exists(connection, "privacy.ledger")
    rows = connection.execute(
        f"SELECT s.*, l.privacy_unit, l.mechanism, l.components, l.bounding, l.delta FROM {series_table(series)} AS s "
        "JOIN privacy.ledger AS l USING (release_id) ORDER BY s.release_id").pl().iter_rows(named=True) if started else []
    for row in rows:
        figures = running_figures(stored_nodes(connection, series, row["release_id"]), series, row["window_opens"], row["days"],
                                  row["tree_levels"])
        if figures.is_empty():
            continue
        figures = figures.with_columns(
            pl.lit(row["release_id"]).alias("release_id"), pl.lit(series.name).alias("release_name"),
            pl.lit(row["proposal"]).alias("proposal"), pl.lit(row["version"], pl.Int32).alias("version"),
            pl.lit(row["epsilon"]).alias("epsilon"), pl.lit(row["delta"]).alias("delta"),
            pl.lit(series.declaration.confidence_level).alias("confidence_level"),
        ).select(_column_order(series))
        metadata = {
            "release_id": row["release_id"], "epsilon": repr(row["epsilon"]), "delta": repr(row["delta"]),
            "privacy_unit": row["privacy_unit"], "mechanism": row["mechanism"],
            "confidence_level": repr(series.declaration.confidence_level), "version": str(row["version"]),
            "spec_hash": row["spec_hash"], "created_at": row["created_at"].isoformat(), "components": row["components"],
            "bounding": row["bounding"], "window_opens": row["window_opens"].isoformat(), "window_closes": row["window_closes"].isoformat(),
            "days_in_window": str(row["days"]), "tree_levels": str(row["tree_levels"]), "days_released": str(int(figures["day"].max())),
            "growth": GROWTH,
        }
        table = figures.to_arrow()
        table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in metadata.items()})
        written.append(write_parquet_atomically(table, folder / running_file(series, row["proposal"], row["version"])))
    book = codebook(series)
    write_atomically(folder, "codebook.json", json.dumps(book, indent=2, ensure_ascii=False).encode("utf-8"), public=True)
    write_atomically(folder, "README.md", _readme(book).encode("utf-8"), public=True)
    return written
