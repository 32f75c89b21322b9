"""Secrets at rest: argon2id hashes for what is only checked, Fernet for what must be read back.

* Passwords and recovery codes are only ever compared: argon2id hashes.
* TOTP secrets and a respondent's KvK number must be read back (to check a
  code, to put the firm on the respondent's submission): Fernet encryption
  with the accounts key, which comes from `MKB_ACCOUNTS_KEY` or the local
  key file that `mkbvm keygen` writes (git-ignored), never from the store.
* An e-mail address used as a lockout counter or in a failed-login audit
  entry is a keyed hash, so a mistyped password in the e-mail field is not kept.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

from accounts.settings import ACCOUNTS_KEY_ENV, accounts_key_file
from core.files import private_dir

_hasher = PasswordHasher()
# A real hash of a random password: checked when an address is unknown, so both cases take as long.
_DUMMY_HASH = _hasher.hash(os.urandom(16).hex())


class MissingKey(RuntimeError):
    """No accounts key: set MKB_ACCOUNTS_KEY or run `mkbvm keygen`."""


def write_secret_file(target, text: str) -> None:
    """Create a secret file readable by its owner only from the first byte (no window at the default umask)."""
    private_dir(target.parent)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    target.chmod(0o600)  # an existing file keeps its old mode under O_CREAT


def new_key() -> str:
    return Fernet.generate_key().decode()


@cache
def _key_for(text: str) -> Fernet:
    return Fernet(text.encode())


def _raw_key() -> str:
    key = os.environ.get(ACCOUNTS_KEY_ENV)
    if not key:
        try:
            key = accounts_key_file().read_text().strip()
        except OSError:  # absent, or in a secrets folder this service may not read (see the README's production layout)
            key = ""
    if not key:
        raise MissingKey(f"{ACCOUNTS_KEY_ENV} is not set and there is no key file; run `mkbvm keygen`.")
    return key


def fernet() -> Fernet:
    try:
        return _key_for(_raw_key())
    except ValueError:
        raise MissingKey(f"{ACCOUNTS_KEY_ENV} is not a valid key (32 url-safe base64 bytes); run `mkbvm keygen`.") from None


def _derived(purpose: bytes) -> bytes:
    """A separate key per use, derived from the one accounts key."""
    fernet()  # the key must be valid
    return hashlib.sha256(purpose + b":" + _raw_key().encode()).digest()


def derived_key(purpose: bytes) -> bytes:
    """32 bytes for one use of the accounts key outside this module (the operational files: core.private_parquet)."""
    return _derived(b"file:" + purpose)


def encrypt(text: str) -> bytes:
    return fernet().encrypt(text.encode())


def decrypt(token: bytes) -> str:
    try:
        return fernet().decrypt(token).decode()
    except InvalidToken:
        raise MissingKey("the accounts key does not match the store (was it replaced?)") from None


def hash_secret(secret: str) -> str:
    """argon2id hash of a password or recovery code."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when `secret` matches; an absent hash costs the same time as a wrong secret."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def keyed_hash(text: str) -> str:
    """HMAC-SHA256 of a normalised text under the accounts key (for counters and audit subjects)."""
    return hmac.new(_derived(b"identifiers"), text.strip().lower().encode(), "sha256").hexdigest()


def firm_ref(kvk_number: str) -> str:
    """Which accounts belong to one firm, without decrypting their KvK numbers (a keyed hash under the accounts key)."""
    return hmac.new(_derived(b"firm"), kvk_number.strip().encode(), "sha256").hexdigest()


def chain_key() -> bytes:
    """Key of the audit chain's HMAC: without it, an edited entry cannot be given a valid chain."""
    return _derived(b"audit-chain")
