"""The communication tool (issue 13.6): updates reach exactly their segment, a sender never learns who received a message
(only rounded counts, suppressed below 10), e-mail goes only to respondents who opted in (through a real SMTP server),
the unsubscribe link works without logging in, working groups show members only as they chose, and an older account
store keeps working."""

from __future__ import annotations

import dataclasses
import socket
import sqlite3
import uuid
from datetime import date, datetime, timedelta
from email import policy
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import audit
from accounts.crypto import firm_ref
from accounts.mail import OutboxMailer, SmtpMailer, outbox
from accounts.preferences import set_email_updates, unsubscribe, wants_email
from accounts.service import Account, AccountError, PermissionDenied, find_account, invite, set_active
from accounts.settings import load_account_settings
from accounts.store import connect_store
from content.demo import ensure_demo_proposals
from content.segments import (
    CommunicationSettings,
    Segment,
    SegmentError,
    matching_accounts,
    note_submission,
    rounded_count,
    segment_size,
)
from content.updates import send_update, sent_updates, updates_for
from content.working_groups import answer_invitation, group_summaries, invitations_for, my_groups, plan_group, propose_group
from core.settings import CONFIG_DIR

NOW = datetime(2026, 11, 23, 10, 0, 0)
SETTINGS = load_account_settings(CONFIG_DIR / "accounts.yaml")
# A policymaker as the pages pass one in (the functions check the role of the Account itself, as content/demo.py does).
POLICYMAKER = Account(0, "beleid@example.nl", "Beleid Maker", "analyst", None, True, True)
SECTORS, PROVINCES, SIZES = ("C", "G", "I"), ("PV20", "PV27", "PV31"), ("0-1", "2-9", "10-49")


def _firm(connection, number: int, profile: dict | None = None, proposals: dict | None = None, opted_in: bool = False,
          mail=None) -> Account:
    """A respondent account (invited as an administrator would) whose firm sent forms with this profile and these proposals."""
    kvk = f"{number:08d}"
    email = f"firma{number}-{uuid.uuid4().hex[:6]}@example.nl"
    account = invite(connection, Account(0, "beheer@example.nl", "Beheer", "administrator", None, True, True),
                     {"name": f"Ondernemer {chr(65 + number % 26)}", "email": email, "role": "respondent", "kvk_number": kvk},
                     mail or _Discard(), SETTINGS, NOW)
    if profile:
        note_submission(connection, account, "cgc", profile, NOW)
    for kind, proposal in (proposals or {}).items():
        note_submission(connection, account, kind, {"proposal": proposal, **(profile or {})}, NOW)
    if opted_in:
        set_email_updates(connection, account, True, NOW)
    return account


class _Discard:
    """Invitations to activate an account are not what these tests look at."""

    def send(self, to, subject, body, group_message=False):
        pass


class _Collect(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


@pytest.fixture()
def smtp():
    """A real SMTP server (aiosmtpd) on a free port; yields its collected messages and a sender for it."""
    handler = _Collect()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler.messages, SmtpMailer(host="127.0.0.1", port=port, starttls=False)
    finally:
        controller.stop()


@pytest.fixture()
def proposals(store):
    return [p.id for p in ensure_demo_proposals(store, date.today())]


def _matches(profile: dict | None, participation: dict, segment: dict) -> bool:
    for column in ("sector", "province", "size_class"):
        if segment.get(column) and (profile or {}).get(column) != segment[column]:
            return False
    for kind, criterion in (("dis", "simulated"), ("consultation", "reacted")):
        if segment.get(criterion) and participation.get(kind) != segment[criterion]:
            return False
    return True


PROFILES = st.none() | st.fixed_dictionaries({"sector": st.sampled_from(SECTORS), "province": st.sampled_from(PROVINCES),
                                              "size_class": st.sampled_from(SIZES)})
PROPOSALS = ("minimumloon-2027", "co2-heffing-mkb")  # two of the demo proposals
FIRMS = st.lists(st.tuples(PROFILES, st.fixed_dictionaries({}, optional={"dis": st.sampled_from(PROPOSALS),
                                                                         "consultation": st.sampled_from(PROPOSALS)}),
                           st.booleans(), st.booleans()), max_size=14)
SEGMENTS = st.fixed_dictionaries({}, optional={"sector": st.sampled_from(SECTORS), "province": st.sampled_from(PROVINCES),
                                               "size_class": st.sampled_from(SIZES), "simulated": st.sampled_from(PROPOSALS),
                                               "reacted": st.sampled_from(PROPOSALS)})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(firms=FIRMS, segment=SEGMENTS)
def test_an_update_reaches_exactly_its_segment_and_mails_only_those_who_opted_in(tmp_path, firms, segment):
    folder = tmp_path / uuid.uuid4().hex
    connection = connect_store(folder / "accounts.sqlite")
    try:
        proposal_ids = {p.id for p in ensure_demo_proposals(connection, date.today())}
        assert set(PROPOSALS) <= proposal_ids
        made = []
        for number, (profile, participation, opted_in, blocked) in enumerate(firms):
            account = _firm(connection, number, profile, participation, opted_in)
            if blocked:  # a blocked account gets nothing
                set_active(connection, Account(0, "beheer@example.nl", "Beheer", "administrator", None, True, True), account.id, False, NOW)
            made.append((account, profile, participation, opted_in, blocked))
        send_update(connection, POLICYMAKER, {"title": "Update over de CO2-heffing", "body": "De Kamer nam een motie aan.", "segment": segment},
                    OutboxMailer(folder / "outbox"), SETTINGS, NOW)
        expected = {a.id for a, profile, participation, _, blocked in made if not blocked and _matches(profile, participation, segment)}
        reached = {a.id for a, *_ in made if updates_for(connection, a)}
        assert reached == expected
        mailed = {str(BytesParser(policy=policy.default).parsebytes(p.read_bytes())["To"]) for p in (folder / "outbox").glob("*.eml")}
        assert mailed == {a.email for a, _, _, opted_in, _ in made if a.id in expected and opted_in}
        assert outbox(folder / "outbox") == []  # the administrators' outbox page lists none of them: it would tell who
    finally:
        connection.close()


def test_only_respondents_who_opted_in_get_the_update_by_e_mail_with_a_working_unsubscribe_link(store, smtp, proposals):
    messages, mailer = smtp
    wants, does_not = _firm(store, 1, {"sector": "I"}, opted_in=True), _firm(store, 2, {"sector": "I"})
    _firm(store, 3, {"sector": "G"}, opted_in=True)  # outside the segment
    assert not wants_email(store, does_not.id)  # off unless chosen
    send_update(store, POLICYMAKER, {"title": "Update over wetsvoorstel X", "body": "Er is een amendement ingediend.",
                                     "segment": {"sector": "I"}}, mailer, SETTINGS, NOW)
    (message,) = messages
    assert message["To"] == wants.email and message["Subject"] == "Bericht: Update over wetsvoorstel X"
    body = message.get_payload(decode=True).decode()
    assert "Er is een amendement ingediend." in body
    assert [u.title for u in updates_for(store, does_not)] == ["Update over wetsvoorstel X"]  # on the home page all the same

    link = next(line for line in body.splitlines() if "/afmelden?code=" in line)
    code = link.split("code=")[1].strip()
    store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert code.encode() not in b"".join(p.read_bytes() for p in store_files(store))  # only its hash is kept
    with pytest.raises(AccountError, match="klopt niet"):
        unsubscribe(store, code[:-2] + "xx")
    unsubscribe(store, code, NOW)  # no login: the code alone
    assert not wants_email(store, wants.id)
    unsubscribe(store, code, NOW)  # twice is harmless
    assert audit.entries(store)[0]["action"] == "email_updates_off"
    send_update(store, POLICYMAKER, {"title": "Nog een update", "body": "De Eerste Kamer stemt volgende week.", "segment": {"sector": "I"}},
                mailer, SETTINGS, NOW)
    assert len(messages) == 1  # nobody opted in any more


def store_files(connection: sqlite3.Connection):
    from pathlib import Path

    (path,) = [row[2] for row in connection.execute("PRAGMA database_list") if row[1] == "main"]
    return Path(path).parent.glob(Path(path).name + "*")


SENDERS_ACTIONS = {"update_sent", "working_group_proposed", "working_group_invitations_sent", "working_group_planned"}


def _everything_a_sender_gets(store, segment) -> str:
    """Every value the sender's functions return and what the audit trail holds about their messages, as one text."""
    values = [segment_size(store, POLICYMAKER, segment), *sent_updates(store, POLICYMAKER), *group_summaries(store, POLICYMAKER)]
    entries = [e for e in audit.entries(store) if e["action"] in SENDERS_ACTIONS]
    assert {e["action"] for e in entries} == SENDERS_ACTIONS
    return repr([dataclasses.asdict(v) for v in values]) + repr(entries)


def test_an_invitation_to_a_working_group_never_reveals_its_recipients_to_the_sender(store, smtp, proposals):
    messages, mailer = smtp
    invited = [_firm(store, n, {"sector": "I", "province": "PV31", "size_class": "2-9"}, opted_in=n != 2) for n in range(1, 4)]
    outsider = _firm(store, 9, {"sector": "C"})
    send_update(store, POLICYMAKER, {"title": "Update voor de horeca in Limburg", "body": "Er komt een werkgroep.", "segment": {"sector": "I"}},
                _Discard(), SETTINGS, NOW)
    segment = {"sector": "I", "province": "PV31"}
    group = propose_group(store, POLICYMAKER, {"title": "Werkgroep personeelstekort horeca", "topic": "Signaal: personeelstekort in sector I",
                                                "description": "Samen zoeken naar oplossingen.", "agenda": "1. Kennismaken",
                                                "session_at": NOW + timedelta(days=10), "segment": segment}, mailer, SETTINGS, NOW)
    assert group.invited.label == "minder dan 10" and group.invited.shown is None
    assert {m["To"] for m in messages if "werkgroep" in m["Subject"]} == {invited[0].email, invited[2].email}  # opted in only
    assert all(invitations_for(store, a) for a in invited) and not invitations_for(store, outsider)
    answer_invitation(store, invited[0], group.id, True, {"visible": True, "display_name": "Eetcafe De Hoek", "contact": "06-12345678"}, NOW)
    answer_invitation(store, invited[1], group.id, True, {"visible": False}, NOW)
    answer_invitation(store, invited[2], group.id, False, None, NOW)
    plan_group(store, POLICYMAKER, group.id, {"agenda": "1. Kennismaken\n2. Brainstorm", "session_at": NOW + timedelta(days=12)}, NOW)

    seen = _everything_a_sender_gets(store, segment)
    for account, kvk in zip([*invited, outsider], ["00000001", "00000002", "00000003", "00000009"], strict=True):
        assert account.firm_ref == firm_ref(kvk)
        for secret in (account.email, account.name, account.firm_ref, kvk):
            assert secret not in seen, secret
    assert "Eetcafe De Hoek" not in seen and "06-12345678" not in seen  # visible to members, not to the sender
    for value in group_summaries(store, POLICYMAKER):  # no account id either: the only numbers are the group's own and rounded counts
        numbers = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if isinstance(getattr(value, f.name), int)}
        assert numbers == {"id": group.id}
        assert {value.invited.shown, value.accepted.shown} == {None}
    (summary,) = group_summaries(store, POLICYMAKER)
    assert summary.accepted.label == "minder dan 10" and summary.video_link.startswith("https://meet.jit.si/mkbvm-werkgroep-")
    assert {e["action"] for e in audit.entries(store)} >= {"working_group_proposed", "working_group_invitations_sent", "working_group_planned"}

    (page,) = my_groups(store, invited[1])  # a member sees who chose to be seen, and counts the others
    assert [(m.display_name, m.contact) for m in page.members] == [("Eetcafe De Hoek", "06-12345678")]
    assert page.other_members == 1 and page.agenda.endswith("Brainstorm") and page.video_link == summary.video_link
    assert my_groups(store, invited[2]) == [] and my_groups(store, outsider) == []
    with pytest.raises(SegmentError, match="niet uitgenodigd"):
        answer_invitation(store, outsider, group.id, True, {"visible": True, "display_name": "Indringer BV"}, NOW)
    with pytest.raises(PermissionDenied):
        group_summaries(store, invited[0])  # a respondent is no sender


@given(firms=st.integers(min_value=0, max_value=500))
def test_a_sender_never_sees_an_exact_count_below_the_threshold_and_only_rounded_counts_above(firms):
    count = rounded_count(firms, CommunicationSettings(count_threshold=10, count_rounding=5, video_base_url="https://meet.example.nl"))
    if firms < 10:
        assert count.shown is None and count.label == "minder dan 10" and str(firms) not in count.label.replace("10", "")
    else:
        assert count.shown % 5 == 0 and abs(count.shown - firms) <= 2 and count.label == f"ongeveer {count.shown}"


def test_small_segments_show_no_exact_count(store, proposals):
    for number in range(1, 14):
        _firm(store, number, {"sector": "I" if number <= 3 else "G", "province": "PV20", "size_class": "2-9"})
    assert segment_size(store, POLICYMAKER, {"sector": "I"}).label == "minder dan 10"  # 3 firms
    assert segment_size(store, POLICYMAKER, {"sector": "G"}).label == "ongeveer 10"  # 10 firms
    assert segment_size(store, POLICYMAKER, {}).label == "ongeveer 15"  # 13 firms
    sent = send_update(store, POLICYMAKER, {"title": "Update voor de horeca", "body": "Een Kamervraag is gesteld.", "segment": {"sector": "I"}},
                       _Discard(), SETTINGS, NOW)
    assert sent.reached.label == "minder dan 10" and sent_updates(store, POLICYMAKER)[0].reached.shown is None
    assert "3" not in audit.entries(store)[0]["details"].replace("2026", "")  # nor in the audit trail


def test_a_firm_with_several_accounts_counts_once_and_every_account_gets_the_update(store, proposals):
    first = _firm(store, 42, {"sector": "I"})
    second = invite(store, Account(0, "beheer@example.nl", "Beheer", "administrator", None, True, True),
                    {"name": "Collega", "email": "collega@example.nl", "role": "respondent", "kvk_number": "00000042"}, _Discard(), SETTINGS, NOW)
    assert {r.account_id for r in matching_accounts(store, Segment(sector="I"))} == {first.id, second.id}  # the firm's profile
    send_update(store, POLICYMAKER, {"title": "Update over de horeca", "body": "Een motie is aangenomen.", "segment": {"sector": "I"}},
                _Discard(), SETTINGS, NOW)
    assert updates_for(store, first) and updates_for(store, second)


def test_errors_name_the_field_in_dutch_and_only_staff_may_send(store, proposals):
    with pytest.raises(SegmentError) as error:
        send_update(store, POLICYMAKER, {"title": "", "body": "kort", "segment": {"sector": "ZZ", "simulated": "bestaat-niet"}},
                    _Discard(), SETTINGS, NOW)
    text = "; ".join(error.value.problems)
    assert "titel: is te kort" in text and "tekst: is te kort" in text and "sector: is geen bekende sector" in text
    with pytest.raises(SegmentError, match="titel: mag geen regeleinde"):
        send_update(store, POLICYMAKER, {"title": "Twee\nregels", "body": "Een tekst van genoeg tekens."}, _Discard(), SETTINGS, NOW)
    with pytest.raises(SegmentError, match="datum en tijd van de brainstorm: ligt in het verleden"):
        propose_group(store, POLICYMAKER, {"title": "Werkgroep energie", "topic": "Energiekosten", "session_at": NOW - timedelta(days=1)},
                      _Discard(), SETTINGS, NOW)
    respondent = _firm(store, 5, {"sector": "I"})
    with pytest.raises(PermissionDenied):
        send_update(store, respondent, {"title": "Reclame voor mijn zaak", "body": "Koop bij ons!"}, _Discard(), SETTINGS, NOW)
    assert store.execute("SELECT COUNT(*) FROM updates").fetchone()[0] == 0


def test_a_store_made_before_the_communication_tool_keeps_working(tmp_path):
    from accounts.store import SCHEMA, _accounts_definition

    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    definition = "\n".join(line for line in _accounts_definition().splitlines() if "email_updates" not in line)
    old.executescript(definition + ";\n" + SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS recovery_codes"):SCHEMA.index("CREATE TABLE IF NOT EXISTS unsubscribe_tokens")])
    old.execute("INSERT INTO accounts (email, name, role, firm_ref, kvk_encrypted, created_at) VALUES ('oud@example.nl', 'Oud', 'respondent', ?, x'00', ?)",
                [firm_ref("11112222"), NOW.isoformat()])
    old.commit()
    old.close()
    connection = connect_store(path)
    try:
        account = find_account(connection, "oud@example.nl")
        assert account is not None and not wants_email(connection, account.id)  # existing accounts stay off
        note_submission(connection, account, "cgc", {"sector": "I", "province": "PV31", "size_class": "2-9"}, NOW)
        assert [r.account_id for r in matching_accounts(connection, Segment(sector="I"))] == [account.id]
    finally:
        connection.close()


def test_the_demo_has_an_example_update_and_working_group_for_the_demo_respondent(tmp_path, monkeypatch):
    from conftest import demo_accounts

    from accounts.service import get_account
    from accounts.store import store as store_at
    from pipelines.cli import demo_messages

    monkeypatch.setenv("MKB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MKB_SMTP_HOST", raising=False)
    logins = demo_accounts(tmp_path)
    with store_at() as connection:
        demo_messages(connection)
        demo_messages(connection)  # run again: nothing twice
        respondent = get_account(connection, logins["respondent"]["id"])
        assert [u.title for u in updates_for(connection, respondent)] == ["Update over de CO2-heffing voor het mkb"]
        (invitation,) = invitations_for(connection, respondent)
        assert invitation.title == "Werkgroep personeelstekort" and invitation.session_at > datetime.now()
    assert not (tmp_path / "outbox").exists()  # the demo respondent did not ask for e-mail


def test_the_video_service_is_configuration_and_every_group_gets_its_own_room(store, monkeypatch):
    monkeypatch.setenv("MKB_VIDEO_BASE_URL", "https://video.example.nl/rooms/")
    first, second = (propose_group(store, POLICYMAKER, {"title": f"Werkgroep {name}", "topic": "Thema: regeldruk"}, _Discard(), SETTINGS, NOW)
                     for name in ("noord", "zuid"))
    assert first.video_link.startswith("https://video.example.nl/rooms/mkbvm-werkgroep-") and first.video_link != second.video_link
    monkeypatch.setenv("MKB_VIDEO_BASE_URL", "http://onveilig.example.nl")
    with pytest.raises(ValueError, match="video_base_url"):
        group_summaries(store, POLICYMAKER)  # only https


def test_the_profile_is_the_last_one_entered_and_an_empty_field_keeps_the_earlier_value(store, proposals):
    firm = _firm(store, 7, {"sector": "I", "province": "PV31", "size_class": "2-9"})
    note_submission(store, firm, "dis", {"proposal": "co2-heffing-mkb", "sector": "G", "province": None, "size_class": "10-49"}, NOW)
    (row,) = store.execute("SELECT sector, province, size_class FROM firm_profiles").fetchall()
    assert tuple(row) == ("G", "PV31", "10-49")
    assert [r.account_id for r in matching_accounts(store, Segment(simulated="co2-heffing-mkb", province="PV31"))] == [firm.id]
    assert matching_accounts(store, Segment(reacted="co2-heffing-mkb")) == []  # an estimate is no consultation reaction
    with pytest.raises(PermissionDenied):
        note_submission(store, POLICYMAKER, "cgc", {"sector": "I"}, NOW)  # only a respondent, for its own firm
