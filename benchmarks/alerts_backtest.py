"""Backtest of the early warnings: synthetic balance series with downturns of known timing and depth, under our releases' noise.

    .venv/bin/python benchmarks/alerts_backtest.py            # 2,000 draws per scenario and level, 2,000 calm series of 10 years
    .venv/bin/python benchmarks/alerts_backtest.py --tiny     # 150 draws, for the test (a few seconds)
    .venv/bin/python benchmarks/alerts_backtest.py --markdown benchmarks/ALERTS.md   # also write the figures there

The true balance of a group moves as in calm years of a business survey: an
AR(1) around +5 points (0.85 of last month's distance to the mean stays; a
monthly shock of 1.5 points standard deviation, so calm monthly changes of
about 1.6 points, as producer confidence has in quiet years). A scenario adds
a downturn at month 48 (after four calm years of history):

  great recession   25-30 points, linearly over 5-7 months (producer confidence 2008)
  pandemic shock    30-40 points in 1-2 months (2020)
  mild dip          8 points over 4 months (to see where detection stops)

Each month is released as our `cgc_balance` release is made: n firms answer
(shares: 40 % neutral, the rest split by the balance), drawn multinomially
(sampling error), and every answer count gets Gaussian noise at the scale of
`config/releases/cgc_balance.yaml` (rho 0.08 over 4.5 weights, sensitivity
sqrt(4): standard deviation 10.6 per count; OpenDP's discrete Gaussian at this
scale is the continuous one rounded). The released interval is the
engine's: the noise part by the delta method from the known noise law, the
sampling part from the released shares, combined in quadrature. n per level
is that of a wave of 4,400 answers (`README.md`): the nation, a large
province (Zuid-Holland, 20.4 % of firms: 898 answers) and a median province
(6 %: 264). The draws use a seeded numpy Generator: this is a benchmark, not a
release; nothing here reaches a user.

Rules, on the same released series:
  ours         privacy.alerts with config/alerts.yaml ("alarm"; "signaal" reported beside it)
  3-month      the naive rule: the balance fell more than 10 points over 3 months
  no overlap   today's dashboard rule (dashboards.cgc.mark_clear_drops): this month's
               interval lies wholly below last month's

Per level and rule: the share of draws with an alarm within 2 months of the
downturn's first month (delay 0 = the first lower month), the median delay
of the first alarm (up to 12 months after the start; "-" when under half
are found), and false alarms per calm year (alarm months over 10 calm years
per series, after the first year, which the rule needs as history).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from privacy.alerts import ALARM, SIGNAL, Z95, AlertRule, alert_rule, assess
from privacy.loading import release_specs

SEED = 20261201
WAVE_ANSWERS = 4400
LEVELS = {"nation": 1.0, "large province": 0.204, "median province": 0.06}
NEUTRAL = 0.4
CALM_MEAN, CALM_PERSISTENCE, CALM_SHOCK = 5.0, 0.85, 1.5
ONSET, AFTER = 48, 24
DETECT_WITHIN, DELAY_HORIZON = 2, 12
NAIVE_DROP = 10.0


@dataclass(frozen=True)
class Scenario:
    name: str
    depth: tuple[float, float]  # points, uniform between
    months: tuple[int, int]  # duration of the fall, whole months between (inclusive)


SCENARIOS = (
    Scenario("great recession", (25.0, 30.0), (5, 7)),
    Scenario("pandemic shock", (30.0, 40.0), (1, 2)),
    Scenario("mild dip", (8.0, 8.0), (4, 4)),
)


def count_noise_sd(spec_name: str = "cgc_balance") -> float:
    """Standard deviation of the Gaussian noise on one answer count of one balance, from the release spec.

    zCDP: a balance gets rho x its weight / all weights; a firm changes one answer count per level by 1 in
    each of its levels, so the L2 sensitivity is sqrt(L1); sd = L2 / sqrt(2 rho).
    """
    spec = release_specs()[spec_name]
    total = sum(m.weight for m in spec.measures)
    balance = next(m for m in spec.measures if m.kind == "balance")
    rho = spec.privacy_loss.rho * balance.weight / total
    return float(np.sqrt(balance.l1_sensitivity) / np.sqrt(2 * rho))


def calm_paths(rng: np.random.Generator, draws: int, months: int) -> np.ndarray:
    """True balances of calm years: AR(1) around CALM_MEAN, started from its stationary law."""
    paths = np.empty((draws, months))
    paths[:, 0] = CALM_MEAN + rng.normal(0, CALM_SHOCK / np.sqrt(1 - CALM_PERSISTENCE**2), draws)
    shocks = rng.normal(0, CALM_SHOCK, (draws, months))
    for t in range(1, months):
        paths[:, t] = CALM_MEAN + CALM_PERSISTENCE * (paths[:, t - 1] - CALM_MEAN) + shocks[:, t]
    return paths


def downturn(rng: np.random.Generator, scenario: Scenario, draws: int, months: int) -> np.ndarray:
    """The fall added to a calm path: 0 before ONSET, linear to -depth over the scenario's months, then held."""
    depth = rng.uniform(*scenario.depth, draws)[:, None]
    duration = rng.integers(scenario.months[0], scenario.months[1] + 1, draws)[:, None]
    since = np.arange(months)[None, :] - ONSET + 1  # 1 in the first lower month
    return -depth * np.clip(since / duration, 0.0, 1.0)


def release(rng: np.random.Generator, balance: np.ndarray, answers: int, noise_sd: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Released balance with its 95 % interval, as the engine makes it (sampling, then noise on the answer counts)."""
    b = np.clip(balance, -55.0, 55.0) / 100
    shares = np.stack([(1 - NEUTRAL + b) / 2, np.full_like(b, NEUTRAL), (1 - NEUTRAL - b) / 2], axis=-1)
    counts = rng.multinomial(answers, shares).astype(float)
    noisy = np.maximum(counts + rng.normal(0, noise_sd, counts.shape), 0.0)
    positive, neutral, negative = noisy[..., 0], noisy[..., 1], noisy[..., 2]
    total = np.maximum(positive + neutral + negative, 1.0)
    estimate = (positive - negative) / total
    dp_var = noise_sd**2 * (1 / total) ** 2 * ((1 - estimate) ** 2 + estimate**2 + (1 + estimate) ** 2)
    sampling_var = np.maximum(positive / total + negative / total - estimate**2, 0.0) / total
    half = 100 * Z95 * np.sqrt(dp_var + sampling_var)
    value = 100 * estimate
    return value, np.clip(value - half, -100, 100), np.clip(value + half, -100, 100)


def ours(value, low, high, rule: AlertRule):
    result = assess(value, (high - low) / 2 / Z95, rule=rule)
    return result["level"] == ALARM, result["level"] >= SIGNAL


def naive(value, low, high):
    drop = np.full(value.shape, False)
    drop[:, 3:] = value[:, 3:] - value[:, :-3] < -NAIVE_DROP
    return drop


def no_overlap(value, low, high):
    drop = np.full(value.shape, False)
    drop[:, 1:] = high[:, 1:] < low[:, :-1]
    return drop


def first_alarm(flags: np.ndarray) -> np.ndarray:
    """Delay in months from ONSET to the first flag in the window after it (NaN when none)."""
    window = flags[:, ONSET:ONSET + DELAY_HORIZON + 1]
    found = window.any(axis=1)
    return np.where(found, window.argmax(axis=1), np.nan)


def detection(flags: np.ndarray) -> tuple[float, float]:
    delay = first_alarm(flags)
    within = float(np.mean(delay <= DETECT_WITHIN))
    median = float(np.nanmedian(delay)) if np.mean(~np.isnan(delay)) >= 0.5 else float("nan")
    return within, median


def false_per_year(flags: np.ndarray) -> float:
    calm = flags[:, 12:]
    return float(calm.sum() / (calm.shape[0] * calm.shape[1] / 12))


def run(draws: int, calm_draws: int, calm_years: int, seed: int, rule: AlertRule) -> dict:
    rng = np.random.default_rng(seed)
    noise_sd = count_noise_sd()
    figures = {"noise_sd": noise_sd, "levels": {}}
    for level, share in LEVELS.items():
        answers = round(WAVE_ANSWERS * share)
        calm_months = 12 * (calm_years + 1)
        value, low, high = release(rng, calm_paths(rng, calm_draws, calm_months), answers, noise_sd)
        half = float(np.median((high - low) / 2))
        alarm, signal = ours(value, low, high, rule)
        row = {"answers": answers, "half_width": half,
               "false": {"ours": false_per_year(alarm), "ours signaal": false_per_year(signal),
                         "3-month": false_per_year(naive(value, low, high)), "no overlap": false_per_year(no_overlap(value, low, high))},
               "detect": {}}
        for scenario in SCENARIOS:
            months = ONSET + AFTER
            truth = calm_paths(rng, draws, months) + downturn(rng, scenario, draws, months)
            value, low, high = release(rng, truth, answers, noise_sd)
            alarm, signal = ours(value, low, high, rule)
            row["detect"][scenario.name] = {
                "ours": detection(alarm), "ours signaal": detection(signal),
                "3-month": detection(naive(value, low, high)), "no overlap": detection(no_overlap(value, low, high)),
            }
        figures["levels"][level] = row
    return figures


RULES = ("ours", "ours signaal", "3-month", "no overlap")


def _percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def _delay(x: float) -> str:
    return "-" if np.isnan(x) else f"{x:.0f}"


def table(figures: dict) -> list[str]:
    """The figures as a markdown table: one row per level and rule."""
    names = [s.name for s in SCENARIOS]
    head = "| level (95 % half-width) | rule | " + " | ".join(f"{n}: within 2 months / median delay" for n in names) + " | false alarms per calm year |"
    lines = [head, "|" + "---|" * (3 + len(names))]
    for level, row in figures["levels"].items():
        for rule in RULES:
            cells = [f"{_percent(row['detect'][n][rule][0])} / {_delay(row['detect'][n][rule][1])}" for n in names]
            lines.append(f"| {level}, n = {row['answers']} (±{row['half_width']:.1f}) | {rule} | " + " | ".join(cells)
                         + f" | {row['false'][rule]:.3f} |")
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000, help="noisy draws per scenario and level")
    parser.add_argument("--calm-draws", type=int, default=2000, help="calm series per level")
    parser.add_argument("--calm-years", type=int, default=10, help="calm years per series (after one year of history)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--tiny", action="store_true", help="150 draws and 150 calm series: a quick run for the test")
    parser.add_argument("--markdown", type=Path, help="also write the figures into this markdown file (between its markers)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.draws, args.calm_draws = 150, 150
    rule = alert_rule()
    started = time.perf_counter()
    figures = run(args.draws, args.calm_draws, args.calm_years, args.seed, rule)
    seconds = time.perf_counter() - started
    print(f"noise per answer count: sd {figures['noise_sd']:.2f} (config/releases/cgc_balance.yaml); rule: {rule}")
    print(f"draws per scenario and level: {args.draws}; calm: {args.calm_draws} series x {args.calm_years} years; seed {args.seed}; "
          f"{seconds:.1f} s")
    lines = table(figures)
    print("\n".join(lines))
    if args.markdown:
        write_markdown(args.markdown, lines, args, figures)
    return figures


BEGIN, END = "<!-- backtest:begin -->", "<!-- backtest:end -->"


def write_markdown(path: Path, lines: list[str], args, figures: dict) -> None:
    """Replace the figures between the markers of `path` (the text around them stays)."""
    text = path.read_text(encoding="utf-8") if path.exists() else f"{BEGIN}\n{END}\n"
    run = (f"Run: `benchmarks/alerts_backtest.py --draws {args.draws} --calm-draws {args.calm_draws} --calm-years {args.calm_years} "
           f"--seed {args.seed}`; noise sd per answer count {figures['noise_sd']:.2f}.")
    block = "\n".join([BEGIN, run, "", *lines, END])
    before, _, rest = text.partition(BEGIN)
    _, _, after = rest.partition(END)
    path.write_text(before + block + after, encoding="utf-8")


if __name__ == "__main__":
    main()
