"""An administrator downloads a respondent's document in a real browser (headless Chromium against a real Streamlit
server): the file that arrives is the stored bytes, and every click is one entry in the audit trail, written before
the bytes leave (the button's data is a function Streamlit runs at the click). Screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import date

import pytest
from browser_support import check_accessibility, launch, log_in, open_from_menu, streamlit_server
from conftest import ARTIFACTS, data_dir, demo_accounts

from accounts import audit
from accounts.store import store
from content.demo import ensure_demo_proposals
from content.demo_uploads import docx_letter

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_administrator_downloads_a_document_and_each_download_is_audited(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from content.uploads import store_upload

    data = tmp_path / "data"
    logins = demo_accounts(data)
    content = docx_letter(["Advies over de CO2-heffing", "Onderdeel: Artikel 1", "Geef ons een langere overgangstermijn."])
    with data_dir(data), store(data / "accounts" / "accounts.sqlite") as connection:
        proposal = next(p for p in ensure_demo_proposals(connection, date.today()) if p.is_open(date.today()))
        from accounts.service import find_account

        respondent = find_account(connection, logins["respondent"]["email"])
        upload = store_upload(connection, respondent, proposal.id, proposal.articles[0].number, "Advies overgangstermijn.docx", content)

    def downloads() -> list[dict]:
        with store(data / "accounts" / "accounts.sqlite") as connection:
            return [entry for entry in audit.entries(connection) if entry["action"] == "upload_downloaded"]

    admin = logins["administrator"]
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(data) as url, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 1400}, accept_downloads=True)
        page.goto(url)
        log_in(page, admin["email"], admin["password"], admin["totp_secret"])
        open_from_menu(page, "Documenten bij reacties")
        expect(page.get_by_role("heading", name="Documenten bij reacties")).to_be_visible(timeout=30_000)
        page.get_by_role("combobox").first.click()
        page.get_by_role("option", name=proposal.title).click()
        button = page.get_by_role("button", name="Advies overgangstermijn.docx")
        expect(button).to_be_visible(timeout=30_000)
        expect(page.get_by_role("table")).to_contain_text(respondent.firm_ref[:12])
        check_accessibility(page, "uploads_admin_list")
        page.screenshot(path=str(ARTIFACTS / "uploads_admin_list.png"), full_page=True)
        assert downloads() == []  # the list alone hands out nothing
        for clicks in (1, 2):
            with page.expect_download(timeout=30_000) as arrived:
                button.click()
            download = arrived.value
            assert download.suggested_filename == "Advies overgangstermijn.docx"
            with open(download.path(), "rb") as stream:
                assert stream.read() == content
            entries = downloads()
            assert len(entries) == clicks and upload.sha256 in entries[0]["details"] and entries[0]["actor"] == admin["email"]
        browser.close()
