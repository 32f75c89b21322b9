"""Early warnings that see through the noise: a deterioration is flagged only when noise and normal movement cannot explain it.

Post-processing of released figures only: no budget, no raw rows, no marts.
A released figure carries its 95 % interval (privacy noise and sampling
error combined in quadrature, `privacy.postprocess`), so its standard error
is s = half-width / 1.96. A series without intervals (a public series a user
brings to `mkbvm alerts`) has s = 0: its uncertainty is its normal movement.

The rule, per series, for every period t (periods in order; periods without
a figure are skipped, so t is compared with the shown periods before it):

* **normal movement** q: how much the figure itself moves from one period to
  the next in ordinary times, beyond its noise, from the series' own past
  only (the changes into periods before t, at most `movement_window` of them,
  at least `min_history`; before that no warning is given):
  q^2 = max(0, mean(min(|change|, 2.5 r)^2) / 0.97757 - mean(s_j^2 + s_{j-1}^2)),
  with r = 1.4826 x median |change| a rough robust standard deviation (when
  more than half the changes are 0, a coarsely rounded series: 1.2533 x the
  mean absolute change). Clipping each change at 2.5 r keeps a crisis among
  the changes from widening the normal movement much, and the mean square is
  far more precise than the median alone (an underestimated movement would
  give false alarms). Over h periods the figure moves like a random walk:
  sqrt(h) x q.
* **baseline**: the mean of the 3 shown periods before t.
* **signaal**: x_t lies `signal_z` standard errors or more below the
  baseline. The standard error of that difference combines the noise of the
  four figures and the movement in quadrature:
  sqrt(s_t^2 + (s_{t-1}^2 + s_{t-2}^2 + s_{t-3}^2) / 9 + (14/9) q^2).
* **alarm**, when the fall is large (`strong_z`), when it persists (x_{t-1}
  and x_t both lie below the mean of the 3 periods before them, and their
  mean by `persist_z` standard errors: sqrt((s_t^2 + s_{t-1}^2)/4 + (s_{t-2}^2
  + s_{t-3}^2 + s_{t-4}^2)/9 + (65/36) q^2)), or when it accelerates (a
  signaal whose fall from the period before is larger than the fall into
  that period, which was itself `accelerate_previous_z` standard errors below
  its own baseline).

The numbers 14/9 and 65/36 are the random-walk variances of the two
contrasts: a contrast with weights c_j on x_{t-4..t} moves by
q^2 x sum_i (sum_{j>=i} c_j)^2.

For a cumulative series (the burden of all proposals, `mode="increments"`)
the figures are the increments themselves (each proposal's own burden, with
its own interval) and there is no normal movement: a signaal is one proposal
adding burden beyond `signal_z` of its standard error, an alarm a large one,
two in a row (their mean beyond `persist_z`) or a larger one after a
significant one.

Errors of different periods are taken as independent. Where the same firms
answer wave after wave, their sampling errors are positively correlated and
a change is known better than that: the rule then errs on the calm side.

"Worse" is lower for the balances (`worse="lower"`) and higher for a burden
(`worse="higher"`). Thresholds live in `config/alerts.yaml`, calibrated on the
backtest (`benchmarks/alerts_backtest.py`, `benchmarks/ALERTS.md`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import yaml

from core.settings import CONFIG_DIR

Z95 = 1.959963984540054
MAD_TO_SD = 1.4826  # median absolute deviation -> standard deviation, for a normal law
MEAN_ABS_TO_SD = 1.2533  # mean absolute deviation -> standard deviation (sqrt(pi / 2))
CLIP = 2.5  # changes beyond 2.5 robust standard deviations count as 2.5
CLIPPED_SQUARE = 0.97757  # E[min(Z^2, 2.5^2)] for a standard normal Z: makes the clipped mean square unbiased
SIGNAL_MOVEMENT, PERSIST_MOVEMENT = 14 / 9, 65 / 36  # random-walk variance of the two contrasts, in units of q^2
NONE, SIGNAL, ALARM = 0, 1, 2
LEVELS = {NONE: "", SIGNAL: "signaal", ALARM: "alarm"}
# Why a period got its level: the first that applies, in this order.
TRIGGERS = ("strong", "persists", "accelerates", "signal", "none", "history", "missing")
Worse = Literal["lower", "higher"]
Mode = Literal["levels", "increments"]


@dataclass(frozen=True)
class AlertRule:
    """Thresholds of the rule, in standard errors (see the module docstring and `config/alerts.yaml`)."""

    signal_z: float = 2.5
    strong_z: float = 4.0
    persist_z: float = 2.5
    accelerate_previous_z: float = 1.0
    min_history: int = 12
    movement_window: int = 60

    def __post_init__(self):
        for name in ("signal_z", "strong_z", "persist_z", "accelerate_previous_z"):
            if not (isinstance(getattr(self, name), int | float) and getattr(self, name) > 0):
                raise ValueError(f"{name}: {getattr(self, name)!r} must be a positive number of standard errors")
        if self.strong_z < self.signal_z:
            raise ValueError(f"strong_z: {self.strong_z} must be at least signal_z ({self.signal_z}): an alarm is more than a signaal")
        if not (isinstance(self.min_history, int) and 1 <= self.min_history <= self.movement_window):
            raise ValueError(f"min_history: {self.min_history!r} must be a whole number from 1 to movement_window ({self.movement_window})")


def alert_rule(path: Path | None = None) -> AlertRule:
    """The configured rule (`config/alerts.yaml`); unknown keys are refused, naming them.

    >>> alert_rule().signal_z <= alert_rule().strong_z
    True
    """
    settings = yaml.safe_load((path or CONFIG_DIR / "alerts.yaml").read_text(encoding="utf-8")) or {}
    unknown = set(settings) - {f.name for f in fields(AlertRule)}
    if unknown:
        raise ValueError(f"config/alerts.yaml: unknown setting(s) {sorted(unknown)}")
    return AlertRule(**settings)


def standard_errors(ci_low, ci_high, confidence: float = 0.95) -> np.ndarray:
    """Standard error from a released interval: half its width over the normal quantile of its level.

    A released interval clipped at the edge of the possible range (a balance at -100) is narrower on one
    side; half the width then understates the error a little there, which is where no fall can happen.

    >>> standard_errors([-3.92], [3.92]).round(3).tolist()
    [2.0]
    """
    z = Z95 if confidence == 0.95 else float(_normal_quantile(0.5 + confidence / 2))
    return (np.asarray(ci_high, dtype=float) - np.asarray(ci_low, dtype=float)) / 2 / z


def _normal_quantile(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def _quiet(function, *arguments, **options):
    with warnings.catch_warnings():  # all-empty windows give NaN on purpose: "not enough history"
        warnings.simplefilter("ignore", RuntimeWarning)
        return function(*arguments, **options)


def movement_variance(values, se, rule: AlertRule) -> tuple[np.ndarray, np.ndarray]:
    """Per period: the normal movement q^2 from the changes before it, and whether there were enough (causal).

    `values` and `se` are arrays (one series, or one series per row). For
    period t the changes into periods 1 .. t-1 count, the last
    `movement_window` of them; with fewer than `min_history` q^2 is NaN.

    >>> q2, ready = movement_variance(np.arange(10.0), np.zeros(10), AlertRule(min_history=3))
    >>> q2.round(2).tolist()[3:6], ready.tolist()[:5]  # every change is 1, no noise: q^2 = 1 / 0.97757
    ([nan, 1.02, 1.02], [False, False, False, False, True])
    """
    x, s = np.atleast_2d(np.asarray(values, dtype=float)), np.atleast_2d(np.asarray(se, dtype=float))
    rows, periods = x.shape
    width = rule.movement_window
    q2, counts = np.full((rows, periods), np.nan), np.zeros((rows, periods), dtype=int)
    if periods < 2:
        return q2.reshape(np.shape(values)), counts.reshape(np.shape(values)) >= rule.min_history
    change = np.abs(np.diff(x, axis=1))
    noise = s[:, 1:] ** 2 + s[:, :-1] ** 2
    padding = np.full((rows, width), np.nan)
    for start in range(0, rows, 256):  # blocks of series keep the windows' memory small
        block = slice(start, start + 256)
        windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([padding[block], change[block]], axis=1), width, axis=1)
        noises = np.lib.stride_tricks.sliding_window_view(np.concatenate([padding[block], noise[block]], axis=1), width, axis=1)
        # window i holds the changes into periods i-width+1 .. i: the ones before period t are window t-1
        before = windows[:, :-1]
        median, mean = _quiet(np.nanmedian, before, axis=2), _quiet(np.nanmean, before, axis=2)
        rough = np.where(median > 0, MAD_TO_SD * median, MEAN_ABS_TO_SD * mean)[..., None]
        # the mean square of the changes, each clipped at CLIP x the rough scale: nearly as precise as the plain
        # mean square on calm changes, and a crisis among them counts only as a CLIP-sized change
        square = _quiet(np.nanmean, np.minimum(before, CLIP * rough) ** 2, axis=2) / CLIPPED_SQUARE
        q2[block, 1:] = np.maximum(square - _quiet(np.nanmean, noises[:, :-1], axis=2), 0.0)
        counts[block, 1:] = np.sum(~np.isnan(windows[:, :-1]), axis=2)
    ready = counts >= rule.min_history
    q2 = np.where(ready, q2, np.nan)
    return q2.reshape(np.shape(values)), ready.reshape(np.shape(values))


def _windows(array: np.ndarray, size: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(array, size, axis=1)


def _front(array: np.ndarray, missing: int, fill=np.nan) -> np.ndarray:
    return np.concatenate([np.full((array.shape[0], missing), fill, dtype=array.dtype), array], axis=1)


def _level_contrasts(y: np.ndarray, s: np.ndarray, q2: np.ndarray) -> dict[str, np.ndarray]:
    """The falls of `y` (lower is worse) against the mean of the 3 periods before, with their variances."""
    if y.shape[1] < 5:
        empty = np.full(y.shape, np.nan)
        return {"drop": empty, "var": empty, "drop_persist": empty, "var_persist": empty,
                "both_below": np.zeros(y.shape, bool), "step": empty, "step_before": empty}
    w, v = _windows(y, 5), _windows(s**2, 5)  # [..., 0] = t-4, ..., [..., 4] = t
    q = q2[:, 4:]
    baseline, earlier = w[..., 1:4].mean(axis=2), w[..., 0:3].mean(axis=2)
    out = {
        "drop": baseline - w[..., 4],
        "var": v[..., 4] + v[..., 1:4].sum(axis=2) / 9 + SIGNAL_MOVEMENT * q,
        "drop_persist": earlier - w[..., 3:5].mean(axis=2),
        "var_persist": v[..., 3:5].sum(axis=2) / 4 + v[..., 0:3].sum(axis=2) / 9 + PERSIST_MOVEMENT * q,
        "step": w[..., 3] - w[..., 4],
        "step_before": w[..., 2] - w[..., 3],
    }
    out = {name: _front(value, 4) for name, value in out.items()}
    out["both_below"] = _front((w[..., 3] < earlier) & (w[..., 4] < earlier), 4, False)
    return out


def _increment_contrasts(y: np.ndarray, s: np.ndarray) -> dict[str, np.ndarray]:
    """Each period's own increment of `y` (lower is worse) and the mean of the last two."""
    before, s_before = _front(y[:, :-1], 1), _front(s[:, :-1], 1)
    return {
        "drop": -y, "var": s**2,
        "drop_persist": -(y + before) / 2, "var_persist": (s**2 + s_before**2) / 4,
        "both_below": (y < 0) & (before < 0),
        "step": -y, "step_before": -before,
    }


def _ratio(drop: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """drop / its standard error; a fall without any uncertainty is infinitely many standard errors."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(variance > 0, drop / np.sqrt(variance), np.where(drop > 0, np.inf, np.where(drop < 0, -np.inf, 0.0)))


def assess(values, se=None, *, worse: Worse = "lower", mode: Mode = "levels", rule: AlertRule | None = None) -> dict[str, np.ndarray]:
    """The rule on one series (1-D) or one series per row (2-D), without gaps: codes and figures per period.

    Returns arrays of the input's shape: `level` (0 none, 1 signaal, 2 alarm),
    `trigger` (index into TRIGGERS), `change` (in the figure's unit and
    direction: a fall of a balance is negative), `change_se` (its standard
    error) and `z` (how many standard errors the deterioration is; positive
    is worse).

    >>> calm = [0.0, 1, -1, 0.5, -0.5, 0, 1, -1, 0, 0.5, -0.5]
    >>> result = assess(calm + [-4.0, -9.0], np.ones(13), rule=AlertRule(min_history=6))
    >>> [LEVELS[code] for code in result["level"][-3:]], TRIGGERS[result["trigger"][-1]]
    (['', 'signaal', 'alarm'], 'strong')
    """
    rule = rule or alert_rule()
    x = np.atleast_2d(np.asarray(values, dtype=float))
    s = np.zeros_like(x) if se is None else np.nan_to_num(np.atleast_2d(np.asarray(se, dtype=float)), nan=0.0)
    sign = 1.0 if worse == "lower" else -1.0
    y = sign * x
    if mode == "levels":
        q2, ready = movement_variance(x, s, rule)
        c = _level_contrasts(y, s, np.nan_to_num(q2, nan=0.0))
        ready = ready & ~np.isnan(c["drop"])
    else:
        c, ready = _increment_contrasts(y, s), np.ones(x.shape, bool)
    z, z_persist = _ratio(c["drop"], c["var"]), _ratio(c["drop_persist"], c["var_persist"])
    z_before = _front(z[:, :-1], 1)
    signal = ready & (z >= rule.signal_z)
    strong = ready & (z >= rule.strong_z)
    persists = ready & c["both_below"] & (z_persist >= rule.persist_z)
    accelerates = signal & (np.nan_to_num(z_before, nan=-np.inf) >= rule.accelerate_previous_z) & (c["step_before"] > 0) & (c["step"] > c["step_before"])
    trigger = np.select([strong, persists, accelerates, signal, ready], [0, 1, 2, 3, 4], default=5)
    level = np.select([strong | persists | accelerates, signal], [ALARM, SIGNAL], default=NONE)
    use_persist = trigger == 1
    drop = np.where(use_persist, c["drop_persist"], c["drop"])
    out = {
        "level": level, "trigger": trigger,
        "change": -sign * drop,
        "change_se": np.sqrt(np.where(use_persist, c["var_persist"], c["var"])),
        "z": np.where(use_persist, z_persist, z),
    }
    shape = np.shape(values)
    return {name: value.reshape(shape) for name, value in out.items()}


# --------------------------------------------------------------------------- one released or user-given series as a frame


def _nl(value: float, decimals: int = 1) -> str:
    """A number with a decimal comma ('8,3'); infinity as 'oneindig'."""
    if not math.isfinite(value):
        return "oneindig"
    rounded = round(value, decimals) or 0.0
    return f"{rounded:,.{decimals}f}".replace(",", "_").replace(".", ",").replace("_", ".")


@dataclass(frozen=True)
class Wording:
    """How a reason names things: the unit of the figure and what one period is."""

    unit: str = "punten"
    period_word: str = "meting"
    period_plural: str = "metingen"
    article: str = "de"  # "de meting", "het voorstel"
    decimals: int = 1


def reason(trigger: str, change: float, change_se: float, z: float, worse: Worse, mode: Mode, rule: AlertRule,
           wording: Wording = Wording()) -> str:
    """Why a period got its level, in plain Dutch (B1), with the change against its uncertainty.

    >>> reason("signal", -8.3, 3.2, 2.6, "lower", "levels", AlertRule())
    'Signaal: daling 8,3 punten tegenover het gemiddelde van de 3 metingen ervoor, 2,6 keer de onzekerheid (3,2 punten). Dat is meer dan ruis, steekproef en gewone schommelingen verklaren.'
    """
    fall = "daling" if worse == "lower" else "stijging"
    size = f"{_nl(abs(change), wording.decimals)} {wording.unit}"
    against = f"{_nl(z)} keer de onzekerheid ({_nl(change_se, wording.decimals)} {wording.unit})"
    word, words = wording.period_word, wording.period_plural
    the, this = wording.article, "deze" if wording.article == "de" else "dit"
    if mode == "increments":
        base = f"{fall} {size} door {this} {word}"
        texts = {
            "strong": f"Alarm: grote {base}, {against}; alarm vanaf {_nl(rule.strong_z)} keer.",
            "persists": f"Alarm: twee {words} na elkaar met een {fall}, samen gemiddeld {size}, {against}. De {fall} houdt aan.",
            "accelerates": f"Alarm: de {fall} wordt groter: {base}, {against}, na een {fall} ook bij {the} {word} ervoor.",
            "signal": f"Signaal: {base}, {against}. Dat is meer dan ruis en steekproef verklaren.",
        }
        none_text = f"Geen signaal: verandering {_nl(change, wording.decimals)} {wording.unit}, {_nl(z)} keer de onzekerheid (signaal vanaf {_nl(rule.signal_z)} keer)."
    else:
        base = f"{fall} {size} tegenover het gemiddelde van de 3 {words} ervoor"
        texts = {
            "strong": f"Alarm: grote {base}, {against}; alarm vanaf {_nl(rule.strong_z)} keer.",
            "persists": f"Alarm: twee {words} na elkaar lager dan de 3 {words} ervoor, gemiddeld een {fall} van {size}, {against}. "
            f"De {fall} houdt aan.",
            "accelerates": f"Alarm: de {fall} gaat sneller: {base}, {against}, en {the} {word} ervoor was ook al lager.",
            "signal": f"Signaal: {base}, {against}. Dat is meer dan ruis, steekproef en gewone schommelingen verklaren.",
        }
        if worse == "higher":
            texts["persists"] = texts["persists"].replace("lager dan", "hoger dan")
            texts["accelerates"] = texts["accelerates"].replace("ook al lager", "ook al hoger")
        none_text = (f"Geen signaal: verandering {_nl(change, wording.decimals)} {wording.unit} tegenover de 3 {words} ervoor, "
                     f"{_nl(z)} keer de onzekerheid (signaal vanaf {_nl(rule.signal_z)} keer).")
    if trigger == "none":
        return none_text
    if trigger == "history":
        return f"Nog geen oordeel: te weinig eerdere {words} om de gewone schommeling te kennen (nodig: {rule.min_history + 1})."
    if trigger == "missing":
        return f"Geen cijfer voor {this} {word}."
    return texts[trigger]


def series_alerts(series: pl.DataFrame, *, worse: Worse = "lower", mode: Mode = "levels", rule: AlertRule | None = None,
                  wording: Wording = Wording(), confidence: float = 0.95) -> pl.DataFrame:
    """The rule on one series as a frame: `period`, `estimate` and optionally `ci_low`, `ci_high` (and `suppressed`).

    Rows without an estimate (suppressed, 'x') are skipped and get no level:
    the periods around them are compared with the shown periods before them.
    Returns period, alert ('', 'signaal', 'alarm'), trigger, change,
    change_se, z and reason (Dutch), one row per input row, in input order.

    >>> s = pl.DataFrame({"period": [f"2008-{m:02d}" for m in range(1, 13)],
    ...                   "estimate": [5.0, 6, 4, 5, 6, 5, 4, 6, 5, -3, -10, -16]})
    >>> series_alerts(s, rule=AlertRule(min_history=6))["alert"].to_list()[-4:]
    ['', 'alarm', 'alarm', 'alarm']
    """
    rule = rule or alert_rule()
    shown_mask = series["estimate"].is_not_null()
    if "suppressed" in series.columns:
        shown_mask = shown_mask & ~series["suppressed"].fill_null(False)
    shown = series.filter(shown_mask)
    if {"ci_low", "ci_high"} <= set(shown.columns):
        se = standard_errors(shown["ci_low"].to_numpy(), shown["ci_high"].to_numpy(), confidence)
    else:
        se = np.zeros(shown.height)
    result = assess(shown["estimate"].to_numpy().astype(float), se, worse=worse, mode=mode, rule=rule) if shown.height else None
    rows = iter(range(shown.height))
    out = []
    for visible in shown_mask.to_list():
        if not visible:
            out.append(("", "missing", None, None, None, reason("missing", 0, 0, 0, worse, mode, rule, wording)))
            continue
        i = next(rows)
        trigger = TRIGGERS[int(result["trigger"][i])]
        change, change_se, z = (float(result[name][i]) for name in ("change", "change_se", "z"))
        finite = trigger != "history" and math.isfinite(change)
        out.append((LEVELS[int(result["level"][i])], trigger, change if finite else None, change_se if finite else None,
                    z if finite else None, reason(trigger, change, change_se, z, worse, mode, rule, wording)))
    frame = pl.DataFrame(out, schema={"alert": pl.Utf8, "trigger": pl.Utf8, "change": pl.Float64, "change_se": pl.Float64,
                                      "z": pl.Float64, "reason": pl.Utf8}, orient="row")
    return pl.concat([series.select("period"), frame], how="horizontal")
