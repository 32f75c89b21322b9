"""Every page of the menu, for every role, in a real browser (headless Chromium against a real Streamlit server): each
page renders without an error or a traceback, says it is in Dutch (lang="nl") and meets WCAG 2.1 AA as axe-core checks it (no serious or critical
violation). The login form, its code step and the activation page with its QR code are checked too. A screenshot and
axe-core's full result per page go to test-artifacts/ (axe/ for the results)."""

from __future__ import annotations

import shutil

import pytest
from browser_support import accessibility_problems, fresh_code, launch, log_in, no_error_shown, open_from_menu, streamlit_server
from conftest import ARTIFACTS, demo_accounts, invitation_code

from accounts.mail import OutboxMailer
from accounts.service import find_account, invite
from accounts.store import store
from dashboards.pages import all_pages

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROLES = ("respondent", "analyst", "administrator", "creditor", "consultant")
EVERY_ROLE = {"account"}  # a page that differs per role (the app code): checked for each role, every other page once


def _invite_an_analyst(data) -> str:
    """An invitation for a new analyst (who needs the app code, so the activation page shows the QR code); its one-time code."""
    with store(data / "accounts" / "accounts.sqlite") as connection:
        administrator = find_account(connection, demo_accounts(data)["administrator"]["email"])
        invite(connection, administrator, {"name": "Toegang Test", "email": "toegang@example.nl", "role": "analyst"}, OutboxMailer(data / "outbox"))
    return invitation_code(data / "outbox", "toegang@example.nl")


def _check(page, name: str, heading: str) -> list[str]:
    """The page's accessibility problems (every page is checked before the test fails, so one run names them all)."""
    problems = accessibility_problems(page, f"a11y_{name}", heading)
    language = page.evaluate("() => document.documentElement.lang")
    if language != "nl":  # WCAG 3.1.1; axe-core only checks that there is a valid language, not that it is the right one
        problems.append(f"{name}: the page says its language is {language!r}, not 'nl'")
    no_error_shown(page)
    page.screenshot(path=str(ARTIFACTS / f"a11y_{name}.png"), full_page=True)
    return problems


def test_every_page_of_every_role_meets_wcag_21_aa(pipeline, accounts, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    data = tmp_path / "data"
    # released figures, creditors' own files, proposals and accounts, and the demo logins (secrets/demo_accounts.json)
    for part in ("exports", "operational", "accounts", "secrets"):
        shutil.copytree(pipeline.data_dir / part, data / part)
    logins = demo_accounts(data)
    invitation = _invite_an_analyst(data)
    ARTIFACTS.mkdir(exist_ok=True)
    checked: set[str] = set()
    problems: list[str] = []
    with sync_playwright() as playwright, streamlit_server(data) as url:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.goto(url)
        problems += _check(page, "login", "Inloggen")
        for role in ROLES:
            login = logins[role]
            log_in(page, login["email"], login["password"])
            if login.get("totp_secret"):
                code_field = page.get_by_label("Code uit de app of herstelcode")
                expect(code_field).to_be_visible(timeout=30_000)
                if "login-code" not in checked:  # the second step of the login, once
                    problems += _check(page, "login-code", "Inloggen")
                    checked.add("login-code")
                code_field.fill(fresh_code(login["totp_secret"]))
                page.get_by_role("button", name="Verder").click()
            expect(page.get_by_role("button", name="Uitloggen")).to_be_visible(timeout=30_000)
            for info in all_pages():
                if info.roles is None or role not in info.roles or (info.url in checked and info.url not in EVERY_ROLE):
                    continue
                open_from_menu(page, info.title)
                problems += _check(page, f"{role}_{info.url}", info.title)  # every heading 1 holds its menu title
                checked.add(info.url)
                if info.url == "mijn-overzicht":  # the respondent's home on a phone: nothing wider than the screen
                    page.set_viewport_size({"width": 375, "height": 800})
                    page.wait_for_timeout(500)
                    widest = page.evaluate("() => Math.max(...[...document.querySelectorAll('[data-testid=stMain] *')]"
                                           ".map(e => e.getBoundingClientRect().right))")
                    page.screenshot(path=str(ARTIFACTS / "a11y_respondent_home_375px.png"), full_page=True)
                    if widest > 376:
                        problems.append(f"mijn-overzicht: at 375 px wide something reaches {widest:.0f} px (scrolls sideways)")
                    page.set_viewport_size({"width": 1280, "height": 1600})
            page.get_by_role("button", name="Uitloggen").click()
            expect(page.get_by_role("heading", name="Inloggen")).to_be_visible(timeout=30_000)
        page.goto(f"{url}/activeren?code={invitation}")
        expect(page.get_by_test_id("stImage")).to_be_visible(timeout=30_000)  # the QR code
        problems += _check(page, "activeren", "Account activeren")
        qr_code_named = page.get_by_role("img", name="QR-code", exact=False).count() == 1
        browser.close()
    assert not problems, "WCAG 2.1 AA (axe-core), serious or critical:\n" + "\n".join(problems)
    assert qr_code_named  # its alt text says what it is for
    assert checked >= {info.url for info in all_pages() if info.roles is not None}  # no page of any menu was left out
