"""End to end in a real browser: the analyst and privacy pages render their charts, a respondent
fills in the form in headless Chromium, the landing-zone sensor starts the pipeline, and the
answer is in `raw` exactly once. Screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
from browser_support import check_accessibility, launch, log_in, open_from_menu, streamlit_server
from conftest import (  # pytest puts tests/ on sys.path (as `pytest` and `python -m pytest`)
    ARTIFACTS,
    TEST_KEY,
    demo_accounts,
    make_installation,
    run_pipeline,
)

from accounts import audit
from accounts.service import find_account, firm_kvk_number
from accounts.store import store
from core.pseudonymise import pseudonym
from core.warehouse import connect as warehouse_connect
from pipelines.definitions import pipeline
from pipelines.sensors import build_automation

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def installation(pipeline, tmp_path):
    """A copy of the session installation with demo accounts, so this test's submission stays its own."""
    target = make_installation(tmp_path / "installation")
    shutil.copytree(pipeline.data_dir, target.data_dir)
    return target


def _raw_count(installation, kvk_hash_prefix_filter: str = "web-%") -> int:
    with warehouse_connect(installation.warehouse, read_only=True) as connection:
        return connection.execute("SELECT COUNT(*) FROM raw.cgc_responses WHERE response_id LIKE ?", [kvk_hash_prefix_filter]).fetchone()[0]


def test_analyst_pages_then_a_form_submission_that_reaches_raw_exactly_once(installation):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    logins = demo_accounts(installation.data_dir)
    sensor, _ = build_automation(pipeline, landing=installation.landing)
    # everything generated so far was ingested and sealed into the archive: nothing waits in the landing zone
    assert isinstance(sensor(dg.build_sensor_context()), dg.SkipReason)
    cursor = None

    with sync_playwright() as playwright, streamlit_server(installation.data_dir) as url:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 2400})  # Streamlit scrolls inside: show whole pages
        page.goto(url)
        analyst = logins["analyst"]
        log_in(page, analyst["email"], analyst["password"], analyst["totp_secret"])
        expect(page.get_by_role("heading", name="Overzicht", exact=True)).to_be_visible(timeout=30_000)  # an analyst's home
        open_from_menu(page, "Gezondheidscheck")
        expect(page.get_by_role("heading", name="Gezondheidscheck van het MKB")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Saldo orderportefeuille", exact=False).first).to_be_visible(timeout=30_000)
        expect(page.locator(".vega-embed canvas, .vega-embed svg").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("rode driehoek is een", exact=False)).to_be_visible()  # the early warnings, explained
        expect(page.get_by_role("heading", name="Laatste waarschuwingen")).to_be_visible()
        expect(page.get_by_text("x = dit cijfer tonen we niet", exact=False)).to_be_visible(timeout=30_000)  # the last element
        expect(page.get_by_role("cell", name="Bouwnijverheid")).to_be_visible()  # the table per sector
        check_accessibility(page, "analyst_gezondheidscheck")
        page.screenshot(path=str(ARTIFACTS / "analyst_gezondheidscheck.png"), full_page=True)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download deze tabel (CSV)").click()
        assert download.value.suggested_filename.startswith("saldo_order_book_sector_")

        open_from_menu(page, "Sentiment en uitdagingen")
        expect(page.get_by_role("heading", name="Sentiment en uitdagingen")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Een bedrijf kan meer uitdagingen noemen", exact=False)).to_be_visible(timeout=30_000)
        expect(page.locator(".vega-embed canvas, .vega-embed svg").nth(1)).to_be_visible(timeout=30_000)
        check_accessibility(page, "analyst_sentiment")
        page.screenshot(path=str(ARTIFACTS / "analyst_sentiment.png"), full_page=True)

        open_from_menu(page, "Privacy en nauwkeurigheid")
        expect(page.get_by_role("heading", name="Verbruikt privacybudget per meting")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("van het budget van 3,0 gebruikt", exact=False)).to_be_visible(timeout=30_000)
        expect(page.get_by_role("heading", name="Alle publicaties")).to_be_visible()
        expect(page.get_by_role("cell", name="Saldo's van de Gezondheidscheck").first).to_be_visible()
        expect(page.get_by_text("De marge is de helft van het 95%-interval", exact=False)).to_be_visible(timeout=30_000)
        expect(page.locator(".vega-embed canvas, .vega-embed svg").first).to_be_visible(timeout=30_000)
        check_accessibility(page, "privacy_budget")
        page.screenshot(path=str(ARTIFACTS / "privacy_budget.png"), full_page=True)

        page.get_by_role("button", name="Uitloggen").click()
        respondent = logins["respondent"]
        log_in(page, respondent["email"], respondent["password"])  # a respondent lands on its home page
        expect(page.get_by_role("heading", name="Mijn overzicht")).to_be_visible(timeout=30_000)
        open_from_menu(page, "Gezondheidscheck invullen")
        expect(page.get_by_role("heading", name="Gezondheidscheck invullen")).to_be_visible(timeout=30_000)
        for label, option in (("Sector", "C – Industrie"), ("Bedrijfsgrootte", "2-9"), ("Provincie", "Limburg")):
            page.get_by_role("combobox", name=label).click()
            page.get_by_role("option", name=option, exact=True).click()
        page.get_by_text("Gegroeid", exact=True).click()
        page.get_by_text("Positief", exact=True).click()
        page.get_by_role("button", name="Versturen").click()
        expect(page.get_by_text("Bedankt! Uw antwoorden zijn veilig opgeslagen.")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Uw antwoorden naast die van vergelijkbare bedrijven", exact=True)).to_be_visible()
        expect(page.get_by_text("Vergelijking met", exact=False)).to_be_visible()
        expect(page.get_by_role("cell", name="Orderportefeuille")).to_be_visible()
        expect(page.get_by_role("cell", name="Gegroeid")).to_be_visible()  # the respondent's own answer
        check_accessibility(page, "respondent_comparison")
        page.screenshot(path=str(ARTIFACTS / "respondent_comparison.png"), full_page=True)
        browser.close()

    submissions = list((installation.landing / "cgc").glob("form_*.jsonl"))
    assert len(submissions) == 1  # durable before the respondent was thanked
    tick = sensor(dg.build_sensor_context(cursor=cursor))
    assert len(tick.run_requests) == 1
    instance = dg.DagsterInstance.ephemeral()
    run_pipeline(installation, instance)
    assert _raw_count(installation) == 1
    assert isinstance(sensor(dg.build_sensor_context(cursor=tick.cursor)), dg.SkipReason)
    run_pipeline(installation, instance)  # a rerun is idempotent
    assert _raw_count(installation) == 1
    with warehouse_connect(installation.warehouse, read_only=True) as connection:
        firm_id = connection.execute("SELECT firm_id FROM raw.cgc_responses WHERE response_id LIKE 'web-%'").fetchone()[0]
    with store(installation.data_dir / "accounts" / "accounts.sqlite") as connection:
        account_kvk = firm_kvk_number(connection, find_account(connection, respondent["email"]))
        actions = [entry["action"] for entry in audit.entries(connection)]
    assert firm_id == pseudonym(account_kvk, TEST_KEY.encode())  # the answer counts for the account's own firm
    assert {"login", "export", "logout"} <= set(actions)  # logins and the download are in the audit trail
