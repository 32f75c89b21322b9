"""Accounts and what each role may do: onboarding, roles, and the checks every write goes through.

Roles:
* respondent: bound to exactly one firm (the HMAC pseudonym of its KvK
  number, as in the warehouse); submits and sees only for that firm. The
  firm comes from the account, never from a form field.
* analyst: sees released (differentially private) figures only.
* administrator: manages accounts and content, reads the audit trail.

Every function that changes something takes the acting account and checks
its role itself (`require_role`), so a page that forgot a check still cannot
write. Every change is written to the audit trail in the same transaction.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator

from accounts import audit
from accounts.crypto import decrypt, encrypt, hash_secret, keyed_hash, verify_secret
from accounts.mail import Mailer
from accounts.settings import ROLES, AccountSettings, account_settings
from accounts.store import transaction
from core.contracts import KVK_PATTERN
from core.pseudonymise import pseudonym

ROLE_NAMES = {"respondent": "ondernemer", "analyst": "analist / beleidsmaker", "administrator": "beheerder"}
SYSTEM = "system"


class PermissionDenied(PermissionError):
    """The acting account may not do this; the message is Dutch and says why."""


class AccountError(ValueError):
    """A request about an account breaks a rule; the message is Dutch and names the field."""


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    name: str
    role: str
    firm_id: str | None
    has_second_factor: bool
    active: bool

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]


def _account(row: sqlite3.Row | None) -> Account | None:
    if row is None:
        return None
    return Account(row["id"], row["email"], row["name"], row["role"], row["firm_id"], row["totp_encrypted"] is not None, bool(row["active"]))


def get_account(connection: sqlite3.Connection, account_id: int) -> Account | None:
    return _account(connection.execute("SELECT * FROM accounts WHERE id = ?", [account_id]).fetchone())


def find_account(connection: sqlite3.Connection, email: str) -> Account | None:
    return _account(connection.execute("SELECT * FROM accounts WHERE email = ?", [email.strip().lower()]).fetchone())


def list_accounts(connection: sqlite3.Connection) -> list[Account]:
    return [_account(row) for row in connection.execute("SELECT * FROM accounts ORDER BY role, name")]


def require_role(actor: Account | None, *roles: str) -> Account:
    """The actor, if it is an active account with one of `roles`; else `PermissionDenied`."""
    if actor is None or not actor.active:
        raise PermissionDenied("U bent niet ingelogd.")
    if actor.role not in roles:
        allowed = " of ".join(ROLE_NAMES[r] for r in roles)
        raise PermissionDenied(f"Dit mag alleen een {allowed}; u bent ingelogd als {actor.role_name}.")
    return actor


def firm_kvk_number(connection: sqlite3.Connection, actor: Account) -> str:
    """The KvK number of a respondent's own firm (to put on its submission); nobody else has one."""
    require_role(actor, "respondent")
    row = connection.execute("SELECT kvk_encrypted FROM accounts WHERE id = ?", [actor.id]).fetchone()
    return decrypt(row["kvk_encrypted"])


# --------------------------------------------------------------------------- onboarding


class Member(BaseModel):
    """One person to invite: from the administrator's form or one row of a member list (CSV)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=200)
    email: EmailStr
    role: str
    kvk_number: str | None = None

    @field_validator("role")
    @classmethod
    def _known_role(cls, role: str) -> str:
        aliases = {**{r: r for r in ROLES}, **{name: r for r, name in ROLE_NAMES.items()}, "analist": "analyst", "beheerder": "administrator"}
        if role.strip().lower() not in aliases:
            raise ValueError(f"'{role}' is geen rol (kies: {', '.join(ROLES)})")
        return aliases[role.strip().lower()]

    @field_validator("kvk_number")
    @classmethod
    def _kvk_digits(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.fullmatch(KVK_PATTERN, value):
            raise ValueError("moet uit precies 8 cijfers bestaan")
        return value


FIELD_NAMES = {"name": "naam", "email": "e-mailadres", "role": "rol", "kvk_number": "KvK-nummer"}


def _member(data: dict) -> Member:
    try:
        member = Member.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = FIELD_NAMES.get(str(item["loc"][0]) if item["loc"] else "", "regel")
            message = str(item["msg"]).removeprefix("Value error, ")
            if item["type"] == "missing":
                message = "ontbreekt"
            elif item["type"] == "extra_forbidden":
                message = "is een onbekende kolom"
            elif "email" in str(item["loc"]):
                message = "is geen geldig e-mailadres"
            problems.append(f"{field}: {message}")
        raise AccountError("; ".join(problems)) from None
    if (member.role == "respondent") != (member.kvk_number is not None):
        raise AccountError("KvK-nummer: verplicht voor een ondernemer, leeg laten voor andere rollen")
    return member


def _invitation_text(name: str, role: str, link: str, days: float) -> str:
    return (
        f"Beste {name},\n\n"
        f"U bent uitgenodigd voor de MKB Vitaliteitsmonitor als {ROLE_NAMES[role]}.\n"
        f"Maak uw account af via deze link (één keer te gebruiken, {days:g} dagen geldig):\n\n{link}\n\n"
        "Heeft u deze uitnodiging niet verwacht? Dan kunt u dit bericht negeren.\n"
    )


def _new_invitation(connection: sqlite3.Connection, account_id: int, settings: AccountSettings, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(days=settings.invitation.valid_days)
    connection.execute(
        "INSERT INTO invitations VALUES (?, ?, ?, ?, NULL)",
        [hashlib.sha256(token.encode()).hexdigest(), account_id, now.isoformat(timespec="seconds"), expires.isoformat(timespec="seconds")],
    )
    return token


def invite(connection: sqlite3.Connection, actor: Account, data: dict, mailer: Mailer, pseudonym_key: bytes,
           settings: AccountSettings | None = None, now: datetime | None = None) -> Account:
    """Create an account without a password and send a one-time, expiring invitation link (administrators only)."""
    require_role(actor, "administrator")
    settings, now = settings or account_settings(), now or datetime.now()
    member = _member(data)
    if find_account(connection, member.email) is not None:
        raise AccountError(f"e-mailadres: {member.email} heeft al een account")
    with transaction(connection):
        firm = pseudonym(member.kvk_number, pseudonym_key) if member.kvk_number else None
        cursor = connection.execute(
            "INSERT INTO accounts (email, name, role, firm_id, kvk_encrypted, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [member.email.lower(), member.name, member.role, firm, encrypt(member.kvk_number) if firm else None, now.isoformat(timespec="seconds")],
        )
        token = _new_invitation(connection, cursor.lastrowid, settings, now)
        audit.record(connection, actor.email, "account_invited", member.email.lower(), {"role": member.role}, now)
    link = f"{settings.public_url()}/activeren?code={token}"
    mailer.send(member.email, "Uitnodiging MKB Vitaliteitsmonitor", _invitation_text(member.name, member.role, link, settings.invitation.valid_days))
    return get_account(connection, cursor.lastrowid)


@dataclass(frozen=True)
class ImportReport:
    invited: list[str]
    skipped: list[str]  # 'Rij 3: ...' lines in Dutch


def import_members(connection: sqlite3.Connection, actor: Account, csv_text: str, mailer: Mailer, pseudonym_key: bytes,
                   settings: AccountSettings | None = None, now: datetime | None = None) -> ImportReport:
    """Invite everyone on a member list (CSV with columns name, email, kvk_number, role); bad rows are named, not dropped."""
    require_role(actor, "administrator")
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")), delimiter=";" if csv_text.count(";") > csv_text.count(",") else ",")
    expected = {"name", "email", "kvk_number", "role"}
    columns = {c.strip() for c in reader.fieldnames or []}
    if not expected <= columns:
        raise AccountError(f"ledenlijst: de kolommen {', '.join(sorted(expected - columns))} ontbreken (nodig: name, email, kvk_number, role)")
    invited, skipped = [], []
    for number, row in enumerate(reader, start=2):
        data = {key.strip(): (value or "").strip() for key, value in row.items() if key and key.strip() in expected}
        try:
            invited.append(invite(connection, actor, data, mailer, pseudonym_key, settings, now).email)
        except AccountError as error:
            skipped.append(f"Rij {number}: {error}")
    with transaction(connection):
        audit.record(connection, actor.email, "members_imported", "ledenlijst", {"invited": len(invited), "skipped": len(skipped)}, now)
    return ImportReport(invited, skipped)


@dataclass(frozen=True)
class Invitation:
    account: Account
    needs_second_factor: bool


def open_invitation(connection: sqlite3.Connection, token: str, now: datetime | None = None,
                    settings: AccountSettings | None = None) -> Invitation:
    """The account behind a valid, unused, unexpired invitation link; else `AccountError` in plain Dutch."""
    settings, now = settings or account_settings(), now or datetime.now()
    row = connection.execute("SELECT * FROM invitations WHERE token_hash = ?", [hashlib.sha256(token.encode()).hexdigest()]).fetchone()
    if row is None or row["used_at"] is not None:
        raise AccountError("Deze link is niet (meer) geldig. Vraag de beheerder om een nieuwe uitnodiging.")
    if datetime.fromisoformat(row["expires_at"]) < now:
        raise AccountError("Deze link is verlopen. Vraag de beheerder om een nieuwe uitnodiging.")
    account = get_account(connection, row["account_id"])
    return Invitation(account, settings.needs_second_factor(account.role))


def _check_password(password: str, account: Account, settings: AccountSettings) -> None:
    if len(password) < settings.password.min_length:
        raise AccountError(f"wachtwoord: gebruik minstens {settings.password.min_length} tekens")
    local_part = account.email.split("@")[0].lower()
    if len(local_part) >= 4 and local_part in password.lower():
        raise AccountError("wachtwoord: mag uw e-mailadres niet bevatten")


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(account: Account, secret: str) -> str:
    """The otpauth:// link an authenticator app reads (shown as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name="MKB Vitaliteitsmonitor")


def _new_recovery_codes(connection: sqlite3.Connection, account_id: int, settings: AccountSettings) -> list[str]:
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(settings.second_factor.recovery_codes)]
    connection.execute("DELETE FROM recovery_codes WHERE account_id = ?", [account_id])
    connection.executemany("INSERT INTO recovery_codes VALUES (?, ?, NULL)", [(account_id, hash_secret(c)) for c in codes])
    return codes


def accept_invitation(connection: sqlite3.Connection, token: str, password: str, totp_secret: str | None = None,
                      totp_code: str | None = None, settings: AccountSettings | None = None,
                      now: datetime | None = None) -> list[str]:
    """Set the password (and the second factor where the role needs it); the link is used up.

    Returns the recovery codes when a second factor was set (shown once), else [].
    """
    settings, now = settings or account_settings(), now or datetime.now()
    invitation = open_invitation(connection, token, now, settings)
    account = invitation.account
    _check_password(password, account, settings)
    if invitation.needs_second_factor and not totp_secret:
        raise AccountError("tweede stap: stel eerst de app voor inlogcodes in")
    if totp_secret and not (totp_code and _matching_step(totp_secret, totp_code, now) is not None):
        raise AccountError("code uit de app: klopt niet; kijk of de tijd op uw telefoon goed staat en probeer de nieuwe code")
    with transaction(connection):
        taken = connection.execute(  # the link is spent here, once: a second use at the same moment finds it gone
            "UPDATE invitations SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at >= ?",
            [now.isoformat(timespec="seconds"), hashlib.sha256(token.encode()).hexdigest(), now.isoformat(timespec="seconds")],
        ).rowcount == 1
        if not taken:
            raise AccountError("Deze link is niet (meer) geldig. Vraag de beheerder om een nieuwe uitnodiging.")
        connection.execute(
            "UPDATE accounts SET password_hash = ?, totp_encrypted = ? WHERE id = ?",
            [hash_secret(password), encrypt(totp_secret) if totp_secret else None, account.id],
        )
        connection.execute("UPDATE invitations SET used_at = ? WHERE account_id = ? AND used_at IS NULL", [now.isoformat(timespec="seconds"), account.id])
        codes = _new_recovery_codes(connection, account.id, settings) if totp_secret else []
        audit.record(connection, account.email, "invitation_accepted", account.email, {"second_factor": bool(totp_secret)}, now)
    return codes


def change_role(connection: sqlite3.Connection, actor: Account, account_id: int, role: str, now: datetime | None = None) -> Account:
    """Make an analyst an administrator or the other way round (administrators only; a respondent stays bound to its firm)."""
    require_role(actor, "administrator")
    target = get_account(connection, account_id)
    if target is None:
        raise AccountError("account: bestaat niet")
    if role not in ("analyst", "administrator") or target.role == "respondent":
        raise AccountError("rol: alleen een analist kan beheerder worden en andersom; een ondernemer blijft aan zijn bedrijf gebonden")
    if target.id == actor.id:
        raise AccountError("rol: u kunt uw eigen rol niet wijzigen; vraag een andere beheerder")
    with transaction(connection):
        connection.execute("UPDATE accounts SET role = ? WHERE id = ?", [role, account_id])
        audit.record(connection, actor.email, "role_changed", target.email, {"from": target.role, "to": role}, now)
    return get_account(connection, account_id)


def set_active(connection: sqlite3.Connection, actor: Account, account_id: int, active: bool, now: datetime | None = None) -> Account:
    """Block or unblock an account (administrators only; not one's own)."""
    require_role(actor, "administrator")
    target = get_account(connection, account_id)
    if target is None or target.id == actor.id:
        raise AccountError("account: u kunt uw eigen account niet blokkeren")
    with transaction(connection):
        connection.execute("UPDATE accounts SET active = ? WHERE id = ?", [int(active), account_id])
        audit.record(connection, actor.email, "account_unblocked" if active else "account_blocked", target.email, {}, now)
    return get_account(connection, account_id)


# --------------------------------------------------------------------------- logging in


DENIED = "Inloggen is niet gelukt. Controleer uw e-mailadres en wachtwoord."
WRONG_CODE = "De code klopt niet. Gebruik de nieuwste code uit uw app, of een herstelcode."


@dataclass(frozen=True)
class LoginResult:
    status: str  # ok | second_factor | denied | wait | locked
    message: str = ""
    account: Account | None = None


def _attempts(connection: sqlite3.Connection, key: str) -> sqlite3.Row | None:
    return connection.execute("SELECT * FROM login_attempts WHERE email_hash = ?", [key]).fetchone()


def _blocked(row: sqlite3.Row | None, settings: AccountSettings, now: datetime) -> LoginResult | None:
    """Locked, or too soon after the last failure; the same for known and unknown addresses."""
    if row is None:
        return None
    if row["locked_until"] and datetime.fromisoformat(row["locked_until"]) > now:
        minutes = max(1, round((datetime.fromisoformat(row["locked_until"]) - now).total_seconds() / 60))
        return LoginResult("locked", f"Te veel mislukte pogingen. Inloggen met dit e-mailadres kan weer over ongeveer {minutes} minuten.")
    if row["failures"] >= settings.login.slow_down_after and not row["locked_until"]:
        wait_until = datetime.fromisoformat(row["last_failure_at"]) + timedelta(seconds=settings.login.wait_seconds)
        if wait_until > now:
            seconds = max(1, round((wait_until - now).total_seconds()))
            return LoginResult("wait", f"Er is een paar keer verkeerd ingelogd. Wacht {seconds} seconden en probeer het opnieuw.")
    return None


def _reserve(connection: sqlite3.Connection, key: str, settings: AccountSettings, now: datetime) -> tuple[LoginResult | None, int]:
    """Count this attempt before anything is checked, in one transaction, so concurrent guesses cannot slip past.

    Returns a refusal (locked, or wait) or None, and the attempt's number since the last success.
    """
    with transaction(connection):
        row = _attempts(connection, key)
        blocked = _blocked(row, settings, now)
        if blocked:
            return blocked, 0
        expired_lock = row is not None and row["locked_until"] and datetime.fromisoformat(row["locked_until"]) <= now
        attempt = 1 if row is None or expired_lock else row["failures"] + 1
        locked = now + timedelta(minutes=settings.login.lock_minutes) if attempt > settings.login.lock_after else None
        connection.execute(
            "INSERT INTO login_attempts VALUES (?, ?, ?, ?) ON CONFLICT (email_hash) DO UPDATE SET "
            "failures = excluded.failures, last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
            [key, attempt, now.isoformat(timespec="seconds"), locked.isoformat(timespec="seconds") if locked else None],
        )
    if locked:
        return _locked_message(settings), attempt
    return None, attempt


def _locked_message(settings: AccountSettings) -> LoginResult:
    return LoginResult("locked", f"Te veel mislukte pogingen. Inloggen met dit e-mailadres kan weer over ongeveer {settings.login.lock_minutes:g} minuten.")


def _failed(connection: sqlite3.Connection, key: str, attempt: int, actor: str, action: str, settings: AccountSettings,
            now: datetime) -> LoginResult:
    """The attempt (already counted) failed: lock once it is the last one allowed, and log it."""
    locked = attempt >= settings.login.lock_after
    with transaction(connection):
        if locked:
            until = now + timedelta(minutes=settings.login.lock_minutes)
            connection.execute("UPDATE login_attempts SET locked_until = ? WHERE email_hash = ?", [until.isoformat(timespec="seconds"), key])
        audit.record(connection, actor, action, "", {"failures": attempt, "locked": locked}, now)
    return _locked_message(settings) if locked else LoginResult("denied", DENIED)


def _succeeded(connection: sqlite3.Connection, key: str, account: Account, now: datetime) -> LoginResult:
    with transaction(connection):
        connection.execute("DELETE FROM login_attempts WHERE email_hash = ?", [key])
        audit.record(connection, account.email, "login", account.email, {"role": account.role, "second_factor": account.has_second_factor}, now)
    return LoginResult("ok", "", account)


def _attempt_key(email: str) -> str:
    return keyed_hash(email)


def login(connection: sqlite3.Connection, email: str, password: str, settings: AccountSettings | None = None,
          now: datetime | None = None) -> LoginResult:
    """Step one: e-mail and password. Never tells whether an address exists; slows down, then locks."""
    settings, now = settings or account_settings(), now or datetime.now()
    key = _attempt_key(email)
    refused, attempt = _reserve(connection, key, settings, now)
    if refused:
        return refused
    row = connection.execute("SELECT * FROM accounts WHERE email = ?", [email.strip().lower()]).fetchone()
    matches = verify_secret(row["password_hash"] if row else None, password)  # same work for unknown addresses
    account = _account(row)
    if not matches or account is None or not account.active:
        actor = account.email if account else f"onbekend:{key[:12]}"
        return _failed(connection, key, attempt, actor, "login_failed", settings, now)
    if account.has_second_factor:  # the attempt stays counted until the second step succeeds
        return LoginResult("second_factor", "Vul de code uit uw app in.", account)
    if settings.needs_second_factor(account.role):  # should not happen: staff set it up on activation
        return LoginResult("denied", "Voor uw rol is een tweede stap verplicht, maar die is niet ingesteld. Neem contact op met de beheerder.")
    return _succeeded(connection, key, account, now)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second time step whose TOTP code this is (now, or one step either side), or None."""
    totp = pyotp.TOTP(secret)
    typed = code.strip().replace(" ", "")
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), typed):
            return step
    return None


def _use_step(connection: sqlite3.Connection, account_id: int, step: int) -> bool:
    """Spend a TOTP time step: a code that was used once (or an older one) is never accepted again."""
    cursor = connection.execute(
        "UPDATE accounts SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)", [step, account_id, step]
    )
    return cursor.rowcount == 1


def second_factor(connection: sqlite3.Connection, account: Account, code: str, settings: AccountSettings | None = None,
                  now: datetime | None = None) -> LoginResult:
    """Step two: a TOTP code (each usable once), or one unused recovery code. A wrong code counts as a failed login."""
    settings, now = settings or account_settings(), now or datetime.now()
    key = _attempt_key(account.email)
    refused, attempt = _reserve(connection, key, settings, now)
    if refused:
        return refused
    row = connection.execute("SELECT totp_encrypted FROM accounts WHERE id = ? AND active = 1", [account.id]).fetchone()
    if row is None or row["totp_encrypted"] is None:
        return LoginResult("denied", DENIED)
    step = _matching_step(decrypt(row["totp_encrypted"]), code, now)
    if step is not None:
        with transaction(connection):
            fresh = _use_step(connection, account.id, step)
        if fresh:
            return _succeeded(connection, key, account, now)
    for recovery in connection.execute("SELECT rowid, code_hash FROM recovery_codes WHERE account_id = ? AND used_at IS NULL", [account.id]).fetchall():
        if verify_secret(recovery["code_hash"], code.strip().lower()):
            with transaction(connection):
                spent = connection.execute(
                    "UPDATE recovery_codes SET used_at = ? WHERE rowid = ? AND used_at IS NULL", [now.isoformat(timespec="seconds"), recovery["rowid"]]
                ).rowcount == 1
                if spent:
                    audit.record(connection, account.email, "recovery_code_used", account.email, {}, now)
            if spent:
                return _succeeded(connection, key, account, now)
    result = _failed(connection, key, attempt, account.email, "second_factor_failed", settings, now)
    return result if result.status == "locked" else LoginResult("denied", WRONG_CODE)


def record_event(connection: sqlite3.Connection, actor: Account | None, action: str, subject: str = "", details: dict | None = None) -> None:
    """Audit something that is not a change of the store: a logout, an expired session, a download."""
    with transaction(connection):
        audit.record(connection, actor.email if actor else SYSTEM, action, subject, details)


# --------------------------------------------------------------------------- self-service


def change_password(connection: sqlite3.Connection, actor: Account, current: str, new: str, settings: AccountSettings | None = None,
                    now: datetime | None = None) -> None:
    """A wrong current password counts as a failed login (so a taken-over session cannot guess freely)."""
    settings, now = settings or account_settings(), now or datetime.now()
    key = _attempt_key(actor.email)
    refused, attempt = _reserve(connection, key, settings, now)
    if refused:
        raise AccountError(f"huidig wachtwoord: {refused.message}")
    row = connection.execute("SELECT password_hash FROM accounts WHERE id = ?", [actor.id]).fetchone()
    if not verify_secret(row["password_hash"], current):
        _failed(connection, key, attempt, actor.email, "password_change_failed", settings, now)
        raise AccountError("huidig wachtwoord: klopt niet")
    with transaction(connection):
        connection.execute("DELETE FROM login_attempts WHERE email_hash = ?", [key])
    _check_password(new, actor, settings)
    with transaction(connection):
        connection.execute("UPDATE accounts SET password_hash = ? WHERE id = ?", [hash_secret(new), actor.id])
        audit.record(connection, actor.email, "password_changed", actor.email)


def enable_second_factor(connection: sqlite3.Connection, actor: Account, secret: str, code: str,
                         settings: AccountSettings | None = None, now: datetime | None = None) -> list[str]:
    """Turn on the app code for one's own account; returns new recovery codes (shown once)."""
    settings, now = settings or account_settings(), now or datetime.now()
    if actor.has_second_factor:
        raise AccountError("tweede stap: staat al aan; vraag de beheerder als u een nieuwe telefoon heeft")
    if _matching_step(secret, code, now) is None:
        raise AccountError("code uit de app: klopt niet; probeer de nieuwe code")
    with transaction(connection):
        connection.execute("UPDATE accounts SET totp_encrypted = ? WHERE id = ?", [encrypt(secret), actor.id])
        codes = _new_recovery_codes(connection, actor.id, settings)
        audit.record(connection, actor.email, "second_factor_enabled", actor.email, {}, now)
    return codes


def new_recovery_codes(connection: sqlite3.Connection, actor: Account, settings: AccountSettings | None = None) -> list[str]:
    """Replace one's own recovery codes (the old ones stop working); shown once."""
    if not actor.has_second_factor:
        raise AccountError("herstelcodes: zet eerst de tweede stap aan")
    with transaction(connection):
        codes = _new_recovery_codes(connection, actor.id, settings or account_settings())
        audit.record(connection, actor.email, "recovery_codes_renewed", actor.email)
    return codes


def create_account(connection: sqlite3.Connection, data: dict, password: str, pseudonym_key: bytes, totp_secret: str | None = None,
                   actor: str = SYSTEM, settings: AccountSettings | None = None, now: datetime | None = None) -> Account:
    """An active account straight away (for the demo and the first administrator, from the command line)."""
    settings, now = settings or account_settings(), now or datetime.now()
    member = _member(data)
    if settings.needs_second_factor(member.role) and not totp_secret:
        raise AccountError(f"tweede stap: verplicht voor een {ROLE_NAMES[member.role]}")
    firm = pseudonym(member.kvk_number, pseudonym_key) if member.kvk_number else None
    probe = Account(0, member.email.lower(), member.name, member.role, firm, False, True)
    _check_password(password, probe, settings)
    with transaction(connection):
        cursor = connection.execute(
            "INSERT INTO accounts (email, name, role, firm_id, kvk_encrypted, password_hash, totp_encrypted, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [member.email.lower(), member.name, member.role, firm, encrypt(member.kvk_number) if firm else None, hash_secret(password),
             encrypt(totp_secret) if totp_secret else None, now.isoformat(timespec="seconds")],
        )
        if totp_secret:
            _new_recovery_codes(connection, cursor.lastrowid, settings)
        audit.record(connection, actor, "account_created", member.email.lower(), {"role": member.role}, now)
    return get_account(connection, cursor.lastrowid)
