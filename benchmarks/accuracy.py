"""Accuracy benchmark: how usable the released CGC balances are, today's engine beside the candidates, in one run.

    .venv/bin/python benchmarks/accuracy.py            # 20,000 firms, 12 waves, 200 noise draws per wave
    .venv/bin/python benchmarks/accuracy.py --quick    # 20,000 firms, 4 waves, 40 draws (a couple of minutes at most)

Data: the synthetic generator's own population and answer model
(`core.synthetic.make_firms`, `answer_wave`): every firm of the population
gets an answer per wave (the population figure), and the firms that respond
are drawn with the generator's response model (larger firms answer more
often; about 4,400 of 20,000 per wave). The respondents' bounded statistics
come from the engine's own code (`privacy.statistics`: one DuckDB query,
every public group of every level of `config/releases/cgc_balance.yaml`).
Noise is OpenDP's (discrete Laplace, or discrete Gaussian for zCDP), drawn
`repeats` times per wave: the released cells are simulated directly,
without the ledger or storage (they do not change a number).

Per level (nation, province, sector, size class, and the nation weighted to
the business population by size class) and per engine the table gives the
median over cells and draws of: the DP half-width of the 95 % interval; the
sampling half-width (from the released shares: 1.96 x 100 x sqrt((p+ + p- -
(p+ - p-)^2) / n x (1 - n/N)), N the group's population); the price of
privacy (total half-width sqrt(dp^2 + sampling^2) / sampling half-width);
the measured coverage of the DP interval (the exact respondents' figure
inside it) and of the total interval (the population figure inside it); and
the share of usable cells (shown, i.e. at least 10 noisy answers, and a
total half-width of at most 10 points).

Engines (same data, same draws of the respondents):
  today      the engine as it is: Laplace on the answer sides per level,
             intervals from the union bound over the box of the three counts.
  engine zCDP  the engine as configured now: discrete Gaussian noise at the
             scales of config/releases/cgc_balance.yaml (rho 0.08; with
             cgc_profile the wave's loss is epsilon 2.5 at delta 1e-6) and
             the engine's intervals (test inversion on the Gaussian law).
  engine nominal  Laplace at today's epsilon (1.5), the engine's intervals at
             the nominal level (privacy.accuracy.balance_interval: test
             inversion on the exact noise law, issue 10.1).
  nominal    the same noise, balance +- 1.96 sd with the sd from the known
             noise variance (delta method): what gls and zcdp build on.
  gls        nominal + consistency across levels (privacy.consistency: GLS of
             every answer side over nation and the three margins).
  split      gls with the budget moved to where analysts look: no separate
             respondents count (a cell's size is the sum of its noisy answers)
             and no separate national level (the nation is the GLS sum of
             the margins): each balance gets 1.5 / 4 instead of 1.5 / 4.5,
             and a firm touches 3 levels instead of 4.
  zcdp       discrete Gaussian noise under zCDP (OpenDP make_gaussian), rho
             chosen so that a year of CGC releases (12 waves x today's 2.5 in
             the same proportions) has the same annual loss as today, 30, as
             (epsilon, delta) at the stated delta; levels as today, with gls.
  zcdp+split the zCDP budget with the split above.
  zcdp@wave  zCDP with today's loss per wave instead of per year: rho such that a
             wave's standard releases (2.5) are (2.5, delta); a year is then far
             less than 30 (printed below); levels as today, with gls.
  zcdp@wave+split  that budget with the split above.

The closing lines print what is physically possible: the smallest DP
half-width any unbiased Laplace release of a balance over n firms can have at
this budget (a signed sum with sensitivity 100 at the budget one level of one
question gets), and the budget a target would need.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import duckdb
import numpy as np
import opendp.prelude as dp
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import synthetic
from privacy.accuracy import balance_interval as nominal_balance_interval
from privacy.accuracy_union import balance_interval as union_balance_interval
from privacy.consistency import consistent_margins, discrete_laplace_variance
from privacy.loading import release_specs
from privacy.mechanisms import Noise, count_accuracy, vector_measurement
from privacy.sensitivity import plan
from privacy.statistics import LEVEL, PERIOD, level_cells, sufficient_statistics
from privacy.weighting import weighted_figure

dp.enable_features("contrib")

QUESTIONS = {
    "order_book": "orderportefeuille",
    "investment": "investeringen",
    "staff_shortage": "personeelstekort",
    "sentiment": "stemming",
}
MARGINS = ["province", "sector", "size_class"]
LEVELS = ["nation", *MARGINS]
Z = NormalDist().inv_cdf(0.975)
PURE_EPSILON = 1.5  # cgc_balance's pure epsilon per wave before it became zCDP: the Laplace engines' budget
ANNUAL_EPSILON = 30.0  # 12 waves x 2.5 (cgc_balance 1.5 + cgc_profile 1.0), pure epsilon, basic composition
CELLS_250 = "cells 200-300"  # province, sector and size-class cells with 200 to 300 answers: the "about 250 firms" target
BALANCE_SHARE = 1.5 / 2.5  # cgc_balance's part of a wave's standard releases


@dataclass(frozen=True)
class Engine:
    name: str
    mechanism: str  # laplace | gaussian
    scale: float  # noise scale per answer-side entry
    interval: str  # union | nominal
    gls: bool
    national_level: bool  # the nation is released itself (else: GLS sum of the margins)
    respondents_count: bool  # a separate noisy respondents count decides suppression
    count_scale: float = 0.0

    @property
    def variance(self) -> float:
        return discrete_laplace_variance(self.scale) if self.mechanism == "laplace" else self.scale**2


# --------------------------------------------------------------------------- privacy accounting


def annual_epsilon_of_rho(rho_per_year: float, delta: float) -> float:
    """(epsilon at delta) of a year's zCDP loss, from OpenDP's zCDP -> approximate-DP conversion."""
    scale = 1.0 / np.sqrt(2.0 * rho_per_year)  # a Gaussian with this scale at sensitivity 1 has exactly rho
    measurement = dp.m.make_gaussian(dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float), scale=scale)
    return float(dp.c.make_zCDP_to_approxDP(measurement).map(1.0).epsilon(delta))


def rho_for_annual_loss(epsilon: float, delta: float) -> float:
    """The yearly rho whose (epsilon, delta) conversion equals `epsilon` (bisection on OpenDP's map)."""
    low, high = 1e-6, epsilon
    for _ in range(80):
        middle = (low + high) / 2
        low, high = (middle, high) if annual_epsilon_of_rho(middle, delta) < epsilon else (low, middle)
    return low


def engines(spec, delta: float) -> tuple[list[Engine], dict]:
    epsilon, levels = PURE_EPSILON, len(spec.groups.levels)
    weights = {m.name: m.weight for m in spec.measures}
    total_weight = sum(weights.values())
    balance_eps = epsilon * weights["order_book"] / total_weight  # 1.5 / 4.5 today
    laplace = levels / balance_eps  # L1 sensitivity: one side entry per level
    count_scale = levels / (epsilon * weights["respondents"] / total_weight)
    split_scale = (levels - 1) / (epsilon / len(QUESTIONS))
    rho_year = rho_for_annual_loss(ANNUAL_EPSILON, delta)
    rho_release = rho_year / 12 * BALANCE_SHARE
    rho_balance = rho_release * weights["order_book"] / total_weight
    gaussian = np.sqrt(levels) / np.sqrt(2 * rho_balance)  # L2 sensitivity sqrt(levels)
    gaussian_split = np.sqrt(levels - 1) / np.sqrt(2 * rho_release / len(QUESTIONS))
    # the same loss per wave as today instead: a wave's standard releases (2.5) as (epsilon, delta)
    rho_wave = rho_for_annual_loss(ANNUAL_EPSILON / 12, delta)
    gaussian_wave = np.sqrt(levels) / np.sqrt(2 * rho_wave * BALANCE_SHARE * weights["order_book"] / total_weight)
    gaussian_wave_split = np.sqrt(levels - 1) / np.sqrt(2 * rho_wave * BALANCE_SHARE / len(QUESTIONS))
    real_vectors = dp.vector_domain(dp.atom_domain(T=float, nan=False))
    check = dp.m.make_gaussian(real_vectors, dp.l2_distance(T=float), scale=float(gaussian)).map(float(np.sqrt(levels)))
    accounting = {
        "rho_year": rho_year,
        "rho_release": rho_release,
        "rho_balance": rho_balance,
        "rho_balance_opendp": float(check),
        "laplace_scale": laplace,
        "gaussian_scale": float(gaussian),
        "rho_wave": rho_wave,
        "gaussian_wave_scale": float(gaussian_wave),
        "epsilon_year_at_wave_rho": annual_epsilon_of_rho(12 * rho_wave, delta),
        "epsilon_balance": balance_eps,
    }
    configured = {c.part: c for c in plan(spec)}  # the engine as configured (zCDP since issue 10): its own scales
    return [
        Engine("today", "laplace", laplace, "union", False, True, True, count_scale),
        Engine("engine zCDP", configured["sides"].mechanism, configured["sides"].scale, "engine", False, True, True,
               configured["count"].scale),
        Engine("engine nominal", "laplace", laplace, "engine", False, True, True, count_scale),
        Engine("nominal", "laplace", laplace, "nominal", False, True, True, count_scale),
        Engine("gls", "laplace", laplace, "nominal", True, True, True, count_scale),
        Engine("split", "laplace", split_scale, "nominal", True, False, False),
        Engine("zcdp", "gaussian", float(gaussian), "nominal", True, True, True, count_scale),
        Engine("zcdp+split", "gaussian", float(gaussian_split), "nominal", True, False, False),
        Engine("zcdp@wave", "gaussian", float(gaussian_wave), "nominal", True, True, True, count_scale),
        Engine("zcdp@wave+split", "gaussian", float(gaussian_wave_split), "nominal", True, False, False),
    ], accounting


# --------------------------------------------------------------------------- data


def simulate(firms: int, waves: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """(population answers, respondents' answers, waves): the generator's answer and response models."""
    rng = np.random.default_rng(seed)
    codes = synthetic.wave_list(synthetic.reference.wave_codes()[-1], waves)
    population = synthetic.make_firms(firms, rng)
    everyone = population.with_columns(pl.lit(10.0).alias("response_propensity"))  # all firms answer: the population figure
    boost = (
        population["size_class"].replace_strict({"0-1": 0.0, "2-9": 0.08, "10-49": 0.15, "50-249": 0.22}, default=0.0).to_numpy()
    )
    chance = population["response_propensity"].to_numpy() * 0.6 + boost
    cycle = synthetic.latent_cycle(len(codes), rng)
    answers, respondents = [], []
    for index, wave in enumerate(codes):
        frame = synthetic.answer_wave(everyone, index, wave, cycle, rng)
        responds = dict(zip(population["kvk_number"], rng.random(firms) < chance, strict=True))
        frame = frame.with_columns(pl.col("kvk_number").alias("firm_id"), pl.col("sentiment").cast(pl.Int32, strict=False))
        answers.append(frame)
        respondents.append(frame.filter(pl.col("kvk_number").replace_strict(responds)))
    return pl.concat(answers), pl.concat(respondents), codes


def cells_of(frame: pl.DataFrame, spec, waves: list[str]) -> pl.DataFrame:
    """Exact statistics of every group of every level (the engine's own DuckDB query and roll-up)."""
    with duckdb.connect() as connection:
        connection.execute("CREATE SCHEMA marts")
        connection.register("frame", frame)
        connection.execute("CREATE TABLE marts.cgc_firm_wave AS SELECT * FROM frame")
        return level_cells(sufficient_statistics(connection, spec, waves), spec, waves)


def sides(cells: pl.DataFrame, question: str) -> np.ndarray:
    return cells.select(f"{question}|positive", f"{question}|neutral", f"{question}|negative").to_numpy().astype(float)


def population_size(population: pl.DataFrame, cells: pl.DataFrame, spec) -> np.ndarray:
    """Firms in the population per cell's group (public in reality: CBS; here the synthetic population)."""
    sizes = np.zeros(cells.height)
    one_wave = population.filter(pl.col("wave") == population["wave"][0])
    for level, dims in spec.groups.levels.items():
        mask = (cells[LEVEL] == level).to_numpy()
        if not dims:
            sizes[mask] = one_wave.height
            continue
        counts = {tuple(key): n for *key, n in one_wave.group_by(dims).len().iter_rows()}
        sizes[mask] = [counts.get(tuple(key), 0) for key in cells.filter(pl.col(LEVEL) == level).select(dims).iter_rows()]
    return sizes


def balance_of(s: np.ndarray) -> np.ndarray:
    total = s.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 100.0 * (s[..., 0] - s[..., 2]) / np.where(total > 0, total, 1.0), np.nan)


# --------------------------------------------------------------------------- noise and figures


def noisy(exact: np.ndarray, engine: Engine, scale: float, repeats: int) -> np.ndarray:
    """`repeats` noisy copies of an integer array (last axis: repeats), one OpenDP call."""
    values = np.repeat(exact.astype(np.int64)[..., None], repeats, axis=-1)
    if engine.mechanism == "laplace":
        measurement = vector_measurement(scale)
    else:
        measurement = dp.m.make_gaussian(dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T="i64"), scale=scale)
    return np.asarray(measurement(values.ravel()), dtype=float).reshape(values.shape)


def figures(
    engine: Engine, exact_sides: np.ndarray, respondents: np.ndarray, levels: np.ndarray, periods: np.ndarray, repeats: int
):
    """Per cell and draw: (estimate, DP low, DP high, DP variance, noisy answers, released shares +/-, shown)."""
    draws = noisy(exact_sides, engine, engine.scale, repeats)  # cells x 3 x repeats
    variance = np.full(draws.shape, engine.variance)
    if not engine.national_level:
        draws[levels == "nation"] = np.nan
    if engine.gls:
        for period in np.unique(periods):
            rows = periods == period
            index = {level: np.flatnonzero(rows & (levels == level)) for level in LEVELS}
            columns = draws.shape[1] * repeats
            margins = {level: draws[index[level]].reshape(len(index[level]), columns) for level in MARGINS}
            nation = draws[index["nation"]].reshape(1, columns) if engine.national_level else None
            adjusted = consistent_margins(nation, margins, {level: engine.variance for level in LEVELS})
            for level in LEVELS:
                draws[index[level]] = adjusted.values[level].reshape(len(index[level]), 3, repeats)
                variance[index[level]] = adjusted.variances[level][:, None, None]
    clipped = np.maximum(draws, 0.0)
    answers = clipped.sum(axis=1)
    estimate = np.clip(balance_of(np.moveaxis(clipped, 1, -1)), -100.0, 100.0)
    if engine.interval in ("union", "engine"):
        if engine.interval == "union":
            width = count_accuracy(engine.scale, 0.05 / 3)
            low, high = union_balance_interval(clipped[:, 0], clipped[:, 1], clipped[:, 2], width)
        else:
            flat = [np.moveaxis(clipped[:, side], -1, 0).ravel() for side in range(3)]
            _, low, high = (
                np.moveaxis(x.reshape(repeats, -1), 0, -1) for x in nominal_balance_interval(*flat, Noise(engine.mechanism, engine.scale), 0.95)
            )
        dp_variance = ((high - low) / (2 * Z)) ** 2  # only to combine with sampling in quadrature
    else:
        b = np.nan_to_num(estimate) / 100.0
        total = np.maximum(answers, 1.0)
        dp_variance = (100.0 / total) ** 2 * (
            (1 - b) ** 2 * variance[:, 0] + b**2 * variance[:, 1] + (1 + b) ** 2 * variance[:, 2]
        )
        low, high = estimate - Z * np.sqrt(dp_variance), estimate + Z * np.sqrt(dp_variance)
    if engine.respondents_count:
        basis = noisy(respondents, engine, engine.count_scale, repeats) if engine.count_scale else answers
        shown = (basis >= 10) & (answers >= 10)
    else:
        shown = answers >= 10
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = clipped[:, 0] / np.maximum(answers, 1.0), clipped[:, 2] / np.maximum(answers, 1.0)
    return estimate, np.clip(low, -100, 100), np.clip(high, -100, 100), dp_variance, answers, shares, shown


def per_cell_median(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Median over the draws where the cell was shown (NaN for a cell never shown)."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(np.where(valid, values, np.nan), axis=1)


def sampling_variance(estimate: np.ndarray, positive_share: np.ndarray, negative_share: np.ndarray, answers, population):
    """Variance of a balance from the released shares: 100^2 (p+ + p- - (p+ - p-)^2) / n x (1 - n / N)."""
    n = np.maximum(answers, 1.0)
    per_firm = 100.0**2 * np.clip(positive_share + negative_share - (positive_share - negative_share) ** 2, 0.0, 1.0)
    correction = np.clip(1.0 - n / np.maximum(population, 1.0), 0.0, 1.0)
    return per_firm / n * correction


# --------------------------------------------------------------------------- the run


def run(args) -> None:
    started = time.perf_counter()
    spec = release_specs()["cgc_balance"]
    engine_list, accounting = engines(spec, args.delta)
    population, respondents, waves = simulate(args.firms, args.waves, args.seed)
    exact = cells_of(respondents, spec, waves)
    truth = cells_of(population, spec, waves)
    levels, periods = exact[LEVEL].to_numpy(), exact[PERIOD].to_numpy()
    group_population = population_size(population, exact, spec)
    respondents_count = exact["respondents|n"].to_numpy()
    print(
        f"{args.firms:,} firms, {len(waves)} waves, {respondents.height / len(waves):,.0f} respondents per wave on average, "
        f"{args.repeats} noise draws per wave; 4 balance questions; cgc_balance as configured: rho {spec.privacy_loss.rho} per wave (zCDP); the Laplace engines: epsilon {PURE_EPSILON} per wave"
    )
    rows = []
    size_rows = np.flatnonzero(levels == "size_class")
    for engine in engine_list:
        stats = {
            level: {k: [] for k in ("dp", "sampling", "price", "cover_dp", "cover_total", "usable")}
            for level in [*LEVELS, "nation weighted", CELLS_250]
        }
        for question in QUESTIONS:
            exact_sides, truth_sides = sides(exact, question), sides(truth, question)
            exact_balance, truth_balance = balance_of(exact_sides), balance_of(truth_sides)
            figure = figures(engine, exact_sides, respondents_count, levels, periods, args.repeats)
            estimate, low, high, dp_variance, answers, (positive_share, negative_share), shown = figure
            samp_var = sampling_variance(estimate, positive_share, negative_share, answers, group_population[:, None])
            dp_half = (high - low) / 2
            samp_half = Z * np.sqrt(samp_var)
            total_half = np.sqrt(dp_half**2 + samp_half**2)
            valid = shown & np.isfinite(exact_balance)[:, None] & np.isfinite(truth_balance)[:, None]
            inside = (low <= exact_balance[:, None] + 1e-9) & (exact_balance[:, None] <= high + 1e-9)
            covered = np.abs(estimate - truth_balance[:, None]) <= total_half + 1e-9
            for level in LEVELS:
                in_level = levels == level
                mask = in_level[:, None] & valid
                # half-widths: per cell the median over its shown draws, then (in the table) the median over cells
                stats[level]["dp"].append(per_cell_median(dp_half, valid)[in_level])
                stats[level]["sampling"].append(per_cell_median(samp_half, valid)[in_level])
                stats[level]["price"].append(per_cell_median(total_half / np.maximum(samp_half, 1e-9), valid)[in_level])
                stats[level]["cover_dp"].append(inside[mask])
                stats[level]["cover_total"].append(covered[mask])
                stats[level]["usable"].append((shown & (total_half <= 10.0))[in_level])
            near_250 = (levels != "nation") & (exact_sides.sum(axis=1) >= 200) & (exact_sides.sum(axis=1) <= 300)
            stats[CELLS_250]["dp"].append(per_cell_median(dp_half, valid)[near_250])
            stats[CELLS_250]["sampling"].append(per_cell_median(samp_half, valid)[near_250])
            stats[CELLS_250]["price"].append(per_cell_median(total_half / np.maximum(samp_half, 1e-9), valid)[near_250])
            stats[CELLS_250]["cover_dp"].append(inside[near_250[:, None] & valid])
            stats[CELLS_250]["cover_total"].append(covered[near_250[:, None] & valid])
            stats[CELLS_250]["usable"].append((shown & (total_half <= 10.0))[near_250])
            weighted_rows(
                stats["nation weighted"],
                estimate,
                dp_variance,
                samp_var,
                answers,
                shown,
                periods,
                size_rows,
                exact,
                truth_balance,
                levels,
                population,
            )
        rows.append((engine.name, {level: {k: np.concatenate(v) if v else np.array([]) for k, v in values.items()} for level, values in stats.items()}))
    print_table(rows)
    print_closing(accounting, args, spec, respondents.height / len(waves), rows)
    level_split(exact, levels)
    sector_by_size(args, spec, engine_list, accounting, respondents, population, waves)
    print(f"\n({time.perf_counter() - started:.0f} s)")


def weighted_rows(
    stats, estimate, dp_variance, samp_var, answers, shown, periods, size_rows, exact, truth_balance, levels, population
):
    """The national balance post-stratified by size class (privacy.weighting) from the released size-class cells."""
    one_wave = population.filter(pl.col("wave") == population["wave"][0])
    counts = dict(one_wave.group_by("size_class").len().iter_rows())
    weights = {h: n / one_wave.height for h, n in counts.items()}
    keys = exact["size_class"].to_numpy()
    national = np.flatnonzero(levels == "nation")
    for draw in range(estimate.shape[1]):
        for period, nation_row in zip(np.unique(periods), national, strict=True):
            rows = [r for r in size_rows if periods[r] == period]
            figure = weighted_figure(
                {keys[r]: (estimate[r, draw] if shown[r, draw] else np.nan) for r in rows},
                {keys[r]: dp_variance[r, draw] for r in rows},
                {keys[r]: samp_var[r, draw] for r in rows},
                weights,
            )
            if not np.isfinite(figure.estimate):
                stats["usable"].append(np.array([False]))
                continue
            dp_half = Z * np.sqrt(figure.variance_dp)
            samp_half = Z * np.sqrt(figure.variance_sampling)
            total_half = figure.half_width
            stats["dp"].append(np.array([dp_half]))
            stats["sampling"].append(np.array([samp_half]))
            stats["price"].append(np.array([total_half / max(samp_half, 1e-9)]))
            stats["cover_dp"].append(np.array([np.nan]))
            stats["cover_total"].append(np.array([abs(figure.estimate - truth_balance[nation_row]) <= total_half]))
            stats["usable"].append(np.array([total_half <= 10.0]))


def print_table(rows) -> None:
    """One line per level and engine; 'vs today' is the median over cells of the cell's DP half-width / today's."""
    header = (
        f"{'level':<16} {'engine':<16} {'DP hw':>7} {'samp hw':>8} {'price':>6} {'cover DP':>9} {'cover tot':>10} "
        f"{'usable':>7} {'DP hw vs today':>15}"
    )
    print("\n" + header)
    print("-" * len(header))
    today = rows[0][1]
    for level in [*LEVELS, "nation weighted", CELLS_250]:
        for name, stats in rows:
            values = stats[level]
            if not values["dp"].size:
                continue
            cover_dp = values["cover_dp"].astype(float)
            cover_dp = np.nanmean(cover_dp) if np.isfinite(cover_dp).any() else np.nan
            if level != "nation weighted":
                with np.errstate(all="ignore"):
                    gain = np.nanmedian(values["dp"] / today[level]["dp"])
            else:
                gain = np.nanmedian(values["dp"]) / np.nanmedian(today[level]["dp"])
            print(
                f"{level:<16} {name:<16} {np.nanmedian(values['dp']):7.1f} {np.nanmedian(values['sampling']):8.1f} "
                f"{np.nanmedian(values['price']):6.2f} {100 * cover_dp:8.1f}% {100 * np.mean(values['cover_total']):9.1f}% "
                f"{100 * np.mean(values['usable']):6.0f}% {gain:15.2f}"
            )
        print()


def print_closing(accounting, args, spec, respondents_per_wave, rows) -> None:
    eps_balance = accounting["epsilon_balance"]
    levels = len(spec.groups.levels)
    print(
        f"zCDP at the same annual loss: epsilon {ANNUAL_EPSILON:g} per year (delta {args.delta:g}) = rho {accounting['rho_year']:.3f} per year "
        f"(OpenDP zCDP -> approx-DP), {accounting['rho_release']:.4f} per wave for cgc_balance, {accounting['rho_balance']:.4f} per balance "
        f"(OpenDP's map of the Gaussian at L2 sensitivity sqrt({levels}): {accounting['rho_balance_opendp']:.4f}); noise sd per answer side "
        f"{accounting['gaussian_scale']:.1f} (Gaussian) against {np.sqrt(discrete_laplace_variance(accounting['laplace_scale'])):.1f} (Laplace, scale "
        f"{accounting['laplace_scale']:.0f}). Caveat: today's loss is pure (delta 0); zCDP's has delta {args.delta:g}, and one wave alone "
        f"then loses more than today (rho {accounting['rho_release']:.3f} is epsilon {annual_epsilon_of_rho(accounting['rho_release'], args.delta):.1f} "
        f"at that delta, against 1.5)."
    )
    print(
        f"zcdp@wave keeps today's loss per wave instead (a wave's 2.5 as epsilon at delta {args.delta:g}: rho {accounting['rho_wave']:.4f}, "
        f"noise sd {accounting['gaussian_wave_scale']:.1f}); a year of it is epsilon {accounting['epsilon_year_at_wave_rho']:.1f} at that delta, "
        f"not {ANNUAL_EPSILON:g}."
    )
    for n in (250, respondents_per_wave):
        sampling = Z * 100 * np.sqrt(0.5 / n)  # a typical balance (p+ + p- - (p+ - p-)^2 = 0.5)
        per_level_eps = eps_balance / levels
        bound = 100 * np.log(20) / (per_level_eps * n)
        need_price2 = np.sqrt(2.0**2 - 1) * sampling
        need_price11 = np.sqrt(1.10**2 - 1) * sampling
        print(
            f"n = {n:,.0f} answers: sampling half-width {sampling:.1f}; best possible DP half-width with Laplace at this release's budget "
            f"(epsilon {per_level_eps:.3f} for one question at one level, a signed sum of sensitivity 100) {bound:.1f}, "
            f"at the whole wave's 2.5 for one figure {100 * np.log(20) / (2.5 * n):.2f}; price 2.0 needs DP <= {need_price2:.1f}, "
            f"price 1.10 needs DP <= {need_price11:.2f}"
        )


def level_split(exact: pl.DataFrame, levels: np.ndarray) -> None:
    """The split of a balance's budget over the margins that minimises the price of privacy of the cells analysts can use.

    For a cell with n answers in a level with budget share w_l, DP variance /
    sampling variance is about c / (w_l^2 n). Summed over the cells with at
    least 100 answers (smaller ones cannot become usable at this budget) and
    minimised subject to sum w_l = 1: w_l proportional to (sum over the
    level's cells of 1/n)^(1/3). The nation is left out (as in the split
    engines: it is the GLS sum of the margins).
    """
    answers = sides(exact, "order_book").sum(axis=1)
    burden = {level: np.sum(1.0 / answers[(levels == level) & (answers >= 100)]) for level in MARGINS}
    raw = {level: value ** (1 / 3) for level, value in burden.items()}
    shares = {level: value / sum(raw.values()) for level, value in raw.items()}
    equal = 1 / len(MARGINS)
    print(
        "\nBudget over the margins that minimises the summed (DP / sampling variance) of cells with at least 100 answers "
        f"(the split engines use {equal:.2f} each): "
        + ", ".join(f"{level} {share:.2f} (DP half-width x {equal / share:.2f})" for level, share in shares.items())
    )


def sector_by_size(args, spec, engine_list, accounting, respondents, population, waves) -> None:
    """What weighting sectors by size costs: a fifth level (sector x size class) in the same release and budget.

    Every scale grows by 5/4 (Laplace, L1 sensitivity 5) or sqrt(5/4)
    (Gaussian, L2 sensitivity sqrt 5), and a sector's weighted figure is
    sum_h W_sh theta_sh over its size cells (privacy.weighting), W_sh the
    population's size shares within the sector. A sector with a suppressed
    size cell has no weighted figure (counted as not usable).
    """
    levels = {**spec.groups.levels, "sector_size": ["sector", "size_class"]}
    wide = spec.model_copy(update={"groups": spec.groups.model_copy(update={"levels": levels})})
    exact, truth = cells_of(respondents, wide, waves), cells_of(population, wide, waves)
    level, periods = exact[LEVEL].to_numpy(), exact[PERIOD].to_numpy()
    group_population = population_size(population, exact, wide)
    one_wave = population.filter(pl.col("wave") == population["wave"][0])
    composition = {(sector, size): n for sector, size, n in one_wave.group_by("sector", "size_class").len().iter_rows()}
    sectors = exact["sector"].to_numpy()
    sizes = exact["size_class"].to_numpy()
    cell_rows = np.flatnonzero(level == "sector_size")
    sector_rows = np.flatnonzero(level == "sector")
    by_hand = {engine.name: engine for engine in engine_list if engine.name in ("nominal", "zcdp")}
    print("\nWeighting sectors by size class needs a sector x size level (84 cells) in the release, at the same budget:")
    for name, base in by_hand.items():
        grow = 5 / 4 if base.mechanism == "laplace" else np.sqrt(5 / 4)
        engine = Engine(
            f"{name}, 5 levels", base.mechanism, base.scale * grow, "nominal", False, True, True, base.count_scale * 5 / 4
        )
        dp_plain, dp_weighted, samp_weighted, covered, usable = [], [], [], [], []
        for question in QUESTIONS:
            exact_sides, truth_sides = sides(exact, question), sides(truth, question)
            truth_balance = balance_of(truth_sides)
            estimate, low, high, dp_variance, answers, shares, shown = figures(
                engine, exact_sides, exact["respondents|n"].to_numpy(), level, periods, args.repeats
            )
            samp_var = sampling_variance(estimate, shares[0], shares[1], answers, group_population[:, None])
            dp_plain.append(per_cell_median((high - low) / 2, shown)[sector_rows])
            for row in sector_rows:
                inside = [r for r in cell_rows if sectors[r] == sectors[row] and periods[r] == periods[row]]
                total = sum(composition.get((sectors[row], sizes[r]), 0) for r in inside)
                if total == 0:  # a sector without firms in the (small) population
                    continue
                weights = {sizes[r]: composition.get((sectors[row], sizes[r]), 0) / total for r in inside}
                for draw in range(args.repeats):
                    figure = weighted_figure(
                        {sizes[r]: estimate[r, draw] if shown[r, draw] else np.nan for r in inside},
                        {sizes[r]: dp_variance[r, draw] for r in inside},
                        {sizes[r]: samp_var[r, draw] for r in inside},
                        weights,
                    )
                    ok = bool(np.isfinite(figure.estimate))
                    usable.append(ok and figure.half_width <= 10.0)
                    if ok:
                        dp_weighted.append(Z * np.sqrt(figure.variance_dp))
                        samp_weighted.append(Z * np.sqrt(figure.variance_sampling))
                        covered.append(abs(figure.estimate - truth_balance[row]) <= figure.half_width)
        dp_weighted, samp_weighted = np.array(dp_weighted), np.array(samp_weighted)
        price = np.sqrt(dp_weighted**2 + samp_weighted**2) / np.maximum(samp_weighted, 1e-9)
        print(
            f"  {engine.name:<18} sector unweighted DP hw {np.nanmedian(np.concatenate(dp_plain)):5.1f}; "
            f"sector weighted by size: DP hw {np.median(dp_weighted):5.1f}, sampling hw {np.median(samp_weighted):5.1f}, "
            f"price {np.median(price):4.2f}, cover tot {100 * np.mean(covered):5.1f}%, usable {100 * np.mean(usable):3.0f}%"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 waves, 40 draws: a couple of minutes")
    parser.add_argument("--firms", type=int, default=20_000)
    parser.add_argument("--waves", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--delta", type=float, default=1e-6, help="delta for the zCDP engines' annual (epsilon, delta)")
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args(argv)
    args.waves = args.waves or (4 if args.quick else 12)
    args.repeats = args.repeats or (40 if args.quick else 200)
    run(args)


if __name__ == "__main__":
    main()
