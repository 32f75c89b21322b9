"""Accounts and what each role may do: onboarding, roles, and the checks every write goes through.

Roles:
* respondent: bound to exactly one firm (its KvK number, encrypted in the
  account; ingestion turns it into the warehouse pseudonym, so the web app
  never needs the pseudonym key); submits and sees only for that firm. The
  firm comes from the account, never from a form field.
* analyst: sees released (differentially private) figures only.
* administrator: manages accounts and content, reads the audit trail.
* creditor (medewerker schuldeiser): staff of one creditor organisation (a code
  of the public domain `creditor`, kept in the account like a respondent's
  firm); sees only its own organisation's claims and the rules' advice on
  them, from the file the pipeline writes for that organisation alone. The
  organisation comes from the account, never from a page's input.
* consultant (MKB-consultant): staff of the regional SME support programme,
  bound to one consultant code of the public domain `programme_consultant`
  (kept in the same column as a creditor's organisation: the bound code);
  sees only the cases of its own caseload, operationally (the firms are the
  privacy unit, the consultant is not), from the file the pipeline writes for
  that code alone, and enters sessions and stage decisions for those cases.

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
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator
from zxcvbn import zxcvbn

from accounts import audit
from accounts.crypto import decrypt, encrypt, firm_ref, hash_secret, keyed_hash, verify_secret
from accounts.mail import Mailer
from accounts.settings import ROLES, AccountSettings, account_settings
from accounts.store import transaction
from core.contracts import KVK_PATTERN
from core.messages import dutch_problems
from core.reference import domain_codes, domain_labels

ROLE_NAMES = {"respondent": "ondernemer", "analyst": "analist / beleidsmaker", "administrator": "beheerder",
              "creditor": "medewerker schuldeiser", "consultant": "MKB-consultant"}
ROLE_PLURALS = {"respondent": "ondernemers", "analyst": "analisten en beleidsmakers", "administrator": "beheerders",
                "creditor": "medewerkers van een schuldeiser", "consultant": "MKB-consultants"}  # 'Deze pagina is alleen voor ...'
#: role -> the public domain of the one code an account of that role is bound to (the store's `organisation` column)
BOUND_DOMAINS = {"creditor": "creditor", "consultant": "programme_consultant"}
#: role -> the member field (form, CSV column, audit detail) that carries that code
BOUND_FIELDS = {"creditor": "organisation", "consultant": "consultant"}
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
    firm_ref: str | None  # respondents: keyed hash of their firm's KvK number (accounts key)
    has_second_factor: bool
    active: bool
    credential_version: int = 0  # a session made under another version has ended
    organisation: str | None = None  # the bound code (BOUND_DOMAINS): a creditor's organisation, a consultant's own code

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]


def _account(row: sqlite3.Row | None) -> Account | None:
    if row is None:
        return None
    return Account(row["id"], row["email"], row["name"], row["role"], row["firm_ref"], row["totp_encrypted"] is not None, bool(row["active"]),
                   row["credential_version"], row["organisation"])


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


def _bound_code(actor: Account, role: str, unknown: str) -> str:
    """The code an account of `role` is bound to, checked against the role's public domain again (it names a folder)."""
    require_role(actor, role)
    if actor.organisation not in set(domain_codes(BOUND_DOMAINS[role])):
        raise PermissionDenied(f"Uw account hoort niet (meer) bij {unknown}. Neem contact op met de beheerder.")
    return actor.organisation


def own_organisation(actor: Account) -> str:
    """The organisation code a creditor's staff member is bound to (domain `creditor`); nobody else has one."""
    return _bound_code(actor, "creditor", "een bekende organisatie")


def own_consultant(actor: Account) -> str:
    """The consultant code an MKB consultant is bound to (domain `programme_consultant`); nobody else has one."""
    return _bound_code(actor, "consultant", "een bekende MKB-consultant")


def bound_name(account: Account) -> str:
    """The Dutch name of what the account is bound to (its organisation, or the consultant's own name); '' for other roles."""
    if account.role not in BOUND_DOMAINS or account.organisation is None:
        return ""
    return domain_labels(BOUND_DOMAINS[account.role]).get(account.organisation, account.organisation)


def firm_kvk_number(connection: sqlite3.Connection, actor: Account) -> str:
    """The KvK number of a respondent's own firm (to put on its submission); nobody else has one."""
    require_role(actor, "respondent")
    row = connection.execute("SELECT kvk_encrypted FROM accounts WHERE id = ?", [actor.id]).fetchone()
    return decrypt(row["kvk_encrypted"])


# --------------------------------------------------------------------------- onboarding


# A person's name: letters of any script (with their accents), spaces, hyphens, apostrophes and dots, starting with
# a letter. So no Markdown, no line breaks, and nothing a spreadsheet reads as a formula (=, +, -, @, tab, CR).
NAME_PUNCTUATION = " .'\u2019-"
NAME_RULE = "gebruik alleen letters, spaties, koppeltekens (-), apostrofs (') en punten, en begin met een letter"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Member(BaseModel):
    """One person to invite: from the administrator's form or one row of a member list (CSV)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=100)
    email: EmailStr
    role: str
    kvk_number: str | None = None
    organisation: str | None = None  # creditors' staff: a code of the domain `creditor`
    consultant: str | None = None  # MKB consultants: their own code of the domain `programme_consultant`

    @property
    def bound_code(self) -> str | None:
        """What the store keeps in `organisation`: the code of the member's role (BOUND_FIELDS), else None."""
        return getattr(self, BOUND_FIELDS[self.role]) if self.role in BOUND_FIELDS else None

    @field_validator("name", mode="before")
    @classmethod
    def _no_control_characters(cls, name: object) -> object:
        # checked before whitespace is stripped: a tab or CR in front of a name is refused, not quietly dropped
        if isinstance(name, str) and (any(c in name for c in "\t\r\n\v\f") or name.strip(" ").startswith(FORMULA_STARTS)):
            raise ValueError(NAME_RULE)
        return name

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        name = unicodedata.normalize("NFC", name)
        if not (name[:1].isalpha() and all(c.isalpha() or c in NAME_PUNCTUATION or unicodedata.category(c).startswith("M") for c in name)):
            raise ValueError(NAME_RULE)  # the typed name is never repeated: it may carry Markdown or a formula
        return name

    @field_validator("email", mode="before")
    @classmethod
    def _no_formula(cls, email: object) -> object:
        if isinstance(email, str) and email.strip().startswith(FORMULA_STARTS):
            raise ValueError("mag niet beginnen met =, +, - of @")
        return email

    @field_validator("role")
    @classmethod
    def _known_role(cls, role: str) -> str:
        aliases = {**{r: r for r in ROLES}, **{name: r for r, name in ROLE_NAMES.items()}, "analist": "analyst", "beheerder": "administrator",
                   "schuldeiser": "creditor", "mkb-consultant": "consultant"}
        if role.strip().lower() not in aliases:
            raise ValueError(f"is geen bekende rol (kies: {', '.join(ROLES)})")  # not echoed: a CSV cell may carry anything
        return aliases[role.strip().lower()]

    @field_validator("kvk_number")
    @classmethod
    def _kvk_digits(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.fullmatch(KVK_PATTERN, value):
            raise ValueError("moet uit precies 8 cijfers bestaan")
        return value

    @field_validator("organisation")
    @classmethod
    def _known_organisation(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if value not in set(domain_codes("creditor")):  # not echoed: a CSV cell may carry anything
            raise ValueError("is geen bekende organisatie (gebruik de code uit reference/creditors.csv, bijvoorbeeld GM0363 of cjib)")
        return value

    @field_validator("consultant")
    @classmethod
    def _known_consultant(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if value not in set(domain_codes("programme_consultant")):  # not echoed: a CSV cell may carry anything
            raise ValueError("is geen bekende MKB-consultant (gebruik de code uit reference/programme_consultants.csv, bijvoorbeeld mc01)")
        return value


FIELD_NAMES = {"name": "naam", "email": "e-mailadres", "role": "rol", "kvk_number": "KvK-nummer", "organisation": "organisatie",
               "consultant": "consultantcode"}


def organisation_names() -> dict[str, str]:
    """Code -> name of every organisation a creditor's staff member can be bound to (the public domain `creditor`)."""
    return domain_labels("creditor")


def consultant_names() -> dict[str, str]:
    """Code -> name of every MKB consultant an account can be bound to (the public domain `programme_consultant`)."""
    return domain_labels("programme_consultant")


def _member_rule(field: str, item: dict) -> str:
    """A member's problem in Dutch; never the typed value (a CSV cell may carry Markdown or a formula)."""
    message = str(item["msg"]).removeprefix("Value error, ")
    if item["type"] == "missing":
        return "ontbreekt"
    if item["type"] == "extra_forbidden":
        return "is een onbekende kolom"
    if field == "email" and not message.startswith("mag niet"):
        return "is geen geldig e-mailadres"
    if item["type"] == "string_too_short":
        return f"is te kort (minstens {item['ctx']['min_length']} tekens)"
    if item["type"] == "string_too_long":
        return f"is te lang (hoogstens {item['ctx']['max_length']} tekens)"
    if item["type"] != "value_error":  # pydantic's own English texts; ours are Dutch value errors
        return "heeft een ongeldige waarde"
    return message


def _member(data: dict) -> Member:
    try:
        member = Member.model_validate(data)
    except ValidationError as error:
        problems = dutch_problems(error, lambda field: FIELD_NAMES.get(field, field), _member_rule, model_label="regel")
        raise AccountError("; ".join(problems)) from None
    if (member.role == "respondent") != (member.kvk_number is not None):
        raise AccountError("KvK-nummer: verplicht voor een ondernemer, leeg laten voor andere rollen")
    if (member.role == "creditor") != (member.organisation is not None):
        raise AccountError("organisatie: verplicht voor een medewerker schuldeiser, leeg laten voor andere rollen")
    if (member.role == "consultant") != (member.consultant is not None):
        raise AccountError("consultantcode: verplicht voor een MKB-consultant, leeg laten voor andere rollen")
    return member


def _role_details(member: Member) -> dict:
    """What the audit trail keeps of a new account's role: the role, and the code it is bound to (public: a creditor's
    organisation, a consultant's own code)."""
    return {"role": member.role, **({BOUND_FIELDS[member.role]: member.bound_code} if member.bound_code else {})}


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


def invite(connection: sqlite3.Connection, actor: Account, data: dict, mailer: Mailer,
           settings: AccountSettings | None = None, now: datetime | None = None) -> Account:
    """Create an account without a password and send a one-time, expiring invitation link (administrators only)."""
    require_role(actor, "administrator")
    settings, now = settings or account_settings(), now or datetime.now()
    member = _member(data)
    if find_account(connection, member.email) is not None:
        raise AccountError(f"e-mailadres: {member.email} heeft al een account")
    with transaction(connection):
        firm = firm_ref(member.kvk_number) if member.kvk_number else None
        cursor = connection.execute(
            "INSERT INTO accounts (email, name, role, firm_ref, kvk_encrypted, organisation, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [member.email.lower(), member.name, member.role, firm, encrypt(member.kvk_number) if firm else None, member.bound_code,
             now.isoformat(timespec="seconds")],
        )
        token = _new_invitation(connection, cursor.lastrowid, settings, now)
        audit.record(connection, actor.email, "account_invited", member.email.lower(), _role_details(member), now)
    link = f"{settings.public_url()}/activeren?code={token}"
    mailer.send(member.email, "Uitnodiging MKB Vitaliteitsmonitor", _invitation_text(member.name, member.role, link, settings.invitation.valid_days))
    return get_account(connection, cursor.lastrowid)


@dataclass(frozen=True)
class ImportReport:
    invited: list[str]
    skipped: list[str]  # 'Rij 3: ...' lines in Dutch


def import_members(connection: sqlite3.Connection, actor: Account, csv_text: str, mailer: Mailer,
                   settings: AccountSettings | None = None, now: datetime | None = None) -> ImportReport:
    """Invite everyone on a member list (CSV with columns name, email, kvk_number, role, and optionally organisation for
    creditors' staff and consultant for MKB consultants); bad rows are named, not dropped."""
    require_role(actor, "administrator")
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")), delimiter=";" if csv_text.count(";") > csv_text.count(",") else ",")
    expected = {"name", "email", "kvk_number", "role"}
    columns = {c.strip() for c in reader.fieldnames or []}
    if not expected <= columns:
        raise AccountError(f"ledenlijst: de kolommen {', '.join(sorted(expected - columns))} ontbreken (nodig: name, email, kvk_number, role)")
    invited, skipped = [], []
    for number, row in enumerate(reader, start=2):
        data = {key.strip(): (value or "").strip() for key, value in row.items() if key and key.strip() in expected | {"organisation", "consultant"}}
        try:
            invited.append(invite(connection, actor, data, mailer, settings, now).email)
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


# zxcvbn's warnings, in Dutch; anything else gets the general advice.
_STRENGTH_WARNINGS = {
    "common": "lijkt op een veelgebruikt wachtwoord",
    "repeat": "bestaat uit herhalingen (zoals 'aaa' of 'abcabc')",
    "sequence": "is een reeks (zoals 'abcd' of '4321')",
    "keyboard": "is een rij toetsen op het toetsenbord (zoals 'qwerty')",
    "date": "bevat een datum of jaartal dat makkelijk te raden is",
    "name": "bevat een naam die makkelijk te raden is",
}
_STRENGTH_ADVICE = "kies een zin van een paar woorden die niet bij elkaar horen, of laat een wachtwoordmanager er een maken"
# zxcvbn looks at this many characters at most (its own limit); the rest still counts for the length rules.
_STRENGTH_WINDOW = 72
# zxcvbn's own lists are English; these Dutch words are guessed first too (as are the user's own name and address).
DUTCH_PASSWORD_WORDS = (
    "wachtwoord", "welkom", "geheim", "inloggen", "hallo", "liefje", "schatje", "zomer", "winter", "lente", "herfst",
    "voetbal", "ajax", "feyenoord", "psv", "oranje", "nederland", "holland", "amsterdam", "rotterdam", "utrecht",
    "bedrijf", "ondernemer", "kantoor", "maandag", "januari", "welkom01", "postbus",
)


def _strength_problem(warning: str) -> str:
    text = warning.lower()
    for key, dutch in (("common", "common"), ("top", "common"), ("similar", "common"), ("repeat", "repeat"), ("sequence", "sequence"),
                       ("keyboard", "keyboard"), ("row", "keyboard"), ("date", "date"), ("year", "date"), ("name", "name")):
        if key in text:
            return _STRENGTH_WARNINGS[dutch]
    return "is te makkelijk te raden"


def _check_password(password: str, account: Account, settings: AccountSettings) -> None:
    """Long enough, not too long for argon2, not an e-mail address, and hard to guess (zxcvbn)."""
    rules = settings.password
    if len(password) < rules.min_length:
        raise AccountError(f"wachtwoord: gebruik minstens {rules.min_length} tekens")
    if len(password) > rules.max_length:
        raise AccountError(f"wachtwoord: gebruik hoogstens {rules.max_length} tekens")
    local_part = account.email.split("@")[0].lower()
    if len(local_part) >= 4 and local_part in password.lower():
        raise AccountError("wachtwoord: mag uw e-mailadres niet bevatten")
    name = account.name.lower()
    own_words = [local_part, *re.split(r"[.@-]", account.email.lower()), name.replace(" ", ""), *name.split(),
                 "mkb", "vitaliteitsmonitor", "vitaliteit", "monitor", *DUTCH_PASSWORD_WORDS]
    estimate = zxcvbn(password[:_STRENGTH_WINDOW], user_inputs=own_words)
    if estimate["score"] < rules.min_strength:
        problem = _strength_problem(estimate["feedback"]["warning"] or "")
        raise AccountError(f"wachtwoord: {problem}; {_STRENGTH_ADVICE}")


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
    step = _matching_step(totp_secret, totp_code, now) if totp_secret and totp_code else None
    if totp_secret and step is None:
        raise AccountError("code uit de app: klopt niet; kijk of de tijd op uw telefoon goed staat en probeer de nieuwe code")
    with transaction(connection):
        taken = connection.execute(  # the link is spent here, once: a second use at the same moment finds it gone
            "UPDATE invitations SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at >= ?",
            [now.isoformat(timespec="seconds"), hashlib.sha256(token.encode()).hexdigest(), now.isoformat(timespec="seconds")],
        ).rowcount == 1
        if not taken:
            raise AccountError("Deze link is niet (meer) geldig. Vraag de beheerder om een nieuwe uitnodiging.")
        connection.execute(  # the code just used is spent: it cannot log in as well
            "UPDATE accounts SET password_hash = ?, totp_encrypted = ?, totp_last_step = ?, credential_version = credential_version + 1 WHERE id = ?",
            [hash_secret(password), encrypt(totp_secret) if totp_secret else None, step, account.id],
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
    if role not in ("analyst", "administrator") or target.role not in ("analyst", "administrator"):
        raise AccountError("rol: alleen een analist kan beheerder worden en andersom; een ondernemer blijft aan zijn bedrijf gebonden, "
                           "een medewerker schuldeiser aan zijn organisatie en een MKB-consultant aan zijn consultantcode")
    if target.id == actor.id:
        raise AccountError("rol: u kunt uw eigen rol niet wijzigen; vraag een andere beheerder")
    with transaction(connection):
        connection.execute("UPDATE accounts SET role = ?, credential_version = credential_version + 1 WHERE id = ?", [role, account_id])
        audit.record(connection, actor.email, "role_changed", target.email, {"from": target.role, "to": role}, now)
    return get_account(connection, account_id)


def set_active(connection: sqlite3.Connection, actor: Account, account_id: int, active: bool, now: datetime | None = None) -> Account:
    """Block or unblock an account (administrators only; not one's own)."""
    require_role(actor, "administrator")
    target = get_account(connection, account_id)
    if target is None or target.id == actor.id:
        raise AccountError("account: u kunt uw eigen account niet blokkeren")
    with transaction(connection):
        connection.execute("UPDATE accounts SET active = ?, credential_version = credential_version + 1 WHERE id = ?", [int(active), account_id])
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


def _confirm_password(connection: sqlite3.Connection, actor: Account, password: str, field: str, failed_action: str,
                      settings: AccountSettings, now: datetime) -> None:
    """Ask for the password again before a sensitive change; a wrong one counts as a failed login (a taken-over session cannot guess freely)."""
    key = _attempt_key(actor.email)
    refused, attempt = _reserve(connection, key, settings, now)
    if refused:
        raise AccountError(f"{field}: {refused.message}")
    row = connection.execute("SELECT password_hash FROM accounts WHERE id = ?", [actor.id]).fetchone()
    if not verify_secret(row["password_hash"], password):
        _failed(connection, key, attempt, actor.email, failed_action, settings, now)
        raise AccountError(f"{field}: klopt niet")
    with transaction(connection):
        connection.execute("DELETE FROM login_attempts WHERE email_hash = ?", [key])


def _credential_version(connection: sqlite3.Connection, account_id: int) -> int:
    return connection.execute("SELECT credential_version FROM accounts WHERE id = ?", [account_id]).fetchone()[0]


def change_password(connection: sqlite3.Connection, actor: Account, current: str, new: str, settings: AccountSettings | None = None,
                    now: datetime | None = None) -> int:
    """Set a new password; every other session of the account ends. Returns the new credential version (for this session)."""
    settings, now = settings or account_settings(), now or datetime.now()
    _confirm_password(connection, actor, current, "huidig wachtwoord", "password_change_failed", settings, now)
    _check_password(new, actor, settings)
    with transaction(connection):
        connection.execute("UPDATE accounts SET password_hash = ?, credential_version = credential_version + 1 WHERE id = ?",
                           [hash_secret(new), actor.id])
        audit.record(connection, actor.email, "password_changed", actor.email)
        return _credential_version(connection, actor.id)


def enable_second_factor(connection: sqlite3.Connection, actor: Account, secret: str, code: str,
                         settings: AccountSettings | None = None, now: datetime | None = None) -> tuple[list[str], int]:
    """Turn on the app code for one's own account; every other session ends.

    Returns new recovery codes (shown once) and the new credential version (for this session).
    """
    settings, now = settings or account_settings(), now or datetime.now()
    if actor.has_second_factor:
        raise AccountError("tweede stap: staat al aan; vraag de beheerder als u een nieuwe telefoon heeft")
    step = _matching_step(secret, code, now)
    if step is None:
        raise AccountError("code uit de app: klopt niet; probeer de nieuwe code")
    with transaction(connection):
        changed = connection.execute(  # the code just used is spent: it cannot log in as well
            "UPDATE accounts SET totp_encrypted = ?, totp_last_step = ?, credential_version = credential_version + 1 "
            "WHERE id = ? AND totp_encrypted IS NULL",
            [encrypt(secret), step, actor.id],
        ).rowcount
        if not changed:  # turned on in another session meanwhile: never replace a second factor silently
            raise AccountError("tweede stap: staat al aan; vraag de beheerder als u een nieuwe telefoon heeft")
        codes = _new_recovery_codes(connection, actor.id, settings)
        audit.record(connection, actor.email, "second_factor_enabled", actor.email, {}, now)
        return codes, _credential_version(connection, actor.id)


def new_recovery_codes(connection: sqlite3.Connection, actor: Account, password: str, settings: AccountSettings | None = None,
                       now: datetime | None = None) -> list[str]:
    """Replace one's own recovery codes (the old ones stop working), after the password is given again; shown once."""
    settings, now = settings or account_settings(), now or datetime.now()
    if not actor.has_second_factor:
        raise AccountError("herstelcodes: zet eerst de tweede stap aan")
    _confirm_password(connection, actor, password, "wachtwoord", "recovery_codes_refused", settings, now)
    with transaction(connection):
        codes = _new_recovery_codes(connection, actor.id, settings)
        audit.record(connection, actor.email, "recovery_codes_renewed", actor.email, {}, now)
    return codes


def reset_access(connection: sqlite3.Connection, actor: Account, account_id: int, mailer: Mailer, settings: AccountSettings | None = None,
                 now: datetime | None = None) -> Account:
    """A lost phone or password (administrators only; not one's own account): password, app code and recovery codes are
    cleared, every session of the account ends, and the person gets a new one-time link to set them again."""
    require_role(actor, "administrator")
    settings, now = settings or account_settings(), now or datetime.now()
    target = get_account(connection, account_id)
    if target is None or target.id == actor.id:
        raise AccountError("account: u kunt de toegang van uw eigen account niet herstellen; vraag een andere beheerder")
    with transaction(connection):
        connection.execute(
            "UPDATE accounts SET password_hash = NULL, totp_encrypted = NULL, totp_last_step = NULL, "
            "credential_version = credential_version + 1 WHERE id = ?", [account_id],
        )
        connection.execute("DELETE FROM recovery_codes WHERE account_id = ?", [account_id])
        connection.execute("UPDATE invitations SET used_at = ? WHERE account_id = ? AND used_at IS NULL", [now.isoformat(timespec="seconds"), account_id])
        token = _new_invitation(connection, account_id, settings, now)
        audit.record(connection, actor.email, "access_reset", target.email, {}, now)
    link = f"{settings.public_url()}/activeren?code={token}"
    mailer.send(target.email, "Nieuwe toegang MKB Vitaliteitsmonitor", _reset_text(target.name, link, settings.invitation.valid_days))
    return get_account(connection, account_id)


def _reset_text(name: str, link: str, days: float) -> str:
    return (
        f"Beste {name},\n\n"
        "De beheerder heeft de toegang tot uw account bij de MKB Vitaliteitsmonitor hersteld. "
        "Uw oude wachtwoord en app-code werken niet meer.\n"
        f"Stel ze opnieuw in via deze link (één keer te gebruiken, {days:g} dagen geldig):\n\n{link}\n\n"
        "Heeft u hier niet om gevraagd? Neem dan contact op met de beheerder.\n"
    )


def create_account(connection: sqlite3.Connection, data: dict, password: str, totp_secret: str | None = None,
                   actor: str = SYSTEM, settings: AccountSettings | None = None, now: datetime | None = None) -> Account:
    """An active account straight away (for the demo and the first administrator, from the command line)."""
    settings, now = settings or account_settings(), now or datetime.now()
    member = _member(data)
    if settings.needs_second_factor(member.role) and not totp_secret:
        raise AccountError(f"tweede stap: verplicht voor een {ROLE_NAMES[member.role]}")
    firm = firm_ref(member.kvk_number) if member.kvk_number else None
    probe = Account(0, member.email.lower(), member.name, member.role, firm, False, True, organisation=member.bound_code)
    _check_password(password, probe, settings)
    with transaction(connection):
        cursor = connection.execute(
            "INSERT INTO accounts (email, name, role, firm_ref, kvk_encrypted, organisation, password_hash, totp_encrypted, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [member.email.lower(), member.name, member.role, firm, encrypt(member.kvk_number) if firm else None, member.bound_code,
             hash_secret(password), encrypt(totp_secret) if totp_secret else None, now.isoformat(timespec="seconds")],
        )
        if totp_secret:
            _new_recovery_codes(connection, cursor.lastrowid, settings)
        audit.record(connection, actor, "account_created", member.email.lower(), _role_details(member), now)
    return get_account(connection, cursor.lastrowid)
