"""Account settings (`config/accounts.yaml`) and where the account store, outbox and keys live."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.settings import CONFIG_DIR, paths

ACCOUNTS_KEY_ENV = "MKB_ACCOUNTS_KEY"
ACCOUNTS_CONFIG_ENV = "MKB_ACCOUNTS_CONFIG"
PUBLIC_URL_ENV = "MKB_PUBLIC_URL"
ROLES = ("respondent", "analyst", "administrator", "creditor", "consultant")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Session(_Strict):
    inactivity_minutes: float = Field(gt=0, le=24 * 60)


class Login(_Strict):
    slow_down_after: int = Field(ge=1)
    wait_seconds: float = Field(ge=0)
    lock_after: int = Field(ge=1)
    lock_minutes: float = Field(gt=0)


class SecondFactor(_Strict):
    required_for: list[str]
    recovery_codes: int = Field(ge=1, le=50)


class Invitation(_Strict):
    valid_days: float = Field(gt=0, le=60)
    public_url: str = Field(pattern=r"^https?://")


class Password(_Strict):
    min_length: int = Field(ge=8)
    max_length: int = Field(default=128, ge=16, le=1024)  # argon2 is not handed megabytes
    min_strength: int = Field(default=3, ge=0, le=4)  # zxcvbn score: 0 (guessed at once) to 4 (very hard to guess)


class AccountSettings(_Strict):
    session: Session
    login: Login
    second_factor: SecondFactor
    invitation: Invitation
    password: Password

    def needs_second_factor(self, role: str) -> bool:
        return role in self.second_factor.required_for

    def public_url(self) -> str:
        return os.environ.get(PUBLIC_URL_ENV, self.invitation.public_url).rstrip("/")


class AccountSettingsError(ValueError):
    """The account settings break a rule; the message names the field."""


def load_account_settings(path: Path | None = None) -> AccountSettings:
    path = path or Path(os.environ.get(ACCOUNTS_CONFIG_ENV, CONFIG_DIR / "accounts.yaml"))
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    try:
        settings = AccountSettings.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise AccountSettingsError(f"{path.name}: {problems}") from None
    unknown = set(settings.second_factor.required_for) - set(ROLES)
    if unknown:
        raise AccountSettingsError(f"{path.name}: second_factor.required_for: unknown roles {sorted(unknown)}")
    return settings


@cache
def account_settings() -> AccountSettings:
    return load_account_settings()


def store_path() -> Path:
    return paths().data_dir / "accounts" / "accounts.sqlite"


def outbox_path() -> Path:
    return paths().data_dir / "outbox"


def accounts_key_file() -> Path:
    return paths().secrets / "accounts.key"
