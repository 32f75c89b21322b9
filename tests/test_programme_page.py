"""The support programme in the test installation: releases per closed quarter charged to the ledger, the contribution
bound measured on the synthetic programme, the analysts' page, and the projection to the target."""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest

from core.periods import quarter_of
from core.warehouse import connect as warehouse_connect
from dashboards import programme_figures as figures
from privacy.loading import release_specs
from programme import pipeline as programme_pipeline

PROGRAMME_RELEASES = ("programme_funnel", "programme_conversion", "programme_flow", "programme_ecosystem")
FIGURE = re.compile(r"(\d[\d.]*(,\d+)?%? \(\d[\d.]*(,\d+)?%? tot \d[\d.]*(,\d+)?%?\)|x( \(.{10,}\))?|)")


@pytest.fixture(scope="module")
def warehouse(pipeline):
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        yield connection


def test_every_programme_release_is_a_spec_charged_per_closed_quarter(warehouse):
    quarters = {row[0] for row in warehouse.execute(
        f"SELECT quarter FROM {programme_pipeline.FIRM_QUARTER} UNION SELECT quarter FROM {programme_pipeline.FIRM_PLATFORM}").fetchall()}
    closed = {q for q in quarters if q < quarter_of(date.today())}
    assert len(closed) >= 7  # two years of the programme
    for name in [n for n, spec in release_specs().items() if spec.dataset == "programme"]:  # the themes' releases too
        charged = {row[0] for row in warehouse.execute("SELECT period FROM privacy.ledger WHERE release_name = ?", [name]).fetchall()}
        assert charged == closed, name  # every release of the dataset covers the same quarters, with rows or not
    for name in PROGRAMME_RELEASES:
        spec = release_specs()[name]
        assert spec.dataset == "programme" and spec.privacy_loss.rho > 0
        charged = warehouse.execute("SELECT period, dataset, unit_kind, rho FROM privacy.ledger WHERE release_name = ?", [name]).fetchall()
        assert {row[0] for row in charged} == closed, name
        assert all(row[1] == "programme" and row[2] == "firm" and row[3] == pytest.approx(spec.privacy_loss.rho) for row in charged)


def test_no_firm_enters_or_leaves_more_stages_in_a_quarter_than_the_funnel_counts(warehouse):
    """The funnel counts at most 3 stages entered and left per firm per quarter (its rationale): measured here."""
    most = warehouse.execute(f"""
        SELECT max(len(string_split(coalesce(entered, ''), ';'))), max(len(string_split(coalesce(left_stages, ''), ';')))
        FROM {programme_pipeline.FIRM_QUARTER}""").fetchone()
    bound = release_specs()["programme_funnel"].measure("entered").max_selections
    assert max(most) <= bound


def test_the_mart_has_one_stage_per_firm_and_quarter_and_no_identifier(warehouse):
    frame = warehouse.execute(f"SELECT * FROM {programme_pipeline.FIRM_QUARTER}").pl()
    assert frame.height > 0 and frame.select("firm_id", "quarter").is_unique().all()
    assert frame["stage"].is_in(programme_pipeline.STAGES).all()
    assert not {"kvk_number", "registration_id", "consultant"} & set(frame.columns)


def test_the_analysts_page_shows_the_funnel_with_intervals_and_downloads(pipeline, accounts, monkeypatch):
    from tests.conftest import logged_in

    monkeypatch.setenv("MKB_DATA_DIR", str(pipeline.data_dir))
    app = logged_in(accounts["analyst"])
    app.switch_page("views/programma.py").run()
    assert not app.exception and not app.error
    assert app.title[0].value == "MKB-aanpak Limburg"
    headers = [h.value for h in app.header]
    assert {"Op weg naar het doel", "De trechter", "Lerend ecosysteem: welk aanbod gebruiken bedrijven?", "Downloaden"} <= set(headers)
    funnel = app.table[0].value
    assert list(funnel.columns) == ["Stap", "Bedrijven tot nu toe", "Doorstroom vanaf de vorige stap"]
    assert funnel["Stap"].tolist()[0] == "Aangemeld" and len(funnel) == 6
    shown = [str(v) for table in app.table for v in table.value.to_numpy().ravel()]
    assert any(re.fullmatch(r"\d[\d.]* \(\d[\d.]* tot \d[\d.]*\)", v) for v in shown)  # at least one count with its interval
    text = " ".join(shown)
    assert not re.search(r"[0-9a-f]{16,}", text) and "R-" not in text  # no pseudonym or case number
    choices = app.selectbox(key="programme_group").options
    assert "Hele programma" in choices and any(c.startswith("Regio: ") for c in choices) and any(c.startswith("Partner: ") for c in choices)
    app.selectbox(key="programme_group").set_value(next(g for g in app.selectbox(key="programme_group").options if g.startswith("Partner: ")))
    app.run()
    assert not app.exception and any("niet per partner" in c.value for c in app.caption)
    assert {b.label for b in app.get("download_button")} >= {"Download de tabellen (CSV)", "Download de gepubliceerde cijfers (Parquet)"}


@pytest.mark.parametrize("role", ["respondent", "consultant", "creditor"])
def test_other_roles_cannot_open_the_programme_page(pipeline, accounts, monkeypatch, role):
    from tests.conftest import logged_in

    monkeypatch.setenv("MKB_DATA_DIR", str(pipeline.data_dir))
    app = logged_in(accounts[role])
    app.switch_page("views/programma.py").run()
    assert any("alleen voor" in e.value for e in app.error)
    assert not app.table


def _progress_cells(values: list[tuple[str, float, float]]) -> pl.DataFrame:
    """Released cells of reached_financeable for the programme: (quarter, estimate, half-width)."""
    return pl.DataFrame([{"period": q, "level": "programme", "measure": "reached_financeable", "statistic": "sum", "category": None,
                          "estimate": e, "ci_low": e - h, "ci_high": e + h, "suppressed": False, "suppression_reason": None}
                         for q, e, h in values])


def test_the_projection_follows_the_pace_and_says_nothing_when_it_is_too_uncertain():
    steady = figures.target_progress(_progress_cells([(f"2025-Q{i}", 10.0 * i, 3.0) for i in range(1, 5)] + [("2026-Q1", 50.0, 3.0)]))
    assert steady.pace[0] == pytest.approx(10.0) and steady.pace[1] < 10.0 < steady.pace[2]
    assert steady.reached_at[75].startswith("verwacht in 4e kwartaal 2026") and "3e kwartaal 2026" in steady.reached_at[75]
    done = figures.target_progress(_progress_cells([("2025-Q1", 60.0, 3.0), ("2025-Q2", 110.0, 3.0)]))
    assert done.reached_at[75] == "bereikt" and done.reached_at[100] == "bereikt"
    flat = figures.target_progress(_progress_cells([("2025-Q1", 5.0, 6.0), ("2025-Q2", 6.0, 6.0)]))
    assert flat.reached_at[75].startswith("niet te zeggen")
    single = figures.target_progress(_progress_cells([("2025-Q1", 5.0, 6.0)]))
    assert single.pace is None and single.reached_at[100].startswith("niet te zeggen")
