"""Empirical privacy check (DP-Sniper style): estimate a lower bound of epsilon from many releases
on two neighbouring data sets (one firm added), for a released count and a released mean.

Method (Bichsel et al., "DP-Sniper", 2021): sample released cells from M(D)
and M(D'), train a classifier (logistic regression) to tell them apart, and
turn it into an attack set S = {classifier score >= t}, with t chosen on the
training samples. On fresh samples, count how often each data set lands in
S; with Clopper-Pearson bounds, epsilon >= ln(P_low[M(D') in S] / P_high[M(D) in S])
(and the other way round). A correct release may not show a lower bound
above the epsilon it declares for those cells.

Both data sets go through the engine's own code: exact statistics from
DuckDB (`sufficient_statistics`, `level_cells`), noise from `_noisy_cells`
(OpenDP) and `post_process` (clipping, suppression). Only the cells the
attack looks at are noised: the others get independent noise and cannot
help the attacker.

The checks run the configured specs with the release's epsilon raised to
10 (the count's share becomes 1.11, the mean's 2.22). At the configured
epsilon (0.11 for this count) no bound from 10^5 samples can be told apart
from 0, so the check could not fail; at 10 the bound comes close to the
truth (about 0.8 of 1.11 for the count) and the code path is the same.

False-failure rate: each Clopper-Pearson bound holds with probability
>= 1 - 1e-6, so a correct engine fails one of these checks with probability
below 1e-5 (both directions, both measures). The positive control (noise 2
times too small, so the true epsilon is twice the declared one) must be
detected; measured here its bound lands near 1.8 against 1.11 declared.
"""

from __future__ import annotations

import math
from dataclasses import replace

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from privacy.engine import _noisy_cells
from privacy.loading import release_specs
from privacy.postprocess import post_process
from privacy.sensitivity import plan
from privacy.spec import PrivacyLoss
from privacy.statistics import LEVEL, level_cells, sufficient_statistics
from tests.privacy_support import firms_frame, make_mart

pytestmark = pytest.mark.slow
WAVE = "2025-01"
CONFIDENCE = 1e-6  # per Clopper-Pearson bound
TRAIN, TEST = 50_000, 250_000
RELEASE_EPSILON = 10.0

NEW_FIRM = {
    "firm_id": "the-new-firm", "wave": WAVE, "sector": "C", "size_class": "10-49", "province": "PV31",
    "order_book": "grown", "investment": "up", "staff_shortage": "none", "sentiment": 5, "challenges": "energie",
}


def neighbours() -> tuple[pl.DataFrame, pl.DataFrame]:
    base = firms_frame(150, [WAVE], seed=31)
    return base, pl.concat([base, pl.DataFrame([NEW_FIRM]).cast(base.schema)])


def cells_of(spec, mart: pl.DataFrame) -> pl.DataFrame:
    with duckdb.connect() as connection:
        make_mart(connection, mart)
        return level_cells(sufficient_statistics(connection, spec, [WAVE]), spec, [WAVE])


def the_new_firms_groups(cells: pl.DataFrame, levels: dict[str, list[str]]) -> pl.DataFrame:
    """The groups the new firm lands in, one per level (the only cells where D and D' differ)."""
    chosen = pl.lit(False)
    for level, dims in levels.items():
        rule = pl.col(LEVEL) == level
        for dim in dims:
            rule &= pl.col(dim) == NEW_FIRM[dim]
        chosen |= rule
    return cells.filter(chosen)


def released_features(spec, components, cells: pl.DataFrame, measure: str, statistic: str, samples: int) -> np.ndarray:
    """`samples` independent releases of the chosen cells: the released figure per group (suppressed as -1)."""
    only = spec.model_copy(update={"measures": [spec.measure(measure)]})
    mine = [c for c in components if c.measure == measure]
    repeated = cells[np.tile(np.arange(cells.height), samples)]  # as pl.concat([cells] * samples), in one chunk: much faster
    noisy = _noisy_cells(repeated, mine, {})
    released = post_process(noisy, only, mine).filter(pl.col("statistic") == statistic)
    values = released["estimate"].fill_null(-1.0).to_numpy()
    return values.reshape(samples, cells.height)


def clopper_pearson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    low = stats.beta.ppf(confidence, successes, trials - successes + 1) if successes else 0.0
    high = stats.beta.ppf(1 - confidence, successes + 1, trials - successes) if successes < trials else 1.0
    return float(low), float(high)


def bound(hits_p: int, hits_d: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """ln(P_low[M(D') in S] / P_high[M(D) in S]), or 0 when nothing is shown."""
    low_p, _ = clopper_pearson(hits_p, trials, confidence)
    _, high_d = clopper_pearson(hits_d, trials, confidence)
    return math.log(low_p / high_d) if low_p > 0 else 0.0


def attack_features(values: np.ndarray, centre: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Per released cell: its value, whether it lies above the pooled median, and its clipped distance to it.

    The likelihood ratio of Laplace-type noise saturates away from the truth,
    which a linear classifier on raw values cannot express; these features let it.
    """
    distance = (values - centre) / spread
    return np.hstack([distance, (distance > 0).astype(float), np.clip(distance, -1.0, 1.0)])


def epsilon_lower_bound(sample_d, sample_d_prime) -> float:
    """DP-Sniper: the best attack set found on training samples, its epsilon bound on fresh samples."""
    (train_d, test_d), (train_p, test_p) = sample_d(), sample_d_prime()
    pooled = np.vstack([train_d, train_p])
    centre, spread = np.median(pooled, axis=0), np.maximum(pooled.std(axis=0), 1e-9)
    train_d, train_p, test_d, test_p = (attack_features(v, centre, spread) for v in (train_d, train_p, test_d, test_p))
    features = np.vstack([train_d, train_p])
    labels = np.r_[np.zeros(len(train_d)), np.ones(len(train_p))]
    classifier = LogisticRegression(max_iter=1000).fit(features, labels)
    scores_train_d, scores_train_p = classifier.decision_function(train_d), classifier.decision_function(train_p)
    scores_d, scores_p = classifier.decision_function(test_d), classifier.decision_function(test_p)
    best = 0.0
    for direction in (1.0, -1.0):  # S likely under D', and S likely under D
        candidates = np.unique(np.quantile(direction * scores_train_p, np.linspace(0.5, 0.995, 40)))
        # the threshold whose set gives the best *lower bound* on the training samples: robust, not lucky
        on_training = [bound(int((direction * scores_train_p >= t).sum()), int((direction * scores_train_d >= t).sum()), len(scores_train_p), 0.05)
                       for t in candidates]
        threshold = candidates[int(np.argmax(on_training))]
        hits_p, hits_d = int((direction * scores_p >= threshold).sum()), int((direction * scores_d >= threshold).sum())
        best = max(best, bound(hits_p, hits_d, scores_p.size))
    return best


def sampler(spec, components, cells, measure, statistic):
    def draw():
        return released_features(spec, components, cells, measure, statistic, TRAIN), released_features(spec, components, cells, measure, statistic, TEST)

    return draw


def empirical_epsilon(spec_name: str, measure: str, statistic: str, shrink_noise: float = 1.0) -> tuple[float, float]:
    configured = release_specs()[spec_name]
    spec = configured.model_copy(update={"privacy_loss": PrivacyLoss.model_construct(epsilon=RELEASE_EPSILON, delta=0.0)})
    components = [replace(c, epsilon=c.epsilon * shrink_noise) for c in plan(spec)]  # shrink > 1: too little noise
    declared = sum(c.epsilon for c in plan(spec) if c.measure == measure)
    base, added = neighbours()
    cells_d = the_new_firms_groups(cells_of(spec, base), spec.groups.levels)
    cells_p = the_new_firms_groups(cells_of(spec, added), spec.groups.levels)
    assert cells_d.height == cells_p.height == len(spec.groups.levels)
    lower = epsilon_lower_bound(sampler(spec, components, cells_d, measure, statistic), sampler(spec, components, cells_p, measure, statistic))
    return lower, declared


def test_a_released_count_leaks_no_more_than_its_declared_epsilon():
    lower, declared = empirical_epsilon("cgc_balance", "respondents", "count")
    assert lower <= declared, f"empirical epsilon {lower:.3f} exceeds the declared {declared:.3f}"


def test_a_released_mean_leaks_no_more_than_its_declared_epsilon():
    lower, declared = empirical_epsilon("cgc_profile", "sentiment_mean", "mean")
    assert lower <= declared, f"empirical epsilon {lower:.3f} exceeds the declared {declared:.3f}"


def test_the_check_catches_a_release_with_too_little_noise():
    """Positive control: the same count with half the noise it needs (true epsilon twice the declared) is caught."""
    lower, declared = empirical_epsilon("cgc_balance", "respondents", "count", shrink_noise=2.0)
    assert lower > declared, f"the check missed a broken release: lower bound {lower:.3f}, declared {declared:.3f}"


if __name__ == "__main__":  # print the bounds: python -m tests.test_privacy_empirical
    for spec_name, measure, statistic, shrink in [("cgc_balance", "respondents", "count", 1.0), ("cgc_profile", "sentiment_mean", "mean", 1.0),
                                                   ("cgc_balance", "respondents", "count", 2.0)]:
        print(spec_name, measure, shrink, empirical_epsilon(spec_name, measure, statistic, shrink))
