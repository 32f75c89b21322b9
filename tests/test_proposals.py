"""The policy pipeline: administrators add and edit proposals; each change is audited with old and new values,
bad input gets Dutch messages naming the field, and only administrators may write."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime

import pytest

from accounts import audit
from accounts.service import PermissionDenied, create_account
from accounts.store import store as store_at
from content.proposals import ProposalError, get_proposal, list_proposals, open_proposals, save_proposal
from dashboards.safe import md
from tests.conftest import demo_accounts, logged_in

NOW = datetime(2026, 12, 1, 10, 0)


def minimum_wage(**changes) -> dict:
    return {
        "id": "minimumloon-2027", "kind": "wetsvoorstel", "title": "Verhoging van het wettelijk minimumloon",
        "summary": "Het minimumloon gaat in 2027 met 5 procent omhoog. Werkgevers betalen meer loon aan medewerkers met een laag loon.",
        "ministry": "Sociale Zaken en Werkgelegenheid", "phase": "internetconsultatie", "phase_dates": {"internetconsultatie": "2026-11-20"},
        "simulation_opens": "2026-11-20", "simulation_closes": "2027-01-15",
        "articles": [{"number": "Artikel 1", "title": "Hoogte van het minimumloon", "summary": "5 procent hoger"}],
        **changes,
    }


def test_a_proposal_is_saved_and_every_change_is_audited_with_old_and_new_value(store, admin):
    save_proposal(store, admin, minimum_wage(), NOW)
    save_proposal(store, admin, minimum_wage(phase="tweede_kamer", phase_dates={"internetconsultatie": "2026-11-20", "tweede_kamer": "2027-02-01"}), NOW)
    proposal = get_proposal(store, "minimumloon-2027")
    assert proposal.phase == "tweede_kamer" and proposal.phase_name == "Tweede Kamer"
    changed, added = audit.entries(store)[:2]
    assert (changed["action"], added["action"]) == ("proposal_changed", "proposal_added")
    changes = json.loads(changed["details"])["changes"]
    assert changes["phase"] == ["internetconsultatie", "tweede_kamer"] and set(changes) == {"phase", "phase_dates"}
    assert audit.verify_chain(store).intact
    save_proposal(store, admin, minimum_wage(phase="tweede_kamer", phase_dates={"internetconsultatie": "2026-11-20", "tweede_kamer": "2027-02-01"}), NOW)
    assert len(audit.entries(store)) == len([changed, added]) + 1  # nothing changed: no entry (the +1 is the admin's creation)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"title": "Kort"}, "titel: is te kort (minstens 5 tekens)"),
    ({"id": "Minimumloon 2027"}, "korte naam: gebruik kleine letters, cijfers en streepjes"),
    ({"simulation_closes": "2026-11-01"}, "voorstel: de simulatie sluit voordat hij opent"),
    ({"simulation_opens": "20-11-2026"}, "simulatie open vanaf: is geen geldige datum (JJJJ-MM-DD)"),
    ({"phase": "stemming"}, "fase: kies uit"),
    ({"link": "http://onveilig.example"}, "link: moet beginnen met https://"),
    ({"articles": [{"number": "1", "title": "Een"}, {"number": "1", "title": "Twee"}]}, "voorstel: twee artikelen hebben hetzelfde nummer"),
])
def test_bad_proposals_get_a_dutch_message_naming_the_field(store, admin, changes, expected):
    with pytest.raises(ProposalError) as refused:
        save_proposal(store, admin, minimum_wage(**changes), NOW)
    assert any(problem.startswith(expected) for problem in refused.value.problems), refused.value.problems
    assert list_proposals(store) == []


def test_only_administrators_write_proposals(store, admin):
    analyst = create_account(store, {"name": "An Alist", "email": "an@example.nl", "role": "analyst"}, "een lang wachtwoord 42",
                             totp_secret="JBSWY3DPEHPK3PXP", now=NOW)
    with pytest.raises(PermissionDenied):
        save_proposal(store, analyst, minimum_wage(), NOW)


def test_open_proposals_follow_the_simulation_window(store, admin):
    save_proposal(store, admin, minimum_wage(), NOW)
    assert [p.id for p in open_proposals(store, date(2027, 1, 15))] == ["minimumloon-2027"]
    assert open_proposals(store, date(2027, 1, 16)) == [] and get_proposal(store, "minimumloon-2027").is_closed(date(2027, 1, 16))


@pytest.fixture()
def installation(pipeline, tmp_path, monkeypatch):
    shutil.copytree(pipeline.exports, tmp_path / "data" / "exports")
    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data", demo_accounts(tmp_path / "data")


def test_the_administrator_adds_a_proposal_on_the_page(installation):
    data, logins = installation
    app = logged_in(logins["administrator"])
    app.switch_page("views/beheer_voorstellen.py").run()
    assert not app.exception and app.title[0].value == "Beleidspijplijn beheren"
    app.text_input(key="proposal_title").input("Minder rapportageverplichtingen voor het mkb")
    app.text_input(key="proposal_ministry").input("Economische Zaken")
    app.text_area(key="proposal_summary").input("Kleine bedrijven hoeven minder vaak gegevens aan de overheid te sturen. Dat scheelt tijd.")
    app.button[0].click().run()
    assert not app.exception and "Opgeslagen" in app.success[0].value
    with store_at(data / "accounts" / "accounts.sqlite") as connection:
        (proposal,) = list_proposals(connection)
        assert proposal.id == "minder-rapportageverplichtingen" and proposal.phase == "concept"  # from the title, at most 32 characters
        assert audit.entries(connection)[0]["action"] == "proposal_added"
    app.text_area(key="proposal_summary").input("Te kort")
    app.button[0].click().run()
    assert md("uitleg: is te kort") in app.error[0].value  # the page escapes what it shows (dashboards/safe.py)
