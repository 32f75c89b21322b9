"""Demo accounts, one per role, so a new user can try every role at once (`mkbvm demo`).

The demo creditor's staff member works for the municipality of Amsterdam
(GM0363), the largest municipality, which has claims in any synthetic data set
(`core/synthetic_debts.py` spreads persons over municipalities by population).
The demo MKB consultant is consultant mc01 of the support programme
(`reference/programme_consultants.csv`).

Passwords and the TOTP secrets of the demo analyst, administrator, creditor and consultant are
random per installation and kept in `data/secrets/demo_accounts.json`
(git-ignored), so `mkbvm demo` can print them again; `mkbvm code <e-mail>`
prints the current app code of a demo account for those without an
authenticator app at hand.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path

import pyotp

from accounts.crypto import write_secret_file
from accounts.service import create_account, find_account, new_totp_secret
from accounts.settings import account_settings

DEMO_FIRM_KVK = "12345678"
DEMO_CREDITOR = "GM0363"  # Gemeente Amsterdam
DEMO_CONSULTANT = "mc01"  # MKB-consultant 1 of the support programme
DEMO_MEMBERS = [
    {"name": "Demo Ondernemer", "email": "ondernemer@demo.mkbvm.nl", "role": "respondent", "kvk_number": DEMO_FIRM_KVK},
    {"name": "Demo Analist", "email": "analist@demo.mkbvm.nl", "role": "analyst"},
    {"name": "Demo Beheerder", "email": "beheerder@demo.mkbvm.nl", "role": "administrator"},
    {"name": "Demo Schuldeiser", "email": "schuldeiser@demo.mkbvm.nl", "role": "creditor", "organisation": DEMO_CREDITOR},
    {"name": "Demo Consultant", "email": "consultant@demo.mkbvm.nl", "role": "consultant", "consultant": DEMO_CONSULTANT},
]


def ensure_demo_accounts(connection: sqlite3.Connection, secrets_file: Path) -> list[dict]:
    """Create the demo accounts that do not exist yet; return every demo login (e-mail, password, TOTP secret)."""
    known = json.loads(secrets_file.read_text()) if secrets_file.exists() else {}
    settings = account_settings()
    for member in DEMO_MEMBERS:
        if find_account(connection, member["email"]) is not None:
            continue
        password = f"demo-{secrets.token_urlsafe(9)}"
        totp = new_totp_secret() if settings.needs_second_factor(member["role"]) else None
        create_account(connection, member, password, totp, actor="demo")
        known[member["email"]] = {"password": password, "totp_secret": totp, "role": member["role"]}
    write_secret_file(secrets_file, json.dumps(known, indent=2))
    return [{"email": email, **values} for email, values in known.items() if find_account(connection, email) is not None]


def current_code(secrets_file: Path, email: str) -> str | None:
    """The app code a demo account needs right now (None for accounts without one, or not in the demo)."""
    known = json.loads(secrets_file.read_text()) if secrets_file.exists() else {}
    secret = known.get(email.strip().lower(), {}).get("totp_secret")
    return pyotp.TOTP(secret).now() if secret else None
