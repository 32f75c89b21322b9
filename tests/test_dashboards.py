"""Every page runs without exceptions and shows its key figures (Streamlit AppTest)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

APP = "../dashboards/app.py"


@pytest.fixture()
def app(pipeline, monkeypatch):
    monkeypatch.setenv("MKB_DATA_DIR", str(pipeline.data_dir))
    test = AppTest.from_file(APP, default_timeout=60)
    test.run()
    return test


def test_analyst_page_shows_balance_and_filters(app):
    assert not app.exception
    assert app.metric and app.metric[0].value.startswith(("+", "-"))
    app.selectbox(key="sector").select("F").run()
    assert not app.exception
    app.selectbox(key="question").select("sentiment").run()
    assert not app.exception and "Saldo" in app.metric[0].label


def test_privacy_page_lists_the_ledger(app):
    app.switch_page("views/privacy.py").run()
    assert not app.exception
    assert app.dataframe[0].value.shape[0] >= 4


def test_form_names_the_field_and_rule_in_dutch(app, pipeline):
    app.switch_page("views/invullen.py").run()
    app.text_input(key="kvk_number").input("12ab")
    app.button[0].click().run()
    assert not app.exception
    message = app.error[0].value
    assert "KvK-nummer: moet uit precies 8 cijfers bestaan" in message
    assert "Sector: ontbreekt" in message
    assert not list((pipeline.landing / "cgc").glob("form_*"))  # nothing written for invalid input
