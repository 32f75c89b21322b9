"""The DIS: bad form values get Dutch messages, a resubmission counts once, every DIS release is a spec charged to
the ledger per closed proposal, and the respondent's and analysts' pages show released figures only."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from accounts.store import store
from content.proposals import list_proposals
from core.contracts import SubmissionError
from core.pseudonymise import pseudonym
from core.warehouse import connect as warehouse_connect
from dashboards.dis import running_releases
from dashboards.submissions import submit
from privacy.loading import privacy_settings, release_specs
from tests.conftest import TEST_KEY, data_dir, logged_in, make_installation, run_pipeline


def _open_proposal(data) -> str:
    with store(data / "accounts" / "accounts.sqlite") as connection:
        return next(p.id for p in list_proposals(connection) if p.is_open(date.today()))


PROFILE = {"sector": "I", "size_class": "2-9", "province": "PV26"}


@pytest.mark.parametrize(("answers", "expected"), [
    ({"fte_change": "1000"}, "Personeel (FTE): '1000' ligt buiten het bereik van -250 tot en met 250 FTE"),
    ({"cost_change_euro": "veel"}, "Kostenverandering in euro per jaar: 'veel' is geen getal"),
    ({"admin_hours_per_month": "-300"}, "Extra administratie (uur per maand): '-300' ligt buiten het bereik van -200 tot en met 500 uur per maand"),
    ({"competitive_position": "beter"}, "Concurrentiepositie: 'beter' is geen geldige keuze"),
    ({}, "Antwoorden: beantwoord ten minste één vraag"),
])
def test_bad_form_values_name_the_field_the_value_and_the_rule(pipeline, tmp_path, answers, expected):
    with data_dir(pipeline.data_dir):
        proposal = _open_proposal(pipeline.data_dir)
        with pytest.raises(SubmissionError) as refused:
            submit("dis", {"proposal": proposal, **PROFILE, **answers}, "12345678", landing=tmp_path)
    assert any(problem.startswith(expected) for problem in refused.value.problems), refused.value.problems
    assert not list(tmp_path.rglob("*.jsonl"))  # nothing was stored


def test_an_unknown_proposal_and_a_firm_named_in_the_form_are_refused(pipeline, tmp_path):
    with data_dir(pipeline.data_dir):
        with pytest.raises(SubmissionError, match="Voorstel: 'bestaat-niet' is geen geldige keuze"):
            submit("dis", {"proposal": "bestaat-niet", **PROFILE, "fte_change": "1"}, "12345678", landing=tmp_path)
        with pytest.raises(SubmissionError, match="KvK-nummer: komt uit uw account"):
            submit("dis", {"proposal": _open_proposal(pipeline.data_dir), **PROFILE, "kvk_number": "87654321"}, "12345678", landing=tmp_path)


def test_a_resubmission_replaces_the_earlier_answer_and_counts_once(pipeline, tmp_path):
    installation = make_installation(tmp_path / "installation")
    shutil.copytree(pipeline.data_dir, installation.data_dir)
    with data_dir(installation.data_dir):
        proposal = _open_proposal(installation.data_dir)
        first, later = datetime.now() - timedelta(days=2), datetime.now() - timedelta(days=1)
        submit("dis", {"proposal": proposal, **PROFILE, "cost_change_euro": "12000", "fte_change": "-1"}, "99887766",
               landing=installation.landing, now=first)
        submit("dis", {"proposal": proposal, **PROFILE, "cost_change_euro": "15000"}, "99887766", landing=installation.landing, now=later)
    run_pipeline(installation)
    firm = pseudonym("99887766", TEST_KEY.encode())
    with warehouse_connect(installation.warehouse, read_only=True) as connection:
        raw = connection.execute("SELECT COUNT(*) FROM raw.dis_responses WHERE firm_id = ?", [firm]).fetchone()[0]
        mart = connection.execute("SELECT cost_change_euro, fte_change FROM marts.dis_firm_proposal WHERE firm_id = ? AND proposal = ?",
                                  [firm, proposal]).fetchall()
    assert raw == 2  # both answers are kept (history) ...
    assert mart == [(15000.0, -1.0)]  # ... and the firm counts once, with its latest answer per question


def test_every_dis_release_is_a_spec_charged_to_the_ledger_per_closed_proposal(pipeline):
    specs = {name: spec for name, spec in release_specs().items() if spec.dataset == "dis"}
    assert {"dis_impact", "dis_burden", "consultation_stance"} <= set(specs)
    with store(pipeline.data_dir / "accounts" / "accounts.sqlite") as connection:
        closed = {p.id for p in list_proposals(connection) if p.is_closed(date.today())}
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        ledger = connection.execute("SELECT release_name, period, epsilon FROM privacy.ledger WHERE dataset = 'dis' "
                                    "AND release_name <> 'dis_running'").fetchall()
        spent = dict(connection.execute("SELECT period, epsilon_spent FROM privacy.budget WHERE dataset = 'dis' AND period IN "
                                        "(SELECT period FROM privacy.ledger WHERE release_name <> 'dis_running')").fetchall())
    assert {(name, period) for name, period, _ in ledger} == {(name, period) for name in specs for period in closed}
    assert all(epsilon == pytest.approx(specs[name].privacy_loss.epsilon) for name, _, epsilon in ledger)
    budget = privacy_settings().datasets["dis"].budget_per_period.epsilon
    per_proposal = sum(spec.privacy_loss.epsilon for spec in specs.values())
    assert set(spent) == closed and all(value == pytest.approx(per_proposal) and value <= budget for value in spent.values())


def test_the_respondent_simulates_an_open_proposal_and_sees_similar_firms(pages):
    data, logins = pages
    app = logged_in(logins["respondent"])
    app.switch_page("views/dis_invullen.py").run()
    assert not app.exception and app.title[0].value == "Impact van een voorstel inschatten"
    app.selectbox(key="dis_sector").select("I")
    app.selectbox(key="dis_size_class").select("2-9")
    app.selectbox(key="dis_province").select("PV26")
    app.number_input(key="dis_cost_change_euro").set_value(12000.0)
    app.radio(key="dis_competitive_position").set_value("worse")
    app.button[0].click().run()
    assert not app.exception and "Bedankt! Uw inschatting is veilig opgeslagen." in app.success[0].value
    (stored,) = (data / "landing" / "dis").glob("form_*.jsonl")
    assert '"kvk_number": "12345678"' in stored.read_text()  # the demo account's firm, nobody else's
    # An open proposal has no release yet: the page shows the released running figures (the tussenstand), never raw answers.
    chosen = app.selectbox(key="dis_proposal").value.id
    running = running_releases(data / "exports")
    assert not running.filter(pl.col("proposal") == chosen).is_empty()  # the session pipeline released days of both open proposals
    text = " ".join(m.value for m in app.markdown)
    assert "Tussenstand op" in text and app.table and "Tot nu toe gemiddeld" in app.table[0].value.columns
    from accounts.store import store
    from content.segments import Segment, matching_accounts

    with store() as connection:  # the firm is now in the segments of what it entered (updates and working groups target those)
        assert [r.account_id for r in matching_accounts(connection, Segment(simulated=chosen, sector="I", province="PV26"))] == [logins["respondent"]["id"]]


def test_the_analyst_pages_show_the_impact_and_the_cumulative_burden(pages):
    _, logins = pages
    app = logged_in(logins["analyst"])
    app.switch_page("views/dis_impact.py").run()
    assert not app.exception and not app.error and app.title[0].value == "Impact van voorstellen"
    assert app.metric and app.get("vega_lite_chart")  # the bars with their intervals
    app.radio(key="dis_impact_level").set_value("sector").run()
    assert not app.exception and app.table
    app.switch_page("views/dis_stapeling.py").run()
    assert not app.exception and not app.error and app.title[0].value == "Stapeling van regeldruk"
    shown = app.dataframe[0].value
    assert "Regeldruk per bedrijf (euro per jaar)" in shown.columns and len(shown) > 0
