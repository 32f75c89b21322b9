"""The consultation end to end in a real browser (headless Chromium against a real Streamlit server): a respondent sees
the open proposals on the home page, reacts to one article with a real PDF; once the consultation has closed and the
pipeline has run, the respondent sees the released stance shares of that article, an administrator finds the document
in the list of uploads, and an analyst sees the themes in the comments. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import pytest
from browser_support import check_accessibility, launch, log_in, open_from_menu, streamlit_server, upload
from conftest import ARTIFACTS, data_dir, demo_accounts, make_installation, run_pipeline
from theme_support import publish_themes_without_noise

from accounts.service import find_account
from accounts.store import store
from content.proposals import article_code, get_proposal, list_proposals, save_proposal

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COMMENT = "De loonkosten stijgen te snel. Wij kunnen dat niet doorberekenen aan onze klanten."
DOCUMENT = "advies.pdf"  # short: the uploader shortens long names on screen


@pytest.fixture()
def installation(pipeline, tmp_path):
    """A copy of the session installation (demo proposals, reactions, released figures) with demo accounts of its own."""
    target = make_installation(tmp_path / "installation")
    shutil.copytree(pipeline.data_dir, target.data_dir)
    return target


def _pdf(path) -> None:
    """A real one-page PDF with a short advice text (fpdf2, as the demo generator makes them)."""
    from fpdf import FPDF

    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.multi_cell(0, 8, "Advies van de brancheorganisatie: geef kleine bedrijven een overgangstermijn van een jaar.")
    document.output(str(path))


def _close(installation, proposal_id: str, administrator_email: str) -> None:
    """What an administrator does on the page: the consultation ends yesterday."""
    yesterday = date.today() - timedelta(days=1)
    with store(installation.data_dir / "accounts" / "accounts.sqlite") as connection:
        administrator = find_account(connection, administrator_email)
        proposal = get_proposal(connection, proposal_id)
        save_proposal(connection, administrator, {**proposal.model_dump(), "simulation_opens": proposal.simulation_opens,
                                                  "simulation_closes": max(yesterday, proposal.simulation_opens)})


def _no_error_shown(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_text("Er ging iets mis", exact=False)).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text("Traceback", exact=False)).to_have_count(0)


def _choose(page, label: str, option: str, nth: int = 0) -> None:
    page.get_by_role("combobox", name=label, exact=True).nth(nth).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_a_reaction_with_a_document_is_counted_listed_and_themed(installation, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    logins = demo_accounts(installation.data_dir)
    with store(installation.data_dir / "accounts" / "accounts.sqlite") as connection:
        proposal = next(p for p in list_proposals(connection) if p.is_open(date.today()) and p.articles)
    article = proposal.articles[0]
    document = tmp_path / DOCUMENT
    _pdf(document)

    with sync_playwright() as playwright, streamlit_server(installation.data_dir) as url:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 2600})  # Streamlit scrolls inside: show whole pages
        page.goto(url)

        respondent = logins["respondent"]
        log_in(page, respondent["email"], respondent["password"])
        expect(page.get_by_text("Wat staat er voor u klaar?")).to_be_visible(timeout=30_000)  # the home page lists the open proposals
        expect(page.get_by_text(proposal.title, exact=False).first).to_be_visible()
        open_from_menu(page, "Reageren op een voorstel")
        expect(page.get_by_role("heading", name="Reageren op een voorstel")).to_be_visible(timeout=30_000)
        _choose(page, "Voorstel", proposal.title)
        _choose(page, "Artikel of onderdeel", f"{article.number}: {article.title}")
        _choose(page, "Sector", "I – Logies-, maaltijd- en drankverstrekking")
        _choose(page, "Bedrijfsgrootte (werkzame personen)", "2-9")
        _choose(page, "Provincie", "Limburg")
        expect(page.get_by_role("combobox", name="Provincie", exact=True)).to_have_value("Limburg")  # its rerun is done
        page.get_by_role("radiogroup").first.get_by_text("Tegen", exact=True).click()  # the stance (a table lower down says 'Tegen' too)
        page.get_by_label("Uw reactie op dit onderdeel", exact=False).fill(COMMENT)
        upload(page, document)  # uploaded: its size is shown
        page.get_by_role("button", name="Versturen").click()
        expect(page.get_by_text("Bedankt! Uw reactie is veilig opgeslagen.")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Uw document is ook ontvangen.")).to_be_visible()
        expect(page.get_by_text("na de sluitingsdatum", exact=False)).to_be_visible()  # open: no released shares yet, said in Dutch
        _no_error_shown(page)
        check_accessibility(page, "consultation_respondent_reacts")
        page.screenshot(path=str(ARTIFACTS / "consultation_respondent_reacts.png"), full_page=True)
        page.get_by_role("button", name="Uitloggen").click()

        (stored,) = (installation.landing / "consultation").glob("form_*.jsonl")  # durable before the respondent was thanked
        reaction = json.loads(stored.read_text())
        assert (reaction["article"], reaction["stance"], reaction["kvk_number"]) == (article_code(proposal.id, article), "against", "12345678")

        administrator = logins["administrator"]
        _close(installation, proposal.id, administrator["email"])
        run_pipeline(installation)
        # At the test's 1,500 firms no theme passes the real selection thresholds (several hundred firms): a new version of
        # the theme releases without noise, in test code only (the product has no switch that turns noise off)
        with data_dir(installation.data_dir):
            publish_themes_without_noise(installation, [proposal.id])

        log_in(page, respondent["email"], respondent["password"])
        open_from_menu(page, "Reageren op een voorstel")
        expect(page.get_by_role("heading", name="Uitkomsten van gesloten consultaties")).to_be_visible(timeout=30_000)
        _choose(page, "Gesloten voorstel", proposal.title)
        # the first article is chosen by default once the page has rerun for this proposal
        expect(page.get_by_role("combobox", name="Onderdeel", exact=True)).to_have_value(f"{article.number}: {article.title}", timeout=30_000)
        shares = page.get_by_test_id("stTable").last
        for label in ("Steunen", "Neutraal", "Tegen"):
            expect(shares.get_by_text(label, exact=True)).to_be_visible(timeout=30_000)
        expect(shares.get_by_text("%", exact=False).first).to_be_visible()
        _no_error_shown(page)
        check_accessibility(page, "consultation_respondent_sees_shares")
        page.screenshot(path=str(ARTIFACTS / "consultation_respondent_sees_shares.png"), full_page=True)
        page.get_by_role("button", name="Uitloggen").click()

        log_in(page, administrator["email"], administrator["password"], administrator["totp_secret"])
        open_from_menu(page, "Documenten bij reacties")
        expect(page.get_by_role("heading", name="Documenten bij reacties")).to_be_visible(timeout=30_000)
        page.get_by_role("combobox", name="Voorstel", exact=True).click()
        page.get_by_role("option", name=proposal.title, exact=False).first.click()
        expect(page.get_by_text(DOCUMENT, exact=False).first).to_be_visible(timeout=30_000)
        _no_error_shown(page)
        check_accessibility(page, "consultation_administrator_lists_uploads")
        page.screenshot(path=str(ARTIFACTS / "consultation_administrator_lists_uploads.png"), full_page=True)
        page.get_by_role("button", name="Uitloggen").click()

        analyst = logins["analyst"]
        log_in(page, analyst["email"], analyst["password"], analyst["totp_secret"])
        open_from_menu(page, "Consultaties en thema's")
        expect(page.get_by_role("heading", name="Consultaties en thema's")).to_be_visible(timeout=30_000)
        page.get_by_role("combobox", name="Voorstel", exact=True).click()
        page.get_by_role("option", name=proposal.title, exact=True).click()
        expect(page.get_by_role("heading", name="Standpunten per onderdeel")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("heading", name="Thema's in de toelichtingen")).to_be_visible()
        themes = page.get_by_test_id("stDataFrame").nth(1)  # the released themes: name, top terms, firms with interval
        expect(themes).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Naam van een thema aanpassen")).to_be_visible()
        _no_error_shown(page)
        check_accessibility(page, "consultation_analyst_sees_themes")
        page.screenshot(path=str(ARTIFACTS / "consultation_analyst_sees_themes.png"), full_page=True)
        browser.close()
