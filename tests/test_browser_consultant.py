"""An MKB consultant in a real browser (headless Chromium against a real Streamlit server): logs in with the app code,
lands on 'Mijn trajecten', sees its own cases and none of another consultant's (the CSV the page offers, audited, holds
exactly its own case numbers; the form offers only those), refuses a session with a bad KvK number in Dutch, and the page meets WCAG 2.1 AA.
The caseloads come from a small warehouse of this test's own (tests/consultant_support.py), not the session pipeline.
Screenshot in test-artifacts/."""

from __future__ import annotations

import polars as pl
import pytest
from browser_support import check_accessibility, launch, log_in, no_error_shown, streamlit_server
from conftest import ARTIFACTS
from consultant_support import OTHER_CASES, OWN_CASES, consultant_installation

from accounts.store import store as account_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_consultant_logs_in_with_the_app_code_and_sees_only_its_own_cases(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    data, logins = consultant_installation(tmp_path)
    consultant = logins["consultant"]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright, streamlit_server(data) as url:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1600, "height": 2000})
        page.goto(url)
        log_in(page, consultant["email"], consultant["password"], consultant["totp_secret"])
        expect(page.get_by_role("heading", name="Mijn trajecten")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("MKB-consultant 1", exact=False).first).to_be_visible()
        metric = page.get_by_test_id("stMetric").filter(has_text="Trajecten")
        expect(metric.get_by_test_id("stMetricValue")).to_have_text(str(len(OWN_CASES)), timeout=30_000)
        expect(page.get_by_test_id("stDataFrame")).to_be_visible(timeout=30_000)
        # the grid draws its cells on a canvas: read what the page offers through its CSV download instead
        with page.expect_download(timeout=30_000) as download:
            page.get_by_role("button", name="Download mijn trajecten (CSV)").click()
        offered = pl.read_csv(download.value.path(), separator=";", infer_schema=False)
        assert sorted(offered["Dossiernummer"]) == OWN_CASES
        assert not {"firm_id", "kvk_number", "consultant"} & set(offered.columns)
        assert not any(case in page.locator("body").inner_text() for case in OTHER_CASES)
        no_error_shown(page)
        check_accessibility(page, "consultant_own_cases", "Mijn trajecten")
        page.screenshot(path=str(ARTIFACTS / "consultant_own_cases.png"), full_page=True)

        form = page.get_by_test_id("stForm").filter(has_text="Sessie opslaan")
        form.get_by_label("Dossiernummer").click()
        options = page.get_by_role("option")
        expect(options.first).to_be_visible(timeout=10_000)
        assert sorted(options.all_inner_texts()) == OWN_CASES  # the form offers the own cases only
        page.get_by_role("option", name="R-f1").click()
        form.get_by_role("textbox", name="KvK-nummer van het bedrijf").fill("1234")
        form.get_by_role("button", name="Sessie opslaan").click()
        expect(page.get_by_text("moet uit precies 8 cijfers bestaan", exact=False)).to_be_visible(timeout=30_000)
        assert not (data / "landing" / "programme_sessions").exists()
        check_accessibility(page, "consultant_session_refused", "Mijn trajecten")

        with account_store(data / "accounts" / "accounts.sqlite") as connection:
            audited = connection.execute("SELECT action, subject FROM audit_log WHERE actor = ? AND action IN ('view', 'export') ORDER BY seq",
                                         [consultant["email"]]).fetchall()
        assert [tuple(row) for row in audited] == [("view", "trajecten mc01"), ("export", "trajecten mc01")]
        expect(page.get_by_role("link", name="Kleine schulden en anti-escalatie")).to_have_count(0)  # no analysts' pages in the menu
        browser.close()
