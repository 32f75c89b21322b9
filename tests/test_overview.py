"""The analysts' home ('Overzicht'): released figures only, each with its interval or 'x', and downloadable."""

from __future__ import annotations

import re

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboards.overview import DOWN, SAME, UP, Z95, balance_state, direction, pipeline_table
from tests.conftest import logged_in

FIGURE = re.compile(r"[+-]?\d+(,\d)?")


@given(st.floats(-80, 80), st.floats(-80, 80), st.floats(0.1, 30), st.floats(0.1, 30))
def test_a_direction_is_named_only_when_the_change_exceeds_both_uncertainties(now, before, half_now, half_before):
    latest = {"estimate": now, "ci_low": now - half_now, "ci_high": now + half_now}
    previous = {"estimate": before, "ci_low": before - half_before, "ci_high": before + half_before}
    said = direction(latest, previous)
    margin = Z95 * ((half_now / Z95) ** 2 + (half_before / Z95) ** 2) ** 0.5
    assert said == (SAME if abs(now - before) <= margin else UP if now > before else DOWN)
    assert direction(latest, None) == ""


def _cells(rows: list[tuple[str, str, float, bool]]) -> pl.DataFrame:
    return pl.DataFrame([{"period": p, "level": "nation", "measure": m, "statistic": "balance", "category": None, "estimate": e,
                          "ci_low": e - 3.0, "ci_high": e + 3.0, "suppressed": hidden} for p, m, e, hidden in rows])


def test_the_state_shows_the_newest_shown_wave_and_x_for_a_question_without_one():
    cells = _cells([("2026-01", "order_book", 5.0, False), ("2026-02", "order_book", -9.0, False), ("2026-03", "order_book", 0.0, True),
                    ("2026-03", "investment", 1.0, True)])
    state = balance_state(cells, {"order_book": "Orderportefeuille", "investment": "Investeringen"})
    book, investment = state.rows(named=True)
    assert (book["Meting"], book["Saldo"], book["Richting"]) == ("feb 2026", "-9,0", DOWN)  # the suppressed March is skipped
    assert (investment["Saldo"], investment["Meting"]) == ("x", "")


class _Proposal:
    def __init__(self, pid: str, phase: str, title: str):
        self.id, self.phase, self.title = pid, phase, title


def test_the_pipeline_sums_the_released_burden_per_phase_and_hides_a_sum_with_a_hidden_part():
    impact = pl.DataFrame([
        {"period": pid, "level": "nation", "measure": measure, "statistic": "mean", "estimate": value, "ci_low": value - 3.0,
         "ci_high": value + 3.0, "suppressed": hidden}
        for pid, measure, value, hidden in [("a", "cost_change_mean", 100.0, False), ("b", "cost_change_mean", 50.0, False),
                                            ("a", "admin_hours_mean", 1.0, False), ("b", "admin_hours_mean", 2.0, True)]
    ])
    proposals = [_Proposal("a", "tweede_kamer", "Wet A"), _Proposal("b", "tweede_kamer", "Wet B"), _Proposal("c", "concept", "Wet C")]
    table = pipeline_table(proposals, impact, {"concept": "Concept", "tweede_kamer": "Tweede Kamer", "aangenomen": "Aangenomen"})
    assert table["Fase"].to_list() == ["Concept", "Tweede Kamer"]  # phases without proposals are left out
    chamber = table.row(1, named=True)
    assert (chamber["Voorstellen"], chamber["Met cijfers"]) == (2, 2)
    assert chamber["Kosten per bedrijf (euro per jaar)"] == "€ 150 ± 4"  # 3 and 3 in quadrature: 4.24
    assert chamber["Administratie per bedrijf (uur per maand)"] == "x"


def test_an_analyst_lands_on_the_overview_with_released_figures_and_downloads(pipeline, accounts, monkeypatch):
    monkeypatch.setenv("MKB_DATA_DIR", str(pipeline.data_dir))
    app = logged_in(accounts["analyst"])
    assert not app.exception and not app.error
    assert app.title[0].value == "Overzicht"
    state = app.table[0].value
    assert list(state.columns) == ["Onderwerp", "Meting", "Saldo", "95%-interval", "Richting", "Gewogen saldo", "Gewogen interval"]
    shown = state[state["Saldo"] != "x"]
    assert len(shown) > 0 and all(FIGURE.fullmatch(value) for value in shown["Saldo"])
    assert set(shown["Richting"]) <= {UP, DOWN, SAME, ""}
    headers = [header.value for header in app.header]
    assert headers == ["Hoe gaat het met het MKB?", "Vroege waarschuwingen", "Beleidspijplijn", "Kleine schulden"]
    assert len(app.get("download_button")) >= 4  # every table as CSV and Parquet


@pytest.mark.parametrize("role", ["respondent", "creditor"])
def test_only_staff_open_the_overview(pipeline, accounts, monkeypatch, role):
    monkeypatch.setenv("MKB_DATA_DIR", str(pipeline.data_dir))
    app = logged_in(accounts[role])
    app.switch_page("views/overzicht.py").run()
    assert not app.exception
    assert all(title.value != "Overzicht" for title in app.title)
