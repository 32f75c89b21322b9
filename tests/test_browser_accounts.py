"""Accounts in a real browser (headless Chromium against a real Streamlit server): a respondent cannot reach
staff pages by URL nor submit for another firm, an analyst without the second factor is not let in, and a locked
account stays locked for the set time. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import shutil
import time

import pytest
import yaml
from browser_support import launch, log_in, streamlit_server
from conftest import ARTIFACTS, demo_accounts

from accounts.service import create_account
from accounts.store import store
from core.settings import CONFIG_DIR

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LOCK_SECONDS = 6


@pytest.fixture(scope="module")
def server(pipeline, tmp_path_factory):
    """One Streamlit server for this module: released files, demo accounts, login rules with a short lock."""
    root = tmp_path_factory.mktemp("accounts_browser")
    data = root / "data"
    shutil.copytree(pipeline.exports, data / "exports")
    settings = yaml.safe_load((CONFIG_DIR / "accounts.yaml").read_text())
    settings["login"] = {"slow_down_after": 10, "wait_seconds": 0, "lock_after": 3, "lock_minutes": LOCK_SECONDS / 60}
    (root / "accounts.yaml").write_text(yaml.safe_dump(settings))
    logins = demo_accounts(data)
    with store(data / "accounts" / "accounts.sqlite") as connection:  # an account of its own for the lockout test
        create_account(connection, {"name": "Slot Test", "email": "slot@example.nl", "role": "respondent", "kvk_number": "55555555"},
                       "een lang wachtwoord 42")
    logins["locked"] = {"email": "slot@example.nl", "password": "een lang wachtwoord 42"}
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(data, MKB_ACCOUNTS_CONFIG=str(root / "accounts.yaml")) as url:
        yield url, data, logins


@pytest.fixture()
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser.new_page(viewport={"width": 1280, "height": 1400})
        browser.close()


@pytest.mark.parametrize(("path", "title"), [("gezondheidscheck", "Gezondheidscheck van het MKB"), ("privacy", "Privacy en nauwkeurigheid"),
                                             ("beheer-accounts", "Accounts beheren"), ("beheer-audit", "Logboek")])
def test_a_respondent_cannot_reach_staff_pages_by_url(server, browser_page, path, title):
    from playwright.sync_api import expect

    url, data, logins = server
    page = browser_page
    page.goto(f"{url}/{path}")
    log_in(page, logins["respondent"]["email"], logins["respondent"]["password"])
    expect(page.get_by_text("Deze pagina is alleen voor", exact=False)).to_be_visible(timeout=30_000)
    expect(page.get_by_text("U bent ingelogd als ondernemer", exact=False)).to_be_visible()
    expect(page.get_by_role("heading", name=title)).to_have_count(0)
    expect(page.get_by_role("link", name="Accounts beheren")).to_have_count(0)  # not in the menu either
    page.screenshot(path=str(ARTIFACTS / f"respondent_refused_{path}.png"), full_page=True)


def test_a_respondent_cannot_submit_for_another_firm(server, browser_page):
    from playwright.sync_api import expect

    url, data, logins = server
    page = browser_page
    page.goto(url)
    log_in(page, logins["respondent"]["email"], logins["respondent"]["password"])
    expect(page.get_by_role("heading", name="Gezondheidscheck invullen")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("eindigend op", exact=False)).to_be_visible()
    assert page.get_by_role("textbox", name="KvK-nummer").count() == 0  # there is no field to name a firm
    assert page.get_by_text("KvK-nummer", exact=True).count() == 0
    for label, option in (("Sector", "G – Handel"), ("Bedrijfsgrootte", "2-9"), ("Provincie", "Utrecht")):
        page.get_by_role("combobox", name=label).click()
        page.get_by_role("option", name=option, exact=True).click()
    page.get_by_text("Gekrompen", exact=True).click()
    page.get_by_role("button", name="Versturen").click()
    expect(page.get_by_text("Bedankt! Uw antwoorden zijn veilig opgeslagen.")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "respondent_own_firm.png"), full_page=True)
    (submission,) = (data / "landing" / "cgc").glob("form_*.jsonl")
    assert json.loads(submission.read_text())["kvk_number"] == "12345678"  # the demo account's firm, nobody else's


def test_an_analyst_without_the_second_factor_is_not_let_in(server, browser_page):
    from playwright.sync_api import expect

    url, data, logins = server
    analyst, page = logins["analyst"], browser_page
    page.goto(f"{url}/gezondheidscheck")
    log_in(page, analyst["email"], analyst["password"])  # the password is right ...
    expect(page.get_by_label("Code uit de app of herstelcode")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Gezondheidscheck van het MKB")).to_have_count(0)  # ... but that is not enough
    page.get_by_label("Code uit de app of herstelcode").fill("123456")
    page.get_by_role("button", name="Verder").click()
    expect(page.get_by_text("De code klopt niet", exact=False)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Gezondheidscheck van het MKB")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "analyst_without_second_factor.png"), full_page=True)
    page.goto(f"{url}/gezondheidscheck")  # skipping the code step by opening the page again
    expect(page.get_by_role("heading", name="Inloggen")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Gezondheidscheck van het MKB")).to_have_count(0)


def test_a_locked_account_stays_locked_for_the_set_time(server, browser_page):
    from playwright.sync_api import expect

    url, data, logins = server
    respondent, page = logins["locked"], browser_page
    page.goto(url)
    for _ in range(2):
        log_in(page, respondent["email"], "verkeerd wachtwoord")
        expect(page.get_by_text("Inloggen is niet gelukt", exact=False)).to_be_visible(timeout=30_000)
    log_in(page, respondent["email"], "verkeerd wachtwoord")
    expect(page.get_by_text("Te veel mislukte pogingen", exact=False)).to_be_visible(timeout=30_000)
    locked_at = time.monotonic()
    log_in(page, respondent["email"], respondent["password"])  # the right password, while locked
    expect(page.get_by_text("Te veel mislukte pogingen", exact=False)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Gezondheidscheck invullen")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "locked_account.png"), full_page=True)
    assert time.monotonic() - locked_at < LOCK_SECONDS  # still within the lock: this proves it held
    time.sleep(max(0.0, LOCK_SECONDS + 1 - (time.monotonic() - locked_at)))
    log_in(page, respondent["email"], respondent["password"])
    expect(page.get_by_role("heading", name="Gezondheidscheck invullen")).to_be_visible(timeout=30_000)
