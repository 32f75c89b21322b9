"""Debt signals end to end: the rules' advice per claim, the KPI mart, and the KPIs released with differential privacy."""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest

from core.warehouse import connect as warehouse_connect
from debts import pipeline as debt_pipeline
from privacy.loading import release_specs
from privacy.postprocess import post_process
from privacy.sensitivity import plan
from privacy.statistics import LEVEL, level_cells, sufficient_statistics
from tests.privacy_support import noiseless


@pytest.fixture(scope="module")
def warehouse(pipeline):
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        yield connection


def test_every_delivered_claim_of_a_month_gets_one_advice(warehouse):
    delivered = dict(warehouse.execute(f"SELECT month, COUNT(*) FROM {debt_pipeline.SOURCE_MART} GROUP BY 1").fetchall())
    advised = dict(warehouse.execute(f"SELECT month, COUNT(DISTINCT claim_id) FROM {debt_pipeline.ADVICE_TABLE} GROUP BY 1").fetchall())
    rows = dict(warehouse.execute(f"SELECT month, COUNT(*) FROM {debt_pipeline.ADVICE_TABLE} GROUP BY 1").fetchall())
    assert delivered and advised == delivered == rows
    actions = {row[0] for row in warehouse.execute(f"SELECT DISTINCT action FROM {debt_pipeline.ADVICE_TABLE}").fetchall()}
    assert {"afschrijven", "vriendelijke_herinnering", "doorgaan"} <= actions  # the synthetic mix exercises the main rules


def test_the_kpi_mart_holds_the_small_claims_with_one_outcome_each(warehouse):
    mart = warehouse.execute(f"SELECT * FROM {debt_pipeline.SMALL_CLAIMS_MART}").pl()
    advice = warehouse.execute(f"SELECT * FROM {debt_pipeline.ADVICE_TABLE}").pl()
    small = advice.filter(pl.col("principal_cents") < 10_000)
    assert mart.height == small.height > 0
    assert set(mart["outcome"].unique()) <= set(debt_pipeline.OUTCOME_ORDER)
    joined = mart.join(small, on=["claim_id", "month"])
    expected = joined["action"].replace_strict(debt_pipeline.OUTCOMES)
    assert (joined["outcome"] == expected).all()
    avoided = joined.filter(pl.col("avoided_case") == 1)
    assert avoided["outcome"].is_in(["afgeschreven", "zonder_incasso"]).all() and not avoided["stage"].is_in(["incasso", "deurwaarder"]).any()
    assert "bsn" not in mart.columns and "bsn" not in advice.columns


def test_few_persons_have_more_small_claims_in_a_month_than_the_release_counts(warehouse):
    """The release counts at most 3 small claims per person per month (its rationale says how many have more)."""
    per_person = warehouse.execute(f"SELECT month, person_id, COUNT(*) AS n FROM {debt_pipeline.SMALL_CLAIMS_MART} GROUP BY 1, 2").pl()
    assert (per_person["n"] > release_specs()["debt_kpis"].contribution.max_rows_per_unit).mean() < 0.02


def test_without_noise_the_released_kpis_reconcile_and_equal_the_mart(warehouse):
    """detected = written off + without collection + to collection + still open, per month and per kind of creditor."""
    spec = release_specs()["debt_kpis"]
    months = [row[0] for row in warehouse.execute(f"SELECT DISTINCT month FROM {debt_pipeline.SMALL_CLAIMS_MART} ORDER BY 1").fetchall()]
    cells = level_cells(sufficient_statistics(warehouse, spec, months), spec, months)
    released = post_process(cells, spec, noiseless(plan(spec)))
    counts = released.filter(pl.col("measure") == "small_claims").select("period", LEVEL, "creditor_type", pl.col("estimate").alias("claims"))
    shares = released.filter(pl.col("measure") == "outcome").group_by("period", LEVEL, "creditor_type").agg(pl.col("estimate").sum())
    joined = counts.join(shares, on=["period", LEVEL, "creditor_type"], nulls_equal=True).filter(pl.col("claims") > 0)
    assert joined.height > 0 and (joined["estimate"] - 100.0).abs().max() < 1e-9  # the four outcomes are all of them
    bounded = warehouse.execute(f"""
        SELECT month, COUNT(*) FROM (SELECT *, row_number() OVER (PARTITION BY month, person_id ORDER BY claim_id) AS k
                                    FROM {debt_pipeline.SMALL_CLAIMS_MART}) WHERE k <= 3 GROUP BY 1""").fetchall()
    nation = dict(counts.filter(pl.col(LEVEL) == "nation").select("period", "claims").iter_rows())
    assert nation == {month: float(n) for month, n in bounded}


def test_the_kpis_are_released_per_closed_month_and_charged_to_the_person_budget(warehouse):
    released = warehouse.execute("SELECT DISTINCT period FROM releases.debt_kpis").fetchall()
    months = {row[0] for row in warehouse.execute(f"SELECT DISTINCT month FROM {debt_pipeline.SOURCE_MART}").fetchall()}
    closed = {m for m in months if debt_pipeline.evaluation_day(m, date.today()) < date.today()}
    assert {row[0] for row in released} == closed
    ledger = warehouse.execute("SELECT unit_kind, epsilon FROM privacy.ledger WHERE release_name = 'debt_kpis'").fetchall()
    assert ledger and all(kind == "person" and epsilon == pytest.approx(0.8) for kind, epsilon in ledger)


def test_the_analysts_page_shows_the_released_kpis_with_intervals_and_no_claim(pipeline, accounts, monkeypatch):
    """The page shows per kind of creditor the released figures ('x' with the reason where too uncertain), nothing per claim."""
    from dashboards.debt_figures import OUTCOME_LABELS
    from tests.conftest import logged_in

    monkeypatch.setenv("MKB_DATA_DIR", str(pipeline.data_dir))
    app = logged_in(accounts["analyst"])
    app.switch_page("views/schulden.py").run()
    assert not app.exception and not app.error
    table = app.table[0].value
    assert list(table.columns) == ["Schuldeiser", "Kleine schulden", *OUTCOME_LABELS.values(), "Voorkomen incassozaken", "Besparing (euro)"]
    assert table["Schuldeiser"].iloc[0] == "Heel Nederland" and "Gemeente" in set(table["Schuldeiser"])
    assert re.fullmatch(r"[0-9.]+ \([0-9.]+ tot [0-9.]+\)", table["Kleine schulden"].iloc[0])  # the nation's count with its interval
    shown = " ".join(table.astype(str).to_numpy().ravel())
    assert "claim" not in shown.lower() and not re.search(r"[0-9a-f]{16,}", shown)  # no claim ids or pseudonyms
    costs = app.table[1].value  # collection costs per euro collected, the nation first
    assert list(costs.columns) == ["Schuldeiser", "Invorderingskosten (euro)", "Geïnd (euro)", "Kosten per geïnde euro"]
    ratio = costs["Kosten per geïnde euro"].iloc[0]  # a figure with its interval, or 'x' with the reason (the test warehouse is small)
    assert re.fullmatch(r"\d+,\d{2} euro \(\d+,\d{2} tot \d+,\d{2} euro\)", ratio) or re.fullmatch(r"x \(.{10,}\)", ratio), ratio


def test_a_respondent_cannot_open_the_debt_page(pipeline, accounts, monkeypatch):
    from tests.conftest import logged_in

    monkeypatch.setenv("MKB_DATA_DIR", str(pipeline.data_dir))
    app = logged_in(accounts["respondent"])
    app.switch_page("views/schulden.py").run()
    assert any("alleen voor" in e.value for e in app.error)  # refused by the page itself, with the reason
    assert not app.table and "Kleine schulden" not in " ".join(m.value for m in app.markdown)


# --------------------------------------------------------------------------- early warning


def test_risk_classes_follow_the_documented_thresholds():
    """Hand-made claims of three persons: red (3 creditors), orange (one essential arrear), green; a repeat within 6 months."""
    rows = [
        # person, month, creditor, debt type, principal (cents), municipality
        ("p1", "2026-05", "GM0363", "parkeerboete", 6_500, "GM0363"), ("p1", "2026-05", "cjib", "verkeersboete", 9_000, "GM0363"),
        ("p1", "2026-05", "zv_a", "zorgpremie", 42_000, "GM0363"),
        ("p2", "2026-05", "el_a", "energie", 30_000, "GM0599"),
        ("p3", "2026-01", "duo", "studieschuld", 90_000, "GM0014"), ("p3", "2026-05", "duo", "studieschuld", 90_000, "GM0014"),
        ("p4", "2025-10", "uwv", "terugvordering_uitkering", 50_000, "GM0014"), ("p4", "2026-05", "uwv", "terugvordering_uitkering", 50_000, "GM0014"),
    ]
    advice = pl.DataFrame(rows, schema=["person_id", "month", "creditor", "debt_type", "principal_cents", "municipality"], orient="row")
    risk = {(r["person_id"], r["month"]): r for r in debt_pipeline.person_risk(advice).iter_rows(named=True)}
    assert risk["p1", "2026-05"]["risk"] == "rood" and risk["p1", "2026-05"]["province"] == "PV27"
    assert risk["p2", "2026-05"]["risk"] == "oranje" and risk["p3", "2026-05"]["risk"] == "groen"
    assert risk["p3", "2026-05"]["repeat_signal"] == 1 and risk["p3", "2026-01"]["repeat_signal"] == 0
    assert risk["p4", "2026-05"]["repeat_signal"] == 0  # seven months later: not within six


def test_the_early_warning_is_released_per_month_and_small_municipalities_show_x(warehouse):
    mart = warehouse.execute(f"SELECT * FROM {debt_pipeline.RISK_MART}").pl()
    assert mart.select("person_id", "month").is_duplicated().sum() == 0 and set(mart["risk"]) <= set(debt_pipeline.RISK_CLASSES)
    cells = warehouse.execute("SELECT * FROM releases.debt_risk WHERE measure = 'persons'").pl()
    per_municipality = mart.group_by("month", "municipality").len()
    assert per_municipality["len"].min() < 10  # the test data has small municipalities ...
    small = cells.filter((pl.col("level") == "municipality") & pl.col("suppressed"))
    assert small.height > 0 and small["estimate"].is_null().all()  # ... and they are 'x', not a noisy count
    assert cells.filter(pl.col("level") == "nation")["suppressed"].sum() == 0


def test_the_analysts_page_shows_the_early_warning_per_province(pipeline, accounts, monkeypatch):
    from tests.conftest import logged_in

    monkeypatch.setenv("MKB_DATA_DIR", str(pipeline.data_dir))
    app = logged_in(accounts["analyst"])
    app.switch_page("views/schulden.py").run()
    app.radio(key="risk_level").set_value("province").run()
    assert not app.exception and not app.error
    table = next(t.value for t in app.table if "Gebied" in t.value.columns)
    assert list(table.columns) == ["Gebied", "Personen met signalen", "Per 1.000 inwoners", "Rood", "Oranje", "Groen",
                                   "Opnieuw gesignaleerd (6 maanden)"]
    assert "Limburg" in set(table["Gebied"]) and len(table) == 12


# --------------------------------------------------------------------------- what-if


def test_a_higher_bagatelle_threshold_writes_off_more_small_claims(warehouse):
    """At every grid point every small claim has one outcome; raising the threshold never writes off fewer claims."""
    mart = warehouse.execute(f"SELECT * FROM {debt_pipeline.WHATIF_MART}").pl()
    points = debt_pipeline.kpi_settings().whatif.points()
    per_point = mart.group_by("month", "debt_whatif_point").agg(pl.len(), (pl.col("outcome") == "afgeschreven").sum().alias("written_off"))
    assert per_point.height == len(points) * mart["month"].n_unique()
    assert (per_point.group_by("month").agg(pl.col("len").n_unique())["len"] == 1).all()  # every point counts the same claims
    assert mart.select("month", "claim_id", "debt_whatif_point").is_duplicated().sum() == 0
    written = {(m, p): w for m, p, _, w in per_point.iter_rows()}
    for month in mart["month"].unique():
        for (low, _, ratio), (high, _, ratio_high) in zip(points, points[len(debt_pipeline.kpi_settings().whatif.cost_ratios):]):
            assert ratio == ratio_high and written[month, low] <= written[month, high]


def test_whatif_rules_drop_own_thresholds_and_crises():
    from decimal import Decimal

    rules = debt_pipeline.whatif_rules(Decimal("75.00"), Decimal(4))
    for day in (date(2026, 2, 1), date(2026, 6, 1)):  # Rotterdam's crisis period and after it
        resolved = rules.resolve(day, "gemeente", "GM0599")
        assert resolved.bagatelle_threshold_cents == 7_500 and resolved.cost_ratio_hundredths == 400
    assert rules.resolve(date(2026, 6, 1), "cjib").bagatelle_threshold_cents == 7_500
    assert rules.resolve(date(2026, 6, 1), "cjib").max_claims_in_collection == 3  # the other rules stay


def test_the_analyst_picks_a_grid_point_and_sees_its_released_shares_beside_todays(pipeline, accounts, monkeypatch):
    from decimal import Decimal

    from tests.conftest import logged_in

    monkeypatch.setenv("MKB_DATA_DIR", str(pipeline.data_dir))
    app = logged_in(accounts["analyst"])
    app.switch_page("views/schulden.py").run()
    app.select_slider(key="whatif_threshold").set_value(Decimal("100.00")).run()
    assert not app.exception and not app.error
    table = next(t.value for t in app.table if "Met deze keuze" in t.value.columns)
    assert list(table["Advies"]) == ["Afgeschreven (kwijtgescholden)", "Opgelost zonder incasso", "Naar incasso", "Nog open (gepauzeerd)"]
    assert all(re.fullmatch(r"(x.*|[0-9]+% \([0-9]+ tot [0-9]+%\))", v) for v in [*table["Met deze keuze"], *table["Met de regels van nu"]])


def test_the_collection_mart_has_every_claim_with_its_costs_and_principal_collected(warehouse):
    mart = warehouse.execute(f"SELECT * FROM {debt_pipeline.COLLECTION_MART}").pl()
    claims = warehouse.execute(f"""SELECT month, claim_id, costs_so_far, GREATEST(original_amount - GREATEST(current_amount - costs_so_far, 0), 0)
                                          AS collected FROM {debt_pipeline.SOURCE_MART}""").pl()
    joined = claims.join(mart, on=["month", "claim_id"], how="full", coalesce=True)
    assert joined.height == mart.height == claims.height > 0  # every claim of every month, once
    assert (joined["costs_euro"] == joined["costs_so_far"]).all() and (joined["collected_euro"] == joined["collected"]).all()
    assert (mart["collected_euro"] > 0).mean() > 0.1 and (mart["costs_euro"] > 0).mean() > 0.1  # the synthetic mix pays and charges


def test_without_noise_the_cost_per_euro_collected_is_the_ratio_of_the_clamped_sums(warehouse):
    spec = release_specs()["debt_collection_cost"]
    months = [row[0] for row in warehouse.execute(f"SELECT DISTINCT month FROM {debt_pipeline.COLLECTION_MART} ORDER BY 1").fetchall()]
    cells = level_cells(sufficient_statistics(warehouse, spec, months), spec, months)
    released = post_process(cells, spec, noiseless(plan(spec)))
    expected = dict(warehouse.execute(f"""
        SELECT month, SUM(ROUND(LEAST(costs_euro::DOUBLE, 200))) / SUM(ROUND(LEAST(collected_euro::DOUBLE, 600)))  -- whole euros (resolution 1)
        FROM (SELECT *, row_number() OVER (PARTITION BY month, person_id ORDER BY claim_id) AS k FROM {debt_pipeline.COLLECTION_MART})
        WHERE k <= 3 GROUP BY 1""").fetchall())
    ratio = released.filter((pl.col("measure") == "cost_per_euro") & (pl.col(LEVEL) == "nation"))
    assert ratio.height == len(months) > 0
    for row in ratio.iter_rows(named=True):
        assert row["statistic"] == "ratio" and row["estimate"] == pytest.approx(float(expected[row["period"]]), rel=1e-9)
        assert row["dp_low"] == pytest.approx(row["estimate"]) and row["dp_high"] == pytest.approx(row["estimate"])  # no noise: exact


def test_the_cost_per_euro_collected_is_released_and_exported(pipeline, warehouse):
    cells = warehouse.execute("SELECT * FROM releases.debt_collection_cost WHERE measure = 'cost_per_euro' AND level = 'nation'").pl()
    assert cells.height > 0
    shown = cells.filter(~pl.col("suppressed"))
    assert ((shown["ci_low"] <= shown["estimate"]) & (shown["estimate"] <= shown["ci_high"]) & (shown["ci_low"] >= 0)).all()
    assert any((pipeline.exports / "debt_collection_cost").glob("*.parquet"))


def test_a_ratio_whose_denominator_is_not_above_the_noise_is_x_with_that_reason():
    from tests.test_privacy_coverage import debt_frame, exact_cells

    spec = release_specs()["debt_collection_cost"]
    nothing_collected = debt_frame(300).with_columns(pl.lit(0.0).alias("collected_euro"))
    cells = exact_cells(spec, nothing_collected, "marts.debt_collection", "2026-01")
    released = post_process(cells, spec, noiseless(plan(spec))).filter(pl.col("measure") == "cost_per_euro")
    assert released.height > 0 and released["suppressed"].all() and released["estimate"].is_null().all()
    assert set(released["suppression_reason"]) == {"te onzeker: het bedrag waardoor gedeeld wordt, is niet groter dan de ruis"}


DEBT_TABLES = (debt_pipeline.ADVICE_TABLE, debt_pipeline.SMALL_CLAIMS_MART, debt_pipeline.RISK_MART, debt_pipeline.WHATIF_MART,
               debt_pipeline.COLLECTION_MART)


def _warehouse_copy(pipeline, tmp_path):
    """A copy of the test warehouse to rebuild the debt tables in (the module's own stays read-only)."""
    import shutil

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline.warehouse, copy)
    return copy


def _debt_contents(connection) -> dict[str, list]:
    return {table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in DEBT_TABLES}


@pytest.mark.parametrize("claims_per_part", [7, 300])
def test_a_build_in_parts_of_persons_makes_the_tables_a_build_of_whole_months_makes(pipeline, tmp_path, monkeypatch, claims_per_part):
    """Every claim of a person in one part: the rules, the what-if grid and the risk classes (across months) see the
    same claims together, so the tables hold the same rows, however many parts a month is split into."""
    copy, contents = _warehouse_copy(pipeline, tmp_path), _debt_contents

    with warehouse_connect(copy) as connection:
        whole = debt_pipeline.build(connection, today=date(2026, 12, 1), whole=True)
        expected = contents(connection)
        monkeypatch.setattr(debt_pipeline, "CLAIMS_PER_PART", claims_per_part)
        months = connection.execute(f"SELECT count(*) FROM {debt_pipeline.SOURCE_MART} GROUP BY month").fetchall()
        assert max(rows for (rows,) in months) > claims_per_part  # a month really is split
        assert debt_pipeline.build(connection, today=date(2026, 12, 1), whole=True) == whole
        assert contents(connection) == expected


def test_a_build_that_stops_halfway_leaves_the_old_tables_whole_and_the_next_build_finishes(pipeline, tmp_path, monkeypatch):
    copy, contents = _warehouse_copy(pipeline, tmp_path), _debt_contents

    with warehouse_connect(copy) as connection:
        before = contents(connection)
        monkeypatch.setattr(debt_pipeline, "CLAIMS_PER_PART", 50)
        calls = {"n": 0}
        evaluate = debt_pipeline.advice_of_month

        def stops_at_the_third_part(*arguments, **keywords):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("the machine stops")
            return evaluate(*arguments, **keywords)

        monkeypatch.setattr(debt_pipeline, "advice_of_month", stops_at_the_third_part)
        with pytest.raises(RuntimeError):
            debt_pipeline.build(connection, today=date(2026, 12, 1), whole=True)
        assert contents(connection) == before  # the old tables, whole: the parts went to the __next tables only
        monkeypatch.setattr(debt_pipeline, "advice_of_month", evaluate)
        debt_pipeline.build(connection, today=date(2026, 12, 1), whole=True)
        assert contents(connection) == before
        left = connection.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%__next'").fetchone()[0]
        assert left == 0


def _source_as_table(connection) -> list[str]:
    """The source mart (a SQLMesh view) as a table of its own rows, to change in the test; its months."""
    connection.execute(f"CREATE TABLE marts.debt_claim_month_rows AS SELECT * FROM {debt_pipeline.SOURCE_MART}")
    connection.execute(f"DROP VIEW {debt_pipeline.SOURCE_MART}")
    connection.execute("ALTER TABLE marts.debt_claim_month_rows RENAME TO debt_claim_month")
    return [m for (m,) in connection.execute(f"SELECT DISTINCT month FROM {debt_pipeline.SOURCE_MART} ORDER BY 1").fetchall()]


def test_a_build_makes_again_only_the_months_that_changed_and_equals_a_whole_build(pipeline, tmp_path, monkeypatch):
    copy, contents = _warehouse_copy(pipeline, tmp_path), _debt_contents
    today = date(2026, 12, 1)
    with warehouse_connect(copy) as connection:
        months = _source_as_table(connection)
        assert len(months) >= 3
        assert debt_pipeline.build(connection, today=today, whole=True).made_again == tuple(months)
        assert debt_pipeline.build(connection, today=today).made_again == ()  # nothing changed: nothing made again
        changed, erased, kept = months[0], months[1], months[-1]
        # A marker in a month that does not change: it stays (the month is not made again).
        connection.execute(f"""INSERT INTO {debt_pipeline.ADVICE_TABLE} SELECT * REPLACE ('marker' AS claim_id)
                               FROM {debt_pipeline.ADVICE_TABLE} WHERE month = ? LIMIT 1""", [kept])
        person = connection.execute(f"SELECT min(person_id) FROM {debt_pipeline.SOURCE_MART} WHERE month = ?", [changed]).fetchone()[0]
        connection.execute(f"DELETE FROM {debt_pipeline.SOURCE_MART} WHERE month = ? AND person_id = ?", [changed, person])
        connection.execute(f"DELETE FROM {debt_pipeline.SOURCE_MART} WHERE month = ?", [erased])  # a month gone (retention)

        monkeypatch.setattr(debt_pipeline, "CLAIMS_PER_PART", 40)
        evaluate = debt_pipeline.advice_of_month

        def stops(*arguments, **keywords):
            raise RuntimeError("the machine stops")

        before = contents(connection)
        monkeypatch.setattr(debt_pipeline, "advice_of_month", stops)
        with pytest.raises(RuntimeError):
            debt_pipeline.build(connection, today=today)
        assert contents(connection) == before  # a crash in the middle: the old rows, all of them
        monkeypatch.setattr(debt_pipeline, "advice_of_month", evaluate)

        built = debt_pipeline.build(connection, today=today)
        assert built.made_again == (changed, erased)
        marker = f"SELECT COUNT(*) FROM {debt_pipeline.ADVICE_TABLE} WHERE month = ? AND claim_id = 'marker'"
        assert connection.execute(marker, [kept]).fetchone()[0] == 1
        for table in (*debt_pipeline.MONTH_TABLES, debt_pipeline.RISK_MART):
            assert not connection.execute(f"SELECT COUNT(*) FROM {table} WHERE month = ?", [erased]).fetchone()[0], table
            assert not connection.execute(f"SELECT COUNT(*) FROM {table} WHERE month = ? AND person_id = ?", [changed, person]).fetchone()[0]
        connection.execute(f"DELETE FROM {debt_pipeline.ADVICE_TABLE} WHERE claim_id = 'marker'")
        incremental = {table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
                       for table in (*DEBT_TABLES, debt_pipeline.FACTS_TABLE)}
        whole = debt_pipeline.build(connection, today=today, whole=True)
        assert whole.made_again == tuple(m for m in months if m != erased)
        assert whole[:5] == (built.advice - 1, *built[1:5])  # built counted the marker row
        assert incremental == {table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
                               for table in (*DEBT_TABLES, debt_pipeline.FACTS_TABLE)}

        # The running month: its evaluation day is today, so a new day makes it (and only it) again.
        assert debt_pipeline.build(connection, today=date(2026, 12, 2)).made_again == tuple(m for m in months if m >= "2026-12" and m != erased)
