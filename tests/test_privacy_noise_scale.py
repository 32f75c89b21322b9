"""DP tier 2: the noise scale and accuracy OpenDP reports match the sensitivity derivation written beside each spec.

The derivation (privacy/sensitivity.py, and the comments in config/releases/*.yaml):
a firm lies in one group per level and, per level, changes
  * the group's count by 1,
  * one of the three answer counts of each balance question by 1,
  * one histogram bin by 1, one single-choice category by 1,
  * the centred clamped sum by at most B = 2 (sentiment 1..5 around 3),
  * the respondents count and at most 3 named challenges by 1 each (multi-select).
"""

from __future__ import annotations

import json
import math

import duckdb
import numpy as np
import polars as pl
import pytest

from privacy.engine import release
from privacy.ledger import zcdp_epsilon
from privacy.loading import release_specs
from privacy.mechanisms import certified_epsilon, certified_rho, count_accuracy, gaussian_vector_measurement, vector_measurement
from privacy.sensitivity import plan
from privacy.spec import ReleaseSpec
from privacy.statistics import SourceError, level_cells, statistic_names, sufficient_statistics
from tests.privacy_support import cgc_spec, firms_frame, make_mart, settings

# Pure DP (the specs with an epsilon instead of their rho): (measure, part) -> (L1 sensitivity, noise scale) by hand:
# cgc_balance: 4 levels, epsilon 1.5 over weights 0.5 + 4 x 1 = 4.5
#   respondents: 4 x 1 = 4, epsilon 1.5 x 0.5 / 4.5 = 0.1667 -> scale 24
#   each balance: 4 x 1 = 4, epsilon 1.5 / 4.5 = 0.3333 -> scale 12
# cgc_profile: 2 levels, epsilon 1.0 over weights 0.5 + 1 + 1 + 2 = 4.5
#   respondents: 2 x 1 = 2 at 0.1111 -> 18; sentiment_mean (with its sum of squares): count 2 x 1, sum 2 x 2 = 4 and
#   squares 2 x 2^2 = 8, each at 0.2222 / 3 = 0.0741 -> 27, 54 and 108
#   sentiment_median: 2 x 1 at 0.2222 -> 9; challenges: 2 x (1 + 3) = 8 at 0.4444 -> 18
LAPLACE_EPSILON = {"cgc_balance": 1.5, "cgc_profile": 1.0}
DERIVED = {
    "cgc_balance": {("respondents", "count"): (4, 24.0), **{(q, "sides"): (4, 12.0) for q in ("order_book", "investment", "staff_shortage", "sentiment")}},
    "cgc_profile": {
        ("respondents", "count"): (2, 18.0), ("sentiment_mean", "count"): (2, 27.0), ("sentiment_mean", "sum"): (4, 54.0),
        ("sentiment_mean", "squares"): (8, 108.0),
        ("sentiment_median", "bins"): (2, 9.0), ("challenges", "categories"): (8, 18.0),
    },
}

# zCDP (the configured specs): (measure, part) -> (squared L2 sensitivity, noise scale = sqrt(L2^2 / (2 rho))) by hand:
# cgc_balance: 4 levels, rho 0.08 over weights 4.5
#   respondents: 4 x 1^2 = 4 at 0.08 x 0.5 / 4.5 = 0.008889 -> sqrt(4 / 0.017778) = 15
#   each balance: 4 x 1^2 = 4 at 0.08 / 4.5 = 0.017778 -> sqrt(4 / 0.035556) = 10.607
# cgc_profile: 2 levels, rho 0.0527 over weights 4.5
#   respondents: 2 at 0.005856 -> 13.07; sentiment_mean at 0.0527 / 4.5 / 3 = 0.003904 each: count 2 x 1 -> 16.0,
#   sum 2 x 2^2 = 8 -> 32.0, squares 2 x 4^2 = 32 -> 64.0; sentiment_median: 2 at 0.011711 -> 9.2406;
#   challenges: 2 x 1^2 x (1 + 3) = 8 at 0.023422 -> 13.07 (one row adds 1 to the respondents and to <= 3 categories)
DERIVED_ZCDP = {
    "cgc_balance": {("respondents", "count"): (4, 15.0), **{(q, "sides"): (4, 10.6066) for q in ("order_book", "investment", "staff_shortage", "sentiment")}},
    "cgc_profile": {
        ("respondents", "count"): (2, 13.0693), ("sentiment_mean", "count"): (2, 16.0065), ("sentiment_mean", "sum"): (8, 32.0130),
        ("sentiment_mean", "squares"): (32, 64.0260), ("sentiment_median", "bins"): (2, 9.2406), ("challenges", "categories"): (8, 13.0693),
    },
}


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_opendp_scale_and_privacy_map_match_the_written_derivation(name):
    spec = cgc_spec(name, epsilon=LAPLACE_EPSILON[name])
    components = plan(spec)
    assert {(c.measure, c.part): (c.sensitivity, pytest.approx(c.scale)) for c in components} == DERIVED[name]
    for component in components:
        measurement = vector_measurement(component.scale)
        assert measurement.map(component.sensitivity) == pytest.approx(component.epsilon)
        assert measurement.map(component.sensitivity + 1) > component.epsilon  # the map is tight, not generous
    assert sum(certified_epsilon(c) for c in components) == pytest.approx(spec.privacy_loss.epsilon)


@pytest.mark.parametrize("name", sorted(DERIVED_ZCDP))
def test_opendp_gaussian_scale_and_zcdp_map_match_the_written_derivation(name):
    spec = release_specs()[name]
    components = plan(spec)
    assert {(c.measure, c.part): (c.l2_squared, pytest.approx(c.scale, rel=1e-4)) for c in components} == DERIVED_ZCDP[name]
    for component in components:
        measurement = gaussian_vector_measurement(component.scale)
        assert certified_rho(component) == pytest.approx(component.rho, rel=1e-9)
        root = math.isqrt(component.l2_squared)
        if root * root == component.l2_squared:  # OpenDP's own map at the whole-number L2 sensitivity
            assert measurement.map(root) == pytest.approx(component.rho, rel=1e-9)
            assert measurement.map(root + 1) > component.rho  # tight, not generous
        else:  # sqrt(2), sqrt(8): the map is d^2 / (2 scale^2), so between its values at the whole numbers around
            assert measurement.map(root) < certified_rho(component) < measurement.map(root + 1)
    assert sum(certified_rho(c) for c in components) == pytest.approx(spec.privacy_loss.rho)


@pytest.mark.parametrize("scale", [0.5, 9.0, 22.5, 45.0])
def test_count_accuracy_matches_the_discrete_laplace_tail(scale):
    """P(|Z| >= k) = 2 e^{-k/b} / (1 + e^{-1/b}) for discrete Laplace with scale b; OpenDP's half-width reaches alpha."""
    half = count_accuracy(scale, 0.05)

    def tail(k: float) -> float:
        return 2 * math.exp(-k / scale) / (1 + math.exp(-1 / scale))

    assert tail(math.floor(half) + 1) <= 0.05 + 1e-12  # |Z| > half-width happens with probability <= alpha
    assert tail(math.floor(half)) > 0.05 - 1e-12 or half < 1  # and the half-width is not needlessly wide


@pytest.mark.parametrize("name", ["cgc_balance", "cgc_profile"])
def test_one_more_firm_moves_each_vector_by_at_most_its_sensitivity(name):
    """Sensitivity checked on neighbouring data sets: the same mart with one firm added, for many firms."""
    spec = release_specs()[name]
    base = firms_frame(400, ["2025-01"], seed=5)
    extra = firms_frame(60, ["2025-01"], seed=6, answer_rate=1.0).with_columns(pl.concat_str(pl.lit("new"), pl.col("firm_id")).alias("firm_id"))
    with duckdb.connect() as connection:
        make_mart(connection, base)
        before = level_cells(sufficient_statistics(connection, spec, ["2025-01"]), spec, ["2025-01"])
        widest, widest_l2 = {}, {}
        for firm in extra.iter_slices(1):
            make_mart(connection, pl.concat([base, firm]))
            after = level_cells(sufficient_statistics(connection, spec, ["2025-01"]), spec, ["2025-01"])
            for component in plan(spec):
                columns, key = list(component.columns), (component.measure, component.part)
                change = after.select(columns).to_numpy() - before.select(columns).to_numpy()
                moved, moved_l2 = int(np.abs(change).sum()), int((change**2).sum())
                assert moved <= component.sensitivity, (component.measure, component.part, moved)
                assert moved_l2 <= component.l2_squared, (component.measure, component.part, moved_l2)  # the Gaussian's L2
                widest[key], widest_l2[key] = max(widest.get(key, 0), moved), max(widest_l2.get(key, 0), moved_l2)
    # firms that answer everything (and name 3+ challenges, or an extreme sentiment) reach the bounds: they are tight
    assert widest == {(c.measure, c.part): c.sensitivity for c in plan(spec)}
    assert widest_l2 == {(c.measure, c.part): c.l2_squared for c in plan(spec)}
    assert set(statistic_names(spec)) <= set(before.columns)


def test_the_ledger_records_what_opendp_certified(tmp_path):
    spec = cgc_spec("cgc_profile")
    with duckdb.connect() as connection:
        make_mart(connection, firms_frame(300, ["2025-01"]))
        (outcome,) = release(connection, spec, ["2025-01"], settings=settings())
        components = json.loads(connection.execute("SELECT components FROM privacy.ledger").fetchone()[0])
    recorded = {(c["measure"], c["part"]): (round(c["l2_sensitivity"] ** 2), c["scale"]) for c in components}
    assert recorded == {key: (s, pytest.approx(scale, rel=1e-4)) for key, (s, scale) in DERIVED_ZCDP["cgc_profile"].items()}
    assert sum(c["rho"] for c in components) == pytest.approx(0.0527)
    assert outcome.epsilon == pytest.approx(zcdp_epsilon(0.0527, 1e-6))  # rho alone as (epsilon, delta) at the dataset's delta


def test_the_ledger_records_what_opendp_certified_for_laplace(tmp_path):
    spec = cgc_spec("cgc_profile", epsilon=1.0)
    with duckdb.connect() as connection:
        make_mart(connection, firms_frame(300, ["2025-01"]))
        (outcome,) = release(connection, spec, ["2025-01"], settings=settings())
        components = json.loads(connection.execute("SELECT components FROM privacy.ledger").fetchone()[0])
    recorded = {(c["measure"], c["part"]): (c["l1_sensitivity"], c["scale"]) for c in components}
    assert recorded == {key: (s, pytest.approx(scale)) for key, (s, scale) in DERIVED["cgc_profile"].items()}
    assert outcome.epsilon == pytest.approx(sum(c["epsilon"] for c in components)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("measure", "message"),
    [
        ({"name": "mood", "kind": "balance", "column": "sentiment", "positive": ["1"], "negative": ["01"]}, "categories '1' and '01' are the same value"),
        ({"name": "mood", "kind": "shares", "column": "sentiment", "categories": ["4", "4.0", "5"]}, "categories '4' and '4.0' are the same value"),
        ({"name": "mood", "kind": "shares", "column": "sentiment", "categories": ["4", "vier"]}, "category 'vier' is not a number"),
    ],
)
def test_categories_that_name_the_same_value_are_refused(measure, message):
    """One answer may land in one cell only; on a numeric column '1' and '01' are the same answer."""
    data = cgc_spec("cgc_balance").model_dump(mode="json")
    data["measures"] = [{"name": "respondents", "kind": "count"}, measure]
    aliasing = ReleaseSpec.model_validate(data)
    with duckdb.connect() as connection:
        make_mart(connection, firms_frame(50, ["2025-01"]))
        with pytest.raises(SourceError, match=message):
            release(connection, aliasing, ["2025-01"], settings=settings())
        assert connection.execute("SELECT COUNT(*) FROM privacy.budget").fetchone()[0] == 0  # nothing charged


def test_non_text_columns_compare_on_their_one_canonical_text():
    """On a boolean column 'true' and 'TRUE' cannot both match: the column is compared as text, spelled one way."""
    spec = cgc_spec("cgc_balance")
    data = spec.model_dump(mode="json")
    data["measures"] = [{"name": "flag", "kind": "shares", "column": "flag", "categories": ["true", "TRUE", "false"]}]
    flagged = ReleaseSpec.model_validate(data)
    mart = firms_frame(40, ["2025-01"]).with_columns(pl.lit(True).alias("flag"))
    with duckdb.connect() as connection:
        make_mart(connection, mart)
        stats = sufficient_statistics(connection, flagged, ["2025-01"])
    assert stats["flag|c0"].sum() == 40 and stats["flag|c1"].sum() == 0  # every firm in one cell only
