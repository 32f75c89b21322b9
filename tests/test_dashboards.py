"""Every page runs without exceptions and shows its key figures (Streamlit AppTest), and the
dashboard data functions post-process the released long-format files correctly."""

from __future__ import annotations

import json
import re
import shutil

import polars as pl
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from core.contracts import SubmissionError
from dashboards.cgc import (
    MAX_PEER_HALF_WIDTH,
    balance_releases,
    balance_series,
    mark_clear_drops,
    peer_figures,
    profile_releases,
    submit_cgc,
)
from dashboards.formatting import nl_number
from dashboards.released import privacy_budget
from privacy.ledger import composed
from privacy.loading import privacy_settings, release_specs
from tests.conftest import demo_accounts, logged_in, released_quarters, released_waves

APP = "../dashboards/app.py"
SIGNED = re.compile(r"[+-]?\d{1,3}(\.\d{3})*(,\d+)?")


def number(text: str) -> float:
    """A number in Dutch notation ('+9,6', '1.234', '-0,70') as a float; fails on anything else."""
    assert SIGNED.fullmatch(text), f"not a number: {text!r}"
    return float(text.replace(".", "").replace(",", "."))


def charts(app: AppTest) -> list[tuple[dict, list[dict]]]:
    """Each chart's Vega-Lite spec and the rows of its data (Streamlit sends the data apart, as Arrow)."""
    shown = []
    for chart in app.get("vega_lite_chart"):
        rows = [row for data in chart.proto.datasets for row in pa.ipc.open_stream(data.data.data).read_all().to_pylist()]
        shown.append((json.loads(chart.proto.spec), rows))
    return shown


@pytest.fixture()
def app(pipeline, accounts, monkeypatch):
    """The Gezondheidscheck page of an analyst's session (an analyst lands on 'Overzicht': tests/test_overview.py)."""
    monkeypatch.setenv("MKB_DATA_DIR", str(pipeline.data_dir))
    app = logged_in(accounts["analyst"])
    app.switch_page("views/gezondheidscheck.py").run()
    return app


@pytest.fixture()
def released_only(pipeline, tmp_path, monkeypatch):
    """A data folder with a copy of the released files only (and accounts), so a test may write to its landing zone."""
    shutil.copytree(pipeline.exports, tmp_path / "exports")
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture()
def respondent_app(released_only):
    """The CGC form of a respondent's session (a respondent lands on 'Mijn overzicht': tests/test_own_work.py)."""
    app = logged_in(demo_accounts(released_only)["respondent"])
    app.switch_page("views/invullen.py").run()
    return app


# --------------------------------------------------------------------------- pages


def test_analyst_page_shows_balance_band_and_key_figures(app):
    assert not app.exception and not app.error
    assert app.title[0].value == "Gezondheidscheck van het MKB"
    balance, interval, firms = app.metric
    assert balance.label.startswith("Saldo orderportefeuille")
    assert -100 <= number(balance.value) <= 100
    assert balance.value[0] in "+-0" and "t.o.v." in balance.delta
    low, high = (number(part) for part in interval.value.split(" tot "))
    assert low <= number(balance.value) <= high
    assert number(firms.value) > 0
    spec, rows = charts(app)[0]
    assert {layer["mark"]["type"] for layer in spec["layer"]} >= {"area", "line"}  # the band and the line
    assert [row["wave"] for row in rows if "wave" in row] == ["jul 2026", "aug 2026", "sep 2026", "okt 2026"]
    table = app.table[0].value
    assert list(table.columns) == ["Sector", "Saldo", "95%-interval", "Bedrijven (ongeveer)"]
    assert len(table) == 21 and (table["Saldo"] == "x").any()  # small sectors are suppressed ...
    assert "x = dit cijfer tonen we niet" in app.caption[-1].value and "minder dan 10" in app.caption[-1].value


@pytest.mark.parametrize(
    ("level", "key", "group", "column"),
    [("sector", "group_sector", "G", "Sector"), ("province", "group_province", "PV27", "Provincie"),
     ("size_class", "group_size_class", "0-1", "Grootteklasse")],
)
def test_analyst_page_breakdowns(app, level, key, group, column):
    app.selectbox(key="question").select("sentiment").run()
    app.selectbox(key="level").select(level).run()
    app.selectbox(key=key).select(group).run()
    assert not app.exception and not app.error
    if app.metric:  # the group has a published balance ...
        assert app.metric[0].label.startswith("Saldo economisch sentiment")
        number(app.metric[0].value)
    else:  # ... or the page says why not
        assert "tonen we geen saldo" in app.warning[0].value
    assert app.table[0].value.columns[0] == column


def test_sentiment_page_shows_mean_median_and_challenges(app):
    app.switch_page("views/sentiment.py").run()
    assert not app.exception and not app.error
    mean, median, firms = app.metric
    assert 1 <= number(mean.value) <= 5
    assert median.value in {"Zeer negatief", "Negatief", "Neutraal", "Positief", "Zeer positief"}
    assert number(firms.value) > 0
    (_, trend), (bars, shares) = charts(app)
    assert {row["figure"] for row in trend} == {"Gemiddelde", "Mediaan"}
    assert "Personeel vinden" in {row["label"] for row in shares}  # Dutch labels from the questionnaire
    assert all(row["ci_low"] <= row["estimate"] <= row["ci_high"] for row in shares)
    assert any(layer["mark"]["type"] == "errorbar" for layer in bars["layer"])
    app.selectbox(key="profile_group").select("G").run()
    assert not app.exception and not app.error


def test_privacy_page_shows_budget_and_ledger(app, pipeline):
    app.switch_page("views/privacy.py").run()
    assert not app.exception and not app.error
    ledger = app.table[0].value
    assert list(ledger.columns) == ["Publicatie", "Meting", "Versie", "Epsilon", "Delta", "Rho", "Mechanisme", "Beschermde eenheid", "Gemaakt op"]
    cgc = {name: spec for name, spec in release_specs().items() if spec.dataset == "cgc"}
    dis = {name: spec for name, spec in release_specs().items() if spec.dataset == "dis"}
    debts = {name: spec for name, spec in release_specs().items() if spec.dataset == "debts"}
    # every CGC spec per closed wave (from the first with answers), every DIS spec per closed proposal (3), the running series
    # of each open proposal (2), every debt spec per closed month of deliveries (3)
    programme = [name for name, spec in release_specs().items() if spec.dataset == "programme"]  # per closed quarter
    assert len(ledger) == (len(cgc) * released_waves() + len(dis) * 3 + 2 + len(debts) * 3  # and every debt spec per closed month (3)
                           + len(programme) * released_quarters(pipeline))
    assert set(ledger["Publicatie"]) >= {spec.title for spec in release_specs().values()}
    # every spec released once per wave: zCDP, so their rho add up and the wave's loss is that sum as (epsilon, delta)
    losses = [(s.privacy_loss.epsilon or 0.0, s.privacy_loss.delta, s.privacy_loss.rho or 0.0) for s in cgc.values()]
    per_wave = composed(losses, privacy_settings().datasets["cgc"].budget_per_period.delta)[0]
    assert per_wave == pytest.approx(2.5, abs=0.01)
    budget, rows = charts(app)[0]
    assert [row["epsilon_spent"] for row in rows if "epsilon_spent" in row and row.get("dataset", "cgc") == "cgc"][:4] == [pytest.approx(per_wave)] * 4
    assert any(layer["mark"]["type"] == "rule" for layer in budget["layer"])
    assert f"{per_wave:.1f}".replace(".", ",") + " van het budget van 3,0" in app.caption[0].value
    text = " ".join(m.value for m in app.markdown)
    assert "Epsilon" in text and "x in een tabel" in text


def test_form_names_the_field_and_rule_in_dutch(respondent_app, released_only):
    app = respondent_app
    assert app.title[0].value == "Gezondheidscheck invullen"
    app.radio(key="order_book").set_value("grown")
    app.button[0].click().run()
    assert not app.exception
    message = app.error[0].value
    assert "Sector: ontbreekt" in message and "Provincie: ontbreekt" in message
    assert not list((released_only / "landing" / "cgc").glob("form_*"))  # nothing written for invalid input


def test_the_form_has_no_way_to_choose_a_firm_and_submits_for_the_account(respondent_app, released_only):
    app = respondent_app
    assert not [t for t in app.text_input if "KvK" in (t.label or "")]
    assert any("eindigend op **678**" in m.value for m in app.markdown)  # the demo firm 12345678, from the account
    with pytest.raises(SubmissionError, match="KvK-nummer: komt uit uw account"):
        submit_cgc({"kvk_number": "87654321", "sector": "G"}, "12345678", released_only / "landing")


def test_form_submission_is_stored_then_compared(respondent_app, released_only):
    app = respondent_app
    app.selectbox(key="sector").select("G")
    app.selectbox(key="size_class").select("2-9")
    app.selectbox(key="province").select("PV31")
    app.radio(key="order_book").set_value("grown")
    app.radio(key="sentiment").set_value("4")
    app.multiselect(key="challenges").set_value(["personeel", "energie"])
    app.button[0].click().run()
    assert not app.exception and not app.error
    assert app.success[0].value == "Bedankt! Uw antwoorden zijn veilig opgeslagen."
    (stored,) = (released_only / "landing" / "cgc").glob("form_*.jsonl")
    assert json.loads(stored.read_text())["kvk_number"] == "12345678"  # the account's firm
    comparison = app.table[0].value
    assert list(comparison["Vraag"]) == ["Orderportefeuille", "Investeringsbereidheid", "Personeelstekort", "Economisch sentiment"]
    assert list(comparison["Uw antwoord"]) == ["Gegroeid", "niet beantwoord", "niet beantwoord", "Positief"]
    assert all(value == "x" or value.endswith("%") for value in comparison["Positief"])
    challenges = app.table[1].value
    assert set(challenges["Uitdaging"]) == {"Personeel vinden", "Energiekosten"}


# --------------------------------------------------------------------------- data functions


def test_newest_version_per_wave_only(pipeline, tmp_path):
    exports = tmp_path / "exports"
    shutil.copytree(pipeline.exports, exports)
    first = pl.read_parquet(exports / "cgc_balance" / "cgc_balance_2026-10_v1.parquet")
    corrected = first.with_columns(pl.lit(2, pl.Int32).alias("version"), pl.lit("cgc_balance/2026-10/v2").alias("release_id"))
    corrected.write_parquet(exports / "cgc_balance" / "cgc_balance_2026-10_v2.parquet")
    cells = balance_releases(exports)
    assert cells.filter(pl.col("period") == "2026-10")["version"].unique().to_list() == [2]
    assert cells.filter(pl.col("period") == "2026-09")["version"].unique().to_list() == [1]
    assert cells.height == balance_releases(pipeline.exports).height


def test_series_joins_balance_and_firms(pipeline):
    series = balance_series(balance_releases(pipeline.exports), "order_book")
    assert series["period"].to_list() == ["2026-07", "2026-08", "2026-09", "2026-10"]
    assert (series["ci_low"] <= series["estimate"]).all() and (series["estimate"] <= series["ci_high"]).all()
    assert series["respondents"].null_count() == 0 and not series["suppressed"].any()


def test_clear_drop_needs_intervals_that_do_not_overlap():
    series = pl.DataFrame(
        {
            "period": ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"],
            "ci_low": [10.0, -40.0, None, -80.0, -85.0],
            "ci_high": [30.0, 5.0, None, -45.0, -40.0],
            "suppressed": [False, False, True, False, False],
        }
    )
    # Feb lies wholly below Jan; Apr wholly below Feb (the suppressed March is skipped); May overlaps Apr.
    assert mark_clear_drops(series)["clear_drop"].to_list() == [False, True, False, True, False]


def _peer_cells(widths: dict[str, float], suppressed: set[str] = frozenset()) -> pl.DataFrame:
    """Released balance cells for one wave: a half-width per level, some levels suppressed."""
    rows = []
    keys = {"nation": (None, None), "sector": ("G", None), "size_class": (None, "2-9")}
    for level, half in widths.items():
        sector, size = keys[level]
        for question in ("order_book", "investment", "staff_shortage", "sentiment"):
            hidden = level in suppressed
            for statistic, category, value in (("balance", None, 10.0), ("share", "positive", 40.0), ("share", "negative", 30.0)):
                rows.append({
                    "period": "2026-10", "level": level, "sector": sector, "size_class": size, "measure": question,
                    "statistic": statistic, "category": category, "estimate": None if hidden else value,
                    "ci_low": None if hidden else value - half, "ci_high": None if hidden else value + half, "suppressed": hidden,
                })
    return pl.DataFrame(rows)


def test_peer_comparison_falls_back_to_larger_groups():
    precise = _peer_cells({"nation": 5, "sector": 20, "size_class": 10})
    assert peer_figures(precise, "G", "2-9").label == "alle bedrijven in Handel"
    hidden = _peer_cells({"nation": 5, "sector": 10, "size_class": 20}, suppressed={"sector"})
    assert peer_figures(hidden, "G", "2-9").label == "alle bedrijven met 2-9 werkzame personen"
    wide = _peer_cells({"nation": 5, "sector": MAX_PEER_HALF_WIDTH + 1, "size_class": 40})
    peers = peer_figures(wide, "G", "2-9")
    assert peers.label == "alle bedrijven in Nederland" and peers.precise
    assert peers.figures["question"].to_list() == ["order_book", "investment", "staff_shortage", "sentiment"]
    assert peers.figures["positive"].to_list() == [40.0] * 4
    nothing_precise = _peer_cells({"nation": 60, "sector": 70, "size_class": 80})
    peers = peer_figures(nothing_precise, "G", "2-9")
    assert peers.label == "alle bedrijven in Nederland" and not peers.precise


def test_privacy_page_shows_a_firms_loss_over_12_months(app, pipeline):
    """The section adds up, from the public ledger, every release about a firm whose period ends in the 12 months."""
    app.switch_page("views/privacy.py").run()
    assert not app.exception and not app.error
    yearly = app.table[1].value
    assert list(yearly.columns) == ["12 maanden tot en met", "Publicaties", "Gegevens", "Epsilon samen", "Grens", "Nog over"]
    ledger = pl.read_parquet(pipeline.exports / "privacy_ledger.parquet").filter(pl.col("unit_kind") == "firm")
    end = ledger["period_end"].max()
    inside = ledger.filter(pl.col("period_end") > end.replace(year=end.year - 1))
    # pure epsilons add, the zCDP releases' rho add and are converted at the cap's delta (OpenDP), then both add up
    loss = composed(list(inside.select("epsilon", "delta", "rho").iter_rows()), privacy_settings().annual_caps["firm"].delta)[0]
    assert loss < inside["epsilon"].sum()  # less than adding each zCDP release's epsilon alone
    titles = {name: d.title_nl for name, d in privacy_settings().datasets.items()}
    datasets = ", ".join(titles[d] for d in sorted(set(inside["dataset"])))
    assert "Gezondheidscheck" in datasets and "Impactsimulaties en consultaties" in datasets
    assert tuple(yearly.iloc[0]) == (f"{end:%d-%m-%Y}", str(inside.height), datasets,
                             nl_number(loss, 1), "60", nl_number(60 - loss, 1))
    text = " ".join(m.value for m in app.markdown)
    assert "verloor een bedrijf dat overal aan meedeed" in text and "Grens per jaar" in text


def test_budget_joins_the_configured_budget(pipeline):
    budget = privacy_budget(pipeline.exports)
    # the closed waves; three closed proposals and the two open ones (their running figures are charged from their first day)
    assert budget.filter(pl.col("dataset") == "cgc").height == released_waves() and budget.filter(pl.col("dataset") == "dis").height == 5
    configured = {name: d.budget_per_period.epsilon for name, d in privacy_settings().datasets.items()}
    assert (budget["epsilon_budget"] == budget["dataset"].replace_strict(configured)).all()
    assert (budget["epsilon_spent"] <= budget["epsilon_budget"]).all()
    assert profile_releases(pipeline.exports)["release_name"].unique().to_list() == ["cgc_profile"]


def test_dutch_numbers():
    assert nl_number(1234.5, 1) == "1.234,5"
    assert nl_number(-0.04, 1, signed=True) == "0,0"
    assert nl_number(9.57, 1, signed=True) == "+9,6"


# --------------------------------------------------------------------------- the display rule


def test_the_display_rule_shows_only_figures_narrow_enough_to_say_something(monkeypatch):
    """With the real limits (config/display.yaml): a balance within +-10 points shows, one beyond is 'x' with the
    reason in Dutch; a mean's limit is a tenth of its scale (sentiment 1-5: 0.4); a count whose interval reaches 0 is 'x'."""
    from dashboards.released import DISPLAY_CONFIG, apply_display_rule, display_limits

    monkeypatch.delenv(DISPLAY_CONFIG, raising=False)
    assert display_limits()["balance"] == 10 and display_limits()["mean"] == 0.1
    cells = pl.DataFrame({
        "measure": ["sentiment", "sentiment", "sentiment_mean", "sentiment_mean", "respondents", "respondents", "sentiment"],
        "statistic": ["balance", "balance", "mean", "mean", "count", "count", "balance"],
        "estimate": [5.0, 5.0, 3.1, 3.1, 400.0, 40.0, None],
        "ci_low": [-4.9, -6.1, 2.75, 2.6, 330.0, 0.0, None], "ci_high": [14.9, 16.1, 3.45, 3.6, 470.0, 110.0, None],
        "basis": [400, 400, 400, 400, 400, 40, None],
        "suppressed": [False, False, False, False, False, False, True],
        "suppression_reason": [None, None, None, None, None, None, "minder dan 10 antwoorden"],
    })
    shown = apply_display_rule(cells, "cgc_profile")
    assert shown["suppressed"].to_list() == [False, True, False, True, False, True, True]
    assert shown["suppression_reason"][1] == "te onzeker om te tonen: de marge is ±11,1, meer dan ±10,0"
    assert shown["suppression_reason"][3] == "te onzeker om te tonen: de marge is ±0,5, meer dan ±0,4"
    assert shown["suppression_reason"][6] == "minder dan 10 antwoorden"  # an earlier reason stays
    hidden = shown.filter(pl.col("suppressed"))
    assert hidden["estimate"].is_null().all() and hidden["ci_low"].is_null().all() and hidden["basis"].is_null().all()


def test_released_cells_follow_the_display_rule_and_pages_explain_the_interval(app, pipeline):
    from dashboards.released import release_cells

    cells = release_cells("cgc_balance", pipeline.exports)
    shown = cells.filter(~pl.col("suppressed") & (pl.col("statistic") == "balance"))
    assert ((shown["ci_high"] - shown["ci_low"]) / 2 <= 60 + 1e-9).all()  # the small installation's limit
    wide = cells.filter(pl.col("suppression_reason").str.starts_with("te onzeker"))
    assert wide["estimate"].is_null().all()
    assert any("twee onzekerheden" in caption.value for caption in app.caption)  # one plain line on what the interval holds
