"""DP tier 1: with an infinite budget (OpenDP's noise scale 0) the release logic gives exact answers.

Every released figure is compared with an independent computation in polars
on the same mart: counts, balances, shares, means, medians, multi-select
shares, suppression and bounding of rows per unit. Without noise the privacy
part of every interval (dp_low, dp_high) is the exact figure, and the
sampling error is the textbook one computed by hand.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import polars as pl
import pytest

from core import reference
from privacy.engine import release, stored_release
from privacy.spec import ReleaseSpec
from tests.privacy_support import cgc_spec, firms_frame, make_mart, unlimited_settings, without_noise

WAVES = ["2025-01", "2025-02"]
LEVEL_KEYS = {"nation": [], "province": ["province"], "sector": ["sector"], "size_class": ["size_class"]}


@pytest.fixture(scope="module")
def mart() -> pl.DataFrame:
    return firms_frame(3_000, WAVES, seed=11)


def exact_release(mart: pl.DataFrame, spec: ReleaseSpec) -> pl.DataFrame:
    with duckdb.connect() as connection:
        make_mart(connection, mart)
        outcomes = release(connection, without_noise(spec), WAVES, settings=unlimited_settings())
        assert [o.status for o in outcomes] == ["released", "released"]
        return pl.concat([stored_release(connection, spec, o.release_id) for o in outcomes])


def groups(mart: pl.DataFrame, level: str) -> pl.DataFrame:
    """The mart with a `group` column naming the row's group at `level`."""
    keys = LEVEL_KEYS[level]
    name = pl.concat_str([pl.col(k) for k in keys], separator="/") if keys else pl.lit("NL")
    return mart.with_columns(name.alias("group"))


def released(table: pl.DataFrame, level: str, measure: str, statistic: str, category: str | None = None) -> dict:
    keys = LEVEL_KEYS[level]
    rows = table.filter((pl.col("level") == level) & (pl.col("measure") == measure) & (pl.col("statistic") == statistic))
    if category is not None:
        rows = rows.filter(pl.col("category") == category)
    name = pl.concat_str([pl.col(k) for k in keys], separator="/") if keys else pl.lit("NL")
    return {(r["period"], r["group"]): r for r in rows.with_columns(name.alias("group")).iter_rows(named=True)}


def test_counts_and_balances_are_exact(mart):
    spec = cgc_spec("cgc_balance")
    table = exact_release(mart, spec)
    positive = {"order_book": ["grown"], "sentiment": ["4", "5"]}
    negative = {"order_book": ["shrunk"], "sentiment": ["1", "2"]}
    for level in LEVEL_KEYS:
        truth = groups(mart, level).group_by("wave", "group").agg(
            pl.len().alias("n"),
            *[pl.col(q).cast(pl.Utf8).is_in(positive[q]).sum().alias(f"{q}_p") for q in positive],
            *[pl.col(q).cast(pl.Utf8).is_in(negative[q]).sum().alias(f"{q}_m") for q in positive],
            *[pl.col(q).is_not_null().sum().alias(f"{q}_a") for q in positive],
        )
        counts = released(table, level, "respondents", "count")
        balances = {q: released(table, level, q, "balance") for q in positive}
        for row in truth.iter_rows(named=True):
            key = (row["wave"], row["group"])
            if row["n"] < spec.suppression_threshold:
                assert counts[key]["suppressed"] and counts[key]["estimate"] is None
                continue
            assert counts[key]["estimate"] == row["n"] and counts[key]["ci_low"] == counts[key]["ci_high"] == row["n"]
            assert counts[key]["dp_low"] == counts[key]["dp_high"] == row["n"] and counts[key]["sampling_se"] == 0  # respondents: no sampling
            for question in positive:
                cell = balances[question][key]
                if row[f"{question}_a"] < spec.suppression_threshold:
                    assert cell["suppressed"]
                    continue
                expected = 100 * (row[f"{question}_p"] - row[f"{question}_m"]) / row[f"{question}_a"]
                assert cell["estimate"] == pytest.approx(expected, abs=1e-9)
                assert cell["dp_low"] == pytest.approx(expected, abs=1e-9) and cell["dp_high"] == pytest.approx(expected, abs=1e-9)
                assert cell["basis"] == row[f"{question}_a"]
                plus, minus, answers = row[f"{question}_p"] / row[f"{question}_a"], row[f"{question}_m"] / row[f"{question}_a"], row[f"{question}_a"]
                se = 100 * math.sqrt((plus + minus - (plus - minus) ** 2) / answers)  # multinomial, by hand
                assert cell["sampling_se"] == pytest.approx(se, rel=1e-9)
                assert cell["ci_low"] == pytest.approx(max(expected - 1.959963984540054 * se, -100), rel=1e-9)
                assert cell["ci_high"] == pytest.approx(min(expected + 1.959963984540054 * se, 100), rel=1e-9)


def test_every_public_group_is_released_even_when_empty(mart):
    table = exact_release(mart.filter(pl.col("sector") != "B"), cgc_spec("cgc_balance"))
    sectors = released(table, "sector", "respondents", "count")
    assert {group for _, group in sectors} == set(reference.sector_codes())
    empty = sectors[(WAVES[0], "B")]
    assert empty["suppressed"] and empty["suppression_reason"] == "minder dan 10 bedrijven in deze groep"
    assert table.filter(pl.col("level") == "size_class")["size_class"].n_unique() == 4


def grouped_median(values: list[int]) -> float:
    """Median of answers 1-5 as grouped data: bins [k - 0.5, k + 0.5), linear inside the bin that holds the middle."""
    counts = np.bincount(values, minlength=7)[1:6].astype(float)
    half, cumulative = counts.sum() / 2, np.cumsum(counts)
    index = int(np.argmax(cumulative >= half))
    before = cumulative[index - 1] if index else 0.0
    return 0.5 + index + (half - before) / counts[index]


def test_means_medians_and_multi_select_shares_are_exact(mart):
    spec = cgc_spec("cgc_profile")
    table = exact_release(mart, spec)
    for level in ("nation", "sector"):
        means = released(table, level, "sentiment_mean", "mean")
        medians = released(table, level, "sentiment_median", "p50")
        energy = released(table, level, "challenges", "share", "energie")
        by_group = groups(mart, level).with_columns(
            pl.col("challenges").str.split(";").list.head(3).alias("first_three")
        ).group_by("wave", "group")
        truth = by_group.agg(
            pl.len().alias("n"),
            pl.col("sentiment").drop_nulls().alias("answers"),
            pl.col("first_three").list.contains("energie").sum().alias("energy"),
            pl.col("challenges").is_not_null().sum().alias("answered"),
        )
        checked = 0
        for row in truth.iter_rows(named=True):
            key = (row["wave"], row["group"])
            if row["n"] < spec.suppression_threshold or len(row["answers"]) < spec.suppression_threshold:
                assert means[key]["suppressed"]
                continue
            assert means[key]["estimate"] == pytest.approx(np.mean(row["answers"]), abs=1e-9)
            assert means[key]["dp_low"] == pytest.approx(np.mean(row["answers"]), abs=1e-9) == means[key]["dp_high"]
            # the released sum of squares gives the sample standard deviation of the answers exactly
            sample_se = np.std(row["answers"], ddof=1) / math.sqrt(len(row["answers"]))
            assert means[key]["sampling_se"] == pytest.approx(sample_se, rel=1e-9)
            assert medians[key]["estimate"] == pytest.approx(grouped_median(row["answers"]), abs=1e-9)
            if row["answered"] >= spec.suppression_threshold:
                assert energy[key]["estimate"] == pytest.approx(100 * row["energy"] / row["answered"], abs=1e-9)
            checked += 1
        assert checked >= 2


def test_values_are_clamped_to_the_declared_bounds(mart):
    """A sentiment of 50 (impossible, but suppose it slipped through) weighs as 5, the upper bound."""
    spec = cgc_spec("cgc_profile")
    wild = mart.with_columns(pl.when(pl.col("firm_id") == "firm000000").then(50).otherwise(pl.col("sentiment")).alias("sentiment"))
    table = exact_release(wild, spec)
    nation = released(table, "nation", "sentiment_mean", "mean")[(WAVES[0], "NL")]
    answers = wild.filter(pl.col("wave") == WAVES[0])["sentiment"].drop_nulls().clip(1, 5)
    assert nation["estimate"] == pytest.approx(answers.mean(), abs=1e-9)
