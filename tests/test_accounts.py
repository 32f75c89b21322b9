"""Accounts: secrets never in plain text, a tamper-evident audit trail, logins that slow down and lock
without telling whether an address exists, a second factor for staff, one-time invitations, and role checks
on every write."""

from __future__ import annotations

import socket
import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from accounts import audit
from accounts.crypto import firm_ref
from accounts.mail import OutboxMailer, SmtpMailer, outbox
from accounts.service import (
    DENIED,
    AccountError,
    PermissionDenied,
    accept_invitation,
    change_role,
    create_account,
    firm_kvk_number,
    import_members,
    invite,
    login,
    new_recovery_codes,
    new_totp_secret,
    open_invitation,
    second_factor,
)
from accounts.settings import load_account_settings
from accounts.store import connect_store
from accounts.store import store as store_at
from core.pseudonymise import pseudonym
from core.settings import CONFIG_DIR
from tests.conftest import TEST_KEY, invitation_code

KEY = TEST_KEY.encode()
NOW = datetime(2026, 11, 23, 10, 0, 0)
SETTINGS = load_account_settings(CONFIG_DIR / "accounts.yaml")
PASSWORD = "een lang wachtwoord 42"


def token_from(folder: Path) -> str:
    return invitation_code(folder)


def test_passwords_totp_secrets_kvk_numbers_and_recovery_codes_are_never_stored_in_plain_text(store, tmp_path, admin):
    mail = OutboxMailer(tmp_path / "outbox")
    invite(store, admin, {"name": "Ana List", "email": "ana@example.nl", "role": "analyst"}, mail, SETTINGS, NOW)
    secret = new_totp_secret()
    codes = accept_invitation(store, token_from(tmp_path / "outbox"), PASSWORD, secret, pyotp.TOTP(secret).at(NOW), SETTINGS, NOW)
    invite(store, admin, {"name": "Onder Nemer", "email": "on@example.nl", "role": "respondent", "kvk_number": "87654321"}, mail, SETTINGS, NOW)
    store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files = b"".join(p.read_bytes() for p in tmp_path.glob("accounts.sqlite*"))
    for secret_text in (PASSWORD, secret, "87654321", *codes):
        assert secret_text.encode() not in files, secret_text
    hashes = [row[0] for row in store.execute("SELECT password_hash FROM accounts WHERE password_hash IS NOT NULL")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    respondent = store.execute("SELECT firm_ref FROM accounts WHERE email = 'on@example.nl'").fetchone()[0]
    assert respondent == firm_ref("87654321") != pseudonym("87654321", KEY)  # not the warehouse pseudonym: the web app lacks that key


def test_altering_deleting_or_inserting_an_audit_entry_is_detected(store, admin):
    for number in range(5):
        audit.record(store, admin.email, "export", f"bestand-{number}", {"rows": number}, NOW)
    assert audit.verify_chain(store).intact
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.execute("UPDATE audit_log SET subject = 'iets anders' WHERE seq = 3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.execute("DELETE FROM audit_log WHERE seq = 3")
    # someone with the file drops the trigger and edits an entry: the chain shows where
    store.execute("DROP TRIGGER audit_log_no_update")
    store.execute("UPDATE audit_log SET details = '{\"rows\": 999}' WHERE seq = 4")
    check = audit.verify_chain(store)
    assert not check.intact and check.broken_at == 4


def test_removing_an_audit_entry_is_detected(store, admin):
    for number in range(4):
        audit.record(store, admin.email, "export", str(number), {}, NOW)
    store.execute("DROP TRIGGER audit_log_no_delete")
    store.execute("DELETE FROM audit_log WHERE seq = 3")
    assert audit.verify_chain(store).broken_at == 4


def test_unknown_address_and_wrong_password_get_the_same_answer(store, admin):
    unknown = login(store, "niemand@example.nl", PASSWORD, SETTINGS, NOW)
    wrong = login(store, admin.email, "verkeerd wachtwoord!", SETTINGS, NOW)
    assert unknown.status == wrong.status == "denied" and unknown.message == wrong.message == DENIED


def test_logins_slow_down_then_lock_and_stay_locked_for_the_set_time(store, admin):
    moment = NOW
    statuses = []
    for _ in range(SETTINGS.login.lock_after):
        moment += timedelta(seconds=SETTINGS.login.wait_seconds + 1)
        statuses.append(login(store, admin.email, "fout", SETTINGS, moment).status)
    assert statuses == ["denied"] * (SETTINGS.login.lock_after - 1) + ["locked"]
    # the right password does not help while locked ...
    just_before = moment + timedelta(minutes=SETTINGS.login.lock_minutes) - timedelta(seconds=60)
    assert login(store, admin.email, PASSWORD, SETTINGS, just_before).status == "locked"
    # ... and works once the lock is over (then the app code is asked)
    after = moment + timedelta(minutes=SETTINGS.login.lock_minutes)
    assert login(store, admin.email, PASSWORD, SETTINGS, after).status == "second_factor"


def test_after_a_few_failures_the_next_try_must_wait(store, admin):
    for _ in range(SETTINGS.login.slow_down_after):
        login(store, admin.email, "fout", SETTINGS, NOW)
    waiting = login(store, admin.email, PASSWORD, SETTINGS, NOW + timedelta(seconds=1))
    assert waiting.status == "wait" and "Wacht" in waiting.message


def test_an_unknown_address_is_locked_like_a_known_one(store):
    results = [login(store, "niemand@example.nl", "x", SETTINGS, NOW + timedelta(seconds=60 * i)).status for i in range(SETTINGS.login.lock_after + 1)]
    assert results[-2:] == ["locked", "locked"]
    entries = audit.entries(store)
    assert all(e["actor"].startswith("onbekend:") and "niemand" not in e["actor"] for e in entries)


def test_staff_need_the_second_factor_and_a_recovery_code_works_once(store, tmp_path, admin):
    mail = OutboxMailer(tmp_path / "outbox")
    invite(store, admin, {"name": "Ana List", "email": "ana@example.nl", "role": "analyst"}, mail, SETTINGS, NOW)
    token = token_from(tmp_path / "outbox")
    assert open_invitation(store, token, NOW, SETTINGS).needs_second_factor
    with pytest.raises(AccountError, match="tweede stap"):
        accept_invitation(store, token, PASSWORD, settings=SETTINGS, now=NOW)
    secret = new_totp_secret()
    codes = accept_invitation(store, token, PASSWORD, secret, pyotp.TOTP(secret).at(NOW), SETTINGS, NOW)
    step = login(store, "ana@example.nl", PASSWORD, SETTINGS, NOW)
    assert step.status == "second_factor"  # the password alone does not let anyone in
    assert second_factor(store, step.account, "000000", SETTINGS, NOW).status == "denied"
    assert second_factor(store, step.account, pyotp.TOTP(secret).at(NOW), SETTINGS, NOW).status == "denied"  # spent at activation
    assert second_factor(store, step.account, pyotp.TOTP(secret).at(NOW + timedelta(seconds=30)), SETTINGS,
                         NOW + timedelta(seconds=11)).status == "ok"  # the next code, after the slow-down of 3 failures
    assert second_factor(store, step.account, codes[0], SETTINGS, NOW).status == "ok"
    assert second_factor(store, step.account, codes[0], SETTINGS, NOW).status == "denied"  # used up


def test_an_invitation_link_works_once_and_expires(store, tmp_path, admin):
    mail = OutboxMailer(tmp_path / "outbox")
    invite(store, admin, {"name": "Onder Nemer", "email": "on@example.nl", "role": "respondent", "kvk_number": "87654321"}, mail, SETTINGS, NOW)
    token = token_from(tmp_path / "outbox")
    later = NOW + timedelta(days=SETTINGS.invitation.valid_days, seconds=1)
    with pytest.raises(AccountError, match="verlopen"):
        open_invitation(store, token, later, SETTINGS)
    with pytest.raises(AccountError, match="minstens 12 tekens"):
        accept_invitation(store, token, "kort", settings=SETTINGS, now=NOW)
    assert accept_invitation(store, token, PASSWORD, settings=SETTINGS, now=NOW) == []
    with pytest.raises(AccountError, match="niet \\(meer\\) geldig"):
        accept_invitation(store, token, PASSWORD, settings=SETTINGS, now=NOW)
    assert login(store, "on@example.nl", PASSWORD, SETTINGS, NOW).status == "ok"  # respondents: password is enough


def test_a_member_list_invites_good_rows_and_names_bad_ones(store, tmp_path, admin):
    members = (
        "name,email,kvk_number,role\n"
        "Piet Bakker,piet@bakkerij.nl,11223344,respondent\n"
        "Kees,kees@,55667788,respondent\n"
        "Anna Beleid,anna@ministerie.nl,,analist\n"
        "Zonder KvK,zk@example.nl,,respondent\n"
        "Piet Bakker,piet@bakkerij.nl,11223344,respondent\n"
    )
    report = import_members(store, admin, members, OutboxMailer(tmp_path / "outbox"), SETTINGS, NOW)
    assert report.invited == ["piet@bakkerij.nl", "anna@ministerie.nl"]
    assert report.skipped == [
        "Rij 3: e-mailadres: is geen geldig e-mailadres",
        "Rij 5: KvK-nummer: verplicht voor een ondernemer, leeg laten voor andere rollen",
        "Rij 6: e-mailadres: piet@bakkerij.nl heeft al een account",
    ]
    sent = outbox(tmp_path / "outbox")
    assert sorted(m.to for m in sent) == ["anna@ministerie.nl", "piet@bakkerij.nl"]
    assert all("/activeren?code=" in m.body and "7 dagen" in m.body for m in sent)
    with pytest.raises(AccountError, match="kolommen email, kvk_number ontbreken"):
        import_members(store, admin, "name,role\nX,analyst\n", OutboxMailer(tmp_path / "outbox"), SETTINGS, NOW)


def test_every_write_checks_the_role_of_who_does_it(store, tmp_path, admin):
    mail = OutboxMailer(tmp_path / "outbox")
    respondent = create_account(store, {"name": "On", "email": "on@example.nl", "role": "respondent", "kvk_number": "87654321"},
                                PASSWORD, settings=SETTINGS, now=NOW)
    analyst = create_account(store, {"name": "An", "email": "an@example.nl", "role": "analyst"}, PASSWORD,
                             totp_secret=new_totp_secret(), settings=SETTINGS, now=NOW)
    with pytest.raises(PermissionDenied, match="alleen een beheerder"):
        invite(store, respondent, {"name": "X Y", "email": "x@example.nl", "role": "administrator"}, mail, SETTINGS, NOW)
    with pytest.raises(PermissionDenied, match="u bent ingelogd als analist"):
        change_role(store, analyst, analyst.id, "administrator")
    with pytest.raises(PermissionDenied):
        firm_kvk_number(store, analyst)  # only a respondent has a firm
    assert firm_kvk_number(store, respondent) == "87654321"
    promoted = change_role(store, admin, analyst.id, "administrator")
    assert promoted.role == "administrator"
    assert audit.entries(store)[0]["action"] == "role_changed"


def test_the_smtp_sender_delivers_to_a_real_smtp_server():
    handler = _Collect()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        SmtpMailer(host="127.0.0.1", port=port, starttls=False).send(
            "piet@bakkerij.nl", "Uitnodiging", "Welkom bij de monitor."
        )
    finally:
        controller.stop()
    (message,) = handler.messages
    assert message["To"] == "piet@bakkerij.nl" and message["Subject"] == "Uitnodiging"
    assert "Welkom bij de monitor." in message.get_payload()


class _Collect(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


def _together(calls) -> list:
    """Run the calls at the same moment, each in its own thread with its own connection."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_guesses_sent_at_once_cannot_get_past_the_lock(tmp_path, admin):
    path = tmp_path / "accounts.sqlite"

    def guess(password):
        def call():
            connection = connect_store(path)
            try:
                return login(connection, admin.email, password, SETTINGS, NOW).status
            finally:
                connection.close()
        return call

    statuses = _together([guess(f"fout {i}") for i in range(15)] + [guess(PASSWORD)])
    with store_at(path) as connection:
        checked = [e for e in audit.entries(connection) if e["action"] in ("login_failed", "login")]
    assert len(checked) <= SETTINGS.login.slow_down_after  # only so many passwords were even compared
    assert statuses.count("denied") <= SETTINGS.login.slow_down_after and set(statuses) <= {"denied", "wait", "locked", "second_factor"}


def test_an_invitation_link_used_twice_at_once_works_once(store, tmp_path, admin):
    invite(store, admin, {"name": "Onder Nemer", "email": "on@example.nl", "role": "respondent", "kvk_number": "87654321"},
           OutboxMailer(tmp_path / "outbox"), SETTINGS, NOW)
    token = token_from(tmp_path / "outbox")

    def accept(password):
        def call():
            connection = connect_store(tmp_path / "accounts.sqlite")
            try:
                accept_invitation(connection, token, password, settings=SETTINGS, now=NOW)
                return "ok"
            except AccountError:
                return "refused"
            finally:
                connection.close()
        return call

    assert sorted(_together([accept("eerste wachtwoord 1"), accept("tweede wachtwoord 2")])) == ["ok", "refused"]


def test_a_code_from_the_app_and_a_recovery_code_work_only_once(store, tmp_path, admin):
    secret = new_totp_secret()
    analyst = create_account(store, {"name": "An", "email": "an@example.nl", "role": "analyst"}, PASSWORD, secret, settings=SETTINGS, now=NOW)
    code = pyotp.TOTP(secret).at(NOW)
    assert second_factor(store, analyst, code, SETTINGS, NOW).status == "ok"
    assert second_factor(store, analyst, code, SETTINGS, NOW + timedelta(seconds=5)).status == "denied"  # replayed
    codes = new_recovery_codes(store, analyst, PASSWORD, SETTINGS, NOW)

    def use(code):
        def call():
            connection = connect_store(tmp_path / "accounts.sqlite")
            try:
                return second_factor(connection, analyst, code, SETTINGS, NOW + timedelta(minutes=1)).status
            finally:
                connection.close()
        return call

    results = _together([use(codes[0]) for _ in range(3)])
    assert results.count("ok") == 1 and set(results) <= {"ok", "denied", "wait"}  # the others are refused or throttled


def test_cutting_off_the_newest_audit_entries_is_detected(store, admin):
    for number in range(6):
        audit.record(store, admin.email, "export", str(number), {}, NOW)
    store.execute("DROP TRIGGER audit_log_no_delete")
    store.execute("DELETE FROM audit_log WHERE seq > 5")
    check = audit.verify_chain(store)
    assert check.broken_at is None and check.tail_cut and not check.intact
    store.execute("DELETE FROM audit_log")
    store.execute("DELETE FROM audit_head")
    assert not audit.verify_chain(store).intact  # an empty log beside existing accounts is not believed either
