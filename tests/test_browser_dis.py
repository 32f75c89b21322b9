"""The DIS end to end in a real browser (headless Chromium against a real Streamlit server): an administrator adds a
proposal, a respondent simulates it and is told there are no released figures yet; once the proposal has closed
and the pipeline has run, the analysts' page counts the answers. The count is checked exactly, so the test makes
its own release without noise (test code only: the product has no switch that turns noise off). Screenshots go to
test-artifacts/."""

from __future__ import annotations

import json
import math
import shutil
from datetime import date, timedelta
from statistics import NormalDist

import pytest
from browser_support import check_accessibility, launch, log_in, open_from_menu, streamlit_server
from conftest import ARTIFACTS, data_dir, demo_accounts, make_installation, run_pipeline
from privacy_support import without_noise

from accounts.service import find_account
from accounts.store import store
from content.proposals import get_proposal, save_proposal, slug
from core.warehouse import connect as warehouse_connect
from dashboards.formatting import nl_interval
from dashboards.submissions import submit
from privacy.engine import release
from privacy.export import export_ledger, export_release
from privacy.loading import privacy_settings, release_specs
from privacy.spec import PrivacySettings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TITLE = "Vaste kosten voor een keurmerk in de horeca"
PROPOSAL = slug(TITLE)
RESPONDENT_COST = 12_000  # euros per year, typed by the respondent in the browser
# Firms that answered through the form too (the release suppresses groups under 10 firms): same profile as the
# respondent, costs in whole steps of the release's resolution (100 euros), so the exact mean is known.
OTHER_COSTS = [1_000 * i for i in range(1, 12)]
FIRMS = len(OTHER_COSTS) + 1
EXACT_MEAN = (RESPONDENT_COST + sum(OTHER_COSTS)) / FIRMS  # 6,500 euros per year


@pytest.fixture()
def installation(pipeline, tmp_path):
    """A copy of the session installation (five demo proposals, released figures) with demo accounts of its own."""
    target = make_installation(tmp_path / "installation")
    shutil.copytree(pipeline.data_dir, target.data_dir)
    return target


def _unlimited_budgets() -> PrivacySettings:
    """The configured datasets with budgets that never refuse (tests only; privacy_support's version has no 'dis')."""
    configured = privacy_settings()
    return PrivacySettings.model_construct(datasets={
        name: dataset.model_copy(update={"budget_per_period": dataset.budget_per_period.model_copy(update={"epsilon": math.inf, "delta": 1.0})})
        for name, dataset in configured.datasets.items()
    }, annual_caps={kind: cap.model_copy(update={"epsilon": math.inf, "delta": 1.0}) for kind, cap in configured.annual_caps.items()})


def _close_the_proposal(installation, administrator_email: str) -> None:
    """What an administrator does on the page: the simulation window ends yesterday."""
    yesterday = date.today() - timedelta(days=1)
    with store(installation.data_dir / "accounts" / "accounts.sqlite") as connection:
        administrator = find_account(connection, administrator_email)
        proposal = get_proposal(connection, PROPOSAL)
        save_proposal(connection, administrator, {**proposal.model_dump(), "simulation_opens": yesterday, "simulation_closes": yesterday})


def _combined_interval_text() -> str:
    """Without noise the shown interval is the mean +- 1.96 x its sampling error, computed by hand: dis_impact releases no
    sum of squares, so the spread comes from its released histogram of the same column (cost_change_median's bins, each
    value spread evenly over its bin: between the bins' middles plus width^2 / 12 within)."""
    values = [RESPONDENT_COST, *OTHER_COSTS]
    edges = release_specs()["dis_impact"].measure("cost_change_median").bin_edges
    bins = [(low, high, sum(low <= v < high for v in values)) for low, high in zip(edges, edges[1:], strict=False)]
    mean_of_bins = sum(k * (low + high) / 2 for low, high, k in bins) / FIRMS
    variance = sum(k * (((low + high) / 2) ** 2 + (high - low) ** 2 / 12) for low, high, k in bins) / FIRMS - mean_of_bins**2
    half = NormalDist().inv_cdf(0.975) * math.sqrt(variance / FIRMS)
    return nl_interval(max(EXACT_MEAN - half, -100_000), min(EXACT_MEAN + half, 100_000), 0, signed=True)


def _release_without_noise(installation) -> None:
    """The pipeline released the closed proposal with noise (version 1); version 2 is the same release without noise."""
    spec = release_specs()["dis_impact"]
    with warehouse_connect(installation.warehouse) as connection:
        versions = connection.execute("SELECT version FROM privacy.ledger WHERE release_name = 'dis_impact' AND period = ?", [PROPOSAL]).fetchall()
        assert versions == [(1,)]  # the pipeline released it once the window had closed
        (outcome,) = release(connection, without_noise(spec), [PROPOSAL], version=2, settings=_unlimited_budgets())
        assert outcome.status == "released"
        export_release(connection, spec, installation.exports)
        export_ledger(connection, installation.exports)


def _no_error_shown(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_text("Er ging iets mis", exact=False)).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text("Traceback", exact=False)).to_have_count(0)


def _choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_a_new_proposal_simulated_in_the_browser_is_counted_on_the_analysts_page(installation):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    logins = demo_accounts(installation.data_dir)
    with sync_playwright() as playwright, streamlit_server(installation.data_dir) as url:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 2400})  # Streamlit scrolls inside: show whole pages
        page.goto(url)

        administrator = logins["administrator"]
        log_in(page, administrator["email"], administrator["password"], administrator["totp_secret"])
        open_from_menu(page, "Beleidspijplijn beheren")
        expect(page.get_by_role("heading", name="Beleidspijplijn beheren")).to_be_visible(timeout=30_000)
        fields = {"Titel": TITLE, "Ministerie of bron": "Volksgezondheid, Welzijn en Sport", "Uitleg in gewone taal: de kern en wat het "
                  "voorstel moet bereiken": "Elk restaurant en café betaalt elk jaar voor een keurmerk voor hygiëne. Het doel is dat gasten "
                  "weten dat het eten veilig is."}
        for label, text in fields.items():
            page.get_by_label(label, exact=True).fill(text)
        for label, text in fields.items():  # still there when the button is pressed (a rerun in between would have cleared them)
            expect(page.get_by_label(label, exact=True)).to_have_value(text)
        page.get_by_role("button", name="Opslaan").click()  # the window keeps its defaults: open today, for six weeks
        expect(page.get_by_text(f"Opgeslagen: {TITLE}", exact=False)).to_be_visible(timeout=30_000)
        _no_error_shown(page)
        check_accessibility(page, "dis_administrator_adds_a_proposal")
        page.screenshot(path=str(ARTIFACTS / "dis_administrator_adds_a_proposal.png"), full_page=True)
        page.get_by_role("button", name="Uitloggen").click()

        respondent = logins["respondent"]
        log_in(page, respondent["email"], respondent["password"])
        open_from_menu(page, "Impact van een voorstel inschatten")
        expect(page.get_by_role("heading", name="Impact van een voorstel inschatten")).to_be_visible(timeout=30_000)
        _choose(page, "Voorstel", TITLE)
        expect(page.get_by_text("Elk restaurant en café betaalt", exact=False)).to_be_visible(timeout=30_000)
        _choose(page, "Sector", "I – Logies-, maaltijd- en drankverstrekking")
        _choose(page, "Bedrijfsgrootte (werkzame personen)", "2-9")
        _choose(page, "Provincie", "Limburg")
        cost = page.get_by_role("spinbutton", name="Hoeveel gaan uw kosten per jaar omhoog", exact=False)
        expect(cost).to_have_attribute("max", "150000")  # the range of a 2-9 firm: the reruns of the choices above are done
        cost.fill(str(RESPONDENT_COST))
        page.keyboard.press("Tab")
        page.get_by_role("spinbutton", name="Hoeveel uur per maand", exact=False).fill("4")
        page.keyboard.press("Tab")
        page.get_by_text("Verslechtert", exact=True).click()
        expect(cost).to_have_value(str(RESPONDENT_COST))
        page.get_by_role("button", name="Versturen").click()
        expect(page.get_by_text("Bedankt! Uw inschatting is veilig opgeslagen.")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("heading", name="Uw inschatting naast die van vergelijkbare bedrijven")).to_be_visible()
        # A new proposal has no released figures yet: the page says so, and when they come.
        expect(page.get_by_text("Er zijn voor dit voorstel nog geen gepubliceerde cijfers om mee te vergelijken", exact=False)).to_be_visible()
        _no_error_shown(page)
        check_accessibility(page, "dis_respondent_no_figures_yet")
        page.screenshot(path=str(ARTIFACTS / "dis_respondent_no_figures_yet.png"), full_page=True)
        page.get_by_role("button", name="Uitloggen").click()

        (stored,) = (installation.landing / "dis").glob("form_*.jsonl")  # durable before the respondent was thanked
        answer = json.loads(stored.read_text())
        assert (answer["proposal"], answer["kvk_number"], float(answer["cost_change_euro"])) == (PROPOSAL, "12345678", RESPONDENT_COST)
        with data_dir(installation.data_dir):  # other firms answer through the form as well
            for number, cost in enumerate(OTHER_COSTS):
                submit("dis", {"proposal": PROPOSAL, "sector": "I", "size_class": "2-9", "province": "PV31", "cost_change_euro": cost,
                               "competitive_position": "same"}, f"{70_000_000 + number:08d}", landing=installation.landing)
        _close_the_proposal(installation, administrator["email"])
        run_pipeline(installation)
        _release_without_noise(installation)

        analyst = logins["analyst"]
        log_in(page, analyst["email"], analyst["password"], analyst["totp_secret"])
        open_from_menu(page, "Impact van voorstellen")
        expect(page.get_by_role("heading", name="Impact van voorstellen")).to_be_visible(timeout=30_000)
        _choose(page, "Voorstel", TITLE)
        metric = page.get_by_test_id("stMetric").filter(has_text="Bedrijven die dit voorstel inschatten (ongeveer)")
        expect(metric.get_by_test_id("stMetricValue")).to_have_text(str(FIRMS), timeout=30_000)
        mean = f"+{EXACT_MEAN:,.0f}".replace(",", ".")  # Dutch notation: +6.500
        expect(page.get_by_role("cell", name=mean, exact=True)).to_be_visible(timeout=30_000)  # the mean cost change
        expect(page.get_by_role("cell", name=_combined_interval_text(), exact=True)).to_be_visible()  # no noise: only sampling error
        expect(page.locator(".vega-embed canvas, .vega-embed svg").first).to_be_visible(timeout=30_000)
        _no_error_shown(page)
        check_accessibility(page, "dis_analyst_counts_the_answers")
        page.screenshot(path=str(ARTIFACTS / "dis_analyst_counts_the_answers.png"), full_page=True)
        browser.close()
