"""Accounts in a real browser (headless Chromium against a real Streamlit server): a respondent cannot reach
staff pages by URL nor submit for another firm, an analyst without the second factor is not let in, a locked
account stays locked for the set time, an invitation is activated to the end and the new account logs in, a
name with Markdown in it shows as plain text, and the websocket refuses a foreign Host. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import time

import pytest
import yaml
from browser_support import check_accessibility, fresh_code, launch, log_in, open_from_menu, streamlit_server
from conftest import ARTIFACTS, demo_accounts, invitation_code

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
    check_accessibility(page, f"respondent_refused_{path}")
    page.screenshot(path=str(ARTIFACTS / f"respondent_refused_{path}.png"), full_page=True)


def test_a_respondent_cannot_submit_for_another_firm(server, browser_page):
    from playwright.sync_api import expect

    url, data, logins = server
    page = browser_page
    page.goto(url)
    log_in(page, logins["respondent"]["email"], logins["respondent"]["password"])
    expect(page.get_by_role("heading", name="Mijn overzicht")).to_be_visible(timeout=30_000)  # a respondent's home
    open_from_menu(page, "Gezondheidscheck invullen")
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
    check_accessibility(page, "respondent_own_firm")
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
    check_accessibility(page, "analyst_without_second_factor")
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
    expect(page.get_by_role("heading", name="Mijn overzicht")).to_have_count(0)
    check_accessibility(page, "locked_account")
    page.screenshot(path=str(ARTIFACTS / "locked_account.png"), full_page=True)
    assert time.monotonic() - locked_at < LOCK_SECONDS  # still within the lock: this proves it held
    time.sleep(max(0.0, LOCK_SECONDS + 1 - (time.monotonic() - locked_at)))
    log_in(page, respondent["email"], respondent["password"])
    expect(page.get_by_role("heading", name="Mijn overzicht")).to_be_visible(timeout=30_000)


def test_an_invitation_is_activated_to_the_end_and_the_new_account_logs_in(server, browser_page):
    from playwright.sync_api import expect

    url, data, logins = server
    admin, page = logins["administrator"], browser_page
    page.goto(url)
    log_in(page, admin["email"], admin["password"], admin["totp_secret"])
    expect(page.get_by_role("heading", name="Accounts beheren")).to_be_visible(timeout=30_000)
    page.get_by_label("Naam").fill("Nina van Nieuw")
    page.get_by_label("E-mailadres").fill("nina@example.nl")
    page.get_by_role("combobox", name="Rol").click()
    page.get_by_role("option", name="analist / beleidsmaker").click()
    page.get_by_role("button", name="Uitnodiging versturen").click()
    expect(page.get_by_text("staat klaar bij de verstuurde berichten", exact=False)).to_be_visible(timeout=30_000)
    code = invitation_code(data / "outbox", "nina@example.nl")  # from the recipient's mail, as she would click it
    open_from_menu(page, "Verstuurde berichten")
    expect(page.get_by_role("heading", name="Verstuurde berichten")).to_be_visible(timeout=30_000)
    page.get_by_text(re.compile("aan nina\u2060?@example")).click()  # md() puts an invisible word joiner before "@"
    expect(page.get_by_text("verborgen: alleen in de e-mail aan de ontvanger", exact=False)).to_be_visible(timeout=30_000)
    assert code not in page.content()  # the administrator cannot use someone else's invitation

    invited = page.context.browser.new_page(viewport={"width": 1280, "height": 1400})
    invited.goto(f"{url}/activeren?code={code}")
    expect(invited.get_by_text("Welkom, Nina van Nieuw", exact=False)).to_be_visible(timeout=30_000)
    key_text = invited.get_by_text("deze sleutel in de app", exact=False)
    expect(key_text).to_be_visible(timeout=30_000)
    secret = re.search(r"deze sleutel in de app: ([A-Z2-7]+)", key_text.inner_text()).group(1)
    invited.get_by_label("Wachtwoord (").fill("een lang wachtwoord 77")
    invited.get_by_label("Wachtwoord nog een keer").fill("een lang wachtwoord 77")
    invited.get_by_label("Code uit de app (6 cijfers)").fill(fresh_code(secret))
    invited.get_by_role("button", name="Account activeren").click()
    expect(invited.get_by_text("Uw account is klaar. U kunt nu inloggen.")).to_be_visible(timeout=30_000)
    expect(invited.get_by_text("Er ging iets mis", exact=False)).to_have_count(0)
    check_accessibility(invited, "activation_done")
    invited.screenshot(path=str(ARTIFACTS / "activation_done.png"), full_page=True)
    invited.get_by_role("link", name="Naar inloggen").click()
    expect(invited.get_by_role("heading", name="Inloggen")).to_be_visible(timeout=30_000)
    invited.get_by_label("E-mailadres").fill("nina@example.nl")
    invited.get_by_label("Wachtwoord").fill("een lang wachtwoord 77")
    invited.get_by_role("button", name="Inloggen").click()
    code_field = invited.get_by_label("Code uit de app of herstelcode")
    expect(code_field).to_be_visible(timeout=30_000)
    code_field.fill(fresh_code(secret))  # the code used at activation is spent: this is the next one
    invited.get_by_role("button", name="Verder").click()
    expect(invited.get_by_role("heading", name="Overzicht", exact=True)).to_be_visible(timeout=30_000)  # an analyst's home
    expect(invited.get_by_text("Er ging iets mis", exact=False)).to_have_count(0)


ATTACK_NAME = "Jan [Klik hier](https://evil.example) ![t](http://host/t.png)"


def test_a_name_with_markdown_shows_as_plain_text_everywhere(server, browser_page):
    from playwright.sync_api import expect

    url, data, logins = server
    with store(data / "accounts" / "accounts.sqlite") as connection:  # a name stored before names were restricted
        create_account(connection, {"name": "Jan Markdown", "email": "md@example.nl", "role": "respondent", "kvk_number": "66666666"},
                       "een lang wachtwoord 43")
        connection.execute("UPDATE accounts SET name = ? WHERE email = 'md@example.nl'", [ATTACK_NAME])
    page = browser_page
    page.goto(url)
    log_in(page, "md@example.nl", "een lang wachtwoord 43")
    expect(page.get_by_role("heading", name="Mijn overzicht")).to_be_visible(timeout=30_000)
    shown_as_typed = re.compile(r"Jan \[Klik hier\]\(https:\u2060?//evil\.example\) !\[t\]\(http:\u2060?//host/t\.png\)")
    expect(page.get_by_text(shown_as_typed).first).to_be_visible()  # as typed (md() adds an invisible word joiner after ":")
    open_from_menu(page, "Mijn account")
    expect(page.get_by_role("heading", name="Mijn account")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(shown_as_typed).first).to_be_visible()
    check_accessibility(page, "markdown_name")
    page.screenshot(path=str(ARTIFACTS / "markdown_name.png"), full_page=True)
    assert page.locator("a[href*='evil.example']").count() == 0 and page.locator("img[src*='host/t.png']").count() == 0
    page.get_by_role("button", name="Uitloggen").click()

    admin = logins["administrator"]
    log_in(page, admin["email"], admin["password"], admin["totp_secret"])
    expect(page.get_by_role("heading", name="Accounts beheren")).to_be_visible(timeout=30_000)
    page.get_by_label("Naam").fill(ATTACK_NAME)  # the form refuses it, naming the rule and not the name
    page.get_by_label("E-mailadres").fill("nog.een@example.nl")
    page.get_by_role("button", name="Uitnodiging versturen").click()
    expect(page.get_by_text("gebruik alleen letters", exact=False)).to_be_visible(timeout=30_000)
    page.get_by_role("combobox", name="Account").click()
    page.keyboard.type("Klik hier")  # the list is long (one demo account per role): filter it, as a person would
    page.get_by_role("option", name=re.compile("Klik hier")).click()  # the stored name, chosen by an administrator
    page.get_by_role("button", name="Blokkeren").click()
    expect(page.get_by_text("is geblokkeerd", exact=False)).to_be_visible(timeout=30_000)
    check_accessibility(page, "markdown_name_admin")
    page.screenshot(path=str(ARTIFACTS / "markdown_name_admin.png"), full_page=True)
    assert page.locator("a[href*='evil.example']").count() == 0 and page.locator("img[src*='host/t.png']").count() == 0


def _websocket_handshake(url: str, host: str) -> int:
    address = url.removeprefix("http://")
    connection = http.client.HTTPConnection(address, timeout=10)
    connection.request("GET", "/_stcore/stream", headers={
        "Host": host, "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": f"http://{host}",
    })
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_websocket_refuses_a_foreign_host(server):
    url, _, _ = server
    assert _websocket_handshake(url, url.removeprefix("http://")) == 101  # the app's own address works
    assert _websocket_handshake(url, "evil.example") != 101  # DNS rebinding: another name for 127.0.0.1 is refused
