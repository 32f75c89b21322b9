"""A respondent's home ('Mijn overzicht'): its open tasks, its own answers and their comparison, never another firm's."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest

from accounts.service import get_account
from accounts.store import store
from content.own_work import OwnAnswer, note_own_answer, open_tasks, own_answer, own_answers
from core import reference
from tests.conftest import demo_accounts, logged_in


@pytest.fixture()
def home(pipeline, tmp_path, monkeypatch):
    """A data folder with the released files and the demo accounts (the respondent's firm has sent nothing yet)."""
    shutil.copytree(pipeline.exports, tmp_path / "exports")
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path))
    return tmp_path, demo_accounts(tmp_path)


def _labels(app) -> list[str]:
    """The texts on the page (a task is a line of text with a link under it)."""
    return [m.value for m in app.markdown]


def test_a_respondent_lands_on_its_home_with_this_waves_check_as_a_task_until_it_is_sent(home):
    _, logins = home
    app = logged_in(logins["respondent"])
    assert not app.exception and app.title[0].value == "Mijn overzicht"
    assert any(label.startswith("Vul de Gezondheidscheck van deze maand in") for label in _labels(app))
    assert any("Stemming onder ondernemers" in metric.label for metric in app.metric)  # the released national sentiment

    form = logged_in(logins["respondent"])
    form.switch_page("views/invullen.py").run()
    for key, value in (("sector", "C"), ("size_class", "2-9"), ("province", "PV31")):
        form.selectbox(key=key).set_value(value)
    form.radio(key="order_book").set_value("grown")
    form.button[0].click().run()
    assert not form.exception and "Bedankt" in form.success[0].value

    app = logged_in(logins["respondent"])
    assert not any(label.startswith("Vul de Gezondheidscheck") for label in _labels(app))  # done for this wave
    (answer,) = [e for e in app.expander if e.label.startswith("Gezondheidscheck")]
    assert reference.wave_of(date.today()) and "Gezondheidscheck" in answer.label
    app.button(key="compare_0").click().run()
    assert not app.exception and not app.error
    assert app.table  # the firm's answers beside the released figures of similar firms


def test_an_answer_is_read_back_only_for_the_firm_that_sent_it(home):
    data, logins = home
    with store(data / "accounts" / "accounts.sqlite") as connection:
        respondent = get_account(connection, logins["respondent"]["id"])
        record = {"response_id": "web-abc", "wave": "2026-11", "kvk_number": "99999999", "order_book": "grown"}
        folder = data / "landing" / "cgc"
        folder.mkdir(parents=True)
        (folder / "form_web-abc.jsonl").write_text(json.dumps(record) + "\n")
        with connection:
            note_own_answer(connection, respondent, "cgc", record)
        (listed,) = own_answers(connection, respondent)
        assert (listed.source, listed.key, listed.period) == ("cgc", "web-abc", "2026-11")
        assert own_answer(connection, respondent, listed, data / "landing") is None  # the file names another KvK number
        guessed = OwnAnswer("cgc", "web-someone-else", "2026-11", None, listed.submitted_at)
        assert own_answer(connection, respondent, guessed, data / "landing") is None  # not on the firm's own list
        (folder / "form_web-abc.jsonl").write_text(json.dumps({**record, "kvk_number": "12345678"}) + "\n")  # the demo firm's own
        assert own_answer(connection, respondent, listed, data / "landing")["order_book"] == "grown"


def test_open_tasks_leave_out_what_the_firm_answered(pipeline, tmp_path, monkeypatch):
    shutil.copytree(pipeline.data_dir / "accounts", tmp_path / "accounts")  # the demo's proposals are in its account store
    if (pipeline.data_dir / "secrets").exists():  # and the demo accounts' logins, once another test made them there
        shutil.copytree(pipeline.data_dir / "secrets", tmp_path / "secrets")
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path))
    data, logins = tmp_path, demo_accounts(tmp_path)
    with store(data / "accounts" / "accounts.sqlite") as connection:
        respondent = get_account(connection, logins["respondent"]["id"])
        before = open_tasks(connection, respondent, date.today())
        estimates = [task for task in before if task.kind == "dis"]
        assert estimates, "the demo has an open proposal"
        with connection:
            note_own_answer(connection, respondent, "dis", {"response_id": "web-1", "proposal": estimates[0].proposal_id})
            connection.execute("INSERT OR IGNORE INTO firm_proposals VALUES (?, ?, 'dis', '2026-12-01T00:00:00')",
                               [respondent.firm_ref, estimates[0].proposal_id])
        after = open_tasks(connection, respondent, date.today())
    assert estimates[0] not in after and len(after) == len(before) - 1
