"""The web app's store: accounts, the audit trail, the administrators' content (proposals) and the messages staff send
to respondents (updates, working groups), in one SQLite file
written by the web process, the CLI and the pipeline's audit entries alike.

SQLite in WAL mode lets several processes read while one writes, and makes
each write wait (busy timeout) instead of failing; every change is one
transaction. The audit table is append-only: triggers refuse UPDATE and
DELETE, and its HMAC chain shows any change made around them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from accounts.crypto import decrypt, firm_ref
from accounts.settings import ROLES, store_path
from core.files import private_file, restrict_new_files

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,          -- lower case; needed to log in and to send messages
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('respondent', 'analyst', 'administrator', 'creditor', 'consultant')),
    firm_ref TEXT,                       -- keyed hash of the KvK number under the accounts key (respondents only): which
                                         -- accounts share a firm. Not the warehouse's firm_id: the web app never holds that key
    kvk_encrypted BLOB,                  -- Fernet; put on the respondent's submissions, never shown whole
    organisation TEXT,                   -- the code a bound role is bound to, of its public domain (accounts.service.BOUND_DOMAINS):
                                         -- a creditor's staff member's organisation (`creditor`, reference/creditors.csv), an
                                         -- MKB consultant's own code (`programme_consultant`); it names the one operational
                                         -- file they read. Empty for every other role
    password_hash TEXT,                  -- argon2id; empty until the invitation is accepted
    totp_encrypted BLOB,                 -- Fernet-encrypted TOTP secret; empty without a second factor
    totp_last_step INTEGER,              -- last 30-second step whose code was used: no code works twice
    credential_version INTEGER NOT NULL DEFAULT 0,  -- raised by a password, role, block or second-factor change: ends other sessions
    active INTEGER NOT NULL DEFAULT 1,
    email_updates INTEGER NOT NULL DEFAULT 0,  -- respondents: 1 = also send updates and invitations by e-mail (opt-in, default off)
    created_at TEXT NOT NULL,
    CHECK ((role = 'respondent') = (firm_ref IS NOT NULL AND kvk_encrypted IS NOT NULL)),
    CHECK ((role IN ('creditor', 'consultant')) = (organisation IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS recovery_codes (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    code_hash TEXT NOT NULL,             -- argon2id
    used_at TEXT
);
CREATE TABLE IF NOT EXISTS invitations (
    token_hash TEXT PRIMARY KEY,         -- SHA-256 of the one-time token in the link
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE IF NOT EXISTS login_attempts (
    email_hash TEXT PRIMARY KEY,         -- keyed hash of the address typed, known or not
    failures INTEGER NOT NULL,
    last_failure_at TEXT NOT NULL,
    locked_until TEXT
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,                 -- account e-mail, 'system', or 'onbekend:<keyed hash>'
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,               -- JSON
    chain TEXT NOT NULL                  -- HMAC(previous chain, this entry)
);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    entries INTEGER NOT NULL,            -- how many entries the log holds
    chain TEXT NOT NULL,                 -- the newest entry's chain value
    seal TEXT NOT NULL                   -- HMAC of the two: removing the newest entries shows
);
CREATE TABLE IF NOT EXISTS proposals (   -- the policy pipeline (content/proposals.py): public content, audited
    id TEXT PRIMARY KEY,                 -- short name in addresses and files, e.g. 'minimumloon-2027'
    content TEXT NOT NULL,               -- the proposal as JSON (title, explanation, phases, articles ...)
    simulation_opens TEXT NOT NULL,      -- ISO date: respondents can simulate from this day
    simulation_closes TEXT NOT NULL,     -- ISO date, inclusive: figures are released after it
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (     -- documents sent with consultation reactions (content/uploads.py): never released
    id INTEGER PRIMARY KEY,
    proposal_id TEXT NOT NULL REFERENCES proposals (id),
    article TEXT NOT NULL,               -- the article's number; empty: the proposal as a whole
    display_name TEXT NOT NULL,          -- the checked file name: shown to administrators and used as the download's name only
    size INTEGER NOT NULL CHECK (size > 0),
    media_type TEXT NOT NULL,            -- detected from the content, not the name
    sha256 TEXT NOT NULL,                -- also the file's name under data/uploads/
    uploaded_at TEXT NOT NULL,
    firm_ref TEXT NOT NULL               -- the account's keyed firm reference, not the KvK number
);
CREATE TABLE IF NOT EXISTS unsubscribe_tokens (  -- the code in an e-mail's unsubscribe link (accounts/preferences.py)
    token_hash TEXT PRIMARY KEY,         -- SHA-256 of the random code; the code itself is only in the e-mail
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS firm_profiles (  -- a respondent firm's own last-entered profile: what updates target (content/segments.py)
    firm_ref TEXT PRIMARY KEY,           -- the accounts' keyed firm reference (accounts key), never the warehouse pseudonym
    sector TEXT,                         -- SBI section, as the firm last entered it in a form
    size_class TEXT,
    province TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS firm_proposals (  -- the proposals a respondent firm simulated (dis) or reacted to (consultation)
    firm_ref TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('dis', 'consultation')),
    first_at TEXT NOT NULL,
    PRIMARY KEY (firm_ref, proposal_id, kind)
);
CREATE TABLE IF NOT EXISTS firm_submissions (  -- a respondent firm's own answers sent through the web app (content/own_work.py)
    firm_ref TEXT NOT NULL,              -- the accounts' keyed firm reference
    source TEXT NOT NULL,                -- cgc, dis, consultation
    record_key TEXT NOT NULL,            -- the answer's key: its landing file is landing/<source>/form_<record_key>.jsonl
    period TEXT NOT NULL,                -- the wave (cgc), the proposal (dis) or the article (consultation)
    proposal_id TEXT,                    -- dis and consultation: the proposal
    submitted_at TEXT NOT NULL,
    PRIMARY KEY (source, record_key)
);
CREATE TABLE IF NOT EXISTS updates (     -- updates staff sent to a segment of respondents (content/updates.py)
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    segment TEXT NOT NULL,               -- JSON: the chosen criteria (content/segments.py: Segment)
    sent_at TEXT NOT NULL,
    sent_by TEXT NOT NULL                -- the sender's e-mail address
);
CREATE TABLE IF NOT EXISTS update_recipients (  -- who received an update: never shown to its sender (only a rounded count)
    update_id INTEGER NOT NULL REFERENCES updates (id),
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (update_id, account_id)
);
CREATE TABLE IF NOT EXISTS working_groups (  -- thematic working groups staff propose (content/working_groups.py)
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    topic TEXT NOT NULL,                 -- the signalled problem: a theme or an alert, by name
    description TEXT NOT NULL,
    segment TEXT NOT NULL,               -- JSON, as for updates
    agenda TEXT NOT NULL,
    session_at TEXT,                     -- ISO date and time of the brainstorm session; empty: not planned yet
    room TEXT NOT NULL UNIQUE,           -- random name of the video room (base address: configuration)
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS working_group_members (  -- invitations and their answers: never shown to the sender (only rounded counts)
    group_id INTEGER NOT NULL REFERENCES working_groups (id),
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    status TEXT NOT NULL CHECK (status IN ('invited', 'accepted', 'declined')),
    visible INTEGER NOT NULL DEFAULT 0,  -- 1: other members see display_name and contact
    display_name TEXT,
    contact TEXT,
    invited_at TEXT NOT NULL,
    answered_at TEXT,
    PRIMARY KEY (group_id, account_id)
);
CREATE TABLE IF NOT EXISTS avg_requests (  -- AVG requests the pipeline carries out (avg/requests.py): erasure, inzage
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('erasure', 'inzage')),
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('kvk', 'bsn', 'email')),
    subject_encrypted BLOB,              -- Fernet (accounts key): the KvK number, BSN or e-mail address; emptied once carried out
    account_id INTEGER,                  -- inzage: the respondent account that asked (its firm's own data only); erasure: empty
    firm_ref TEXT,                       -- inzage: that account's keyed firm reference when it asked
    requested_by TEXT NOT NULL,          -- the administrator's or respondent's e-mail address, or the command line
    requested_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    done_at TEXT,
    summary TEXT,                        -- JSON: what was deleted, counted (erasure), rows per source (inzage); never an identifier
    result_encrypted BLOB                -- inzage: the export (JSON, Fernet); emptied after its bewaartermijn (config/retention.yaml)
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


_READY: set[Path] = set()  # stores whose schema this process has created or checked


def connect_store(path: Path | None = None) -> sqlite3.Connection:
    """A connection; the schema is created (and migrated) once per store per process, not on every click."""
    path = (path or store_path()).resolve()
    restrict_new_files()
    private_file(path)  # SQLite gives the -wal and -shm files the mode of the database file
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)  # explicit BEGIN ... COMMIT
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    if path not in _READY or not path.exists():
        connection.execute("PRAGMA journal_mode = WAL")  # persistent: stored in the file
        connection.executescript(SCHEMA)
        _migrate(connection)
        _READY.add(path)
    return connection


def _migrate(connection: sqlite3.Connection) -> None:
    """Columns and roles added after a store was created (oldest first: the roles' rebuild copies the columns the steps
    before it made)."""
    columns = {row["name"] for row in connection.execute("PRAGMA table_info(accounts)")}
    if "totp_last_step" not in columns:
        connection.execute("ALTER TABLE accounts ADD COLUMN totp_last_step INTEGER")
    if "credential_version" not in columns:
        connection.execute("ALTER TABLE accounts ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0")
    if "email_updates" not in columns:  # issue 13.6: opt-in for updates by e-mail; existing accounts stay off
        connection.execute("ALTER TABLE accounts ADD COLUMN email_updates INTEGER NOT NULL DEFAULT 0")
    if "firm_id" in columns:  # it held the warehouse pseudonym, so the web app needed the pseudonym key to invite a firm
        with transaction(connection):
            connection.execute("ALTER TABLE accounts RENAME COLUMN firm_id TO firm_ref")  # SQLite rewrites the CHECK too
            for row in connection.execute("SELECT id, kvk_encrypted FROM accounts WHERE kvk_encrypted IS NOT NULL").fetchall():
                connection.execute("UPDATE accounts SET firm_ref = ? WHERE id = ?", [firm_ref(decrypt(row["kvk_encrypted"])), row["id"]])
    _add_new_roles(connection)


def _accounts_definition() -> str:
    """The CREATE TABLE statement of `accounts` in SCHEMA (one definition: a rebuilt table gets exactly this one)."""
    start = SCHEMA.index("CREATE TABLE IF NOT EXISTS accounts (")
    return SCHEMA[start:SCHEMA.index("\n);", start) + 3]


def _add_new_roles(connection: sqlite3.Connection) -> None:
    """A store made before a role of `ROLES` existed: rebuild `accounts` with the current role CHECKs (and `organisation`).

    The creditor role (issue 12.4) added `organisation` and its CHECK; the consultant role (issue 14) binds to a code
    through the same column, so its CHECK names both roles. A store of before either gets one rebuild.

    SQLite cannot change a CHECK constraint in place, so this is its documented rebuild (new table, copy, drop, rename)
    in one transaction, with foreign keys off meanwhile (recovery codes and invitations point at accounts by id, which
    the copy keeps) and checked afterwards.
    """
    (definition,) = connection.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'accounts'").fetchone()
    missing = [role for role in ROLES if f"'{role}'" not in definition]
    if not missing:
        return
    old_columns = [row["name"] for row in connection.execute("PRAGMA table_info(accounts)")]
    connection.execute("PRAGMA foreign_keys = OFF")  # no effect inside a transaction: set before BEGIN
    try:
        with transaction(connection):
            connection.execute(_accounts_definition().replace("IF NOT EXISTS accounts", "accounts_rebuilt"))
            kept = [name for name in old_columns if name in {r["name"] for r in connection.execute("PRAGMA table_info(accounts_rebuilt)")}]
            names = ", ".join(kept)
            connection.execute(f"INSERT INTO accounts_rebuilt ({names}) SELECT {names} FROM accounts")
            connection.execute("DROP TABLE accounts")
            connection.execute("ALTER TABLE accounts_rebuilt RENAME TO accounts")
            problems = connection.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise sqlite3.IntegrityError(f"accounts: rebuilding for the roles {missing} broke {len(problems)} references")
    finally:
        connection.execute("PRAGMA foreign_keys = ON")


@contextmanager
def store(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A connection to the account store, closed on exit."""
    connection = connect_store(path)
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: one writer at a time, all or nothing."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
