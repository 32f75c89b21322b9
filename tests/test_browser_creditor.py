"""A creditor's staff member in a real browser (headless Chromium against a real Streamlit server): logs in with the
app code, lands on 'Mijn vorderingen', sees the organisation's own claims and none of another organisation's (the CSV
the page offers, audited, holds exactly its own claims of the newest month), and cannot open the analysts' debt page.
Screenshot in test-artifacts/."""

from __future__ import annotations

import shutil

import polars as pl
import pytest
from browser_support import check_accessibility, launch, log_in, streamlit_server
from conftest import ARTIFACTS, demo_accounts

from accounts.demo import DEMO_CREDITOR
from accounts.store import store as account_store
from core.private_parquet import read_private_file
from debts.creditor_files import ADVICE_FILE

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OTHER_CREDITOR = "GM0599"  # Gemeente Rotterdam


def test_a_creditor_logs_in_with_the_app_code_and_sees_only_its_own_claims(pipeline, accounts, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    data = tmp_path / "data"
    for part in ("exports", "operational", "accounts", "secrets"):  # the store holds the demo accounts, secrets/ their logins
        shutil.copytree(pipeline.data_dir / part, data / part)
    creditor = demo_accounts(data)["creditor"]
    own = read_private_file(data / "operational" / DEMO_CREDITOR / ADVICE_FILE)
    newest = own.filter(pl.col("month") == own["month"].max())
    others = set(read_private_file(data / "operational" / OTHER_CREDITOR / ADVICE_FILE)["claim_id"]) - set(own["claim_id"])
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright, streamlit_server(data) as url:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1600, "height": 2000})
        page.goto(url)
        log_in(page, creditor["email"], creditor["password"], creditor["totp_secret"])
        expect(page.get_by_role("heading", name="Mijn vorderingen")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Gemeente Amsterdam", exact=False).first).to_be_visible()
        metric = page.get_by_test_id("stMetric").filter(has_text="Vorderingen")
        expect(metric.get_by_test_id("stMetricValue")).to_have_text(str(newest.height), timeout=30_000)
        expect(page.get_by_test_id("stDataFrame")).to_be_visible(timeout=30_000)
        # the grid draws its cells on a canvas: read what the page offers through its CSV download instead
        with page.expect_download(timeout=30_000) as download:
            page.get_by_role("button", name="Download deze vorderingen (CSV)").click()
        offered = pl.read_csv(download.value.path(), separator=";", infer_schema=False)
        assert sorted(offered["Vordering"]) == sorted(newest["claim_id"])
        assert not set(offered["Vordering"]) & others
        assert not {"person_id", "letter_group", "creditor"} & set(offered.columns)
        assert not any(claim in page.locator("body").inner_text() for claim in others)
        with account_store(data / "accounts" / "accounts.sqlite") as connection:
            exports = connection.execute("SELECT subject FROM audit_log WHERE actor = ? AND action = 'export'", [creditor["email"]]).fetchall()
        assert [row[0] for row in exports] == [f"vorderingen {DEMO_CREDITOR} {newest['month'][0]}"]
        expect(page.get_by_text("Er ging iets mis", exact=False)).to_have_count(0)
        check_accessibility(page, "creditor_own_claims")
        page.screenshot(path=str(ARTIFACTS / "creditor_own_claims.png"), full_page=True)
        expect(page.get_by_role("link", name="Kleine schulden en anti-escalatie")).to_have_count(0)  # no analysts' pages in the menu
        page.goto(f"{url}/schulden")  # a typed address starts a new session: log in again, then the page refuses
        log_in(page, creditor["email"], creditor["password"], creditor["totp_secret"])
        expect(page.get_by_text("U bent ingelogd als medewerker schuldeiser", exact=False)).to_be_visible(timeout=30_000)
        browser.close()
