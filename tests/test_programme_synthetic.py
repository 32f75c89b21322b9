"""The synthetic support programme (core/synthetic_programme.py): its deliveries ingest row by row, the funnel has the
seed's shape (about 600 firms scouted, 75 to 100 plans, 25 to 35 sessions each), the same seed writes the same bytes,
and every record's dates lie in its month and not in the future."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import reference
from core.ingest import classify, ingest_bytes, parse
from core.sources import source
from core.synthetic import make_firms
from core.synthetic_programme import DEFECT_KINDS, DELIVERIES, generate_programme, programme_window
from core.warehouse import open_connection as open_warehouse
from tests.conftest import TEST_KEY

TODAY = date.today()
SOURCES = tuple(DELIVERIES)


@pytest.fixture(scope="module")
def population() -> pl.DataFrame:
    """A small firm population (about 170 in Limburg: too few, so the programme makes new firms too)."""
    return make_firms(3_000, np.random.default_rng(11)).select("kvk_number", "sector", "size_class", "province", "municipality")


@pytest.fixture(scope="module")
def programme(tmp_path_factory, population):
    """600 scouted firms generated and ingested into a warehouse of their own: (root folder, connection, files)."""
    root = tmp_path_factory.mktemp("programme")
    files = generate_programme(root / "landing", root / "synthetic", population, TODAY, firms=600)
    connection = open_warehouse(root / "warehouse.duckdb")
    results = [ingest_bytes(connection, path.read_bytes(), path.name, TEST_KEY.encode(), name=path.parent.name) for path in files]
    yield root, connection, files, results
    connection.close()


def _table(connection, name: str, schema: str = "raw") -> pl.DataFrame:
    return connection.execute(f"SELECT * FROM {schema}.{source(name).table}").pl()


def test_every_row_lands_in_raw_or_quarantine_and_only_the_defects_are_quarantined(programme):
    root, connection, files, results = programme
    defects = pl.read_parquet(root / "synthetic" / "programme_defects.parquet")
    assert {path.parent.name for path in files} == set(SOURCES)
    assert {path.suffix for path in files} == {".csv", ".parquet"}
    assert all(result.status == "loaded" and result.rows_in == result.rows_raw + result.rows_quarantined for result in results)
    assert sum(result.rows_duplicate for result in results) == 0
    rows_in = sum(result.rows_in for result in results)
    assert 0.005 <= defects.height / rows_in <= 0.02, (defects.height, rows_in)
    assert set(defects["kind"]) == set(DEFECT_KINDS)
    for name in SOURCES:
        quarantined = _table(connection, name, "quarantine").select("file_name", "row_number", "reason")
        found = defects.filter(pl.col("source") == name).join(quarantined, on=["file_name", "row_number"], how="full", coalesce=True)
        assert found.filter(pl.col("reason").is_null() | pl.col("kind").is_null()).height == 0, (name, found)
        spec, declared = DELIVERIES[name], source(name)
        expected = {"bad_kvk": "KvK-nummer: moet uit precies 8 cijfers bestaan",
                    "unknown_code": f"{declared.label(spec.code_field)}: '{spec.unknown_code}' is geen geldige keuze",
                    "bad_month": "Maand (month): moet een kalendermaand zijn", "bad_date": f"{declared.label(spec.date_field)}: '"}
        for row in found.iter_rows(named=True):
            assert expected[row["kind"]] in row["reason"], row


def test_the_funnel_has_the_shape_of_the_seed(programme):
    root, connection, _, _ = programme
    truth = pl.read_parquet(root / "synthetic" / "programme_firms.parquet")
    registrations = _table(connection, "programme_registrations")
    assert truth.height == 600 and registrations.height >= 585
    regions = registrations["region"].value_counts(normalize=True)
    shares = dict(zip(regions["region"], regions["proportion"], strict=True))
    assert 0.18 <= shares["noord"] <= 0.32 and 0.18 <= shares["midden"] <= 0.32 and 0.42 <= shares["zuid"] <= 0.58, shares
    assert ((registrations["partner"] == "zelf") == (registrations["channel"] == "zelf")).all()
    intakes = _table(connection, "programme_intakes")
    outcome = intakes["outcome"].value_counts(normalize=True)
    outcomes = dict(zip(outcome["outcome"], outcome["proportion"], strict=True))
    assert 0.40 <= outcomes["toegelaten"] <= 0.55 and 0.18 <= outcomes["doorverwezen"] <= 0.33 and 0.18 <= outcomes["niet_geschikt"] <= 0.33
    assert ((intakes["outcome"] == "doorverwezen") == intakes["referred_to"].is_not_null()).all()
    assert intakes.filter(pl.col("outcome") == "niet_geschikt")["intake_reason"].null_count() == 0
    plans = connection.execute("SELECT * FROM raw.programme_plans QUALIFY ROW_NUMBER() OVER "
                               "(PARTITION BY registration_id ORDER BY delivered_at DESC) = 1").pl()
    # About 1 % of the rows are defective on purpose: a plan whose every row was one is in quarantine, not in raw.
    quarantined = connection.execute(f"SELECT COUNT(*) FROM {source('programme_plans').quarantine_table}").fetchone()[0]
    delivered = truth["plan_delivered"].sum()
    assert 75 <= plans.height <= 100 and delivered - quarantined <= plans.height <= delivered
    assert 0.65 <= plans["financeable"].mean() <= 0.92
    assert plans.filter(pl.col("financing_obtained").is_not_null())["financeable"].all()
    assert plans.filter(pl.col("financing_obtained") > pl.col("financing_requested")).height == 0


def test_sessions_and_decisions_follow_the_support_process(programme):
    root, connection, _, _ = programme
    truth = pl.read_parquet(root / "synthetic" / "programme_firms.parquet")
    assert truth.filter(pl.col("plan_delivered"))["held_sessions"].is_between(25, 35).all()
    admitted = set(truth.filter(pl.col("outcome") == "toegelaten")["registration_id"])
    sessions = connection.execute(  # the latest delivery of a session counts (a correction file fixes a few)
        "SELECT * FROM raw.programme_sessions QUALIFY ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY delivered_at DESC) = 1").pl()
    assert set(sessions["registration_id"]) <= admitted  # no firm that was not admitted has a session
    assert set(sessions["consultant"]) <= set(reference.domain_codes("programme_consultant"))
    held = sessions.filter(pl.col("status") == "gehouden")
    assert held["duration_minutes"].is_between(60, 180).all()
    assert (sessions.filter(pl.col("status") == "niet_verschenen")["duration_minutes"] == 0).all()
    assert 0.05 <= 1 - held.height / sessions.height <= 0.11
    per_plan = held.filter(pl.col("registration_id").is_in(truth.filter(pl.col("plan_delivered"))["registration_id"].to_list()))
    counts = per_plan.group_by("registration_id").len()["len"]
    assert counts.is_between(24, 35).mean() >= 0.95 and 25 <= counts.median() <= 35  # a quarantined row may take one away
    gaps = held.sort("session_on").group_by("registration_id").agg(pl.len(), pl.col("session_on").diff().dt.total_days().median())
    assert gaps.filter(pl.col("len") >= 10)["session_on"].is_between(5, 16).all()  # one or two sessions a fortnight
    decisions = _table(connection, "programme_decisions")
    assert ((decisions["decision"] == "stoppen") == decisions["stop_reason"].is_not_null()).all()
    assert set(decisions["registration_id"]) <= admitted


def test_every_date_is_in_its_rows_month_and_nothing_is_in_the_future(programme):
    _, connection, _, _ = programme
    window = programme_window(TODAY)
    now = datetime.now()
    for name in SOURCES:
        rows = _table(connection, name)
        day = pl.col(DELIVERIES[name].date_field)
        assert rows.filter(day.dt.strftime("%Y-%m") != pl.col("month")).height == 0, name
        assert rows.filter((day < window.start) | (day > window.yesterday)).height == 0, name
        assert rows.filter((pl.col("delivered_at") > now) | (pl.col("delivered_at").dt.date() < day)).height == 0, name
    first, last = connection.execute("SELECT MIN(month), MAX(month) FROM raw.programme_platform").fetchone()
    assert (first, last) == (f"{window.start:%Y-%m}", f"{window.yesterday:%Y-%m}")  # two years and the current quarter so far


def test_firms_come_from_the_limburg_population_where_it_has_them(programme, population):
    root, _, _, _ = programme
    truth = pl.read_parquet(root / "synthetic" / "programme_firms.parquet")
    assert truth["kvk_number"].str.contains(r"^[1-9][0-9]{7}$").all() and truth["kvk_number"].n_unique() == truth.height
    known = truth.join(population, on="kvk_number", how="inner")
    assert (known["province"] == "PV31").all() and known.height >= 100
    assert (known["sector"] == known["sector_right"]).all() and (known["size_class"] == known["size_class_right"]).all()


def test_platform_use_differs_by_region_and_size_and_texts_carry_their_themes(programme):
    root, connection, _, _ = programme
    events = _table(connection, "programme_platform")
    registrations = _table(connection, "programme_registrations").select("firm_id", "region", "size_class")
    per_firm = events.group_by("firm_id").len().join(registrations, on="firm_id")
    by_region = dict(per_firm.group_by("region").agg(pl.col("len").mean()).iter_rows())
    by_size = dict(per_firm.group_by("size_class").agg(pl.col("len").mean()).iter_rows())
    assert by_region["zuid"] > by_region["noord"] and by_size["10-49"] > by_size["0-1"], (by_region, by_size)
    questions = events.filter(pl.col("kind") == "vraag")
    assert questions["topic"].null_count() == 0 and questions["text"].null_count() == 0
    assert (questions["answered"] == questions["answer_hours"].is_not_null()).all()
    texts = pl.read_parquet(root / "synthetic" / "programme_texts.parquet")
    for theme, word in {"subsidie_aanvragen": "subsidie", "personeel_vinden": "personeel", "financiering_bank": "bank",
                        "export_regels": "export", "digitalisering_webshop": "webshop", "vergunning": "vergunning"}.items():
        chosen = texts.filter(pl.col("theme") == theme)["text"]
        assert chosen.len() >= 20 and chosen.str.to_lowercase().str.contains(word).all(), theme
    stored = events.filter(pl.col("text").is_not_null()).join(texts, on="event_id")
    assert (stored["text"] == stored["text_right"]).all()  # nothing for the scrubber to take out
    assert events.filter(pl.col("kind").is_in(["behoefte", "klankbord"]))["offer"].null_count() == events.filter(
        pl.col("kind").is_in(["behoefte", "klankbord"])).height


def test_same_seed_same_bytes(tmp_path, population):
    def written(folder: Path, seed: int) -> dict[str, bytes]:
        files = generate_programme(folder / "landing", folder / "synthetic", population, TODAY, firms=40, seed=seed)
        return {f"{path.parent.name}/{path.name}": path.read_bytes() for path in files}

    first, again, other = written(tmp_path / "a", 5), written(tmp_path / "b", 5), written(tmp_path / "c", 6)
    assert first == again
    assert first != other
    assert (tmp_path / "a" / "synthetic" / "programme_firms.parquet").read_bytes() == (
        tmp_path / "b" / "synthetic" / "programme_firms.parquet").read_bytes()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(firms=st.integers(min_value=1, max_value=40), seed=st.integers(min_value=0, max_value=2**31), limburg=st.booleans())
def test_any_size_and_seed_gives_valid_rows_but_for_the_planted_defects(tmp_path_factory, population, firms, seed, limburg):
    """Small programmes, with or without Limburg firms in the population: every row passes the source's rules
    (the ingestion's own parse and checks) except exactly the planted defects, and no firm without an intake
    decision to admit it has a session."""
    root = tmp_path_factory.mktemp("small")
    firms_in = population if limburg else population.filter(pl.col("province") != "PV31")
    files = generate_programme(root / "landing", root / "synthetic", firms_in, TODAY, firms=firms, seed=seed)
    defects = {(row["file_name"], row["row_number"]) for row in pl.read_parquet(root / "synthetic" / "programme_defects.parquet").iter_rows(named=True)}
    truth = pl.read_parquet(root / "synthetic" / "programme_firms.parquet")
    assert truth.height == firms and truth["kvk_number"].n_unique() == firms
    admitted = set(truth.filter(pl.col("outcome") == "toegelaten")["registration_id"])
    for path in files:
        declared = source(path.parent.name)
        rows = classify(parse(path.read_bytes(), path.name, declared), declared)
        refused = {(path.name, number) for number in rows.filter(pl.col("reason_code").is_not_null())["row_number"]}
        assert refused == {defect for defect in defects if defect[0] == path.name}, path.name
        if declared.name == "programme_sessions":
            assert set(rows["registration_id"]) <= admitted
    assert {path.parent.name for path in files} >= {"programme_registrations", "programme_platform"}
