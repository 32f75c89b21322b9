"""The communication tool in a real browser (headless Chromium against a real Streamlit server): an administrator sends
an update to the firms of one sector and sees only 'minder dan 10', never who; the respondent in that sector finds it on
its home page, a respondent of another sector does not get it. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from browser_support import launch, log_in, open_from_menu, streamlit_server
from conftest import ARTIFACTS, demo_accounts

from accounts.service import create_account, get_account
from accounts.store import store
from content.segments import note_submission
from content.updates import updates_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TITLE = "Update over de CO2-heffing"
SECTOR = "I – Logies-, maaltijd- en drankverstrekking"


def test_an_administrator_sends_an_update_to_a_sector_and_the_respondent_in_it_reads_it_at_home(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    data = tmp_path / "data"
    logins = demo_accounts(data)
    with store(data / "accounts" / "accounts.sqlite") as connection:  # what the firms entered in their last forms
        respondent = get_account(connection, logins["respondent"]["id"])
        note_submission(connection, respondent, "cgc", {"sector": "I", "province": "PV31", "size_class": "2-9"})
        outsider = create_account(connection, {"name": "Andere Ondernemer", "email": "ander@example.nl", "role": "respondent",
                                               "kvk_number": "87654321"}, "een lang wachtwoord 42")
        note_submission(connection, outsider, "cgc", {"sector": "G", "province": "PV20", "size_class": "10-49"})

    ARTIFACTS.mkdir(exist_ok=True)
    admin = logins["administrator"]
    with streamlit_server(data) as url, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.goto(url)
        log_in(page, admin["email"], admin["password"], admin["totp_secret"])
        open_from_menu(page, "Berichten en werkgroepen")
        expect(page.get_by_role("heading", name="Berichten en werkgroepen")).to_be_visible(timeout=30_000)
        tab = page.get_by_role("tabpanel", name="Update versturen")  # the working-group tab has the same segment fields
        tab.get_by_role("combobox", name="Sector", exact=True).click()
        page.get_by_role("option", name=SECTOR, exact=True).click()
        expect(tab.get_by_role("combobox", name="Sector", exact=True)).to_have_value(SECTOR)  # its rerun is done
        expect(tab.get_by_text("Dit bericht bereikt nu minder dan 10 bedrijven.")).to_be_visible(timeout=30_000)
        tab.get_by_role("textbox", name="Titel").fill(TITLE)
        tab.get_by_role("textbox", name="Tekst").fill("Er is een motie aangenomen over een overgangstermijn voor kleine bedrijven.")
        tab.get_by_role("button", name="Update versturen").click()
        expect(tab.get_by_text("is verstuurd aan minder dan 10 bedrijven", exact=False)).to_be_visible(timeout=30_000)
        expect(page.get_by_text(logins["respondent"]["email"])).to_have_count(0)  # never who
        page.screenshot(path=str(ARTIFACTS / "communication_update_sent.png"), full_page=True)
        page.get_by_role("button", name="Uitloggen").click()

        log_in(page, logins["respondent"]["email"], logins["respondent"]["password"])
        expect(page.get_by_text("Berichten voor uw bedrijf")).to_be_visible(timeout=30_000)
        expect(page.get_by_text(TITLE).first).to_be_visible()
        expect(page.get_by_text("overgangstermijn voor kleine bedrijven", exact=False)).to_be_visible()
        expect(page.get_by_test_id("stException")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "communication_update_at_home.png"), full_page=True)
        browser.close()

    with store(data / "accounts" / "accounts.sqlite") as connection:
        assert [u.title for u in updates_for(connection, respondent)] == [TITLE]
        assert updates_for(connection, outsider) == []  # another sector: not on its home page
