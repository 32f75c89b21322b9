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
import opendp.prelude as dp
import polars as pl
import pytest

from privacy.engine import release
from privacy.loading import release_specs
from privacy.mechanisms import certified_epsilon, count_accuracy, vector_measurement
from privacy.sensitivity import plan
from privacy.spec import ReleaseSpec
from privacy.statistics import SourceError, level_cells, statistic_names, sufficient_statistics
from tests.privacy_support import cgc_spec, firms_frame, make_mart, settings

# (measure, part) -> (L1 sensitivity, noise scale) derived by hand:
# cgc_balance: 4 levels, epsilon 1.5 over weights 0.5 + 4 x 1 = 4.5
#   respondents: 4 x 1 = 4, epsilon 1.5 x 0.5 / 4.5 = 0.1667 -> scale 24
#   each balance: 4 x 1 = 4, epsilon 1.5 / 4.5 = 0.3333 -> scale 12
# cgc_profile: 2 levels, epsilon 1.0 over weights 0.5 + 1 + 1 + 2 = 4.5
#   respondents: 2 x 1 = 2 at 0.1111 -> 18; sentiment_mean (with its sum of squares): count 2 x 1, sum 2 x 2 = 4 and
#   squares 2 x 2^2 = 8, each at 0.2222 / 3 = 0.0741 -> 27, 54 and 108
#   sentiment_median: 2 x 1 at 0.2222 -> 9; challenges: 2 x (1 + 3) = 8 at 0.4444 -> 18
DERIVED = {
    "cgc_balance": {("respondents", "count"): (4, 24.0), **{(q, "sides"): (4, 12.0) for q in ("order_book", "investment", "staff_shortage", "sentiment")}},
    "cgc_profile": {
        ("respondents", "count"): (2, 18.0), ("sentiment_mean", "count"): (2, 27.0), ("sentiment_mean", "sum"): (4, 54.0),
        ("sentiment_mean", "squares"): (8, 108.0),
        ("sentiment_median", "bins"): (2, 9.0), ("challenges", "categories"): (8, 18.0),
    },
}


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_opendp_scale_and_privacy_map_match_the_written_derivation(name):
    spec = release_specs()[name]
    components = plan(spec)
    assert {(c.measure, c.part): (c.sensitivity, pytest.approx(c.scale)) for c in components} == DERIVED[name]
    for component in components:
        measurement = vector_measurement(component.scale)
        assert measurement.map(component.sensitivity) == pytest.approx(component.epsilon)
        assert measurement.map(component.sensitivity + 1) > component.epsilon  # the map is tight, not generous
    assert sum(certified_epsilon(c) for c in components) == pytest.approx(spec.privacy_loss.epsilon)


def test_each_measure_declares_the_sensitivity_the_engine_derives():
    for spec in release_specs().values():
        for measure in spec.measures:
            assert measure.l1_sensitivity is not None, f"{spec.name}.{measure.name}: write the derivation beside the spec"
            values = [c for c in plan(spec) if c.measure == measure.name][-1]
            assert values.sensitivity == measure.l1_sensitivity


def test_our_count_scale_equals_opendps_own_polars_derivation():
    """For a plain count per sector, OpenDP's polars Context derives the same scale as our engine."""
    frame = pl.LazyFrame({"sector": ["A", "C", "C", "F"]})
    context = dp.Context.compositor(
        data=frame,
        privacy_unit=dp.unit_of(contributions=1),
        privacy_loss=dp.loss_of(epsilon=0.5),
        split_evenly_over=1,
        margins=[dp.polars.Margin(by=["sector"], invariant="keys", max_groups=21)],
    )
    summary = context.query().group_by("sector").agg(dp.len(signed=True)).summarize(alpha=0.05)
    opendp_scale = summary["scale"][0]
    ours = [c for c in plan(_one_level_count_spec(0.5)) if c.part == "count"][0].scale
    assert ours == pytest.approx(opendp_scale)
    assert count_accuracy(ours, 0.05) == pytest.approx(summary["accuracy"][0])


def _one_level_count_spec(epsilon: float):
    spec = cgc_spec("cgc_balance")
    return spec.model_copy(update={"groups": spec.groups.model_copy(update={"levels": {"sector": ["sector"]}}),
                                   "measures": [spec.measures[0].model_copy(update={"weight": 1.0, "l1_sensitivity": None})],
                                   "privacy_loss": spec.privacy_loss.model_copy(update={"epsilon": epsilon})})


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
        widest = {}
        for firm in extra.iter_slices(1):
            make_mart(connection, pl.concat([base, firm]))
            after = level_cells(sufficient_statistics(connection, spec, ["2025-01"]), spec, ["2025-01"])
            for component in plan(spec):
                columns = list(component.columns)
                moved = int(np.abs(after.select(columns).to_numpy() - before.select(columns).to_numpy()).sum())
                assert moved <= component.sensitivity, (component.measure, component.part, moved)
                widest[component.measure, component.part] = max(widest.get((component.measure, component.part), 0), moved)
    # firms that answer everything (and name 3+ challenges, or an extreme sentiment) reach the bound: it is tight
    assert widest == {(c.measure, c.part): c.sensitivity for c in plan(spec)}
    assert set(statistic_names(spec)) <= set(before.columns)


def test_the_ledger_records_what_opendp_certified(tmp_path):
    spec = cgc_spec("cgc_profile")
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
