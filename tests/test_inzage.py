"""The right of access (issue 15.4): a firm downloads exactly its own rows, with Dutch labels, from its home page; and the
administrators' AVG page queues an erasure only after a confirmation, without ever showing the identifier again."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from accounts import audit
from accounts.service import create_account
from accounts.store import store
from avg.inzage import firm_export
from avg.requests import (
    RequestError,
    document_rows,
    inzage_document,
    latest_inzage,
    list_requests,
    request_erasure,
    request_inzage,
)
from avg.runner import Places, run_avg
from core.pseudonymise import pseudonym
from core.reference import domain_labels
from core.sources import source
from core.warehouse import connect
from tests.avg_support import KEY, cgc_record, ingest_all, kvk_numbers, make_landing, write_form
from tests.conftest import logged_in

PASSWORD = "een lang wachtwoord 42 xyz"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> tuple[Path, str, str]:
    root = tmp_path_factory.mktemp("inzage")
    landing = make_landing(root)
    firm, other = kvk_numbers(landing)[:2]
    write_form(landing, cgc_record("mine-1", kvk=firm, sector="F"))
    write_form(landing, cgc_record("mine-bad", kvk=firm, province="PV99"))
    write_form(landing, cgc_record("theirs-1", kvk=other))
    ingest_all(root / "warehouse.duckdb", landing)
    return root, firm, other


def _keys(connection, table: str, column: str, hashed: str, inverse: bool = False) -> set[str]:
    where = f"firm_id {'<>' if inverse else '='} ?" if table.startswith("raw") else \
        f"coalesce(json_extract_string(payload, '$.kvk_number'), '') {'<>' if inverse else '='} ?"
    return {k for (k,) in connection.execute(f"SELECT {column} FROM {table} WHERE {where}", [hashed]).fetchall() if k}


def test_an_export_holds_exactly_the_firms_own_rows_with_the_labels_of_the_declaration(loaded):
    root, firm, _ = loaded
    hashed = pseudonym(firm, KEY)
    with connect(root / "warehouse.duckdb", read_only=True) as connection:
        document = firm_export(connection, firm, KEY)
        own = _keys(connection, "raw.cgc_responses", "response_id", hashed)
        own_rejected = _keys(connection, "quarantine.cgc_responses", "response_id", hashed)
        others = _keys(connection, "raw.cgc_responses", "response_id", hashed, inverse=True) | \
            _keys(connection, "quarantine.cgc_responses", "response_id", hashed, inverse=True)
    (cgc,) = [part for part in document["bronnen"] if part["bron"] == "cgc"]
    assert {item["inzending"] for item in cgc["inzendingen"]} == own and "mine-1" in own
    assert {item["inzending"] for item in cgc["niet_gebruikt"]} == own_rejected and "mine-bad" in own_rejected
    text = json.dumps(document, ensure_ascii=False)
    assert not [key for key in others - own - own_rejected if f'"{key}"' in text]  # nothing of another firm
    assert hashed not in text and document["kvk_nummer"] == firm
    labels = {field.label for field in source("cgc").fields.values() if field.type != "identifier"}
    mine = next(item for item in cgc["inzendingen"] if item["inzending"] == "mine-1")["velden"]
    assert set(mine) == labels | {"Ontvangen op"}
    assert mine["Sector"] == domain_labels("sector")["F"]  # a code shown as its Dutch name
    rejected = next(item for item in cgc["niet_gebruikt"] if item["inzending"] == "mine-bad")["velden"]
    assert "PV99" in rejected["Reden waarom het niet is gebruikt"]


def test_a_respondent_asks_the_pipeline_answers_and_only_that_account_gets_the_file(loaded, tmp_path):
    root, firm, other = loaded
    accounts = tmp_path / "accounts.sqlite"
    with store(accounts) as connection:
        mine = create_account(connection, {"name": "Piet Jansen", "email": "piet@bedrijf.nl", "role": "respondent", "kvk_number": firm}, PASSWORD)
        theirs = create_account(connection, {"name": "Anna de Vries", "email": "anna@ander.nl", "role": "respondent", "kvk_number": other},
                                PASSWORD)
        number = request_inzage(connection, mine)
        assert request_inzage(connection, mine) == number  # one open request at a time
        assert latest_inzage(connection, mine).status == "pending" and latest_inzage(connection, theirs) is None
    with connect(root / "warehouse.duckdb") as warehouse, store(accounts) as connection:
        outcome = run_avg(warehouse, connection, KEY, Places.in_data_dir(tmp_path), retention=False)
        assert outcome.inzage == 1 and not outcome.deletions
        request = latest_inzage(connection, mine)
        assert request.status == "done" and request.has_result and request.summary["rijen"]["cgc"] >= 2
        assert connection.execute("SELECT subject_encrypted FROM avg_requests WHERE id = ?", [number]).fetchone()[0] is None
    document = inzage_document(mine.id, mine.credential_version, number, "json", accounts)
    assert document["kvk_nummer"] == firm and document["accountopslag"]["accounts"][0]["E-mailadres"] == "piet@bedrijf.nl"
    with pytest.raises(RequestError, match="niet \\(meer\\)"):
        inzage_document(theirs.id, theirs.credential_version, number, "json", accounts)
    table = document_rows(document)
    assert table.columns == ["Onderdeel", "Inzending", "Gegeven", "Waarde"]
    assert set(table.filter(pl.col("Onderdeel") == "Continue Gezondheidscheck")["Inzending"]) >= {"mine-1"}
    with store(accounts) as connection:
        entries = audit.entries(connection)
        assert audit.verify_chain(connection).intact
    actions = [e["action"] for e in entries]
    assert {"avg_inzage_requested", "avg_inzage_ready", "avg_inzage_downloaded"} <= set(actions)
    assert not any(firm in json.dumps(e) for e in entries)  # the audit trail never holds the KvK number


def _data_dir(tmp_path: Path, monkeypatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "exports").mkdir()
    monkeypatch.setenv("MKB_DATA_DIR", str(data))
    return data


def test_the_home_page_asks_for_the_export_and_then_offers_it_for_download(loaded, tmp_path, monkeypatch):
    root, firm, _ = loaded
    data = _data_dir(tmp_path, monkeypatch)
    with store() as connection:
        account = create_account(connection, {"name": "Piet Jansen", "email": "piet@bedrijf.nl", "role": "respondent", "kvk_number": firm},
                                 PASSWORD)
    login = {"id": account.id}
    app = logged_in(login)
    assert not app.exception and "Uw gegevens" in [h.value for h in app.header]
    app.button(key="inzage_request").click().run()
    assert not app.exception and any("wordt gemaakt" in info.value for info in app.info)
    with connect(root / "warehouse.duckdb") as warehouse, store() as connection:
        run_avg(warehouse, connection, KEY, Places.in_data_dir(data), retention=False)
    app = logged_in(login)
    assert not app.exception and any("staat klaar" in s.value for s in app.success)
    assert {button.label for button in app.get("download_button")} == {"Download als JSON", "Download als CSV (Excel)"}


def test_the_avg_page_queues_an_erasure_only_when_confirmed_and_never_shows_the_identifier(tmp_path, monkeypatch):
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path))
    with store() as connection:
        admin = create_account(connection, {"name": "Beheer", "email": "beheer@example.nl", "role": "administrator"}, PASSWORD,
                               totp_secret="JBSWY3DPEHPK3PXP")
    app = logged_in({"id": admin.id})
    app.switch_page("views/beheer_avg.py").run()
    assert not app.exception and app.title[0].value == "AVG-verzoeken"
    app.radio(key="erasure_kind").set_value("kvk")
    app.text_input(key="erasure_value").input("16125507")
    app.text_input(key="erasure_again").input("16125508")
    app.checkbox(key="erasure_sure").check()
    app.button[0].click().run()
    assert "niet gelijk" in app.error[0].value and "16125507" not in app.error[0].value
    app.text_input(key="erasure_value").input("1612 5507")
    app.text_input(key="erasure_again").input("16125507")
    app.checkbox(key="erasure_sure").check()
    app.button[0].click().run()
    assert not app.exception and "Verzoek 1 staat klaar" in app.success[0].value
    page = " ".join(str(e.value) for kind in ("markdown", "table", "caption", "success") for e in getattr(app, kind))
    assert "16125507" not in page
    with store() as connection:
        (request,) = list_requests(connection, admin)
        assert (request.kind, request.subject_kind, request.status) == ("erasure", "kvk", "pending")
        assert not any("16125507" in json.dumps(e) for e in audit.entries(connection))
        with pytest.raises(RequestError, match="eigen account"):
            request_erasure(connection, admin, "email", admin.email, admin.email)
