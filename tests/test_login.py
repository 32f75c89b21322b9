"""Login, roles and admin pages in the Streamlit app (AppTest; the browser journeys are in test_browser_accounts.py)."""

from __future__ import annotations

import shutil
import time

import pyotp
import pytest
from streamlit.testing.v1 import AppTest

from accounts import audit
from accounts.mail import MASKED_CODE, outbox
from accounts.store import store
from dashboards.auth import ACCOUNT_ID, LAST_SEEN
from dashboards.safe import md
from tests.conftest import demo_accounts, invitation_code, logged_in

APP = "../dashboards/app.py"


@pytest.fixture()
def installation(pipeline, tmp_path, monkeypatch):
    """A copy of the session installation with demo accounts, so logins and invitations stay this test's own."""
    shutil.copytree(pipeline.exports, tmp_path / "data" / "exports")
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data", demo_accounts(tmp_path / "data")


def fresh() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    return app


def log_in(app: AppTest, email: str, password: str) -> AppTest:
    app.text_input(key="login_email").input(email)
    app.text_input(key="login_password").input(password)
    app.button[0].click().run()
    return app


def page_text(app: AppTest) -> str:
    return " ".join(e.value for kind in ("title", "markdown", "error", "warning", "info", "success") for e in getattr(app, kind))


def test_without_login_every_page_shows_the_login_form(installation):
    app = fresh()
    assert app.title[0].value == "Inloggen" and not app.metric
    app.switch_page("views/gezondheidscheck.py").run()
    assert app.title[0].value == "Inloggen" and "Gezondheidscheck van het MKB" not in page_text(app)
    app.switch_page("views/beheer_accounts.py").run()
    assert app.title[0].value == "Inloggen"


def test_a_wrong_password_and_an_unknown_address_get_the_same_dutch_message(installation):
    _, logins = installation
    wrong = log_in(fresh(), logins["respondent"]["email"], "niet het wachtwoord")
    unknown = log_in(fresh(), "bestaat-niet@example.nl", "niet het wachtwoord")
    assert wrong.error[0].value == unknown.error[0].value == "Inloggen is niet gelukt. Controleer uw e-mailadres en wachtwoord."


@pytest.mark.parametrize("page", ["views/gezondheidscheck.py", "views/privacy.py", "views/beheer_accounts.py", "views/beheer_audit.py",
                                  "views/beheer_uploads.py", "views/beheer_communicatie.py", "views/beheer_avg.py"])
def test_a_respondent_opening_a_staff_page_gets_a_dutch_refusal_and_not_the_page(installation, page):
    _, logins = installation
    app = logged_in(logins["respondent"])
    app.switch_page(page).run()
    assert not app.exception
    assert "Deze pagina is alleen voor" in app.error[0].value and "U bent ingelogd als ondernemer" in app.error[0].value
    assert not app.metric and not app.dataframe and not app.table


def test_the_menu_shows_only_the_pages_of_the_role(installation):
    _, logins = installation
    labels = {role: {link.label for link in logged_in(login).sidebar.get("page_link")} for role, login in logins.items()}
    assert labels["respondent"] == {"Mijn overzicht", "Gezondheidscheck invullen", "Impact van een voorstel inschatten", "Reageren op een voorstel",
                                    "Mijn werkgroepen", "Mijn account"}
    assert labels["analyst"] == {"Overzicht", "Gezondheidscheck", "Sentiment en uitdagingen", "Impact van voorstellen", "Stapeling van regeldruk",
                                 "Consultaties en thema's", "Kleine schulden en anti-escalatie", "MKB-aanpak Limburg", "Privacy en nauwkeurigheid",
                                 "Berichten en werkgroepen", "Mijn account"}
    assert labels["creditor"] == {"Mijn vorderingen", "Mijn account"}  # its own claims; no figures, no analysts' pages
    assert labels["consultant"] == {"Mijn trajecten", "Mijn account"}  # its own caseload; no figures, no analysts' pages
    assert {"Accounts beheren", "Beleidspijplijn beheren", "Documenten bij reacties", "AVG-verzoeken", "Berichten en werkgroepen",
            "Verstuurde berichten", "Logboek"} <= labels["administrator"]
    assert "AVG-verzoeken" not in labels["analyst"] | labels["respondent"] | labels["creditor"] | labels["consultant"]


def test_an_analyst_needs_the_code_from_the_app(installation):
    _, logins = installation
    analyst = logins["analyst"]
    app = log_in(fresh(), analyst["email"], analyst["password"])
    assert "Vul de code van 6 cijfers" in page_text(app) and not app.metric  # password alone: not in
    app.text_input(key="login_code").input("000000")
    app.button[0].click().run()
    assert "De code klopt niet" in app.error[0].value and not app.metric
    app.text_input(key="login_code").input(pyotp.TOTP(analyst["totp_secret"]).now())
    app.button[0].click().run()
    assert not app.exception and app.title[0].value == "Overzicht" and app.table  # in: the analyst's home


def test_an_idle_session_ends_and_is_logged(installation):
    data, logins = installation
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state[ACCOUNT_ID] = logins["analyst"]["id"]
    app.session_state[LAST_SEEN] = time.time() - 31 * 60  # longer than the 30 minutes in config/accounts.yaml
    app.run()
    assert app.title[0].value == "Inloggen" and "niet actief" in app.info[0].value
    with store(data / "accounts" / "accounts.sqlite") as connection:
        assert audit.entries(connection)[0]["action"] == "session_expired"


def test_an_administrator_invites_someone_who_activates_the_account(installation):
    data, logins = installation
    admin = logged_in(logins["administrator"])
    assert admin.title[0].value == "Accounts beheren"
    admin.text_input(key="invite_name").input("Piet Bakker")
    admin.text_input(key="invite_email").input("piet@bakkerij.nl")
    admin.selectbox(key="invite_role").select("respondent")
    admin.text_input(key="invite_kvk").input("11223344")
    admin.button[0].click().run()
    assert not admin.exception and f"Uitnodiging voor {md('piet@bakkerij.nl')}" in admin.success[0].value
    (message,) = [m for m in outbox(data / "outbox") if m.to == "piet@bakkerij.nl"]
    token = invitation_code(data / "outbox", "piet@bakkerij.nl")
    assert token not in message.body and MASKED_CODE in message.body  # the administrator's page never shows the code

    invited = AppTest.from_file(APP, default_timeout=60)
    invited.query_params["code"] = token
    invited.switch_page("views/activeren.py").run()
    assert "Welkom, **Piet Bakker**" in page_text(invited)
    invited.text_input(key="activate_password").input("een sterk wachtwoord")
    invited.text_input(key="activate_repeat").input("een sterk wachtwoord")
    invited.button[0].click().run()
    assert invited.success[0].value == "Uw account is klaar. U kunt nu inloggen."
    app = log_in(fresh(), "piet@bakkerij.nl", "een sterk wachtwoord")
    assert app.title[0].value == "Mijn overzicht"  # a respondent lands on its home page

    used = AppTest.from_file(APP, default_timeout=60)
    used.query_params["code"] = token
    used.switch_page("views/activeren.py").run()
    assert "niet (meer) geldig" in used.error[0].value


def test_the_administrator_sees_the_audit_trail_and_its_chain_check(installation):
    _, logins = installation
    log_in(fresh(), "bestaat-niet@example.nl", "x")
    app = logged_in(logins["administrator"])
    app.switch_page("views/beheer_audit.py").run()
    assert not app.exception and "Het logboek is onveranderd" in app.success[0].value
    entries = app.dataframe[0].value
    assert "inloggen mislukt" in set(entries["Wat"]) and "account gemaakt" in set(entries["Wat"])

