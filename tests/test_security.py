"""The holes a security test found in accounts and pages (issue 8), each shut: names that carry Markdown or a
formula, CSV cells a spreadsheet would run, sessions that outlive a password change, weak or huge passwords,
codes reused after activation, recovery codes without the password, and activation links on the outbox page.
The browser side (rendered pages, the Streamlit websocket's Host check) is in test_browser_accounts.py."""

from __future__ import annotations

import html
import re
import shutil
import time
import unicodedata
from datetime import datetime, timedelta

import polars as pl
import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from accounts.mail import MASKED_CODE, OutboxMailer, outbox
from accounts.service import (
    FORMULA_STARTS,
    AccountError,
    Member,
    accept_invitation,
    change_password,
    change_role,
    create_account,
    enable_second_factor,
    find_account,
    import_members,
    invite,
    login,
    new_recovery_codes,
    new_totp_secret,
    open_invitation,
    reset_access,
    second_factor,
    set_active,
)
from accounts.settings import load_account_settings
from accounts.store import store as store_at
from core.contracts import FORBIDDEN_TEXT_CHARACTERS
from core.settings import CONFIG_DIR
from dashboards.safe import WORD_JOINER, md, neutralised
from tests.conftest import demo_accounts, invitation_code, logged_in

NOW = datetime(2026, 12, 1, 10, 0, 0)
SETTINGS = load_account_settings(CONFIG_DIR / "accounts.yaml")
PASSWORD = "een lang wachtwoord 42"
ATTACK_NAME = "Jan [Klik hier](https://evil.example) ![t](http://host/t.png)"


# --------------------------------------------------------------------------- names and typed cells


def _member_problem(**fields) -> str:
    data = {"name": "Piet Bakker", "email": "piet@bakkerij.nl", "role": "analyst", **fields}
    try:
        Member.model_validate(data)
    except Exception as error:  # noqa: BLE001 - the pydantic error, its text checked below
        return str(error)
    return ""


@pytest.mark.parametrize("name", [ATTACK_NAME, "=HYPERLINK(\"http://x\")", "+31 6", "-Jan", "@Jan", "\tJan", "\rJan",
                                  "Jan\nUw account is geblokkeerd", "Jan *vet*", "Jan_", "Jan <b>", "Jan 3"])
def test_names_with_markdown_formulas_or_line_breaks_are_refused_without_repeating_them(store, tmp_path, admin, name):
    with pytest.raises(AccountError) as refused:
        invite(store, admin, {"name": name, "email": "piet@bakkerij.nl", "role": "analyst"}, OutboxMailer(tmp_path / "o"), SETTINGS, NOW)
    assert str(refused.value).startswith("naam: gebruik alleen letters") and name.strip() not in str(refused.value)
    assert not list((tmp_path / "o").glob("*.eml"))  # nobody was invited


@pytest.mark.parametrize("name", ["Piet Bakker", "Marie-José d'Hondt", "J.P. Balkenende", "Ünal Öztürk", "Nguyễn Văn An", "Zoë O’Brien"])
def test_real_names_are_accepted(name):
    assert _member_problem(name=name) == ""


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_accepted_name_is_plain_text_that_no_spreadsheet_runs(name):
    if _member_problem(name=name):
        return
    accepted = Member.model_validate({"name": name, "email": "a@b.nl", "role": "analyst"}).name
    assert not accepted.startswith(FORMULA_STARTS)
    assert accepted[0].isalpha() and all(c.isalpha() or c in " .'\u2019-" or unicodedata.category(c)[0] == "M" for c in accepted)


def test_an_imported_member_list_never_repeats_what_a_cell_typed(store, tmp_path, admin):
    members = (
        "name,email,kvk_number,role\n"
        f"Piet Bakker,piet@bakkerij.nl,,[Klik](https://evil.example)\n"
        f"\"{ATTACK_NAME}\",jan@bakkerij.nl,,analyst\n"
        "=1+1,formule@bakkerij.nl,,analyst\n"
        "Anna Beleid,=anna@ministerie.nl,,analyst\n"
    )
    report = import_members(store, admin, members, OutboxMailer(tmp_path / "outbox"), SETTINGS, NOW)
    assert report.invited == []
    assert report.skipped == [
        "Rij 2: rol: is geen bekende rol (kies: respondent, analyst, administrator, creditor, consultant)",
        f"Rij 3: naam: {'gebruik alleen letters, spaties, koppeltekens (-), apostrofs (' + chr(39) + ') en punten, en begin met een letter'}",
        f"Rij 4: naam: {'gebruik alleen letters, spaties, koppeltekens (-), apostrofs (' + chr(39) + ') en punten, en begin met een letter'}",
        "Rij 5: e-mailadres: mag niet beginnen met =, +, - of @",
    ]


def _rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)
       | st.sampled_from([ATTACK_NAME, "<img src=x onerror=alert(1)>", "**vet** _schuin_ `code`", "# kop", "1. lijst", "> citaat",
                          "[a]: http://x", "&amp; &#x26;", ":red[rood] :smile:", "$x^2$", "https://evil.example www.evil.example"]))
def test_escaped_text_renders_as_exactly_that_text(text):
    """A CommonMark renderer turns md(text) into the text itself: no link, image, emphasis, heading, list or HTML."""
    rendered = _rendered(md(text))
    assert "<a" not in rendered and "<img" not in rendered and "<em>" not in rendered and "<strong>" not in rendered
    assert not re.search(r"<(h\d|ol|ul|li|blockquote|code|pre|hr)\b", rendered)
    shown = html.unescape(re.sub(r"<[^>]+>", "", rendered)).replace(WORD_JOINER, "").strip()
    left_out = {ord(c): None for c in FORBIDDEN_TEXT_CHARACTERS + WORD_JOINER if not c.isspace()}
    assert shown == " ".join(text.translate(left_out).split())


def test_the_attack_name_without_escaping_would_have_rendered_a_link_and_an_image():
    """The control: the test above can fail (the renderer does make links of this name when it is not escaped)."""
    rendered = _rendered(ATTACK_NAME)
    assert '<a href="https://evil.example"' in rendered and '<img src="http://host/t.png"' in rendered


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=20) | st.sampled_from(["=SUM(A1)", "+31", "-3,5", "-12", "@x", "\tx", "\rx", "|x", "%x"]),
                min_size=1, max_size=10))
def test_no_csv_cell_the_app_offers_starts_a_formula(cells):
    out = neutralised(pl.DataFrame({"cel": cells}))["cel"].to_list()
    for before, after in zip(cells, out, strict=True):
        plain_number = re.fullmatch(r"-?[0-9]+([.,][0-9]+)?", before) is not None
        if before[:1] in ("=", "+", "-", "@", "\t", "\r", "|", "%") and not plain_number:
            assert after == "'" + before
        else:
            assert after == before


# --------------------------------------------------------------------------- passwords


@pytest.mark.parametrize(("password", "rule"), [
    ("wachtwoord123!", "te makkelijk te raden"), ("aaaaaaaaaaaaaaaa", "herhalingen"), ("abcdefghijklmnop", "reeks"),
    ("qwertyuiopasdf", "veelgebruikt"), ("x" * 129, "hoogstens 128 tekens"), ("kort", "minstens 12 tekens"),
])
def test_weak_and_huge_passwords_are_refused_with_the_rule(store, tmp_path, admin, password, rule):
    invite(store, admin, {"name": "Ana List", "email": "ana@example.nl", "role": "respondent", "kvk_number": "87654321"},
           OutboxMailer(tmp_path / "outbox"), SETTINGS, NOW)
    with pytest.raises(AccountError, match=rule):
        accept_invitation(store, invitation_code(tmp_path / "outbox"), password, settings=SETTINGS, now=NOW)


def test_a_megabyte_password_is_refused_before_argon2_sees_it(store, admin):
    started = time.perf_counter()
    with pytest.raises(AccountError, match="hoogstens"):
        change_password(store, admin, PASSWORD, "Ab1!" * 250_000, SETTINGS, NOW)
    assert time.perf_counter() - started < 5  # generous: argon2 or zxcvbn on 1 MB would take far longer


# --------------------------------------------------------------------------- credential versions, codes


def _version(store, account_id: int) -> int:
    return store.execute("SELECT credential_version FROM accounts WHERE id = ?", [account_id]).fetchone()[0]


def test_every_change_that_must_end_other_sessions_raises_the_credential_version(store, tmp_path, admin):
    mail = OutboxMailer(tmp_path / "outbox")
    analyst = create_account(store, {"name": "An Alist", "email": "an@example.nl", "role": "analyst"}, PASSWORD,
                             totp_secret=new_totp_secret(), settings=SETTINGS, now=NOW)
    versions = [_version(store, analyst.id)]
    change_role(store, admin, analyst.id, "administrator", NOW)
    versions.append(_version(store, analyst.id))
    set_active(store, admin, analyst.id, False, NOW)
    versions.append(_version(store, analyst.id))
    set_active(store, admin, analyst.id, True, NOW)
    versions.append(_version(store, analyst.id))
    new = change_password(store, find_account(store, "an@example.nl"), PASSWORD, "een ander lang wachtwoord 7", SETTINGS, NOW)
    versions.append(_version(store, analyst.id))
    assert new == versions[-1]
    reset_access(store, admin, analyst.id, mail, SETTINGS, NOW)
    versions.append(_version(store, analyst.id))
    assert versions == sorted(set(versions)) and len(versions) == 6  # each change raised it
    assert login(store, "an@example.nl", "een ander lang wachtwoord 7", SETTINGS, NOW).status == "denied"  # reset: old password gone
    assert open_invitation(store, invitation_code(tmp_path / "outbox", "an@example.nl"), NOW, SETTINGS).account.id == analyst.id


def test_the_code_that_turned_the_second_factor_on_cannot_log_in(store):
    respondent = create_account(store, {"name": "On Der", "email": "on@example.nl", "role": "respondent", "kvk_number": "87654321"},
                                PASSWORD, settings=SETTINGS, now=NOW)
    secret = new_totp_secret()
    code = pyotp.TOTP(secret).at(NOW)
    enable_second_factor(store, respondent, secret, code, SETTINGS, NOW)
    step = login(store, "on@example.nl", PASSWORD, SETTINGS, NOW)
    assert step.status == "second_factor"
    assert second_factor(store, step.account, code, SETTINGS, NOW + timedelta(seconds=5)).status == "denied"


def test_new_recovery_codes_need_the_password(store, admin):
    with pytest.raises(AccountError, match="wachtwoord: klopt niet"):
        new_recovery_codes(store, admin, "niet het wachtwoord", SETTINGS, NOW)
    assert len(new_recovery_codes(store, admin, PASSWORD, SETTINGS, NOW)) == SETTINGS.second_factor.recovery_codes


def test_the_outbox_page_shows_no_working_activation_code(store, tmp_path, admin):
    invite(store, admin, {"name": "Ana List", "email": "ana@example.nl", "role": "analyst"}, OutboxMailer(tmp_path / "outbox"), SETTINGS, NOW)
    token = invitation_code(tmp_path / "outbox")  # the recipient's own mail (the .eml file) still carries it
    (message,) = outbox(tmp_path / "outbox")
    assert len(token) > 20 and token not in message.body and f"code={MASKED_CODE}" in message.body


# --------------------------------------------------------------------------- sessions in the app (AppTest)


@pytest.fixture()
def installation(pipeline, tmp_path, monkeypatch):
    shutil.copytree(pipeline.exports, tmp_path / "data" / "exports")
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data", demo_accounts(tmp_path / "data")


def _change_elsewhere(data, logins, what: str) -> None:
    """What another browser (or the administrator) does while our analyst's session is open."""
    with store_at(data / "accounts" / "accounts.sqlite") as connection:
        analyst = find_account(connection, logins["analyst"]["email"])
        administrator = find_account(connection, logins["administrator"]["email"])
        if what == "password":
            change_password(connection, analyst, logins["analyst"]["password"], "een nieuw lang wachtwoord 9")
        elif what == "block":
            set_active(connection, administrator, analyst.id, False)
            set_active(connection, administrator, analyst.id, True)  # unblocked again at once: the session still ends
        elif what == "role":
            change_role(connection, administrator, analyst.id, "administrator")
        elif what == "reset":
            reset_access(connection, administrator, analyst.id, OutboxMailer(data / "outbox"))


@pytest.mark.parametrize("what", ["password", "block", "role", "reset"])
def test_a_password_block_role_or_access_change_ends_the_other_open_sessions(installation, what):
    data, logins = installation
    app = logged_in(logins["analyst"])
    assert app.title[0].value == "Overzicht"  # an analyst's home
    _change_elsewhere(data, logins, what)
    app.run()  # the next click in the old session
    assert not app.exception
    assert app.title[0].value == "Inloggen" and "Log daarom opnieuw in" in app.info[0].value


def test_the_session_that_changes_its_own_password_stays_logged_in(installation):
    data, logins = installation
    app = logged_in(logins["respondent"])
    app.switch_page("views/account.py").run()
    app.text_input(key="current_password").input(logins["respondent"]["password"])
    app.text_input(key="new_password").input("een nieuw lang wachtwoord 9")
    app.button(key="FormSubmitter:password-Wachtwoord wijzigen").click().run()  # a respondent's page has the e-mail form first
    assert not app.exception and "Uw wachtwoord is gewijzigd" in app.success[0].value
    app.run()
    assert app.title[0].value == "Mijn account"  # still in


def test_the_login_step_two_fails_when_the_password_changed_after_step_one(installation):
    from streamlit.testing.v1 import AppTest

    data, logins = installation
    analyst = logins["analyst"]
    app = AppTest.from_file("../dashboards/app.py", default_timeout=60)
    app.run()
    app.text_input(key="login_email").input(analyst["email"])
    app.text_input(key="login_password").input(analyst["password"])
    app.button[0].click().run()
    assert app.text_input(key="login_code") is not None
    _change_elsewhere(data, logins, "password")
    app.text_input(key="login_code").input(pyotp.TOTP(analyst["totp_secret"]).now())
    app.button[0].click().run()
    assert app.title[0].value == "Inloggen" and app.text_input(key="login_email") is not None  # back to step one, not logged in
    assert "Log daarom opnieuw in" in " ".join(i.value for i in app.info)
