"""Releases: stored and re-served, budget enforced, logic exact, noise scale as derived."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from privacy import ledger
from privacy.accuracy import count_half_width
from privacy.balance_release import (
    exact_counts,
    make_measurement,
    noise_scale,
    release_wave,
    sensitivity,
    sufficient_statistics,
)
from privacy.config import privacy_config
from tests.conftest import LAST_WAVE

CONFIG = privacy_config().releases["cgc_balance"]


def test_releasing_the_same_wave_twice_serves_the_stored_release(pipeline):
    with duckdb.connect(str(pipeline.warehouse)) as connection:
        spent_before = ledger.spent(connection, "cgc", LAST_WAVE)
        first = release_wave(connection, LAST_WAVE)
        second = release_wave(connection, LAST_WAVE)
        spent_after = ledger.spent(connection, "cgc", LAST_WAVE)
    assert first.status == second.status == "reused"  # the pipeline released it already
    assert first.table.equals(second.table)
    assert spent_before == spent_after == CONFIG.epsilon


def test_a_new_version_is_charged_and_the_budget_is_enforced(pipeline, tmp_path):
    with duckdb.connect(str(pipeline.warehouse)) as connection:
        budget = privacy_config().datasets["cgc"].budget_per_period.epsilon
        versions = int(budget // CONFIG.epsilon)
        for version in range(2, versions + 1):
            outcome = release_wave(connection, "2026-09", version=version)
            assert outcome.status == "released"
        with pytest.raises(ledger.BudgetExceeded) as refused:
            release_wave(connection, "2026-09", version=versions + 1)
        assert ledger.spent(connection, "cgc", "2026-09") == pytest.approx(budget)
    message = str(refused.value)
    assert "'cgc'" in message and "2026-09" in message and "requested" in message


def test_exact_counts_match_the_mart(pipeline):
    """Tier 1: without noise the query logic gives exact answers."""
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as connection:
        counts = exact_counts(sufficient_statistics(connection, LAST_WAVE, CONFIG), CONFIG)
        mart = connection.execute("SELECT * FROM marts.cgc_firm_wave WHERE wave = ?", [LAST_WAVE]).pl()
    nation = counts.filter(pl.col("level") == "nation").row(0, named=True)
    assert nation["respondents"] == mart.height
    assert nation["order_book:positive"] == mart.filter(pl.col("order_book") == "grown").height
    assert nation["sentiment:negative"] == mart.filter(pl.col("sentiment") <= 2).height
    sector_c = counts.filter((pl.col("level") == "sector") & (pl.col("sector") == "C")).row(0, named=True)
    assert sector_c["respondents"] == mart.filter(pl.col("sector") == "C").height
    # every public group is present, empty or not
    assert counts.filter(pl.col("level") == "sector_size").height == 21 * 4


def test_sensitivity_derivation_holds_on_neighbouring_datasets(pipeline):
    """Tier 2: adding one firm moves the count vector by at most the declared L1 sensitivity."""
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as connection:
        stats = sufficient_statistics(connection, LAST_WAVE, CONFIG)
    base = exact_counts(stats, CONFIG)
    columns = [c for c in base.columns if c not in ("level", "sector", "size_class")]
    extra_firms = [
        {"sector": "C", "size_class": "2-9", "province": "PV31", "order_book": "grown", "sentiment": "1"},
        {"sector": "T", "size_class": "50-249", "province": "PV20", "order_book": None, "sentiment": "3"},
    ]
    for firm in extra_firms:
        added = {"sector": firm["sector"], "size_class": firm["size_class"], "province": firm["province"], "respondents": 1}
        for question, side in (("order_book", {"grown": "positive", "same": "neutral", "shrunk": "negative"}),
                               ("sentiment", {"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"})):
            for s in ("positive", "neutral", "negative"):
                added[f"{question}:{s}"] = int(firm[question] is not None and side[firm[question]] == s)
        neighbour = exact_counts(pl.concat([stats, pl.DataFrame([added]).cast(stats.schema)]), CONFIG)
        distance = (neighbour.select(columns).to_numpy() - base.select(columns).to_numpy()).__abs__().sum()
        assert distance <= sensitivity(CONFIG)
        assert distance == sensitivity(CONFIG) - (len(CONFIG.levels) if firm["order_book"] is None else 0)


def test_noise_scale_and_accuracy_match_the_derivation():
    """Tier 2: OpenDP's privacy map and accuracy agree with the written derivation."""
    assert sensitivity(CONFIG) == 3 * (1 + 2)
    scale = noise_scale(CONFIG)
    assert scale == pytest.approx(sensitivity(CONFIG) / CONFIG.epsilon)
    measurement = make_measurement(scale)
    assert measurement.map(sensitivity(CONFIG)) == pytest.approx(CONFIG.epsilon)
    # discrete Laplace: P(|Z| >= k) = 2 e^{-k/b} / (1 + e^{-1/b}); the half-width reaches alpha
    import math

    half = count_half_width(scale, 0.05)
    tail = 2 * math.exp(-math.ceil(half) / scale) / (1 + math.exp(-1 / scale))
    assert tail <= 0.05 + 1e-9


def test_released_cells_are_non_negative_and_small_groups_suppressed(pipeline):
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as connection:
        released = connection.execute("SELECT * FROM releases.cgc_balance").pl()
    assert released["respondents"].min() >= 0
    suppressed = released.filter(pl.col("suppressed"))
    assert suppressed.height > 0 and suppressed["balance"].null_count() == suppressed.height
    assert (suppressed["suppression_reason"].str.contains("minder dan")).all()
    shown = released.filter(~pl.col("suppressed"))
    assert ((shown["balance_ci_low"] <= shown["balance"]) & (shown["balance"] <= shown["balance_ci_high"])).all()
