"""The communication tool's pages (Streamlit AppTest, real account store in a temporary data folder): a policymaker
sends an update and proposes a working group and sees only rounded counts; the respondent finds both on its home page,
joins the group visibly and sees its page; 'Mijn account' turns e-mail on; the unsubscribe page works without a login."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from conftest import demo_accounts, logged_in

from accounts.mail import outbox
from accounts.preferences import unsubscribe_link, wants_email
from accounts.service import get_account
from accounts.store import store
from content.segments import note_submission, segment_size
from content.working_groups import propose_group


@pytest.fixture()
def data(tmp_path, monkeypatch):
    """A data folder with the demo accounts only (no pipeline: these pages read the account store, not released figures)."""
    folder = tmp_path / "data"
    monkeypatch.setenv("MKB_DATA_DIR", str(folder))
    monkeypatch.delenv("MKB_SMTP_HOST", raising=False)  # mail goes to the outbox folder
    return folder, demo_accounts(folder)


def plain(text: str) -> str:
    """Rendered text without md()'s escapes (backslashes and word joiners)."""
    return text.replace("\\", "").replace("\u2060", "")


def _texts(app) -> str:
    return "\n".join(plain(str(e.value)) for kind in ("markdown", "success", "error", "info", "caption", "subheader", "header", "title", "warning")
                     for e in getattr(app, kind))


def _expander_labels(app) -> str:
    return plain("\n".join(e.label for e in app.expander))


def test_a_policymaker_sends_an_update_the_respondent_in_its_segment_reads_it_at_home(data):
    folder, logins = data
    with store() as connection:
        respondent = get_account(connection, logins["respondent"]["id"])
        note_submission(connection, respondent, "cgc", {"sector": "I", "province": "PV31", "size_class": "2-9"})

    app = logged_in(logins["analyst"])
    app.switch_page("views/beheer_communicatie.py").run()
    assert not app.exception and app.title[0].value == "Berichten en werkgroepen"
    app.selectbox(key="update_sector").select("I").run()
    assert "Dit bericht bereikt nu **minder dan 10** bedrijven." in _texts(app)
    app.button(key="FormSubmitter:update_form-Update versturen").click().run()  # nothing typed yet
    assert "titel: is te kort" in plain(app.error[0].value) and "tekst: is te kort" in plain(app.error[0].value)
    app.text_input(key="update_title").input("Update over de CO2-heffing")
    app.text_area(key="update_body").input("Uw reacties zijn besproken in de Tweede Kamer.\nEr is een motie aangenomen.")
    app.button(key="FormSubmitter:update_form-Update versturen").click().run()
    assert not app.exception and not app.error
    assert "is verstuurd aan minder dan 10 bedrijven" in app.success[0].value
    assert "Update over de CO2-heffing" in _expander_labels(app) and "minder dan 10 bedrijven" in _expander_labels(app)
    assert logins["respondent"]["email"] not in _texts(app) + _expander_labels(app)

    home = logged_in(logins["respondent"])  # a respondent lands on its home page
    assert not home.exception
    assert "**Berichten voor uw bedrijf**" in _texts(home)
    assert "Update over de CO2-heffing" in _expander_labels(home) and "Er is een motie aangenomen." in _texts(home)
    assert not outbox(folder / "outbox") or all("CO2" not in m.subject for m in outbox(folder / "outbox"))  # e-mail is off by default


def test_a_working_group_invitation_is_answered_on_the_group_page_and_members_show_as_they_chose(data):
    folder, logins = data
    with store() as connection:
        analyst = get_account(connection, logins["analyst"]["id"])
        group = propose_group(connection, analyst, {"title": "Werkgroep energiekosten", "topic": "Thema: energierekening",
                                                    "agenda": "1. Kennismaken", "session_at": datetime.now() + timedelta(days=7)}, outbox_mailer(folder))
    home = logged_in(logins["respondent"])
    assert "**Uitnodiging voor een werkgroep**" in _texts(home) and "Werkgroep energiekosten" in _texts(home)

    home.switch_page("views/werkgroepen.py").run()
    assert not home.exception and home.title[0].value == "Mijn werkgroepen"
    prefix = f"invitation_{group.id}"
    home.checkbox(key=f"{prefix}_visible").check()
    home.button(key=f"FormSubmitter:{prefix}-Ik doe mee").click().run()
    assert "naam van uw bedrijf: vul de naam in" in plain(home.error[0].value)  # visible without a name: the field is named
    home.text_input(key=f"{prefix}_name").input("Bakkerij Zon & Zoet")
    home.button(key=f"FormSubmitter:{prefix}-Ik doe mee").click().run()
    assert not home.exception and not home.error
    assert "U doet mee met de werkgroep" in plain(home.success[0].value)
    assert list(home.table[0].value["Bedrijf"]) == ["Bakkerij Zon \\& Zoet"]  # Markdown-escaped in the table
    assert any(b.proto.url == group.video_link for b in home.get("link_button"))

    staff = logged_in(logins["analyst"])
    staff.switch_page("views/beheer_communicatie.py").run()
    assert "doen mee: minder dan 10" in _expander_labels(staff) and "Zon" not in _texts(staff)


def test_e_mail_is_turned_on_in_my_account_and_off_by_the_link_without_logging_in(data):
    _, logins = data
    app = logged_in(logins["respondent"])
    app.switch_page("views/account.py").run()
    app.checkbox(key="email_updates_choice").check()
    app.button(key="FormSubmitter:email_updates-Opslaan").click().run()
    assert not app.exception and "ook per e-mail" in app.success[0].value
    with store() as connection:
        assert wants_email(connection, logins["respondent"]["id"])
        link = unsubscribe_link(connection, logins["respondent"]["id"])

    from streamlit.testing.v1 import AppTest

    page = AppTest.from_file("../dashboards/app.py", default_timeout=60)  # nobody logged in
    page.query_params["code"] = link.split("code=")[1]
    page.switch_page("views/afmelden.py").run()
    assert not page.exception and page.title[0].value == "Geen e-mail meer over berichten"
    page.button[0].click().run()
    assert not page.exception and "u krijgt geen berichten meer per e-mail" in page.success[0].value
    with store() as connection:
        assert not wants_email(connection, logins["respondent"]["id"])


def outbox_mailer(folder):
    from accounts.mail import OutboxMailer

    return OutboxMailer(folder / "outbox")


def test_a_policymaker_proposes_a_working_group_on_the_page_and_plans_its_brainstorm(data):
    _, logins = data
    app = logged_in(logins["analyst"])
    app.switch_page("views/beheer_communicatie.py").run()
    app.button(key="FormSubmitter:group_form-Werkgroep voorstellen en bedrijven uitnodigen").click().run()
    assert "titel: is te kort" in plain(app.error[0].value) and "signaal of thema: is te kort" in plain(app.error[0].value)
    app.text_input(key="group_title").input("Werkgroep personeelstekort")
    app.text_input(key="group_topic").input("Signaal: personeelstekort in de bouw")
    app.text_area(key="group_agenda").input("1. Kennismaken")
    app.checkbox(key="group_planned").check()
    app.button(key="FormSubmitter:group_form-Werkgroep voorstellen en bedrijven uitnodigen").click().run()
    assert not app.exception and not app.error
    assert "Uitgenodigd: minder dan 10 bedrijven" in plain(app.success[0].value)  # the demo respondent, uncounted
    assert "uitgenodigd: minder dan 10 · doen mee: minder dan 10" in _expander_labels(app)
    with store() as connection:
        (group_id,) = connection.execute("SELECT id FROM working_groups").fetchone()
    app.text_area(key=f"plan_agenda_{group_id}").input("1. Kennismaken\n2. Brainstorm")
    app.button(key=f"FormSubmitter:plan_{group_id}-Agenda en brainstorm opslaan").click().run()
    assert not app.exception and "Opgeslagen" in app.success[-1].value
    assert any(b.proto.url.startswith("https://meet.jit.si/mkbvm-werkgroep-") for b in app.get("link_button"))


def test_a_submitted_form_puts_the_firm_in_its_segment(data):
    _, logins = data
    app = logged_in(logins["respondent"])
    app.switch_page("views/invullen.py").run()  # from the home page to the form
    app.selectbox(key="sector").select("I")
    app.selectbox(key="size_class").select("2-9")
    app.selectbox(key="province").select("PV31")
    app.radio(key="order_book").set_value("grown")
    app.button(key="FormSubmitter:cgc_form-Versturen").click().run()
    assert not app.exception and app.success[0].value == "Bedankt! Uw antwoorden zijn veilig opgeslagen."
    with store() as connection:
        analyst = get_account(connection, logins["analyst"]["id"])
        from content.segments import Segment, matching_accounts

        assert [r.account_id for r in matching_accounts(connection, Segment(sector="I", province="PV31", size_class="2-9"))] == [logins["respondent"]["id"]]
        assert matching_accounts(connection, Segment(sector="G")) == []
        assert segment_size(connection, analyst, {"sector": "I"}).label == "minder dan 10"
