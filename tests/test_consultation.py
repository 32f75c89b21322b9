"""Consultations per article: bad reactions get Dutch messages, a new reaction replaces the old one (kept in raw), the
stance shares are a spec charged to the ledger per closed proposal, and the pages show released figures only."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from accounts.store import store
from content.proposals import article_code, list_proposals
from core.contracts import SubmissionError
from core.pseudonymise import pseudonym
from core.sources import source
from core.validation import with_reasons
from core.warehouse import connect as warehouse_connect
from dashboards.consultation import stance_releases
from dashboards.submissions import submit
from privacy.loading import release_specs
from tests.conftest import TEST_KEY, data_dir, logged_in, run_pipeline

PROFILE = {"sector": "I", "size_class": "2-9", "province": "PV26"}


def _proposals(data) -> list:
    with store(data / "accounts" / "accounts.sqlite") as connection:
        return list_proposals(connection)


def _open_article(data) -> tuple[str, str]:
    proposal = next(p for p in _proposals(data) if p.is_open(date.today()) and p.articles)
    return proposal.id, article_code(proposal.id, proposal.articles[0])


@pytest.mark.parametrize(("answers", "expected"), [
    ({"stance": "misschien"}, "Standpunt: 'misschien' is geen geldige keuze"),
    ({"quote_consent": "yes"}, "Antwoorden: beantwoord ten minste één vraag"),  # consent alone is no reaction
    ({"comment": "x" * 2001}, "Toelichting: "),
])
def test_a_bad_reaction_names_the_field_the_value_and_the_rule(pipeline, tmp_path, answers, expected):
    with data_dir(pipeline.data_dir):
        proposal, article = _open_article(pipeline.data_dir)
        with pytest.raises(SubmissionError) as refused:
            submit("consultation", {"proposal": proposal, "article": article, **PROFILE, **answers}, "12345678", landing=tmp_path)
    assert any(problem.startswith(expected) for problem in refused.value.problems), refused.value.problems
    assert not list(tmp_path.rglob("*.jsonl"))  # nothing was stored


def test_an_article_of_another_proposal_is_refused(pipeline, tmp_path):
    with data_dir(pipeline.data_dir):
        proposals = _proposals(pipeline.data_dir)
        wrong = next(article_code(p.id, p.articles[0]) for p in proposals if p.articles and p.is_closed(date.today()))
        proposal, _ = _open_article(pipeline.data_dir)
        with pytest.raises(SubmissionError) as refused:
            submit("consultation", {"proposal": proposal, "article": wrong, **PROFILE, "stance": "support"}, "12345678", landing=tmp_path)
    assert refused.value.problems == [f"Artikel: '{wrong}' hoort niet bij voorstel '{proposal}'"]
    # the same rule in a delivered file: the polars rules agree with the form's contract
    row = {"response_id": "r1", "submitted_at": "2026-11-20T09:00:00", "article": wrong, "kvk_number": "12345678",
           "proposal": proposal, **PROFILE, "stance": "support"}
    frame = pl.DataFrame([{column: row.get(column) for column in source("consultation").landing_columns()}],
                         schema={column: pl.Utf8 for column in source("consultation").landing_columns()})
    with data_dir(pipeline.data_dir):
        reasons = with_reasons(frame, "consultation")["reason"].to_list()
    assert reasons == [f"Artikel: '{wrong}' hoort niet bij voorstel '{proposal}'"]


def test_a_new_reaction_replaces_the_old_one_and_the_old_one_stays_in_raw(tmp_path_factory):
    from tests.conftest import generate_installation, make_installation

    installation = make_installation(tmp_path_factory.mktemp("consultation"))
    with data_dir(installation.data_dir):
        generate_installation(installation, firms=300, waves=1, seed=3)
        proposal, article = _open_article(installation.data_dir)
        earlier, later = datetime.now() - timedelta(days=2), datetime.now() - timedelta(days=1)
        submit("consultation", {"proposal": proposal, "article": article, **PROFILE, "stance": "against", "comment": "Te duur."},
               "99887766", landing=installation.landing, now=earlier)
        submit("consultation", {"proposal": proposal, "article": article, **PROFILE, "stance": "support"}, "99887766",
               landing=installation.landing, now=later)
    run_pipeline(installation)
    firm = pseudonym("99887766", TEST_KEY.encode())
    with warehouse_connect(installation.warehouse, read_only=True) as connection:
        raw = connection.execute("SELECT stance FROM raw.consultation_responses WHERE firm_id = ? ORDER BY submitted_at", [firm]).fetchall()
        mart = connection.execute("SELECT stance FROM marts.consultation_firm_article WHERE firm_id = ? AND article = ?",
                                  [firm, article]).fetchall()
        columns = {row[0] for row in connection.execute("DESCRIBE marts.consultation_firm_article").fetchall()}
    assert raw == [("against",), ("support",)]  # history
    assert mart == [("support",)]  # the current reaction, once
    assert "kvk_number" not in columns and "comment" not in columns  # no identifier, no free text in the mart


def test_the_stance_shares_are_a_spec_charged_per_closed_proposal_with_a_row_per_article(pipeline):
    spec = release_specs()["consultation_stance"]
    assert spec.dataset == "dis" and spec.source == "marts.consultation_firm_article"
    closed = {p.id: p for p in _proposals(pipeline.data_dir) if p.is_closed(date.today()) and p.articles}
    with warehouse_connect(pipeline.warehouse, read_only=True) as connection:
        charged = connection.execute("SELECT period, epsilon FROM privacy.ledger WHERE release_name = 'consultation_stance'").fetchall()
    assert {period for period, _ in charged} == set(closed) and all(epsilon == pytest.approx(0.5) for _, epsilon in charged)
    cells = stance_releases(pipeline.exports)
    for pid, proposal in closed.items():
        mine = cells.filter((pl.col("period") == pid) & (pl.col("level") == "article") & pl.col("article").str.starts_with(f"{pid}/"))
        assert set(mine["article"].to_list()) == {article_code(pid, a) for a in proposal.articles}  # every article, public keys
        # the grid holds this proposal's articles only: a noisy empty cell of another proposal's article could pass the threshold
        assert cells.filter((pl.col("period") == pid) & ~pl.col("article").str.starts_with(f"{pid}/")).is_empty()
    shown = cells.filter((pl.col("measure") == "stance") & ~pl.col("suppressed"))
    assert shown.height > 0 and shown["estimate"].is_between(0, 100).all()
    assert (shown["ci_low"] <= shown["estimate"]).all() and (shown["estimate"] <= shown["ci_high"]).all()


def test_the_respondent_sees_open_consultations_reacts_and_sees_released_shares(pages):
    data, logins = pages
    app = logged_in(logins["respondent"])
    assert not app.exception and app.title[0].value == "Mijn overzicht"  # the home page lists the open consultation
    assert any(m.value.startswith("Reageer op de onderdelen van") for m in app.markdown)
    app.switch_page("views/consultatie.py").run()
    assert not app.exception and app.title[0].value == "Reageren op een voorstel"
    app.selectbox(key="consultation_sector").select("I")
    app.selectbox(key="consultation_size_class").select("2-9")
    app.selectbox(key="consultation_province").select("PV26")
    app.radio(key="consultation_stance").set_value("against")
    app.text_area(key="consultation_comment").input("De loonkosten stijgen te snel voor ons.")
    app.button[0].click().run()
    assert not app.exception and not app.error
    assert "Bedankt! Uw reactie is veilig opgeslagen." in app.success[0].value
    (stored,) = (data / "landing" / "consultation").glob("form_*.jsonl")
    assert '"kvk_number": "12345678"' in stored.read_text()  # the demo account's firm
    text = " ".join(m.value for m in app.info)
    assert "na de sluitingsdatum" in text  # an open article has no released shares yet, said in Dutch
    # the closed consultations' released shares, at the bottom of the page
    assert app.table and list(app.table[-1].value.columns) == ["Standpunt", "Aandeel", "95%-interval"]


def test_the_analyst_sees_stance_shares_per_article_next_to_the_impact(pages):
    _, logins = pages
    app = logged_in(logins["analyst"])
    app.switch_page("views/consultatie_uitkomsten.py").run()
    assert not app.exception and not app.error and app.title[0].value == "Consultaties en thema's"
    table = app.dataframe[0].value
    assert {"Onderdeel", "Reacties (ongeveer)", "Steunen", "Neutraal", "Tegen"} <= set(table.columns) and len(table) > 0
    assert len(app.get("download_button")) >= 2  # the stance shares as CSV and Parquet (the themes have their own)
