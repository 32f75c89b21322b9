"""Running figures while a proposal is open (privacy/continual.py): the binary tree mechanism, stored nodes, one charge.

The three kinds of DP tests (CONVENTIONS.md): exact answers without noise;
noise scales that match the derivation and OpenDP; and (slow) the coverage of
the intervals over repeated releases, at a stated false-failure rate.
"""

from __future__ import annotations

import io
import json
import math
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import opendp.prelude as dp
import polars as pl
import pyarrow.parquet as pq
import pytest

from core import reference
from core.warehouse import connect as warehouse_connect
from core.warehouse import open_connection as open_warehouse
from privacy import accuracy, continual, ledger
from privacy.continual import (
    export_running,
    half_width,
    load_series,
    plan_series,
    prefix_nodes,
    resolve,
    running_series,
    stored_nodes,
    tree_height,
    tree_nodes,
    update,
)
from privacy.engine import SpecChanged, release
from privacy.loading import ReleaseSpecError, release_specs
from privacy.mechanisms import certified_epsilon, noisy_vector
from privacy.sensitivity import numeric_steps
from privacy.spec import PrivacySettings

SERIES = running_series()["dis_running"]
SIZES = reference.domain_codes("size_class")
OPENS = date(2026, 3, 2)
DAYS = 42
CLOSES = OPENS + timedelta(days=DAYS - 1)
NOW = datetime(2026, 3, 1, 6, 0)


def dis_settings(epsilon: float = 3.0, annual_epsilon: float = 200.0) -> PrivacySettings:
    budget = {"epsilon": epsilon, "delta": 0.0}
    unit = {"kind": "firm", "column": "firm_id", "label": "firm"}
    caps = {"firm": {"epsilon": annual_epsilon, "delta": 1e-5}}
    data = {"dis": {"period": "proposal", "title_nl": "Impactsimulaties", "privacy_unit": unit, "sources": ["marts.dis_firm_proposal"],
                    "budget_per_period": budget}}
    if math.isinf(epsilon):  # only tests may build an unlimited budget
        from privacy.spec import AnnualCap, Budget, DatasetBudget, DatasetUnit

        return PrivacySettings.model_construct(annual_caps={"firm": AnnualCap.model_construct(epsilon=math.inf, delta=1.0)},
                                               datasets={"dis": DatasetBudget.model_construct(
            period="proposal", title_nl="Impactsimulaties", privacy_unit=DatasetUnit(**unit), sources=["marts.dis_firm_proposal"],
            budget_per_period=Budget.model_construct(**budget))})
    return PrivacySettings.model_validate({"annual_caps": caps, "datasets": data})


def dis_frames(proposals: list[str], firms: int = 600, seed: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A DIS mart (one row per firm per proposal) and its raw answers with resubmissions (test data, not noise)."""
    rng = np.random.default_rng(seed)
    marts, raws = [], []
    for proposal in proposals:
        n = firms
        ids = [f"firm{i:05d}" for i in range(n)]
        cost = np.round(rng.normal(2000, 60000, n) / 100) * 100
        cost[rng.random(n) < 0.05] = 250_000  # beyond the bounds: clamped to 100,000
        hours = np.round(rng.normal(10, 25, n) * 2) / 2
        hours[rng.random(n) < 0.05] = -120  # clamped to -40
        marts.append(pl.DataFrame({
            "firm_id": ids, "proposal": proposal,
            "sector": rng.choice(reference.sector_codes(), n), "size_class": rng.choice(SIZES, n, p=[0.4, 0.3, 0.2, 0.1]),
            "province": rng.choice(reference.province_codes(), n),
            "cost_change_euro": pl.Series(np.where(rng.random(n) < 0.1, np.nan, cost)).fill_nan(None),
            "cost_change_percent": pl.Series(np.round(rng.normal(1, 3, n) * 2) / 2),
            "fte_change": pl.Series(np.round(rng.normal(0, 1, n), 1)),
            "revenue_change_percent": pl.Series(np.round(rng.normal(0, 2, n) * 2) / 2),
            "profit_change_percent": pl.Series(np.round(rng.normal(0, 3, n) * 2) / 2),
            "admin_hours_per_month": pl.Series(np.where(rng.random(n) < 0.1, np.nan, hours)).fill_nan(None),
            "competitive_position": rng.choice(["better", "same", "worse"], n),
        }))
        # first answers from 3 days before the window (day 1) to 5 days after it (not counted); a third answer again later
        first = [datetime.combine(OPENS, datetime.min.time()) + timedelta(days=int(d), hours=int(h))
                 for d, h in zip(rng.integers(-3, DAYS + 5, n), rng.integers(8, 20, n), strict=True)]
        again = rng.random(n) < 0.33
        later = [t + timedelta(days=int(d)) for t, d in zip(first, rng.integers(0, 10, n), strict=True)]
        raws.append(pl.DataFrame({
            "firm_id": ids + [i for i, a in zip(ids, again, strict=True) if a],
            "proposal": proposal,
            "submitted_at": first + [t for t, a in zip(later, again, strict=True) if a],
        }))
    return pl.concat(marts), pl.concat(raws)


def warehouse(mart: pl.DataFrame, raw: pl.DataFrame, path: Path | None = None) -> duckdb.DuckDBPyConnection:
    connection = open_warehouse(path if path else ":memory:")
    connection.execute("CREATE SCHEMA IF NOT EXISTS marts; CREATE SCHEMA IF NOT EXISTS raw")
    connection.execute("CREATE TABLE marts.dis_firm_proposal AS SELECT * FROM mart")
    connection.execute("CREATE TABLE raw.dis_responses AS SELECT * FROM raw")
    return connection


def day(n: int) -> date:
    """The run date on which days 1 .. n of the window are over."""
    return OPENS + timedelta(days=n)


def figures(connection, tmp_path: Path, series=SERIES) -> dict[str, pl.DataFrame]:
    written = export_running(connection, series, tmp_path / "exports")
    return {path.stem.removeprefix(f"{series.name}_"): pl.read_parquet(path) for path in written}


def exact_running(mart: pl.DataFrame, raw: pl.DataFrame, proposal: str, days: int) -> pl.DataFrame:
    """Exact running count and clamped means per day and group, computed independently in polars."""
    first = raw.filter(pl.col("proposal") == proposal).group_by("firm_id").agg(pl.col("submitted_at").min())
    firms = mart.filter(pl.col("proposal") == proposal).join(first, on="firm_id").with_columns(
        ((pl.col("submitted_at").dt.date() - pl.lit(OPENS)).dt.total_days() + 1).clip(lower_bound=1).alias("first_day"),
        pl.col("cost_change_euro").clip(-100_000, 100_000), pl.col("admin_hours_per_month").clip(-40, 80),
    )
    rows = []
    for t in range(1, days + 1):
        upto = firms.filter(pl.col("first_day") <= t)
        for level, frame in [("nation", upto.with_columns(pl.lit(None, pl.Utf8).alias("size_class")))] + [
                ("size_class", upto.filter(pl.col("size_class") == s).with_columns(pl.lit(s).alias("size_class"))) for s in SIZES]:
            key = {"day": t, "level": level, "size_class": None if level == "nation" else frame["size_class"][0] if frame.height else None}
            rows.append({**key, "measure": "respondents", "exact": float(frame.height), "n": frame.height})
            for measure, column in (("cost_change_mean", "cost_change_euro"), ("admin_hours_mean", "admin_hours_per_month")):
                values = frame[column].drop_nulls()
                rows.append({**key, "measure": measure, "exact": values.mean() if values.len() else None, "n": values.len()})
    return pl.DataFrame(rows, schema={"day": pl.Int32, "level": pl.Utf8, "size_class": pl.Utf8, "measure": pl.Utf8,
                                      "exact": pl.Float64, "n": pl.Int64})


# --------------------------------------------------------------------------- 1. without noise: exact


def with_height(height) -> continual.RunningSeries:
    return continual.RunningSeries(SERIES.declaration.model_copy(update={"tree_height": height}), SERIES.spec, SERIES.measures)


@pytest.mark.parametrize("height", ["full", 1])
def test_running_figures_without_noise_are_the_exact_prefix_counts_and_means(tmp_path, height):
    mart, raw = dis_frames(["p1"])
    exact_series = with_height(height).with_epsilon(math.inf)
    connection = warehouse(mart, raw)
    windows = {"p1": (OPENS, CLOSES)}
    for done in (20, DAYS + 3):  # halfway, then after the window closed (the last days' nodes complete)
        (outcome,) = update(connection, exact_series, windows, day(done), settings=dis_settings(math.inf), now=NOW)
        released = figures(connection, tmp_path, exact_series)["p1"]
        assert released["day"].max() == min(done, DAYS) and outcome.days_released == min(done, DAYS)
        expected = exact_running(mart, raw, "p1", min(done, DAYS))
        compared = expected.join(released, on=["day", "level", "size_class", "measure"], how="left", nulls_equal=True)
        assert compared.height == expected.height == released.height
        shown = compared.filter(pl.col("suppressed").not_())
        assert shown.height > 0.8 * compared.height
        np.testing.assert_allclose(shown["estimate"], shown["exact"], rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(shown["ci_low"], shown["exact"], rtol=1e-12, atol=1e-9)  # no noise: no width
        # suppressed exactly where the exact figure rests on too few firms or answers
        group_n = compared.filter(pl.col("measure") == "respondents").select("day", "level", "size_class", pl.col("n").alias("group_n"))
        checked = compared.join(group_n, on=["day", "level", "size_class"], nulls_equal=True)
        assert (checked["suppressed"] == ((checked["group_n"] < 10) | (checked["n"] < 10))).all()
    nation = released.filter((pl.col("level") == "nation") & (pl.col("measure") == "respondents"))
    assert nation["estimate"].to_list() == sorted(nation["estimate"].to_list())  # exact running counts never fall
    # a firm counts once, on its first answer: the last day holds every firm that answered before the window ended
    last = raw.group_by("firm_id").agg(pl.col("submitted_at").min()).filter(pl.col("submitted_at").dt.date() <= CLOSES).height
    assert nation["estimate"][-1] == last


# --------------------------------------------------------------------------- 2. noise scale = derivation = OpenDP


@pytest.mark.parametrize("days", [1, 2, 7, 31, 42, 365])
def test_noise_scale_per_node_is_levels_times_change_per_node_over_epsilon(days):
    height = math.floor(math.log2(days)) + 1
    assert tree_height(days) == height == days.bit_length()
    weights = {"respondents": 2, "cost_change_mean": 1, "admin_hours_mean": 1}
    per_node = {("respondents", "count"): 1, ("cost_change_mean", "count"): 1, ("admin_hours_mean", "count"): 1,
                ("cost_change_mean", "sum"): 1000, ("admin_hours_mean", "sum"): 120}
    assert numeric_steps(SERIES.spec.measure("cost_change_mean"))[3] == 1000 and numeric_steps(SERIES.spec.measure("admin_hours_mean"))[3] == 120
    components = plan_series(SERIES, days)
    assert {(c.measure, c.part) for c in components} == set(per_node)
    for component in components:
        parts = 1 if component.measure == "respondents" else 2
        share = 0.5 * weights[component.measure] / sum(weights.values()) / parts  # 0.25 for the count, 0.0625 per part of a mean
        assert component.epsilon == pytest.approx(share)
        assert component.sensitivity == height * per_node[component.measure, component.part]
        assert component.scale == pytest.approx(height * per_node[component.measure, component.part] / share)
        assert certified_epsilon(component) == pytest.approx(share, rel=1e-9)  # OpenDP's privacy map of that very measurement
    assert sum(certified_epsilon(c) for c in components) == pytest.approx(SERIES.epsilon)
    leaves = plan_series(with_height(1), days)  # capped at one level: each firm in one node, scale = change per node / epsilon
    assert [c.scale for c in leaves] == pytest.approx([c.scale / height for c in components])


def test_the_readme_states_the_modules_half_widths():
    """README.md, 'Running figures while a proposal is open': T = 42, epsilon 0.5 (0.25 for the count)."""
    (count,) = [c for c in plan_series(SERIES, DAYS) if c.measure == "respondents"]
    table = {1: (72, 137), 3: (99, 191), 7: (119, 233), 15: (137, 268), 16: (72, 137), 31: (152, 299), 42: (119, 233)}
    for t, (size_class, nation) in table.items():
        nodes = len(prefix_nodes(t, tree_height(DAYS)))
        assert (half_width(count.scale, nodes, 0.05), half_width(count.scale, 4 * nodes, 0.05)) == (size_class, nation)
    worst = {}
    for days, stated in {7: 60, 30: 114, 42: 152, 90: 194, 365: 286}.items():
        (c,) = [c for c in plan_series(SERIES, days) if c.measure == "respondents"]
        worst[days] = max(half_width(c.scale, len(prefix_nodes(t, tree_height(days))), 0.05) for t in range(1, days + 1))
        assert worst[days] == stated
        assert 2.5 < worst[days] * 0.25 / math.log2(days) ** 1.5 < 3.3  # about 3 x log2(T)^1.5 / epsilon of the count
    (leaf,) = [c for c in plan_series(with_height(1), DAYS) if c.measure == "respondents"]
    assert max(half_width(leaf.scale, t, 0.05) for t in range(1, DAYS + 1)) == 72
    assert half_width(DAYS / 0.25, 1, 0.05) == 503  # a fresh release every day at epsilon / 42


@pytest.mark.parametrize("scale", [1.0, 3.0, 24.0, 96.0, 250.0])
def test_one_node_half_width_is_opendps_accuracy_rounded_down(scale):
    for alpha in (0.05, 0.025):
        accuracy = dp.discrete_laplacian_scale_to_accuracy(scale=scale, alpha=alpha)  # P(|Z| >= a) = alpha
        assert half_width(scale, 1, alpha) == math.ceil(accuracy) - 1


def test_half_width_of_a_sum_of_nodes_is_the_exact_quantile_of_their_convolution():
    scale, q = 3.0, math.exp(-1 / 3.0)
    values = np.arange(-200, 201)
    pmf = (1 - q) / (1 + q) * q ** np.abs(values)
    summed = pmf
    for draws in range(1, 6):
        if draws > 1:
            summed = np.convolve(summed, pmf)  # direct convolution: independent of the FFT in the module
        centre = (summed.size - 1) // 2
        outside = [1 - summed[centre - a: centre + a + 1].sum() for a in range(150)]
        assert half_width(scale, draws, 0.05) == next(a for a, p in enumerate(outside) if p <= 0.05)


def test_the_bound_for_large_scales_is_conservative_by_at_most_the_number_of_nodes(monkeypatch):
    exact = {draws: half_width(200.0, draws, 0.05) for draws in (1, 4, 12)}
    monkeypatch.setattr(continual, "EXACT_LIMIT", 0)  # force the closed-form route
    for draws, value in exact.items():
        bound = continual.half_width.__wrapped__(200.0, draws, 0.05)
        assert value <= bound <= value + draws + 1


# --------------------------------------------------------------------------- the tree


@pytest.mark.parametrize("days", [*range(1, 70), 100, 200, 365])
def test_every_running_total_is_a_sum_of_at_most_ceil_log2_T_plus_1_stored_nodes(days):
    height = tree_height(days)
    nodes = set(tree_nodes(days, height))
    for t in range(1, days + 1):
        used = prefix_nodes(t, height)
        assert len(used) <= math.ceil(math.log2(days)) + 1 and len(used) == bin(t).count("1")
        assert len({n.level for n in used}) == len(used)  # at most one node per level
        assert set(used) <= nodes and used[0].start == 1 and used[-1].end == t
        assert all(a.end + 1 == b.start for a, b in zip(used, used[1:], strict=False))  # they tile [1, t]
    for d in range(1, days + 1):  # a firm on day d lies in one node per level: the derivation's "H nodes"
        containing = [n for n in nodes if n.start <= d <= n.end]
        assert len(containing) <= height and len({n.level for n in containing}) == len(containing)


def test_a_capped_tree_uses_its_top_level_repeatedly():
    assert prefix_nodes(7, 1) == [(0, d, d) for d in range(1, 8)]  # one level: the days themselves
    assert [n.level for n in prefix_nodes(13, 2)] == [1] * 6 + [0]


# --------------------------------------------------------------------------- storage, reruns, the ledger


def test_a_rerun_adds_nothing_the_next_day_adds_only_completed_nodes_and_old_days_never_change(tmp_path):
    mart, raw = dis_frames(["p1"])
    connection = warehouse(mart, raw)
    windows, settings = {"p1": (OPENS, CLOSES)}, dis_settings()
    (first,) = update(connection, SERIES, windows, day(7), settings=settings, now=NOW)
    assert (first.status, first.days_released, first.epsilon_charged) == ("started", 7, pytest.approx(0.5))
    height = tree_height(DAYS)
    assert first.nodes_added == len([n for n in tree_nodes(DAYS, height) if n.end <= 7]) == 11
    nodes_before = stored_nodes(connection, SERIES, first.release_id)
    ledger_before = connection.execute("SELECT * FROM privacy.ledger").pl()
    export_dir = tmp_path / "exports"
    (old_file,) = export_running(connection, SERIES, export_dir)
    old_bytes = old_file.read_bytes()

    (again,) = update(connection, SERIES, windows, day(7), settings=settings, now=NOW + timedelta(hours=5))
    assert (again.status, again.nodes_added, again.epsilon_charged) == ("unchanged", 0, 0.0)
    assert stored_nodes(connection, SERIES, first.release_id).equals(nodes_before)
    assert connection.execute("SELECT * FROM privacy.ledger").pl().equals(ledger_before)
    assert export_running(connection, SERIES, export_dir)[0].read_bytes() == old_bytes  # exporting again: the same bytes

    (next_day,) = update(connection, SERIES, windows, day(8), settings=settings, now=NOW + timedelta(days=1))
    assert (next_day.status, next_day.epsilon_charged) == ("extended", 0.0)
    after = stored_nodes(connection, SERIES, first.release_id)
    added = after.join(nodes_before, on=["level", "node_start", "size_class", "measure", "part"], how="anti")
    assert set(added.select("level", "node_start", "node_end").unique().iter_rows()) == {(0, 8, 8), (1, 7, 8), (2, 5, 8), (3, 1, 8)}
    assert next_day.nodes_added == 4 and added.height == 4 * len(SIZES) * 5  # 4 nodes x 4 size classes x 5 statistics
    kept = after.join(nodes_before.select("level", "node_start", "size_class", "measure", "part"),
                      on=["level", "node_start", "size_class", "measure", "part"], how="semi")
    assert kept.sort(kept.columns).equals(nodes_before.sort(nodes_before.columns))  # no stored node is noised again
    assert connection.execute("SELECT * FROM privacy.ledger").pl().equals(ledger_before)

    (new_file,) = export_running(connection, SERIES, export_dir)
    assert new_file == old_file and (new_file.stat().st_mode & 0o777) == 0o644
    old, new = pl.read_parquet(io.BytesIO(old_bytes)), pl.read_parquet(new_file)
    assert new["day"].max() == 8 and old["day"].max() == 7

    def serialised(frame: pl.DataFrame) -> bytes:
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        return buffer.getvalue()

    kept_days = new.filter(pl.col("day") <= 7)
    assert kept_days.equals(old) and serialised(kept_days) == serialised(old)  # the old days' rows, byte for byte
    metadata = {k.decode(): v.decode() for k, v in pq.read_schema(new_file).metadata.items()}
    assert {"release_id", "epsilon", "delta", "privacy_unit", "mechanism", "confidence_level", "version", "spec_hash", "created_at"} <= set(metadata)
    assert metadata["release_id"] == "dis_running/p1/v1" and float(metadata["epsilon"]) == pytest.approx(0.5)
    assert "make_laplace" in metadata["mechanism"] and metadata["days_in_window"] == "42" and metadata["days_released"] == "8"
    # intervals are the noisy figure +- the exact half-width of the sum of its nodes
    counts = new.filter((pl.col("measure") == "respondents") & pl.col("suppressed").not_() & (pl.col("ci_low") > 0))
    widths = [half_width(24.0, k, 0.05) for k in counts["noisy_nodes"]]
    np.testing.assert_allclose(counts["ci_high"] - counts["estimate"], widths)
    assert set(counts.filter(pl.col("level") == "nation")["noisy_nodes"]) <= {4 * bin(t).count("1") for t in range(1, 9)}


def test_the_ledger_holds_one_charge_per_proposal_and_the_releases_after_closing_still_fit(tmp_path):
    mart, raw = dis_frames(["p1", "p2"], firms=300)
    connection = warehouse(mart, raw)
    windows, settings = {"p1": (OPENS, CLOSES), "p2": (OPENS + timedelta(days=10), CLOSES + timedelta(days=20))}, dis_settings()
    statuses = []
    for n in range(DAYS + 35):  # every day from before the window opened to well after both closed
        statuses.append({o.proposal: o.status for o in update(connection, SERIES, windows, day(n), settings=settings, now=NOW)})
    assert statuses[0] == {"p1": "waiting"} and statuses[1]["p1"] == "started" and statuses[11]["p2"] == "started"
    assert statuses[-1] == {}  # both series complete: nothing left to do
    charges = connection.execute("SELECT period, epsilon FROM privacy.ledger WHERE release_name = 'dis_running' ORDER BY period").fetchall()
    assert [p for p, _ in charges] == ["p1", "p2"] and all(e == pytest.approx(SERIES.epsilon) for _, e in charges)
    spent = dict(connection.execute("SELECT period, epsilon_spent FROM privacy.budget").fetchall())
    assert spent == {"p1": pytest.approx(0.5), "p2": pytest.approx(0.5)}
    for proposal in ("p1", "p2"):
        stored = stored_nodes(connection, SERIES, f"dis_running/{proposal}/v1")
        days = (windows[proposal][1] - windows[proposal][0]).days + 1
        assert stored.select("level", "node_start").unique().height == len(tree_nodes(days, tree_height(days)))
    # after closing, the releases of the whole proposal fit the budget that is left (3.0 = 0.5 + 2.0 + 0.5) ...
    outcomes = [release(connection, release_specs()[name], ["p1"], settings=settings)[0] for name in ("dis_impact", "dis_burden")]
    assert [o.status for o in outcomes] == ["released", "released"]
    assert connection.execute("SELECT epsilon_spent FROM privacy.budget WHERE period = 'p1'").fetchone()[0] == pytest.approx(3.0)
    # ... and a proposal whose budget is spent gets no running series: nothing noised, stored or charged
    with ledger.book(connection) as book:
        book.charge(ledger.Entry("other/p3/v1", "other", "dis", "p3", 1, "q", "firm", 2.6, 0.0, "m", "[]", "b", "h", NOW),
                    ledger.limits(settings, "dis"))
    raw3 = raw.filter(pl.col("proposal") == "p1").with_columns(pl.lit("p3").alias("proposal"))  # noqa: F841 - read by DuckDB
    connection.execute("INSERT INTO raw.dis_responses SELECT * FROM raw3")
    (refused,) = update(connection, SERIES, {"p3": (day(80), day(120))}, day(85), settings=settings, now=NOW)
    assert refused.status == "refused" and "insufficient" in refused.message and refused.epsilon_charged == 0.0
    assert connection.execute("SELECT COUNT(*) FROM releases.dis_running_nodes WHERE proposal = 'p3'").fetchone()[0] == 0
    assert connection.execute("SELECT COUNT(*) FROM releases.dis_running_series WHERE proposal = 'p3'").fetchone()[0] == 0
    assert connection.execute("SELECT epsilon_spent FROM privacy.budget WHERE period = 'p3'").fetchone()[0] == pytest.approx(2.6)


def test_no_open_proposal_means_no_series_and_a_changed_declaration_is_refused(tmp_path):
    mart, raw = dis_frames(["p1"], firms=50)
    connection = warehouse(mart, raw)
    assert update(connection, SERIES, {}, day(3), settings=dis_settings()) == []
    assert update(connection, SERIES, {"p1": (OPENS, CLOSES)}, CLOSES + timedelta(days=1), settings=dis_settings()) == []  # closed, never started
    assert connection.execute("SELECT COUNT(*) FROM privacy.ledger").fetchone()[0] == 0
    assert export_running(connection, SERIES, tmp_path / "exports") == []
    assert (tmp_path / "exports" / "dis_running" / "codebook.json").exists()
    update(connection, SERIES, {"p1": (OPENS, CLOSES)}, day(3), settings=dis_settings())
    heavier = continual.RunningSeries(SERIES.declaration, SERIES.spec, tuple(m.model_copy(update={"weight": 1.0}) for m in SERIES.measures))
    with pytest.raises(SpecChanged, match="another declaration"):
        update(connection, heavier, {"p1": (OPENS, CLOSES)}, day(4), settings=dis_settings())
    # a window changed by the administrator after the start: the series keeps its own
    (outcome,) = update(connection, SERIES, {"p1": (OPENS, CLOSES + timedelta(days=30))}, day(4), settings=dis_settings())
    assert outcome.status == "extended" and "keeps the window it started with" in outcome.message


def test_the_declaration_must_fit_the_budget_and_state_the_derived_sensitivity():
    declaration = SERIES.declaration
    specs, settings = release_specs(), dis_settings()
    with pytest.raises(ReleaseSpecError, match="exceeds the budget per proposal"):
        resolve(declaration.model_copy(update={"privacy_loss": declaration.privacy_loss.model_copy(update={"epsilon": 0.6})}), settings, specs)
    wrong = [m.model_copy(update={"node_sensitivity": {"count": 1, "sum": 999}}) if m.name == "cost_change_mean" else m for m in declaration.measures]
    with pytest.raises(ReleaseSpecError, match="node_sensitivity.sum: declared 999"):
        resolve(declaration.model_copy(update={"measures": wrong}), settings, specs)
    assert load_series(continual.SERIES_DIR / "dis_running.yaml").semantic_hash() == SERIES.semantic_hash()


def test_the_dagster_assets_start_the_open_proposals_series_and_rerun_without_adding(tmp_path):
    from accounts.store import store
    from assets.releases.continual import RUNNING_ASSETS
    from assets.resources import Folders, Warehouse
    from content.demo import ensure_demo_proposals
    from content.proposals import list_proposals
    from tests.conftest import data_dir

    accounts = tmp_path / "accounts" / "accounts.sqlite"
    resources = {"warehouse": Warehouse(path=str(tmp_path / "warehouse.duckdb")),
                 "folders": Folders(landing=str(tmp_path / "landing"), exports=str(tmp_path / "exports"), accounts=str(accounts),
                                    operational=str(tmp_path / "operational"))}
    with data_dir(tmp_path):
        assert dg.materialize(RUNNING_ASSETS, resources=resources).success  # no proposal at all: nothing to do, no failure
        with store(accounts) as connection:
            ensure_demo_proposals(connection, date.today())
            open_ids = sorted(p.id for p in list_proposals(connection) if p.is_open(date.today()))
        mart, raw = dis_frames(open_ids, firms=80)
        warehouse(mart, raw, tmp_path / "warehouse.duckdb").close()
        first = dg.materialize(RUNNING_ASSETS, resources=resources)
        second = dg.materialize(RUNNING_ASSETS, resources=resources)

    def release_metadata(result):
        (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(["releases", "dis_running"])]
        return event.step_materialization_data.materialization.metadata

    assert release_metadata(first)["series_started"].value == len(open_ids) == 2
    assert release_metadata(second)["nodes_added"].value == 0 and release_metadata(second)["epsilon_charged"].value == 0
    files = sorted((tmp_path / "exports" / "dis_running").glob("*.parquet"))
    assert [f.name for f in files] == [f"dis_running_{p}.parquet" for p in open_ids]
    with warehouse_connect(tmp_path / "warehouse.duckdb", read_only=True) as connection:
        assert connection.execute("SELECT COUNT(*) FROM privacy.ledger").fetchone()[0] == 2
    book = json.loads((tmp_path / "exports" / "dis_running" / "codebook.json").read_text())
    assert set(pl.read_parquet(files[0]).columns) <= set(book["columns"])


# --------------------------------------------------------------------------- 3. coverage (slow)


@pytest.mark.slow
def test_the_95_percent_interval_of_a_running_mean_covers_95_percent_of_the_time():
    """Repeated noisings of the running mean admin hours (T = 42): coverage of its test-inversion interval.

    20,000 independent releases of the sum and count nodes (OpenDP's noise at
    the series' scales) that day 31 (5 nodes) uses, for one size class (5 + 5
    draws) and the nation (20 + 20), with exact node sums and counts of about
    200 firms per node (test data). The interval inverts the exact law of
    S - theta N (simulated with 100,000 seeded draws: about 0.1 point), so it
    covers with probability 0.95; a check fails outside [0.94, 0.97]:
    false-failure rate below 2.5e-9 per check (Chernoff, as below).
    """
    replicates, level = 20_000, 0.95
    measure = next(m for m in SERIES.measures if m.name == "admin_hours_mean")
    count, total = (next(c for c in plan_series(SERIES, DAYS) if c.measure == measure.name and c.part == part) for part in ("count", "sum"))
    used = prefix_nodes(31, tree_height(DAYS))
    lower, upper, centre, _ = numeric_steps(measure)
    rng = np.random.default_rng(12)
    exact_n = rng.integers(150, 250, size=(len(used), len(SIZES)))
    exact_s = np.round(exact_n * rng.uniform(-8, 8, size=exact_n.shape)).astype(np.int64)  # centred sums in steps (test data)
    noisy_n = noisy_vector(np.tile(exact_n.ravel(), replicates), count).reshape(replicates, len(used), len(SIZES))
    noisy_s = noisy_vector(np.tile(exact_s.ravel(), replicates), total).reshape(replicates, len(used), len(SIZES))
    for axes, draws in (((1,), len(used)), ((1, 2), len(used) * len(SIZES))):
        part_n, part_s = (exact_n[:, :1], exact_s[:, :1]) if axes == (1,) else (exact_n, exact_s)
        released_n = (noisy_n[:, :, :1] if axes == (1,) else noisy_n).sum(axis=(1, 2))
        released_s = (noisy_s[:, :, :1] if axes == (1,) else noisy_s).sum(axis=(1, 2))
        truth = (centre + part_s.sum() / part_n.sum()) * measure.resolution
        estimate, low, high = accuracy.mean_interval_summed(released_s, released_n, total.scale, [draws] * replicates, count.scale,
                                                            [draws] * replicates, centre, measure.resolution, (lower, upper), level)
        shown = released_n >= SERIES.declaration.suppression_threshold  # a few class releases have a noisy count below it: 'x'
        assert shown.mean() > 0.99
        low, estimate, high = low[shown], estimate[shown], high[shown]
        assert np.all((low <= estimate + 1e-9) & (estimate <= high + 1e-9))
        coverage = float(np.mean((low <= truth + 1e-9) & (truth - 1e-9 <= high)))
        assert 0.94 <= coverage <= 0.97, (draws, coverage)


@pytest.mark.slow
def test_the_95_percent_interval_of_a_running_count_covers_95_percent_of_the_time():
    """Repeated noisings of one series (T = 42, epsilon 0.5): coverage of the running count's 95 % interval.

    20,000 independent releases of the nodes the checked days use (OpenDP's
    noise at the series' own scale), for a size class and for the nation on
    days 1 (1 node), 31 (5 nodes: the most for T = 42) and 42 (3 nodes). The
    exact intervals cover with probability between 0.95 and 0.9513 (integer
    noise); a check fails below 0.94 or above 0.97. False-failure rate: the
    Chernoff bound exp(-n KL(0.94 || 0.95)) = 2.5e-9 per check (the upper side
    is far smaller), so under 2e-8 for all six checks together.
    """
    replicates, alpha = 20_000, 0.05
    (count,) = [c for c in plan_series(SERIES, DAYS) if c.measure == "respondents"]
    height = tree_height(DAYS)
    checked = {t: prefix_nodes(t, height) for t in (1, 31, 42)}
    nodes = sorted({n for used in checked.values() for n in used})
    rng = np.random.default_rng(11)
    exact = rng.integers(0, 60, size=(len(nodes), len(SIZES)))  # true node counts (test data), the same in every release
    noisy = noisy_vector(np.tile(exact.ravel(), replicates), count).reshape(replicates, len(nodes), len(SIZES))
    index = {n: i for i, n in enumerate(nodes)}
    for t, used in checked.items():
        rows = [index[n] for n in used]
        truth_class, released_class = exact[rows, 0].sum(), noisy[:, rows, 0].sum(axis=1)
        truth_nation, released_nation = exact[rows].sum(), noisy[:, rows, :].sum(axis=(1, 2))
        for truth, released, draws in ((truth_class, released_class, len(used)), (truth_nation, released_nation, len(used) * len(SIZES))):
            width = half_width(count.scale, draws, alpha)
            coverage = float(np.mean(np.abs(released - truth) <= width))
            assert 0.94 <= coverage <= 0.97, (t, draws, coverage)


_NOISE_THRESHOLD = accuracy.noise_threshold


def _noise_threshold_before(scales, weights, level):
    """`accuracy.noise_threshold` as it was before its quantile was sped up (np.quantile over the strided block)."""
    from privacy.accuracy import _simulated_draws
    from privacy.mechanisms import as_noise

    noises = tuple(as_noise(scale) for scale in scales)
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    live = [j for j, noise in enumerate(noises) if noise.scale > 0 and np.any(weights[:, j] != 0)]
    if len(live) <= 2:
        return _NOISE_THRESHOLD(scales, weights, level)  # exact paths: unchanged
    draws, chosen, out = _simulated_draws(tuple(noises[j] for j in live)), weights[:, live], np.empty(weights.shape[0])
    for start in range(0, chosen.shape[0], 32):
        out[start:start + 32] = np.quantile(np.abs(draws @ chosen[start:start + 32].T), level, axis=0, method="higher")
    return out


def test_the_fast_simulated_quantile_is_bit_for_bit_the_old_one():
    """The running figures' means sum many nodes (simulated noise quantiles): the faster quantile selects the same draw.

    40 grid rows: one full block of 32 and a partial one; two levels: two different order statistics.
    """
    nodes = 3
    noises, a, d = (96000.0,) * nodes + (96.0,) * nodes, (1.0,) * nodes + (0.0,) * nodes, (0.0,) * nodes + (1.0,) * nodes
    grid = np.linspace(-1000.0, 1000.0, 40)
    weights = np.asarray(a)[None, :] - grid[:, None] * np.asarray(d)[None, :]
    for level in (0.9, 0.99):
        assert np.array_equal(accuracy.noise_threshold(noises, weights, level), _noise_threshold_before(noises, weights, level))


def test_the_running_export_writes_the_same_bytes_as_with_the_old_quantile(tmp_path, monkeypatch):
    """Released files are re-served as stored: a faster export must write exactly the bytes the old code wrote."""
    mart, raw = dis_frames(["p1"], firms=300)
    connection = warehouse(mart, raw)
    update(connection, SERIES, {"p1": (OPENS, CLOSES)}, day(3), settings=dis_settings(), now=NOW)  # nodes of 1 to 2 days
    (new_file,) = export_running(connection, SERIES, tmp_path / "new")
    accuracy._ratio_thresholds.cache_clear()
    monkeypatch.setattr(accuracy, "noise_threshold", _noise_threshold_before)
    (old_file,) = export_running(connection, SERIES, tmp_path / "old")
    accuracy._ratio_thresholds.cache_clear()  # no thresholds of the stand-in stay behind for later tests
    assert new_file.read_bytes() == old_file.read_bytes()
    assert pl.read_parquet(new_file)["noisy_nodes"].max() > 2  # the simulated path (more than two noises) was used
